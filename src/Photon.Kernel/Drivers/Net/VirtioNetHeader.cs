using System.Buffers.Binary;
using Photon.Kernel.Hal;

namespace Photon.Kernel.Drivers.Net;

/// <summary>struct virtio_net_hdr (virtio 1.2 §5.1.6): 12 bytes before every frame once VERSION_1 is negotiated
/// (num_buffers is always present then). On transmit it carries the frame's <see cref="TxOffload"/> — NEEDS_CSUM with
/// csum_start/csum_offset when CSUM was negotiated, gso_type TCPV4 with gso_size and hdr_len when HOST_TSO4 was — or
/// stays zeroed. On receive its fields are ignored: every frame arrives whole in one buffer because MRG_RXBUF and the
/// GUEST_TSO/UFO features are not negotiated, and without GUEST_CSUM the device delivers complete checksums.</summary>
internal static class VirtioNetHeader
{
    public const int Size = 12;
    private const byte NeedsCsum = 1, GsoNone = 0, GsoTcpV4 = 1;

    public static void WriteEmpty(Span<byte> into) => into[..Size].Clear();

    public static void Write(Span<byte> into, TxOffload offload)
    {
        into[..Size].Clear();
        if (offload.IsNone) return;
        into[0] = offload.ChecksumOffset != 0 ? NeedsCsum : (byte)0;
        into[1] = offload.SegmentSize != 0 ? GsoTcpV4 : GsoNone;
        BinaryPrimitives.WriteUInt16LittleEndian(into[2..], offload.HeaderLength);
        BinaryPrimitives.WriteUInt16LittleEndian(into[4..], offload.SegmentSize);
        BinaryPrimitives.WriteUInt16LittleEndian(into[6..], offload.ChecksumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(into[8..], offload.ChecksumOffset);
    }
}
