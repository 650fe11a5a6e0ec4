using static Photon.Net.Tests.DataSegmentDropper;
using static Photon.Net.Tests.TwoStacks;

namespace Photon.Net.Tests;

/// <summary>
/// Issue #15 defect 4, loss recovery with deterministic drop patterns on the in-memory wire: wherever SACK can show
/// what was lost — one segment, a burst, the tail, a lost retransmission — the sender repairs it without a
/// retransmission timeout (the minimum RTO is 5 s here, so one would show) and resends only what was lost.
/// </summary>
[Collection(AllocationMeasurements.Name)]
public sealed class SackRecoveryTests
{
    /// <summary>Exactly <paramref name="lost"/> segments resent — or one more when a tail loss probe fired: a probe is
    /// sent 2·SRTT after the last one, and on a loaded host an ACK can be held up longer than that, so a probe of a
    /// segment that was not lost is TCP working as specified (RFC 8985 §7), not a wasted recovery.</summary>
    private static bool Resent(long retransmits, long probes, int lost) => retransmits == lost || (probes > 0 && retransmits == lost + 1);

    private static async Task<(long Timeouts, long Retransmits, long Probes, string Counters)> Transfer(int bytes, Func<int, int, bool> drop)
    {
        await using var s = new TwoStacks(options: new NetworkStackOptions { TcpMinRto = TimeSpan.FromSeconds(5), TcpMsl = TimeSpan.FromMilliseconds(200) });
        await using var listener = s.Right.Tcp.Listen(7600).Value;
        var accept = listener.AcceptAsync();
        var client = (await s.Left.Tcp.ConnectAsync(new IpEndpoint(Ip("10.9.0.2"), 7600))).Value;
        var server = (await accept).Value;
        for (int i = 0; i < 5; i++) // a few round trips first, so SRTT is measured
        {
            Assert.True((await client.SendAsync(new byte[10])).IsOk);
            Assert.Equal(10, (await server.ReceiveAsync(new byte[10])).Value);
        }
        var before = (s.Left[Counter.TcpTimeouts], s.Left[Counter.TcpRetransmits], s.Left[Counter.TcpTailLossProbes]);
        s.A.Drop = DropSegments(drop);
        var data = new byte[bytes];
        new Random(6675).NextBytes(data);
        var send = client.SendAsync(data);
        var got = new byte[data.Length];
        int n = 0;
        while (n < got.Length) n += (await server.ReceiveAsync(got.AsMemory(n)).WaitAsync(TimeSpan.FromSeconds(30))).Value;
        Assert.True((await send).IsOk);
        Assert.Equal(data, got);
        string counters = string.Join(", ", new[] { Counter.TcpTimeouts, Counter.TcpRetransmits, Counter.TcpFastRetransmits, Counter.TcpSackRetransmits,
            Counter.TcpRackRetransmits, Counter.TcpRescueRetransmits, Counter.TcpTailLossProbes }.Select(c => $"{c}={s.Left[c]}"));
        return (s.Left[Counter.TcpTimeouts] - before.Item1, s.Left[Counter.TcpRetransmits] - before.Item2,
            s.Left[Counter.TcpTailLossProbes] - before.Item3, counters);
    }

    [Fact]
    public async Task A_single_loss_is_resent_once_without_a_timeout()
    {
        var (timeouts, retransmits, probes, counters) = await Transfer(200 * Mss, (segment, nth) => segment == 20 && nth == 1);
        Assert.True(timeouts == 0 && Resent(retransmits, probes, 1), counters);
    }

    [Fact]
    public async Task A_burst_of_losses_is_resent_segment_by_segment_without_a_timeout()
    {
        var (timeouts, retransmits, probes, counters) = await Transfer(200 * Mss, (segment, nth) => segment is >= 20 and < 26 && nth == 1);
        Assert.True(timeouts == 0 && Resent(retransmits, probes, 6), counters);
    }

    [Fact]
    public async Task A_lost_retransmission_is_found_by_rack_not_by_the_timer()
    {
        var (timeouts, retransmits, probes, counters) = await Transfer(200 * Mss, (segment, nth) => segment == 20 && nth <= 2);
        Assert.True(timeouts == 0 && Resent(retransmits, probes, 2), counters);
    }

    // Every 17th segment: one loss fell on the first segment sent after a recovery's recovery point, which the RFC 6582
    // "not twice for one window" check refused to repair (SND.UNA had to pass the point, not reach it) — an RTO.
    [Fact]
    public async Task Losses_scattered_through_the_flight_are_repaired_without_a_timeout()
    {
        const int segments = 300;
        var (timeouts, retransmits, probes, counters) = await Transfer(segments * Mss, (segment, nth) => nth == 1 && segment % 17 == 5);
        int lost = Enumerable.Range(0, segments).Count(i => i % 17 == 5);
        Assert.True(timeouts == 0 && Resent(retransmits, probes, lost), $"{lost} lost: {counters}");
    }

    [Fact]
    public async Task Every_tenth_segment_lost_is_resent_once_each_without_a_timeout()
    {
        const int segments = 300;
        var (timeouts, retransmits, probes, counters) = await Transfer(segments * Mss, (segment, nth) => nth == 1 && segment % 10 == 4);
        Assert.True(timeouts == 0 && Resent(retransmits, probes, segments / 10), counters);
    }

    [Fact]
    public async Task Alternating_losses_within_one_window_are_resent_once_each_without_a_timeout()
    {
        // Segments 40, 42, … 58 lost: ten holes, each a segment wide, between SACKed segments of the same flight.
        var (timeouts, retransmits, probes, counters) = await Transfer(200 * Mss, (segment, nth) => nth == 1 && segment is >= 40 and < 60 && segment % 2 == 0);
        Assert.True(timeouts == 0 && Resent(retransmits, probes, 10), counters);
    }

    [Fact]
    public async Task A_lost_retransmission_among_scattered_losses_is_found_by_rack_not_by_the_timer()
    {
        // Every 17th segment once, and segment 56's retransmission as well: one extra resend, no timeout.
        const int segments = 300;
        var (timeouts, retransmits, probes, counters) = await Transfer(segments * Mss,
            (segment, nth) => segment % 17 == 5 && (nth == 1 || (segment == 56 && nth == 2)));
        int lost = Enumerable.Range(0, segments).Count(i => i % 17 == 5);
        Assert.True(timeouts == 0 && Resent(retransmits, probes, lost + 1), $"{lost} lost once, one twice: {counters}");
    }

    [Fact]
    public async Task A_lost_tail_after_scattered_losses_is_probed_and_repaired_without_a_timeout()
    {
        // Every 17th segment once and the last three segments: the tail loss probe resends the last one, its SACK shows
        // the two before it lost.
        const int segments = 300;
        var (timeouts, retransmits, probes, counters) = await Transfer(segments * Mss,
            (segment, nth) => nth == 1 && (segment % 17 == 5 || segment >= segments - 3));
        int lost = Enumerable.Range(0, segments).Count(i => i % 17 == 5 || i >= segments - 3);
        Assert.True(timeouts == 0 && Resent(retransmits, probes, lost), $"{lost} lost: {counters}");
    }

    /// <summary>After a retransmission timeout the resend skips what the peer SACKed (RFC 6675 §5.1, as Linux does): it
    /// used to forget the scoreboard and resend the whole flight — 1,662 duplicates after one timeout in a netloss run.</summary>
    [Fact]
    public async Task After_a_timeout_only_the_unsacked_segment_is_resent()
    {
        // RACK and the probe off, so lost retransmissions are left to the timer (at least 5 s): segments 20, 30, … 60 are
        // lost twice, so after the timeout each hole is resent once more — and nothing the peer holds between them.
        var options = new NetworkStackOptions { TcpMinRto = TimeSpan.FromSeconds(5), TcpMsl = TimeSpan.FromMilliseconds(200), TcpRack = false, TcpTailLossProbe = false };
        await using var s = new TwoStacks(options: options);
        await using var listener = s.Right.Tcp.Listen(7601).Value;
        var accept = listener.AcceptAsync();
        var client = (await s.Left.Tcp.ConnectAsync(new IpEndpoint(Ip("10.9.0.2"), 7601))).Value;
        var server = (await accept).Value;
        const int segments = 100;
        int dataFrames = 0;
        var drop = DropSegments((segment, nth) => segment is 20 or 30 or 40 or 50 or 60 && nth <= 2);
        s.A.Drop = f =>
        {
            if (PayloadLength(f) > 0) Interlocked.Increment(ref dataFrames);
            return drop(f);
        };
        long timeoutsBefore = s.Left[Counter.TcpTimeouts];
        var data = new byte[segments * Mss];
        new Random(6675).NextBytes(data);
        var send = client.SendAsync(data);
        var got = new byte[data.Length];
        int n = 0;
        while (n < got.Length) n += (await server.ReceiveAsync(got.AsMemory(n)).WaitAsync(TimeSpan.FromSeconds(60))).Value;
        Assert.True((await send).IsOk);
        Assert.Equal(data, got);
        Assert.Equal(1, s.Left[Counter.TcpTimeouts] - timeoutsBefore);
        Assert.Equal(segments + 2 * 5, Volatile.Read(ref dataFrames)); // every segment once, the five lost ones twice more
    }
}
