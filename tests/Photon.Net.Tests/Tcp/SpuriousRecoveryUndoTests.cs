using Photon.Net.Tcp;
using static Photon.Net.Tests.DataSegmentDropper;
using static Photon.Net.Tests.TwoStacks;

namespace Photon.Net.Tests;

/// <summary>
/// Undo of a spurious fast recovery (RFC 2883 §5, as Linux's tcp_try_undo_dsack/recovery): a segment the path only
/// delays starts a recovery that cuts the window; when the peer then reports the retransmission as received twice
/// (a D-SACK), nothing was lost and the cut is undone — the window and threshold return to what they were. A real loss,
/// or a delayed segment whose first retransmission was lost too, keeps its cut. The in-memory wire holds the segment
/// back and lets it arrive just before its retransmission; the minimum RTO is 5 s, so no timer is involved.
/// </summary>
[Collection(AllocationMeasurements.Name)]
public sealed class SpuriousRecoveryUndoTests
{
    private const int Segments = 120, Held = 30;

    private sealed record Outcome(List<CongestionUnderLossTests.Event> Events, long Episodes, long Undone, long Retransmits, long Timeouts, long DuplicateSacks)
    {
        public override string ToString() =>
            $"{Episodes} episodes, {Undone} undone, {Retransmits} retransmits, {Timeouts} timeouts, {DuplicateSacks} D-SACKs: " +
            string.Join(" ", Events.Select(e => $"{e.Kind}:{e.CwndBefore / Mss}->{e.CwndAfter / Mss}/{Math.Min(e.SsthreshAfter / Mss, 99999)}"));
    }

    /// <summary>Sends <see cref="Segments"/> full segments left to right through <paramref name="wire"/> (a drop filter
    /// given the right end's inbox to deliver held frames into), recording the client's congestion events.</summary>
    private static async Task<Outcome> Transfer(Func<ICongestionController> controller, Func<System.Threading.Channels.ChannelWriter<byte[]>, Func<byte[], bool>> wire)
    {
        CongestionUnderLossTests.Recorder? recorder = null;
        var options = new NetworkStackOptions
        {
            TcpMinRto = TimeSpan.FromSeconds(5), TcpMsl = TimeSpan.FromMilliseconds(200),
            // No tail loss probe: timed at 2·SRTT (microseconds on this wire), a loaded host fires one ahead of the
            // duplicate ACKs, and an episode begun with a probe outstanding is rightly never undone.
            TcpTailLossProbe = false,
            TcpCongestionControllerFactory = () => recorder is null ? recorder = new CongestionUnderLossTests.Recorder(controller()) : controller(),
        };
        await using var s = new TwoStacks(options: options);
        var (client, server, listener) = await s.ConnectAsync(7620);
        await using var listening = listener;
        Assert.NotNull(recorder);
        for (int i = 0; i < 5; i++) // a few round trips first, so SRTT is measured
        {
            Assert.True((await client.SendAsync(new byte[10])).IsOk);
            Assert.Equal(10, (await server.ReceiveAsync(new byte[10])).Value);
        }
        Counter[] counters = [Counter.TcpFastRetransmits, Counter.TcpSpuriousRecoveriesUndone, Counter.TcpRetransmits, Counter.TcpTimeouts, Counter.TcpDuplicateSacks];
        var before = counters.Select(c => s.Left[c]).ToArray();
        s.A.Drop = wire(s.B.Inbox.Writer);
        var data = new byte[Segments * Mss];
        new Random(2883).NextBytes(data);
        var send = client.SendAsync(data);
        var got = new byte[data.Length];
        int n = 0;
        while (n < got.Length) n += (await server.ReceiveAsync(got.AsMemory(n)).WaitAsync(TimeSpan.FromSeconds(60))).Value;
        Assert.True((await send).IsOk);
        Assert.Equal(data, got);
        // The receiver has it all; the sender learns so (and reads the last D-SACKs) from ACKs still on their way.
        for (var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30); client.Info.SendQueue > 0; await Task.Delay(5))
            Assert.True(DateTime.UtcNow < deadline, "the sender never saw everything acknowledged");
        var d = counters.Select((c, i) => s.Left[c] - before[i]).ToArray();
        List<CongestionUnderLossTests.Event> events;
        lock (recorder.Events) events = recorder.Events.ToList();
        return new Outcome(events, d[0], d[1], d[2], d[3], d[4]);
    }

    /// <summary>Holds back the first transmission of segment <see cref="Held"/>, loses the next
    /// <paramref name="lostRetransmissions"/> copies of it, and delivers the held original just before the copy after those.</summary>
    private static Func<System.Threading.Channels.ChannelWriter<byte[]>, Func<byte[], bool>> Delay(int lostRetransmissions) => receiver =>
    {
        byte[]? held = null;
        var ofHeld = DropSegments((segment, transmission) => segment == Held && transmission <= 2 + lostRetransmissions);
        int seen = 0;
        return frame =>
        {
            if (!ofHeld(frame)) return false;
            seen++;
            if (seen == 1) { held = frame; return true; }      // the original: held back
            if (seen <= 1 + lostRetransmissions) return true;  // a retransmission lost
            Assert.True(receiver.TryWrite(held!));             // the original arrives first, then this copy: a duplicate
            return false;
        };
    };

    [Theory]
    [InlineData("cubic")]
    [InlineData("newreno")]
    public async Task A_recovery_started_by_a_delayed_segment_is_undone_when_the_peer_dsacks_the_retransmission(string controller)
    {
        var o = await Transfer(controller == "cubic" ? () => new Cubic() : () => new NewReno(), Delay(lostRetransmissions: 0));
        // One episode, no timer; a loaded host may add a spurious resend or two (each D-SACKed too), so no exact count.
        Assert.True(o.Episodes == 1 && o.Retransmits >= 1 && o.Timeouts == 0 && o.DuplicateSacks >= 1, o.ToString());
        Assert.True(o.Undone == 1, o.ToString());
        var loss = Assert.Single(o.Events, e => e.Kind == "loss");
        var undo = Assert.Single(o.Events, e => e.Kind == "undo");
        Assert.True(loss.CwndAfter < loss.CwndBefore, o.ToString());                                  // the cut …
        Assert.True(undo.CwndAfter >= loss.CwndBefore && undo.SsthreshAfter > loss.CwndBefore, o.ToString()); // … taken back
        Assert.True(o.Events.IndexOf(undo) > o.Events.IndexOf(loss), o.ToString());
    }

    [Fact]
    public async Task A_real_loss_keeps_its_reduction()
    {
        var o = await Transfer(() => new Cubic(), _ => DropSegments((segment, transmission) => segment == Held && transmission == 1));
        Assert.True(o.Episodes == 1 && o.Retransmits == 1 && o.Timeouts == 0 && o.DuplicateSacks == 0, o.ToString());
        Assert.True(o.Undone == 0, o.ToString());
        Assert.DoesNotContain(o.Events, e => e.Kind == "undo");
        var loss = Assert.Single(o.Events, e => e.Kind == "loss");
        Assert.True(loss.SsthreshAfter < loss.CwndBefore, o.ToString());
    }

    /// <summary>The original was only delayed, but its first retransmission was lost: that loss is congestion, so the
    /// one D-SACK (for the second copy) does not undo the cut — each retransmission must be reported received twice.</summary>
    [Fact]
    public async Task A_delayed_segment_whose_retransmission_was_lost_keeps_its_reduction()
    {
        var o = await Transfer(() => new Cubic(), Delay(lostRetransmissions: 1));
        Assert.True(o.Retransmits >= 2 && o.Timeouts == 0 && o.DuplicateSacks >= 1, o.ToString());
        Assert.True(o.Undone == 0, o.ToString());
        Assert.DoesNotContain(o.Events, e => e.Kind == "undo");
    }
}
