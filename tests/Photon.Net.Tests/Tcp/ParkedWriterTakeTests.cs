using Photon.Net.Tcp;

namespace Photon.Net.Tests;

/// <summary>
/// Issue #17, the sender's application path: a send larger than the room in its buffer parks with the rest, and the
/// stack takes the parked send's bytes into the buffer as ACKs free room (<c>TcpConnection.TakeFromParkedWriters</c>),
/// waking the sender only once all its bytes are queued — so after an ACK the stack has data without waiting for the
/// writer's wake-up. Checked by counts and exact streams: bytes are taken as room appears while the send stays parked;
/// sends parked one behind another leave in the order they parked, each whole; a send cancelled while its bytes are
/// being taken leaves an exact prefix, followed by the next send's bytes; a close ends a parked send typed, with an
/// exact prefix delivered; and, under loss and several concurrent writers, every send's bytes arrive whole and each
/// writer's in order (the stress test).
/// </summary>
public sealed class ParkedWriterTakeTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    /// <summary>Small buffers that do not grow: a peer that does not read closes its window after 64 KiB, and the
    /// sender's buffer holds 64 KiB.</summary>
    private static NetworkStackOptions Small(int send = 64 * 1024) => new()
    {
        TcpMinRto = TimeSpan.FromMilliseconds(50), TcpMsl = TimeSpan.FromMilliseconds(200),
        TcpSendBuffer = send, TcpSendBufferMax = send, TcpReceiveBuffer = 64 * 1024, TcpReceiveBufferMax = 64 * 1024,
        TcpLendLargeSends = false, // the copying path (sends behind others, and small ones, still take it); lending: LentSendTests
    };

    private static byte[] Pattern(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    private static async Task Until(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, what);
            await Task.Delay(1);
        }
    }

    private static async Task<byte[]> ReadExactly(TcpConnection c, int n)
    {
        var got = new byte[n];
        int at = 0;
        while (at < n)
        {
            int k = (await c.ReceiveAsync(got.AsMemory(at, Math.Min(16 * 1024, n - at))).WaitAsync(Patience)).Value;
            Assert.True(k > 0, "the stream ended early");
            at += k;
        }
        return got;
    }

    private static async Task<byte[]> ReadToEnd(TcpConnection c)
    {
        var got = new MemoryStream();
        var buf = new byte[16 * 1024];
        while (true)
        {
            var r = await c.ReceiveAsync(buf).WaitAsync(Patience);
            Assert.True(r.IsOk, r.ToString());
            if (r.Value == 0) return got.ToArray();
            got.Write(buf, 0, r.Value);
        }
    }

    [Fact]
    public async Task A_parked_send_is_filled_from_as_room_appears_and_woken_once_when_all_is_queued()
    {
        await using var net = new TwoStacks(options: Small());
        var (client, server, listener) = await net.ConnectAsync(80);
        long parked0 = net.Left[Counter.TcpSendsParked], woken0 = net.Left[Counter.TcpSendsWoken];
        long byWriter0 = net.Left[Counter.TcpSendBytesQueuedByWriter], taken0 = net.Left[Counter.TcpSendBytesTakenFromParkedWriter];
        const int Total = 1 << 20;
        var data = Pattern(Total, 1);
        var send = client.SendAsync(data);
        await Until(() => client.PendingCalls == 1, "the send never parked");

        // The reader takes a quarter: the ACKs free room, and the stack fills it from the parked send, which stays parked.
        var first = await ReadExactly(server, Total / 4);
        await Until(() => net.Left[Counter.TcpSendBytesTakenFromParkedWriter] - taken0 >= Total / 8, "no bytes were taken from the parked send");
        Assert.False(send.IsCompleted);
        Assert.Equal(1, client.PendingCalls);
        Assert.Equal(woken0, net.Left[Counter.TcpSendsWoken]);

        var rest = await ReadExactly(server, Total - Total / 4);
        Assert.True((await send.WaitAsync(Patience)).IsOk);
        Assert.Equal(data, first.Concat(rest).ToArray());
        Assert.Equal(1, net.Left[Counter.TcpSendsParked] - parked0);
        Assert.Equal(1, net.Left[Counter.TcpSendsWoken] - woken0);
        Assert.Equal(Total, net.Left[Counter.TcpSendBytesQueuedByWriter] - byWriter0 + net.Left[Counter.TcpSendBytesTakenFromParkedWriter] - taken0);
        Assert.Equal(0, client.PendingCalls);
        await listener.DisposeAsync();
    }

    [Fact]
    public async Task Sends_parked_one_behind_another_leave_whole_in_the_order_they_parked()
    {
        await using var net = new TwoStacks(options: Small());
        var (client, server, listener) = await net.ConnectAsync(80);
        var parts = Enumerable.Range(0, 4).Select(i => Pattern(150_000 + i * 7_000, 10 + i)).ToArray();
        var sends = new List<Task<Result>>();
        foreach (var part in parts)
        {
            int before = client.PendingCalls;
            sends.Add(client.SendAsync(part));
            await Until(() => client.PendingCalls == before + 1, "the send never parked");
        }
        var got = await ReadExactly(server, parts.Sum(p => p.Length));
        foreach (var s in sends) Assert.True((await s.WaitAsync(Patience)).IsOk);
        Assert.Equal(parts.SelectMany(p => p).ToArray(), got);
        await listener.DisposeAsync();
    }

    [Fact]
    public async Task A_send_cancelled_while_its_bytes_are_taken_leaves_an_exact_prefix_then_the_next_send()
    {
        await using var net = new TwoStacks(options: Small(send: 16 * 1024));
        var listener = net.Right.Tcp.Listen(82).Value;
        await using var _ = listener;
        var rng = new Random(7);
        int cancelled = 0, completed = 0;
        for (int round = 0; round < 30; round++)
        {
            var accept = listener.AcceptAsync();
            var client = (await net.Left.Tcp.ConnectAsync(new IpEndpoint(TwoStacks.Ip("10.9.0.2"), 82)).WaitAsync(Patience)).Value;
            var server = (await accept.WaitAsync(Patience)).Value;
            var a = Pattern(200_000, 100 + round);
            var b = Pattern(5_000, 200 + round);
            using var cts = new CancellationTokenSource();
            var sendA = client.SendAsync(a, cts.Token);
            await Until(() => client.PendingCalls == 1 || sendA.IsCompleted, "the send never parked");
            if (round % 3 == 0) cts.Cancel(); // before any reading: the send cannot have finished (it holds more than the window and buffer)
            var reader = Task.Run(() => ReadToEnd(server));
            int delay = rng.Next(0, 4);
            if (delay > 0) await Task.Delay(delay);
            cts.Cancel();
            var ra = await sendA.WaitAsync(Patience);
            Assert.True(ra.IsOk || ra.Code == ErrorCode.Cancelled, ra.ToString());
            Assert.Equal(0, client.PendingCalls);
            Assert.True((await client.SendAsync(b).WaitAsync(Patience)).IsOk);
            await client.CloseAsync();
            var got = await reader.WaitAsync(Patience);
            int k = got.Length - b.Length;
            Assert.InRange(k, 0, a.Length);
            Assert.True(got.AsSpan(0, k).SequenceEqual(a.AsSpan(0, k)), $"round {round}: the cancelled send's bytes are not a prefix of it");
            Assert.True(got.AsSpan(k).SequenceEqual(b), $"round {round}: the next send's bytes did not follow at once");
            if (ra.IsOk) { Assert.Equal(a.Length, k); completed++; }
            else cancelled++;
            await server.DisposeAsync();
            await client.DisposeAsync();
        }
        Assert.True(cancelled > 0, "no round cancelled a parked send");
    }

    [Fact]
    public async Task Closing_ends_a_parked_send_typed_and_the_peer_gets_an_exact_prefix()
    {
        await using var net = new TwoStacks(options: Small());
        var (client, server, listener) = await net.ConnectAsync(80);
        var data = Pattern(1 << 20, 4);
        var send = client.SendAsync(data);
        await Until(() => client.PendingCalls == 1, "the send never parked");
        await client.CloseAsync();
        var r = await send.WaitAsync(Patience);
        Assert.Equal(ErrorCode.Closed, r.Code);
        var got = await ReadToEnd(server);
        Assert.InRange(got.Length, 64 * 1024, data.Length - 1);
        Assert.True(got.AsSpan().SequenceEqual(data.AsSpan(0, got.Length)));
        await listener.DisposeAsync();
    }

    /// <summary>Stress: four writers sending blocks of random sizes at once on one connection, over a wire that drops and
    /// reorders, into a buffer that autotuning grows while sends are parked. Each block carries its writer, its number
    /// and its length; the receiver must find every block whole (no other send's bytes inside it), each writer's blocks
    /// in order, and all of them.</summary>
    [Fact]
    public async Task Concurrent_writers_on_a_lossy_wire_each_get_their_blocks_delivered_whole_and_in_order()
    {
        await using var net = new TwoStacks(loss: 0.01, seed: 5, reorder: 0.01, options: new NetworkStackOptions
        {
            TcpMinRto = TimeSpan.FromMilliseconds(50), TcpMsl = TimeSpan.FromMilliseconds(200),
            TcpSendBuffer = 16 * 1024, TcpSendBufferMax = 1 << 20,
        });
        var (client, server, listener) = await net.ConnectAsync(80);
        const int Writers = 4, Blocks = 12;
        var sizes = new int[Writers, Blocks];
        var rng = new Random(9);
        for (int w = 0; w < Writers; w++) for (int i = 0; i < Blocks; i++) sizes[w, i] = rng.Next(12, 150_000);
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            for (int i = 0; i < Blocks; i++)
            {
                var block = Block(w, i, sizes[w, i]);
                var r = await client.SendAsync(block);
                Assert.True(r.IsOk, r.ToString());
            }
        })).ToArray();
        long total = 0;
        foreach (var s in sizes) total += s;
        var got = await ReadExactly(server, (int)total);
        await Task.WhenAll(writers).WaitAsync(Patience);
        var next = new int[Writers];
        for (int at = 0; at < got.Length;)
        {
            int w = got[at], i = BitConverter.ToInt32(got, at + 1), n = BitConverter.ToInt32(got, at + 5);
            Assert.InRange(w, 0, Writers - 1);
            Assert.Equal(next[w], i);
            Assert.Equal(sizes[w, i], n);
            Assert.True(got.AsSpan(at, n).SequenceEqual(Block(w, i, n)), $"writer {w}'s block {i} arrived mixed");
            next[w]++;
            at += n;
        }
        Assert.All(next, n => Assert.Equal(Blocks, n));
        Assert.Equal(0, client.PendingCalls);
        await listener.DisposeAsync();

        static byte[] Block(int writer, int index, int size)
        {
            var b = new byte[size];
            new Random(writer * 1000 + index).NextBytes(b);
            b[0] = (byte)writer;
            BitConverter.TryWriteBytes(b.AsSpan(1), index);
            BitConverter.TryWriteBytes(b.AsSpan(5), size);
            return b;
        }
    }
}
