using System.Security.Cryptography;
using Photon.Net.Tcp;
using static Photon.Net.Tests.TwoStacks;

namespace Photon.Net.Tests;

/// <summary>Issue #17: send/receive buffer autotuning (<see cref="BufferAutotune"/>) —
/// the policy on its own, then on two stacks: buffers grow for a transfer that needs them, stay within the configured
/// maximum against a peer that would let them grow without end, and do not grow for a reader that does not read.</summary>
public sealed class BufferAutotuneTests
{
    [Fact]
    public void The_send_buffer_grows_to_two_congestion_windows_within_the_maximum_and_never_shrinks()
    {
        var tune = new BufferAutotune(sendMax: 1 << 20, receiveMax: 1 << 20);
        var send = new ByteRing(64 * 1024);
        tune.OnAck(send, cwnd: 100_000, peerWindow: 1 << 20); // 200 000, rounded up to a power of two
        Assert.Equal(256 * 1024, send.Capacity);
        tune.OnAck(send, cwnd: 110_000, peerWindow: 1 << 20); // still within it: no change
        Assert.Equal(256 * 1024, send.Capacity);
        tune.OnAck(send, cwnd: 10_000, peerWindow: 1 << 20); // the window collapsed (a loss): the buffer stays
        Assert.Equal(256 * 1024, send.Capacity);
        tune.OnAck(send, cwnd: 50_000_000, peerWindow: int.MaxValue); // a hostile peer's window: bounded
        Assert.Equal(1 << 20, send.Capacity);
        Assert.Equal(0, send.Storage); // capacity alone allocates nothing
    }

    [Fact]
    public void The_send_buffer_grows_no_further_than_the_peer_ever_let_us_send()
    {
        var tune = new BufferAutotune(sendMax: 4 << 20, receiveMax: 4 << 20);
        var send = new ByteRing(64 * 1024);
        tune.OnAck(send, cwnd: 1_000_000, peerWindow: 50_000);
        Assert.Equal(128 * 1024, send.Capacity); // 100 000 rounded up to a power of two
        var odd = new BufferAutotune(sendMax: 3_000_000, receiveMax: 4 << 20);
        odd.OnAck(send, cwnd: 1_400_000, peerWindow: 1 << 30); // 2.8 MB rounds to 4 MiB: the maximum bounds the rounding too
        Assert.Equal(3_000_000, send.Capacity);
    }

    [Fact]
    public void The_receive_buffer_grows_once_per_round_trip_with_what_the_reader_took()
    {
        var tune = new BufferAutotune(sendMax: 1 << 20, receiveMax: 1 << 20);
        var receive = new ByteRing(64 * 1024);
        var rtt = TimeSpan.FromMilliseconds(10);
        tune.OnRead(receive, 60_000, TimeSpan.FromMilliseconds(100), rtt, mss: 1000); // first epoch: 2·60 000 + 16·1000
        Assert.Equal(136_000, receive.Capacity);
        tune.OnRead(receive, 100_000, TimeSpan.FromMilliseconds(105), rtt, mss: 1000); // within the round trip: no change yet
        Assert.Equal(136_000, receive.Capacity);
        tune.OnRead(receive, 100_000, TimeSpan.FromMilliseconds(111), rtt, mss: 1000);
        Assert.Equal(416_000, receive.Capacity);
        tune.OnRead(receive, 10_000_000, TimeSpan.FromMilliseconds(200), rtt, mss: 1000);
        Assert.Equal(1 << 20, receive.Capacity);
        tune.OnRead(receive, 1, TimeSpan.FromMilliseconds(300), rtt, mss: 1000); // a slow reader later: never shrinks
        Assert.Equal(1 << 20, receive.Capacity);
    }

    [Fact]
    public async Task A_bulk_transfer_grows_both_buffers_within_their_maximum_and_arrives_intact()
    {
        var options = new NetworkStackOptions
        {
            TcpSendBuffer = 16 * 1024, TcpReceiveBuffer = 16 * 1024, TcpSendBufferMax = 96 * 1024, TcpReceiveBufferMax = 80 * 1024,
            TcpMinRto = TimeSpan.FromMilliseconds(50), TcpMsl = TimeSpan.FromMilliseconds(200),
        };
        await using var s = new TwoStacks(options: options);
        var (client, server, listener) = await s.ConnectAsync(7600);
        await using var _ = listener;
        var data = RandomNumberGenerator.GetBytes(4 << 20);
        var received = StackTests.ReadAll(server);
        Assert.True((await client.SendAsync(data)).IsOk);
        Assert.True((await client.CloseAsync()).IsOk);
        Assert.Equal(data, await received.WaitAsync(TimeSpan.FromSeconds(60)));
        var (send, _) = client.BufferCapacities;
        var (_, receive) = server.BufferCapacities;
        Assert.InRange(send, 16 * 1024 + 1, 96 * 1024);
        Assert.InRange(receive, 16 * 1024 + 1, 80 * 1024);
    }

    [Fact]
    public async Task A_receiver_that_does_not_read_keeps_its_buffer_and_closes_its_window()
    {
        var options = new NetworkStackOptions
        {
            TcpSendBuffer = 16 * 1024, TcpReceiveBuffer = 16 * 1024, TcpSendBufferMax = 1 << 20, TcpReceiveBufferMax = 1 << 20,
            TcpMinRto = TimeSpan.FromMilliseconds(50), TcpMsl = TimeSpan.FromMilliseconds(200),
        };
        await using var s = new TwoStacks(options: options);
        var (client, server, listener) = await s.ConnectAsync(7601);
        await using var _ = listener;
        var sending = client.SendAsync(new byte[256 * 1024]);
        await StackTests.WaitUntil(() => server.Info.ReceiveQueue > 8 * 1024); // filled up to the window's last whole segment
        await Task.Delay(300);
        int queued = server.Info.ReceiveQueue;
        await Task.Delay(300);
        Assert.Equal(queued, server.Info.ReceiveQueue); // the window closed: nothing more arrives
        Assert.InRange(queued, 8 * 1024, 16 * 1024); // growth follows reads, not arrivals: a flood cannot grow it
        Assert.Equal(16 * 1024, server.BufferCapacities.Receive);
        Assert.False(sending.IsCompleted);
        await client.AbortAsync();
        Assert.Equal(ErrorCode.ConnectionReset, (await sending).Code);
    }
}
