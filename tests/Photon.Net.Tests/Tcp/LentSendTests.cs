using System.Security.Cryptography;
using Photon.Kernel.Hal;
using Photon.Net.Tcp;
using static Photon.Net.Tests.StackTests;

namespace Photon.Net.Tests;

/// <summary>
/// Issue #17, vm17: a large send that does not fit its buffer is lent, not copied — the send buffer reads the sender's
/// memory in place (<c>TcpConnection.TryLend</c>) and the send ends when the peer has acknowledged its last byte. Checked
/// by exact streams and counters: to a gathering NIC the lent payload goes by reference with no copy at all and no
/// storage grown; over a lossy, reordering wire retransmissions read the right bytes; a close does not end a lent send
/// early, a cancellation cannot end it before its bytes are acknowledged, and a reset ends it with the error; a small
/// send made meanwhile follows it in order.
/// </summary>
public sealed class LentSendTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    private static NetworkStackOptions Options(int send = 64 * 1024) => new()
    {
        TcpMinRto = TimeSpan.FromMilliseconds(50), TcpMsl = TimeSpan.FromMilliseconds(200),
        TcpSendBuffer = send, TcpSendBufferMax = 1 << 20,
    };

    private static async Task Until(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, what);
            await Task.Delay(1);
        }
    }

    [Fact]
    public async Task A_lent_send_goes_to_a_gathering_nic_by_reference_with_no_copy_and_no_storage_grown()
    {
        var (a, b) = WireEnd.Pair();
        var nic = new GatheringDevice(a);
        await using var left = new NetworkStack(TwoStacks.Timers, Options());
        await using var right = new NetworkStack(TwoStacks.Timers, Options());
        left.AddInterface(nic, Ipv4Cidr.Parse("10.9.12.1/24").Value).Unwrap();
        right.AddInterface(b, Ipv4Cidr.Parse("10.9.12.2/24").Value).Unwrap();
        left.Start();
        right.Start();
        await using var listener = right.Tcp.Listen(8200).Value;
        var accept = listener.AcceptAsync();
        var client = (await left.Tcp.ConnectAsync(new IpEndpoint(TwoStacks.Ip("10.9.12.2"), 8200)).WaitAsync(Patience)).Value;
        var server = (await accept.WaitAsync(Patience)).Value;
        Assert.True((await client.SendAsync("head"u8.ToArray()).WaitAsync(Patience)).IsOk); // a small send is copied
        var data = RandomNumberGenerator.GetBytes(4 << 20);
        var received = ReadAll(server);
        var send = client.SendAsync(data);
        Assert.True((await send.WaitAsync(Patience)).IsOk);
        await client.CloseAsync();
        var got = await received.WaitAsync(Patience);
        Assert.Equal(SHA256.HashData("head"u8.ToArray().Concat(data).ToArray()), SHA256.HashData(got));
        Assert.Equal(1, left[Counter.TcpSendsLent]);
        Assert.Equal(data.Length, left[Counter.TcpSendBytesLent]);
        Assert.Equal(0, left[Counter.TcpSendBytesTakenFromParkedWriter]);
        Assert.Equal(0, left[Counter.TcpSendStorageGrowths]);
        Assert.Equal(0, left[Counter.TcpPayloadBytesCopiedOut]); // the first segment gathers the ring's "head" and the lent bytes
        Assert.True(left[Counter.TcpPayloadBytesByReference] >= data.Length);
    }

    [Fact]
    public async Task Retransmissions_over_a_lossy_reordering_wire_read_the_right_lent_bytes()
    {
        await using var net = new TwoStacks(loss: 0.02, seed: 11, reorder: 0.02, options: Options(send: 32 * 1024));
        var (client, server, listener) = await net.ConnectAsync(80);
        var data = RandomNumberGenerator.GetBytes(3 << 20);
        var received = ReadAll(server);
        Assert.True((await client.SendAsync(data).WaitAsync(Patience)).IsOk);
        await client.CloseAsync();
        var got = await received.WaitAsync(Patience);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(got));
        Assert.Equal(1, net.Left[Counter.TcpSendsLent]);
        Assert.True(net.Left[Counter.TcpRetransmits] > 0, "the wire lost nothing: no retransmission was tested");
        await listener.DisposeAsync();
    }

    [Fact]
    public async Task A_lent_send_ends_only_when_acknowledged_and_a_small_send_made_meanwhile_follows_it()
    {
        await using var net = new TwoStacks(options: new NetworkStackOptions
        {
            TcpMinRto = TimeSpan.FromMilliseconds(50), TcpMsl = TimeSpan.FromMilliseconds(200),
            TcpSendBuffer = 64 * 1024, TcpSendBufferMax = 64 * 1024, TcpReceiveBuffer = 64 * 1024, TcpReceiveBufferMax = 64 * 1024,
        });
        var (client, server, listener) = await net.ConnectAsync(80);
        var big = RandomNumberGenerator.GetBytes(1 << 20);
        var small = RandomNumberGenerator.GetBytes(700);
        var sendBig = client.SendAsync(big);
        await Until(() => client.PendingCalls == 1, "the large send never parked");
        var sendSmall = client.SendAsync(small);
        await Until(() => client.PendingCalls == 2, "the small send did not park behind the lent one");
        // The peer does not read: its window closes at 64 KiB, so most of the lent bytes cannot even be sent yet.
        await Task.Delay(50);
        Assert.False(sendBig.IsCompleted);
        Assert.False(sendSmall.IsCompleted);
        var got = await ReadExactlyAsync(server, big.Length + small.Length);
        Assert.True((await sendBig.WaitAsync(Patience)).IsOk);
        Assert.True((await sendSmall.WaitAsync(Patience)).IsOk);
        Assert.Equal(big.Concat(small).ToArray(), got);
        await listener.DisposeAsync();
    }

    [Fact]
    public async Task Neither_a_close_nor_a_cancellation_ends_a_lent_send_before_its_bytes_are_acknowledged()
    {
        await using var net = new TwoStacks(options: new NetworkStackOptions
        {
            TcpMinRto = TimeSpan.FromMilliseconds(50), TcpMsl = TimeSpan.FromMilliseconds(200),
            TcpSendBuffer = 64 * 1024, TcpSendBufferMax = 64 * 1024, TcpReceiveBuffer = 64 * 1024, TcpReceiveBufferMax = 64 * 1024,
        });
        var (client, server, listener) = await net.ConnectAsync(80);
        var data = RandomNumberGenerator.GetBytes(1 << 20);
        using var cts = new CancellationTokenSource();
        var send = client.SendAsync(data, cts.Token);
        await Until(() => client.PendingCalls == 1, "the send never parked");
        cts.Cancel();
        await client.CloseAsync();
        await Task.Delay(50);
        Assert.False(send.IsCompleted); // its memory is still read: the peer has not even been sent most of it
        var got = await ReadAll(server).WaitAsync(Patience);
        Assert.True((await send.WaitAsync(Patience)).IsOk);
        Assert.Equal(data, got);                 // all of it, then the FIN
        await listener.DisposeAsync();
    }

    [Fact]
    public async Task A_reset_ends_a_lent_send_with_the_error_not_as_sent()
    {
        await using var net = new TwoStacks(options: new NetworkStackOptions
        {
            TcpMinRto = TimeSpan.FromMilliseconds(50), TcpMsl = TimeSpan.FromMilliseconds(200),
            TcpSendBuffer = 64 * 1024, TcpSendBufferMax = 64 * 1024, TcpReceiveBuffer = 64 * 1024, TcpReceiveBufferMax = 64 * 1024,
        });
        var (client, server, listener) = await net.ConnectAsync(80);
        var send = client.SendAsync(RandomNumberGenerator.GetBytes(1 << 20));
        await Until(() => client.PendingCalls == 1, "the send never parked");
        await client.AbortAsync();
        var r = await send.WaitAsync(Patience);
        Assert.Equal(ErrorCode.ConnectionReset, r.Code);
        Assert.Equal(0, client.PendingCalls);
        await server.DisposeAsync();
        await listener.DisposeAsync();
    }

    private static async Task<byte[]> ReadExactlyAsync(TcpConnection c, int n)
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
}
