using System.Security.Cryptography;
using Photon.Net.Tcp;
using static Photon.Net.Tests.TwoStacks;

namespace Photon.Net.Tests;

/// <summary>Regression tests from a correctness review of the TCP connection code.</summary>
public class TcpReviewTests
{
    private static NetworkStackOptions SmallBuffers(int maxRetransmits = 15) => new()
    {
        TcpReceiveBuffer = 16 * 1024, TcpSendBuffer = 32 * 1024, TcpMinRto = TimeSpan.FromMilliseconds(50),
        TcpMaxRto = TimeSpan.FromMilliseconds(100), TcpMsl = TimeSpan.FromMilliseconds(200), TcpMaxRetransmits = maxRetransmits,
    };

    [Fact]
    public async Task TcpReview_a_fin_that_arrives_into_a_zero_window_is_accepted()
    {
        // The sender's data fills the receiver's buffer exactly; its FIN follows at once. The receiver's app reads only
        // later. The FIN needs no buffer space: it must be taken (or at least acknowledged), not silently dropped until the
        // sender runs out of retransmissions and resets the connection. The sender's FIN must be acknowledged (it reaches
        // FIN_WAIT_2) while the receiver's window is still zero. (It used to allow 3 retransmissions and sleep past them:
        // a scheduling stall of ~400 ms under a loaded full suite then reset the connection before the data was in.)
        await using var s = new TwoStacks(options: SmallBuffers(), mtu: 1076); // MSS 1024: segments end on 128-byte window units
        var (client, server, listener) = await s.ConnectAsync(7400);
        await using var _ = listener;
        var data = RandomNumberGenerator.GetBytes(16 * 1024);
        Assert.True((await client.SendAsync(data)).IsOk);
        Assert.True((await client.CloseAsync()).IsOk);
        await StackTests.WaitUntil(() => server.Info.ReceiveQueue == data.Length, 30_000);
        await StackTests.WaitUntil(() => client.State == TcpState.FinWait2, 30_000); // the FIN acknowledged into a zero window
        Assert.Equal(data.Length, server.Info.ReceiveQueue); // nobody has read: the window is still shut
        Assert.Equal(data, await StackTests.ReadAll(server).WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(0, s.Left[Counter.TcpResetsSent]); // the sender never gave up on its FIN
    }

    [Fact]
    public async Task TcpReview_a_data_bearing_zero_window_probe_is_acknowledged()
    {
        // BSD/Windows-style persist probes carry one byte at RCV.NXT. With the window closed the byte is dropped, but
        // RFC 9293 §3.10.7.4 asks for an ACK (carrying the window) in reply, or the prober never learns anything.
        await using var s = new TwoStacks(options: SmallBuffers(), mtu: 1076);
        var (client, server, listener) = await s.ConnectAsync(7401);
        await using var _ = listener;
        Assert.True((await client.SendAsync(new byte[16 * 1024])).IsOk);
        await StackTests.WaitUntil(() => server.Info.ReceiveQueue == 16 * 1024);
        s.A.Loss = 1.0; // silence the real client (its own probes)
        await Task.Delay(200);
        var nic = s.Right.Interfaces[0];
        long before = s.Right[Counter.TcpSegmentsOut];
        s.Right.InjectFrame(nic, Frames.Ipv4(nic.Device.MacAddress.ToArray(), Ip("10.9.0.1"), Ip("10.9.0.2"), 6,
            Frames.Tcp(Ip("10.9.0.1"), Ip("10.9.0.2"), client.Local.Port, 7401, server.ReceiveNext.Value, server.SendUnacknowledged.Value, 0x10, 65535,
                "p"u8, Frames.TimestampOption(uint.MaxValue / 2, 0))));
        Assert.Equal(16 * 1024, server.Info.ReceiveQueue);
        Assert.Equal(before + 1, s.Right[Counter.TcpSegmentsOut]);
    }

    [Fact]
    public async Task TcpReview_a_half_closed_connection_keeps_receiving_past_the_fin_wait_2_timeout()
    {
        // The client half-closes; the server goes on streaming its answer for longer than 2 MSL. FIN_WAIT_2 must not
        // drop a connection whose peer is still actively sending.
        // 2 MSL is 2 s; traffic goes on for three times that in 50 ms steps, so only a scheduling stall of seconds on a
        // loaded machine (not the FIN_WAIT_2 timeout racing a 100 ms gap) could make the peer look silent.
        var options = SmallBuffers() with { TcpMsl = TimeSpan.FromSeconds(1) };
        await using var s = new TwoStacks(options: options);
        var (client, server, listener) = await s.ConnectAsync(7402);
        await using var _ = listener;
        Assert.True((await client.CloseAsync()).IsOk);
        await StackTests.WaitUntil(() => client.State == TcpState.FinWait2);
        var got = StackTests.ReadAll(client);
        var expected = new MemoryStream();
        var streaming = System.Diagnostics.Stopwatch.StartNew();
        while (streaming.Elapsed < 6 * options.TcpMsl)
        {
            var chunk = RandomNumberGenerator.GetBytes(100);
            expected.Write(chunk);
            Assert.True((await server.SendAsync(chunk)).IsOk);
            await Task.Delay(50);
        }
        Assert.True((await server.CloseAsync()).IsOk);
        Assert.Equal(expected.ToArray(), await got.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task A_half_closed_connection_its_owner_holds_survives_a_peer_silent_for_longer_than_fin_wait_2()
    {
        // The peer pauses for 5x the FIN_WAIT_2 timeout (as an RTO backoff or a stalled peer does), then finishes its
        // answer: every byte must arrive. Dropping the connection here used to lose the rest of the stream.
        var options = SmallBuffers() with { TcpMsl = TimeSpan.FromMilliseconds(100) };
        await using var s = new TwoStacks(options: options);
        var (client, server, listener) = await s.ConnectAsync(7404);
        await using var _ = listener;
        Assert.True((await client.CloseAsync()).IsOk);
        await StackTests.WaitUntil(() => client.State == TcpState.FinWait2);
        var got = StackTests.ReadAll(client);
        var first = RandomNumberGenerator.GetBytes(1000);
        var second = RandomNumberGenerator.GetBytes(1000);
        Assert.True((await server.SendAsync(first)).IsOk);
        await Task.Delay(10 * options.TcpMsl);
        Assert.Equal(TcpState.FinWait2, client.State);
        Assert.True((await server.SendAsync(second)).IsOk);
        Assert.True((await server.CloseAsync()).IsOk);
        var received = await got.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(first.Concat(second).ToArray(), received);
    }

    [Fact]
    public async Task An_orphan_in_fin_wait_2_whose_peer_goes_silent_is_dropped()
    {
        // Nobody holds the connection any more (disposed): a peer that never sends its FIN must not keep it for ever.
        var options = SmallBuffers() with { TcpMsl = TimeSpan.FromMilliseconds(100) };
        await using var s = new TwoStacks(options: options);
        var (client, server, listener) = await s.ConnectAsync(7405);
        await using var _ = listener;
        await client.DisposeAsync();
        await StackTests.WaitUntil(() => client.State == TcpState.FinWait2 || client.State == TcpState.Closed);
        await StackTests.WaitUntil(() => client.State == TcpState.Closed);
        Assert.Empty(s.Left.Tcp.Connections);
        Assert.Equal(TcpState.CloseWait, server.State);
    }

    [Fact]
    public async Task TcpReview_fast_retransmit_never_sends_bytes_beyond_snd_max()
    {
        // 100 bytes are in flight and more are queued behind a closed window. Three duplicate ACKs trigger a fast
        // retransmit of the first segment, which must hold only what was sent before: bytes past SND.MAX go out without
        // SND.MAX moving, and the peer's ACK for them is then discarded as acknowledging data never sent.
        await using var s = new TwoStacks(options: new NetworkStackOptions { TcpMinRto = TimeSpan.FromSeconds(5), TcpInitialRto = TimeSpan.FromSeconds(5) });
        var (client, server, listener) = await s.ConnectAsync(7403);
        await using var _ = listener;
        s.A.Loss = 1.0; s.B.Loss = 1.0; // we play the server from here on
        s.A.Capture = new System.Collections.Concurrent.ConcurrentQueue<byte[]>();
        var nic = s.Left.Interfaces[0];
        var mac = nic.Device.MacAddress.ToArray();
        uint una = client.SendUnacknowledged.Value;
        void Ack(ushort window) => s.Left.InjectFrame(nic, Frames.Ipv4(mac, Ip("10.9.0.2"), Ip("10.9.0.1"), 6,
            Frames.Tcp(Ip("10.9.0.2"), Ip("10.9.0.1"), 7403, client.Local.Port, client.ReceiveNext.Value, una, 0x10, window)));
        Assert.True((await client.SendAsync(new byte[100])).IsOk);
        Ack(0);
        Assert.True((await client.SendAsync(new byte[5000])).IsOk);
        // The first ACK closed the window, a window update (RFC 5681, Linux's FLAG_WIN_UPDATE), not a duplicate; the
        // three after it, unchanged, are.
        Ack(0);
        Ack(0);
        Ack(0);
        await Task.Delay(200);
        var payloads = s.A.Capture.Where(f => f.Length >= 54 && f[23] == 6) // TCP frames only (ARP announcements pass too)
            .Select(f => f.Length - 34 - (f[34 + 12] >> 4) * 4).Where(n => n > 0).ToList();
        Assert.Equal(2, payloads.Count); // the original 100 bytes and their fast retransmission
        Assert.All(payloads, n => Assert.Equal(100, n));
    }
}
