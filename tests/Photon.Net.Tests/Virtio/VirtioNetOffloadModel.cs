using System.Buffers.Binary;

namespace Photon.Net.Tests.Virtio;

/// <summary>
/// What the device model does with a transmitted frame's virtio_net_hdr (virtio 1.2 §5.1.6.2), as a NIC or QEMU's tap
/// backend would: NEEDS_CSUM → finish the checksum the driver left partial (sum from csum_start to the end, which
/// includes the pseudo-header sum the driver put in the field, then complement); gso_type TCPV4 → cut the TCP payload
/// behind hdr_len into gso_size pieces, each with copied headers, fixed IPv4 length, id and checksum, advanced sequence
/// number, PSH/FIN only on the last, and its own full TCP checksum — after checking the driver's partial sum was the
/// pseudo-header sum over the whole segment. A request the device did not agree to, or with offsets outside the
/// frame, is a violation: the frame is dropped and counted.
/// </summary>
public static class VirtioNetOffloadModel
{
    public const ulong Csum = 1UL << 0, HostTso4 = 1UL << 11;
    private const byte NeedsCsum = 1, GsoTcpV4 = 1;

    /// <summary>The frames that go on the wire for <paramref name="frame"/>, or null (and <paramref name="violation"/>
    /// says why) when the request breaks the rules.</summary>
    public static List<byte[]>? Apply(ReadOnlySpan<byte> header, byte[] frame, ulong negotiated, out string? violation)
    {
        violation = null;
        byte flags = header[0], gso = header[1];
        int hdrLen = BinaryPrimitives.ReadUInt16LittleEndian(header[2..]), gsoSize = BinaryPrimitives.ReadUInt16LittleEndian(header[4..]);
        int start = BinaryPrimitives.ReadUInt16LittleEndian(header[6..]), offset = BinaryPrimitives.ReadUInt16LittleEndian(header[8..]);
        if (flags == 0 && gso == 0) return [frame];
        if ((flags & NeedsCsum) != 0 && (negotiated & Csum) == 0) { violation = "NEEDS_CSUM without CSUM"; return null; }
        if (gso != 0 && (gso != GsoTcpV4 || (negotiated & HostTso4) == 0)) { violation = $"gso_type {gso} not negotiated"; return null; }
        if ((flags & NeedsCsum) != 0 && start + offset + 2 > frame.Length) { violation = $"csum {start}+{offset} outside {frame.Length} bytes"; return null; }
        if (gso == 0)
        {
            var whole = (byte[])frame.Clone();
            BinaryPrimitives.WriteUInt16BigEndian(whole.AsSpan(start + offset), Complement(Sum(whole.AsSpan(start), 0)));
            return [whole];
        }
        return Segment(frame, hdrLen, gsoSize, out violation);
    }

    private static List<byte[]>? Segment(byte[] frame, int hdrLen, int gsoSize, out string? violation)
    {
        violation = null;
        if (frame.Length < 34 || BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)) != 0x0800 || frame[23] != 6) { violation = "TSO of a non-TCP/IPv4 frame"; return null; }
        int ihl = (frame[14] & 0xF) * 4, tcpAt = 14 + ihl, tcpLen = (frame[tcpAt + 12] >> 4) * 4;
        if (hdrLen != tcpAt + tcpLen || gsoSize == 0 || frame.Length <= hdrLen) { violation = $"hdr_len {hdrLen} for headers of {tcpAt + tcpLen}"; return null; }
        ushort partial = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(tcpAt + 16));
        ushort expected = (ushort)~Complement(PseudoHeader(frame, frame.Length - tcpAt));
        if (partial != expected) { violation = $"partial checksum {partial:x4}, pseudo-header sum {expected:x4}"; return null; }
        uint seq = BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(tcpAt + 4));
        ushort id = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(18));
        var result = new List<byte[]>();
        int payload = frame.Length - hdrLen;
        for (int at = 0, i = 0; at < payload; at += gsoSize, i++)
        {
            int n = Math.Min(gsoSize, payload - at);
            bool last = at + n == payload;
            var seg = new byte[hdrLen + n];
            frame.AsSpan(0, hdrLen).CopyTo(seg);
            frame.AsSpan(hdrLen + at, n).CopyTo(seg.AsSpan(hdrLen));
            BinaryPrimitives.WriteUInt16BigEndian(seg.AsSpan(16), (ushort)(ihl + tcpLen + n));
            BinaryPrimitives.WriteUInt16BigEndian(seg.AsSpan(18), (ushort)(id + i));
            BinaryPrimitives.WriteUInt16BigEndian(seg.AsSpan(24), 0);
            BinaryPrimitives.WriteUInt16BigEndian(seg.AsSpan(24), Complement(Sum(seg.AsSpan(14, ihl), 0)));
            BinaryPrimitives.WriteUInt32BigEndian(seg.AsSpan(tcpAt + 4), seq + (uint)at);
            if (!last) seg[tcpAt + 13] &= unchecked((byte)~(0x01 | 0x08)); // FIN and PSH only on the last segment
            BinaryPrimitives.WriteUInt16BigEndian(seg.AsSpan(tcpAt + 16), 0);
            BinaryPrimitives.WriteUInt16BigEndian(seg.AsSpan(tcpAt + 16), Complement(Sum(seg.AsSpan(tcpAt), PseudoHeader(seg, seg.Length - tcpAt))));
            result.Add(seg);
        }
        return result;
    }

    // The model's own RFC 1071 arithmetic (not the stack's, which it checks; and Photon.Kernel.Tests links this file
    // without referencing Photon.Net).
    private static ulong Sum(ReadOnlySpan<byte> data, ulong sum)
    {
        int i = 0;
        for (; i + 1 < data.Length; i += 2) sum += (uint)(data[i] << 8 | data[i + 1]);
        if (i < data.Length) sum += (uint)(data[i] << 8);
        return sum;
    }

    private static ulong PseudoHeader(byte[] frame, int tcpLength) => Sum(frame.AsSpan(26, 8), 0) + 6 + (uint)tcpLength;

    private static ushort Complement(ulong sum)
    {
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }
}
