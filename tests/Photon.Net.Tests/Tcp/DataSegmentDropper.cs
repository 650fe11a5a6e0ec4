using System.Buffers.Binary;

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
    public static Func<byte[], bool> DropEvery(int nth)
    {
        uint? first = null;
        var dropped = new HashSet<long>();
        return frame =>
        {
            int length = PayloadLength(frame);
            if (length <= 0) return false;
            uint seq = Sequence(frame);
            first ??= seq;
            long start = seq - first.Value, end = start + length;
            for (long k = (start + Mss - 1) / Mss; k * Mss < end; k++)
                if (k % nth == nth - 1 && dropped.Add(k)) return true;
            return false;
        };
    }
}
