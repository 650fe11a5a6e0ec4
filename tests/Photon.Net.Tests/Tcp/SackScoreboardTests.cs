using Photon.Net.Tcp;

namespace Photon.Net.Tests;

public sealed class SackScoreboardTests
{
    private static SeqNumber S(uint v) => new(v);
    private static (SeqNumber, SeqNumber) R(uint l, uint r) => (S(l), S(r));

    [Fact]
    public void Blocks_are_merged_clipped_to_snd_una_and_those_outside_the_flight_ignored()
    {
        var sb = new SackScoreboard();
        sb.Add([R(3000, 4000), R(2000, 3000), R(5000, 6000), R(5500, 7000)], S(1000), S(9000));
        Assert.Equal([R(2000, 4000), R(5000, 7000)], sb.Ranges);
        sb.Add([R(500, 1500), R(100, 900), R(8000, 9500), R(8000, 8000), R(8500, 8400)], S(1000), S(9000));
        Assert.Equal([R(1000, 1500), R(2000, 4000), R(5000, 7000)], sb.Ranges); // clipped; at/below SND.UNA, past SND.MAX, empty, reversed: ignored
        Assert.Equal(500 + 2000 + 2000, sb.SackedBytes());
    }

    [Fact]
    public void Acknowledged_ranges_are_pruned_and_the_count_is_bounded()
    {
        var sb = new SackScoreboard();
        var blocks = Enumerable.Range(0, 100).Select(i => R((uint)(1000 + 20 * i), (uint)(1010 + 20 * i))).ToArray();
        sb.Add(blocks, S(1000), S(10_000));
        Assert.Equal(SackScoreboard.MaxRanges, sb.Count);
        Assert.Equal(R(1000, 1010), sb.Ranges[0]); // the lowest are kept: they are the ones recovery works on
        sb.Prune(S(1025));
        Assert.Equal(R(1025, 1030), sb.Ranges[0]);
        sb.Clear();
        Assert.Equal(0, sb.Count);
        Assert.False(sb.TryNextHole(S(1000), out _, out _));
    }

    [Fact]
    public void The_next_hole_lies_below_the_highest_sacked_byte_also_across_wraparound()
    {
        uint b = 0xFFFF_FC00; // the flight wraps past 2^32
        var sb = new SackScoreboard();
        sb.Add([R(b + 0x200, b + 0x300), R(b + 0x400, b + 0x500)], S(b), S(b + 0x800));
        Assert.True(sb.TryNextHole(S(b), out var start, out var end));
        Assert.Equal((S(b), S(b + 0x200)), (start, end));
        Assert.True(sb.TryNextHole(S(b + 0x250), out start, out end)); // inside a SACKed range: skip past it
        Assert.Equal((S(b + 0x300), S(b + 0x400)), (start, end));
        Assert.False(sb.TryNextHole(S(b + 0x450), out _, out _));       // nothing un-SACKed below the highest
    }
}
