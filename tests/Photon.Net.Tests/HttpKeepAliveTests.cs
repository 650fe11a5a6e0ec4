using System.Text;
using Photon.Net.Services;
using Photon.Net.Tcp;

namespace Photon.Net.Tests;

/// <summary>
/// Issue #15, HTTP/1.1: persistent connections, pipelining (answers in request order), chunked and close-delimited
/// bodies, and the limits that keep a kept-alive connection from being held: idle deadline, requests per connection,
/// bounded read-ahead. A peer stack on the in-memory wire plays the client byte by byte.
/// </summary>
public sealed partial class HttpServerTests
{
    /// <summary>One parsed response off the wire: status, header fields, body (de-chunked).</summary>
    internal sealed record Reply(int Status, Dictionary<string, string> Headers, byte[] Body);

    /// <summary>Splits a byte stream into responses, framing each the way a client must (RFC 9112 §6.3).</summary>
    internal static List<Reply> ParseReplies(byte[] all, bool headOnlyAt = false, params int[] headIndexes)
    {
        var replies = new List<Reply>();
        int at = 0;
        while (at < all.Length)
        {
            int end = all.AsSpan(at).IndexOf("\r\n\r\n"u8);
            Assert.True(end >= 0, $"incomplete response head at byte {at}");
            var lines = Encoding.ASCII.GetString(all, at, end).Split("\r\n");
            int status = int.Parse(lines[0].Split(' ')[1]);
            var headers = lines.Skip(1).ToDictionary(l => l[..l.IndexOf(':')], l => l[(l.IndexOf(':') + 1)..].Trim(), StringComparer.OrdinalIgnoreCase);
            at += end + 4;
            byte[] body;
            if (headIndexes.Contains(replies.Count)) body = [];
            else if (headers.TryGetValue("Content-Length", out var cl)) { body = all[at..(at + int.Parse(cl))]; at += body.Length; }
            else if (headers.GetValueOrDefault("Transfer-Encoding") == "chunked")
            {
                var ms = new MemoryStream();
                while (true)
                {
                    int lineEnd = all.AsSpan(at).IndexOf("\r\n"u8);
                    int size = Convert.ToInt32(Encoding.ASCII.GetString(all, at, lineEnd), 16);
                    at += lineEnd + 2;
                    if (size == 0) { at += 2; break; }
                    ms.Write(all, at, size);
                    at += size;
                    Assert.Equal("\r\n", Encoding.ASCII.GetString(all, at, 2));
                    at += 2;
                }
                body = ms.ToArray();
            }
            else { body = all[at..]; at = all.Length; }
            replies.Add(new Reply(status, headers, body));
        }
        return replies;
    }

    private static async Task<(List<Reply> Replies, TcpConnection Conn)> ExchangeAsync(Fixture f, string requests, params int[] headIndexes)
    {
        var c = (await f.Peer.Tcp.ConnectAsync(Http)).Value;
        var reading = StackTests.ReadAll(c);
        Assert.True((await c.SendAsync(Encoding.ASCII.GetBytes(requests))).IsOk);
        var all = await reading.WaitAsync(TimeSpan.FromSeconds(30));
        return (ParseReplies(all, false, headIndexes), c);
    }

    [Fact]
    public async Task Pipelined_requests_on_one_connection_are_answered_in_order_and_it_closes_when_the_client_says_so()
    {
        await using var f = await StartAsync(new HttpServerOptions());
        var (replies, _) = await ExchangeAsync(f,
            "GET /a HTTP/1.1\r\nHost: p\r\n\r\nHEAD /b HTTP/1.1\r\nHost: p\r\n\r\nGET /nope?x HTTP/1.1\r\nHost: p\r\n\r\nGET /c HTTP/1.1\r\nConnection: close\r\n\r\n", 1);
        Assert.Equal(["hello /a\n", "", "hello /nope?x\n", "hello /c\n"], replies.Select(r => Encoding.ASCII.GetString(r.Body)));
        Assert.Equal(["keep-alive", "keep-alive", "keep-alive", "close"], replies.Select(r => r.Headers["Connection"]));
        Assert.Equal("9", replies[1].Headers["Content-Length"]); // HEAD says what GET would send
        Assert.Equal(4, f.Server.RequestsServed);
        await StackTests.WaitUntil(() => f.Server.ActiveConnections == 0);
    }

    [Fact]
    public async Task An_HTTP_1_0_request_gets_one_response_and_a_close_unless_it_asks_for_keep_alive()
    {
        await using var f = await StartAsync(new HttpServerOptions());
        var (plain, _) = await ExchangeAsync(f, "GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\n\r\n");
        Assert.Equal("close", Assert.Single(plain).Headers["Connection"]);
        var (kept, _) = await ExchangeAsync(f, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n");
        Assert.Equal(["hello /a\n", "hello /b\n"], kept.Select(r => Encoding.ASCII.GetString(r.Body)));
    }

    [Fact]
    public async Task A_kept_alive_connection_left_idle_is_closed_cleanly_and_one_left_with_half_a_request_is_reset()
    {
        await using var f = await StartAsync(new HttpServerOptions { IdleTimeout = TimeSpan.FromSeconds(1) });
        // Idle after one answered request: the server sends FIN, not RST, so the client reads its response then EOF.
        var (replies, _) = await ExchangeAsync(f, "GET /a HTTP/1.1\r\n\r\n");
        Assert.Equal("hello /a\n", Encoding.ASCII.GetString(Assert.Single(replies).Body));
        Assert.Equal(1, f.Server.IdleClosed);
        Assert.Equal(0, f.Server.TimedOut);

        // Half a second request after the first: that is a slow client, reset at the deadline.
        var c = (await f.Peer.Tcp.ConnectAsync(Http)).Value;
        Assert.True((await c.SendAsync("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nX-Slow: "u8.ToArray())).IsOk);
        var buffer = new byte[4096];
        var first = await c.ReceiveAsync(buffer).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(first.IsOk && first.Value > 0);
        Result<int> next;
        do next = await c.ReceiveAsync(buffer).WaitAsync(TimeSpan.FromSeconds(10));
        while (next.IsOk && next.Value > 0);
        Assert.Equal(ErrorCode.ConnectionReset, next.Code);
        await StackTests.WaitUntil(() => f.Server.TimedOut == 1 && f.Server.ActiveConnections == 0);
    }

    [Fact]
    public async Task A_connection_gets_at_most_the_configured_number_of_answers_then_closes()
    {
        await using var f = await StartAsync(new HttpServerOptions { MaxRequestsPerConnection = 3 });
        var (replies, _) = await ExchangeAsync(f, string.Concat(Enumerable.Range(0, 5).Select(i => $"GET /{i} HTTP/1.1\r\n\r\n")));
        Assert.Equal(["hello /0\n", "hello /1\n", "hello /2\n"], replies.Select(r => Encoding.ASCII.GetString(r.Body)));
        Assert.Equal("close", replies[^1].Headers["Connection"]);
    }

    [Fact]
    public async Task A_flood_of_pipelined_requests_far_beyond_the_read_ahead_buffer_is_answered_completely_in_order()
    {
        // 3,000 requests (≈70 KB) against 1 KiB of read-ahead: the rest waits in TCP, nothing is lost or reordered.
        await using var f = await StartAsync(new HttpServerOptions { MaxHeaderBytes = 1024, MaxRequestsPerConnection = 10_000 });
        var requests = string.Concat(Enumerable.Range(0, 3000).Select(i => $"GET /{i} HTTP/1.1\r\n\r\n")) + "GET /end HTTP/1.1\r\nConnection: close\r\n\r\n";
        var (replies, _) = await ExchangeAsync(f, requests);
        Assert.Equal(Enumerable.Range(0, 3000).Select(i => $"hello /{i}\n").Append("hello /end\n"), replies.Select(r => Encoding.ASCII.GetString(r.Body)));
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")] // a body the server would not read
    [InlineData("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost : p\r\n\r\n")] // space before the colon
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n")]
    [InlineData("GET  / HTTP/1.1\r\n\r\n")]
    public async Task Requests_that_could_desynchronise_a_proxy_get_400_and_the_connection_closes(string request)
    {
        await using var f = await StartAsync(new HttpServerOptions());
        var (replies, _) = await ExchangeAsync(f, request + "GET /after HTTP/1.1\r\n\r\n");
        var reply = Assert.Single(replies); // nothing after it is answered: the stream is out of step
        Assert.Equal(400, reply.Status);
        Assert.Equal("close", reply.Headers["Connection"]);
    }

    [Fact]
    public async Task A_body_of_unknown_length_is_chunked_for_HTTP_1_1_and_close_delimited_for_HTTP_1_0()
    {
        const int size = 300_000;
        var expected = new byte[size];
        BulkBody.Fill(expected);
        await using var f = await StartAsync(new HttpServerOptions(), (r, _) => ValueTask.FromResult(BulkBody.Respond(r)));
        var (chunked, _) = await ExchangeAsync(f, $"GET /bulk?bytes={size}&chunked=1 HTTP/1.1\r\n\r\nGET /bulk?bytes=10 HTTP/1.1\r\nConnection: close\r\n\r\n");
        Assert.Equal(2, chunked.Count);
        Assert.Equal("chunked", chunked[0].Headers["Transfer-Encoding"]);
        Assert.False(chunked[0].Headers.ContainsKey("Content-Length"));
        Assert.Equal(expected, chunked[0].Body);
        Assert.Equal(expected[..10], chunked[1].Body); // the connection survived the chunked body

        var (closeDelimited, _) = await ExchangeAsync(f, $"GET /bulk?bytes={size}&chunked=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        var only = Assert.Single(closeDelimited);
        Assert.Equal("close", only.Headers["Connection"]);
        Assert.Equal(expected, only.Body);

        var (bad, _) = await ExchangeAsync(f, "GET /bulk?bytes=99999999999999999999 HTTP/1.1\r\nConnection: close\r\n\r\n");
        Assert.Equal(400, Assert.Single(bad).Status);
    }
}
