using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Photon.Net.Tests;

/// <summary>
/// The loss-recovery tests' view of the in-memory wire: which Ethernet frames are TCP segments carrying data, where in
/// the stream they start, and a drop filter (for <c>TwoStacks.A.Drop</c>) that loses data segments by their index in
/// the stream and by how often that segment was sent before. One copy for the SACK, congestion and PRR tests.
/// </summary>
internal static class DataSegmentDropper
{
    /// <summary>A full segment on the 1500-byte wire with the timestamp option on every segment.</summary>
    public const int Mss = 1500 - 20 - 20 - 12;

    /// <summary>The TCP payload length of an IPv4 frame (from the IP total length, so Ethernet padding does not count),
    /// or 0 for anything else.</summary>
    public static int PayloadLength(byte[] frame)
    {
        if (frame.Length < 54 || frame[12] != 8 || frame[13] != 0 || frame[23] != 6) return 0;
        int ip = (frame[14] & 0xF) * 4;
        int tcp = 14 + ip;
        return Math.Max(0, (frame[16] << 8 | frame[17]) - ip - (frame[tcp + 12] >> 4) * 4);
    }

    /// <summary>The sequence number of a TCP segment (call only when <see cref="PayloadLength"/> is positive).</summary>
    public static uint Sequence(byte[] frame) => BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(14 + (frame[14] & 0xF) * 4 + 4));

    /// <summary>Drops data segments by their offset in the stream (counted from the first data byte seen) and by how
    /// often that offset was sent before: <paramref name="drop"/>(segment index, transmission number from 1). Only
    /// segments starting on an <see cref="Mss"/> boundary are candidates.</summary>
    public static Func<byte[], bool> DropSegments(Func<int, int, bool> drop)
    {
        uint? first = null;
        var sent = new Dictionary<uint, int>();
        return frame =>
        {
            if (PayloadLength(frame) <= 0) return false;
            uint seq = Sequence(frame);
            first ??= seq;
            uint offset = seq - first.Value;
            int n = sent.TryGetValue(offset, out var k) ? k + 1 : 1;
            sent[offset] = n;
            return offset % Mss == 0 && drop((int)(offset / Mss), n);
        };
    }

    /// <summary>
    /// Loses one of every <paramref name="nth"/> segments' worth of the stream: the first segment to carry byte k·<see
    /// cref="Mss"/> is dropped for every k ≡ nth − 1 (mod nth), each k once. Keyed by the bytes a segment carries, not by
    /// where it starts: one short segment mid-stream (a send buffer refilled by less than a segment while nothing was in
    /// flight) moves every later segment off the Mss grid, and a dropper keyed on starts then stops dropping for good.
    /// </summary>
    public static Func<byte[], bool> DropEvery(int nth) => DropChosen(k => k % nth == nth - 1, null);

    /// <summary>
    /// Independent random loss at rate <paramref name="p"/>, reproducible from <paramref name="seed"/>: each segment's
    /// worth of the stream k (bytes k·<see cref="Mss"/> on) is chosen with probability p by a hash of (seed, k), and the
    /// first segment to carry its first byte is dropped — each chosen k once, so retransmissions get through and the
    /// count of drops is exact. Keyed by bytes carried, as <see cref="DropEvery"/>, so a short segment cannot end the
    /// dropping. <paramref name="dropped"/> counts the frames dropped.
    /// </summary>
    public static Func<byte[], bool> DropRandom(double p, ulong seed, StrongBox<int> dropped) => DropChosen(k => Chosen(seed, k, p), dropped);

    /// <summary>Drops the first segment to carry byte k·<see cref="Mss"/> of the stream for every k <paramref name="chosen"/>
    /// picks, each k once (retransmissions get through); <paramref name="dropped"/>, when given, counts the drops.</summary>
    private static Func<byte[], bool> DropChosen(Func<long, bool> chosen, StrongBox<int>? dropped)
    {
        uint? first = null;
        var done = new HashSet<long>();
        return frame =>
        {
            int length = PayloadLength(frame);
            if (length <= 0) return false;
            uint seq = Sequence(frame);
            first ??= seq;
            long start = seq - first.Value, end = start + length;
            for (long k = (start + Mss - 1) / Mss; k * Mss < end; k++)
                if (chosen(k) && done.Add(k))
                {
                    if (dropped is not null) dropped.Value++;
                    return true;
                }
            return false;
        };
    }

    /// <summary>SplitMix64 of (seed, k) as a uniform draw in [0, 1): the same choice for k on every run.</summary>
    private static bool Chosen(ulong seed, long k, double p)
    {
        ulong z = seed + (ulong)k * 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53)) < p;
    }
}
