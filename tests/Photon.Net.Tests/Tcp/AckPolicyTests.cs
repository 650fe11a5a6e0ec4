using Photon.Net.Tcp;
using static Photon.Net.Tests.TwoStacks;

namespace Photon.Net.Tests;

/// <summary>Issue #17: the receiver's ACK policy (<see cref="AckPolicy"/>) — quick ACKs at the start and after a gap,
/// one ACK per burst of two or more segments, an ACK inside a long burst, the delayed-ACK timer for a lone segment.</summary>
public sealed class AckPolicyTests
{
    private const int Mss = 1448;

    [Fact]
    public void A_new_connection_acknowledges_every_burst_at_its_end_for_the_first_sixteen_segments()
    {
        var policy = new AckPolicy();
        for (int i = 0; i < AckPolicy.QuickAckSegments; i++) Assert.Equal(AckTiming.BurstEnd, policy.OnInOrderData(1, Mss, Mss));
        Assert.False(policy.InQuickAck);
        Assert.Equal(AckTiming.Delayed, policy.OnInOrderData(1, Mss, Mss)); // a lone segment now waits for the timer
        Assert.Equal(AckTiming.BurstEnd, policy.OnInOrderData(2, 2 * Mss, Mss)); // two segments: at the burst's end
    }

    [Fact]
    public void A_filled_gap_or_an_idle_flow_re_enters_quick_ack()
    {
        var policy = new AckPolicy();
        for (int i = 0; i < AckPolicy.QuickAckSegments; i++) policy.OnInOrderData(1, Mss, Mss);
        policy.EnterQuickAck();
        Assert.True(policy.InQuickAck);
        Assert.Equal(AckTiming.BurstEnd, policy.OnInOrderData(1, Mss, Mss));
    }

    [Fact]
    public void A_long_burst_is_acknowledged_inside_the_burst()
    {
        var policy = new AckPolicy();
        Assert.Equal(AckTiming.BurstEnd, policy.OnInOrderData(AckPolicy.StretchSegments - 1, (AckPolicy.StretchSegments - 1L) * Mss, Mss));
        Assert.Equal(AckTiming.Now, policy.OnInOrderData(AckPolicy.StretchSegments, (long)AckPolicy.StretchSegments * Mss, Mss));
    }

    [Fact]
    public async Task A_single_segment_at_the_start_is_acknowledged_before_the_delayed_ack_timer()
    {
        // The stack's tick (the delayed-ACK timer) is set far out: the only way the segment is acknowledged promptly is
        // the burst-end ACK of quick-ACK mode. Before, a lone segment waited for the tick.
        var options = new NetworkStackOptions { TickInterval = TimeSpan.FromSeconds(30), TcpMinRto = TimeSpan.FromSeconds(20), TcpInitialRto = TimeSpan.FromSeconds(20) };
        await using var s = new TwoStacks(options: options);
        await using var listener = s.Right.Tcp.Listen(7610).Value;
        var accept = listener.AcceptAsync();
        var client = (await s.Left.Tcp.ConnectAsync(new IpEndpoint(Ip("10.9.0.2"), 7610))).Value;
        var server = (await accept).Value;
        Assert.True((await client.SendAsync(new byte[100])).IsOk);
        await StackTests.WaitUntil(() => client.Info.SendQueue == 0); // acknowledged: the send buffer emptied
        Assert.Equal(0, client.Retransmits);
        Assert.Equal(100, (await server.ReceiveAsync(new byte[100])).Value);
    }
}
