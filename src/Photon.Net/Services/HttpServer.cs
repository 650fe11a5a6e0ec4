using System.Text;
using Photon.Net.Tcp;

namespace Photon.Net.Services;

public sealed record HttpResponse(int Status, string ContentType, ReadOnlyMemory<byte> Body)
{
    public static HttpResponse Text(int status, string text) => new(status, "text/plain; charset=utf-8", Encoding.UTF8.GetBytes(text));
}

/// <summary>
/// A small HTTP/1.x server on Photon's TCP (one request per connection, then close): enough for Linux's curl to fetch
/// pages and files from a service running on Photon. Requests are parsed defensively: a header block over 8 KiB, a
/// malformed request line or a non-GET/HEAD method gets a 4xx answer, never an exception.
/// </summary>
public sealed class HttpServer(TcpListener listener, Func<string, HttpResponse> handler)
{
    private const int MaxHeader = 8192;
    public long RequestsServed;

    /// <summary>Accepts and serves connections until the listener closes or <paramref name="ct"/> fires.</summary>
    public async Task RunAsync(CancellationToken ct = default)
    {
        while (!ct.IsCancellationRequested)
        {
            var accepted = await listener.AcceptAsync(ct).ConfigureAwait(false);
            if (!accepted.IsOk) return;
            _ = ServeAsync(accepted.Value, ct);
        }
    }

    private async Task ServeAsync(TcpConnection c, CancellationToken ct)
    {
        var response = await ReadRequestAsync(c, ct).ConfigureAwait(false);
        if (response is { } r)
        {
            var (resp, head) = r;
            var header = Encoding.ASCII.GetBytes(
                $"HTTP/1.1 {resp.Status} {Reason(resp.Status)}\r\nServer: photon\r\nContent-Type: {resp.ContentType}\r\n" +
                $"Content-Length: {resp.Body.Length}\r\nConnection: close\r\n\r\n");
            if ((await c.SendAsync(header, ct).ConfigureAwait(false)).IsOk && !head)
                await c.SendAsync(resp.Body, ct).ConfigureAwait(false);
            Interlocked.Increment(ref RequestsServed);
        }
        await c.CloseAsync().ConfigureAwait(false);
    }

    private async Task<(HttpResponse, bool Head)?> ReadRequestAsync(TcpConnection c, CancellationToken ct)
    {
        var buffer = new byte[MaxHeader];
        int used = 0;
        while (true)
        {
            var n = await c.ReceiveAsync(buffer.AsMemory(used), ct).ConfigureAwait(false);
            if (!n.IsOk || n.Value == 0) return null;
            used += n.Value;
            int end = buffer.AsSpan(0, used).IndexOf("\r\n\r\n"u8);
            if (end >= 0) return Parse(Encoding.ASCII.GetString(buffer, 0, end));
            if (used == buffer.Length) return (HttpResponse.Text(431, "request header too large\n"), false);
        }
    }

    private (HttpResponse, bool Head) Parse(string head)
    {
        var line = head.Split("\r\n")[0].Split(' ');
        if (line.Length != 3 || !line[2].StartsWith("HTTP/1.", StringComparison.Ordinal) || !line[1].StartsWith('/'))
            return (HttpResponse.Text(400, "bad request\n"), false);
        if (line[0] is not ("GET" or "HEAD")) return (HttpResponse.Text(405, "method not allowed\n"), false);
        try { return (handler(line[1]), line[0] == "HEAD"); }
        catch (Exception e) when (e is not OutOfMemoryException) { return (HttpResponse.Text(500, "handler failed\n"), false); }
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK", 400 => "Bad Request", 403 => "Forbidden", 404 => "Not Found", 405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large", 500 => "Internal Server Error", _ => "Status",
    };
}
