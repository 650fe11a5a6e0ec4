using System.Buffers.Binary;
using Photon.Kernel.Hal;

namespace Photon.Kernel.Drivers.Net;

/// <summary>struct virtio_net_hdr (virtio 1.2 §5.1.6): 12 bytes before every frame once VERSION_1 is negotiated
/// (num_buffers is always present then). On transmit it carries the frame's <see cref="TxOffload"/> — NEEDS_CSUM with
/// csum_start/csum_offset when CSUM was negotiated, gso_type TCPV4 with gso_size and hdr_len when HOST_TSO4 was — or
/// stays zeroed. On receive (<see cref="ReadReceived"/>) a frame fills one buffer, or with MRG_RXBUF the num_buffers
/// buffers its header names (<see cref="BuffersOf"/>); gso_type TCPV4/TCPV6 (one TCP segment of up to 64 KiB) only when
/// GUEST_TSO4/GUEST_TSO6 was, and any other gso_type (UDP, the ECN bit: never negotiated) is the device breaking the contract;
/// with GUEST_CSUM the flags say the transport checksum was checked (DATA_VALID) or is partial from a local sender
/// (NEEDS_CSUM, with csum_start/csum_offset — bounds-checked against the frame, as the device may be hostile).</summary>
internal static class VirtioNetHeader
{
    public const int Size = 12;
    private const byte NeedsCsum = 1, DataValid = 2, GsoNone = 0, GsoTcpV4 = 1, GsoTcpV6 = 4, GsoEcn = 0x80;
    private const int EthernetHeader = 14;

    public static void WriteEmpty(Span<byte> into) => into[..Size].Clear();

    /// <summary>num_buffers: how many receive buffers the frame this header starts fills (MRG_RXBUF; 1 without it).</summary>
    public static int BuffersOf(ReadOnlySpan<byte> header) => BinaryPrimitives.ReadUInt16LittleEndian(header[10..]);

    public static void Write(Span<byte> into, TxOffload offload)
    {
        into[..Size].Clear();
        if (offload.IsNone) return;
        into[0] = offload.ChecksumOffset != 0 ? NeedsCsum : (byte)0;
        into[1] = offload.SegmentSize == 0 ? GsoNone : offload.Ipv6 ? GsoTcpV6 : GsoTcpV4;
        BinaryPrimitives.WriteUInt16LittleEndian(into[2..], offload.HeaderLength);
        BinaryPrimitives.WriteUInt16LittleEndian(into[4..], offload.SegmentSize);
        BinaryPrimitives.WriteUInt16LittleEndian(into[6..], offload.ChecksumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(into[8..], offload.ChecksumOffset);
    }

    /// <summary>Reads a received frame's header (the <paramref name="frameLength"/> bytes after it are the frame):
    /// <see cref="RxChecksum.Unverified"/> without <paramref name="guestChecksum"/> or flags, <see cref="RxChecksum.Valid"/>
    /// for DATA_VALID, <see cref="RxChecksum.Partial"/> for NEEDS_CSUM with its checksum's start and offset in the frame.
    /// <c>Corrupted</c> — the frame must be dropped — for a segmentation type that was not negotiated, a TCPV4 segment
    /// whose checksum the device did not account for (neither flag: the field holds no checksum of the whole), or a
    /// checksum position outside the frame or inside its Ethernet header.</summary>
    public static Result<RxChecksumInfo> ReadReceived(ReadOnlySpan<byte> header, int frameLength, bool guestChecksum, bool largeSegments = false,
        bool largeSegments6 = false)
    {
        byte gso = header[1], flags = header[0];
        if (gso != GsoNone && !(gso == GsoTcpV4 && largeSegments) && !(gso == GsoTcpV6 && largeSegments6))
            return Errors.Of(ErrorCode.Corrupted, $"received frame with gso_type {gso}: not negotiated");
        if (gso != GsoNone && (flags & (NeedsCsum | DataValid)) == 0)
            return Errors.Of(ErrorCode.Corrupted, $"TCPV{(gso == GsoTcpV4 ? 4 : 6)} segment with neither NEEDS_CSUM nor DATA_VALID");
        if (!guestChecksum) return new RxChecksumInfo(RxChecksum.Unverified, 0, 0);
        return ReadChecksum(header, frameLength);
    }

    /// <summary>Reads the header Linux puts before a frame read from a TAP (IFF_VNET_HDR) or an AF_PACKET socket
    /// (PACKET_VNET_HDR): unlike a virtio device's, such a frame may be a coalesced TCP segment (GRO, or a local sender's
    /// TSO segment that never got cut) of up to 64 KiB, described by gso_type TCPV4/TCPV6 with gso_size and hdr_len.
    /// Frames longer than <paramref name="maxPlainFrame"/> must say so. <c>Corrupted</c> — drop — for any other
    /// segmentation type (UDP was not asked for), a gso_size of 0, an hdr_len past the frame, a plain frame over the
    /// limit or a checksum position outside the frame.</summary>
    public static Result<RxChecksumInfo> ReadFromHost(ReadOnlySpan<byte> header, int frameLength, int maxPlainFrame)
    {
        int gso = header[1] & ~GsoEcn;
        if (gso == GsoNone)
        {
            if (frameLength > maxPlainFrame) return Errors.Of(ErrorCode.Corrupted, $"{frameLength}-byte frame without a segmentation type (limit {maxPlainFrame})");
        }
        else
        {
            if (gso is not (GsoTcpV4 or GsoTcpV6)) return Errors.Of(ErrorCode.Corrupted, $"received frame with gso_type {header[1]}: only TCP segmentation was offered");
            int hdrLen = BinaryPrimitives.ReadUInt16LittleEndian(header[2..]);
            int gsoSize = BinaryPrimitives.ReadUInt16LittleEndian(header[4..]);
            if (gsoSize == 0) return Errors.Of(ErrorCode.Corrupted, "segmented frame with gso_size 0");
            if (hdrLen > frameLength) return Errors.Of(ErrorCode.Corrupted, $"hdr_len {hdrLen} past a {frameLength}-byte frame");
        }
        return ReadChecksum(header, frameLength);
    }

    private static Result<RxChecksumInfo> ReadChecksum(ReadOnlySpan<byte> header, int frameLength)
    {
        byte flags = header[0];
        if ((flags & NeedsCsum) != 0)
        {
            int start = BinaryPrimitives.ReadUInt16LittleEndian(header[6..]);
            int offset = BinaryPrimitives.ReadUInt16LittleEndian(header[8..]);
            if (start < EthernetHeader || start + offset + 2 > frameLength)
                return Errors.Of(ErrorCode.Corrupted, $"csum_start {start} + csum_offset {offset} outside a {frameLength}-byte frame");
            return new RxChecksumInfo(RxChecksum.Partial, start, offset);
        }
        return new RxChecksumInfo((flags & DataValid) != 0 ? RxChecksum.Valid : RxChecksum.Unverified, 0, 0);
    }

    /// <summary>Completes a NEEDS_CSUM frame's partial checksum in place (the ones' complement sum from csum_start to the
    /// end, folded into the pseudo-header sum the sender left at csum_start + csum_offset) — for the copying receive
    /// path, whose consumer cannot be told the device vouched for it.</summary>
    public static void FinishChecksum(Span<byte> frame, RxChecksumInfo info)
    {
        var field = frame.Slice(info.Start + info.Offset, 2);
        ulong sum = 0;
        var data = frame[info.Start..];
        int i = 0;
        for (; i + 1 < data.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if (i < data.Length) sum += (uint)data[i] << 8;
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        ushort folded = (ushort)~sum;
        BinaryPrimitives.WriteUInt16BigEndian(field, folded == 0 ? (ushort)0xFFFF : folded); // UDP's "no checksum" is 0
    }
}

/// <summary>What the device said of a received frame's transport checksum.</summary>
internal enum RxChecksum
{
    /// <summary>Nothing: the stack verifies it.</summary>
    Unverified,
    /// <summary>DATA_VALID: the device (or the host behind it) checked it.</summary>
    Valid,
    /// <summary>NEEDS_CSUM: a local sender left it partial; the data never crossed a wire, so it is trusted as Linux does
    /// (CHECKSUM_PARTIAL) and finished only where a consumer will verify it.</summary>
    Partial,
}

internal readonly record struct RxChecksumInfo(RxChecksum State, int Start, int Offset)
{
    public bool Verified => State != RxChecksum.Unverified;
}
