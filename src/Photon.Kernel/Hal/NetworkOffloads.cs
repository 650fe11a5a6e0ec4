using System.Buffers;
using System.Runtime.InteropServices;

namespace Photon.Kernel.Hal;

/// <summary>Transmit work a NIC can take over from the stack (virtio-net: VIRTIO_NET_F_CSUM, VIRTIO_NET_F_HOST_TSO4).</summary>
[Flags]
public enum NetworkOffloads
{
    None = 0,
    /// <summary>The NIC fills a TCP checksum the stack left partial (the pseudo-header sum, as Linux's CHECKSUM_PARTIAL).</summary>
    TcpChecksum = 1,
    /// <summary>The NIC cuts one large TCP/IPv4 segment into MSS-sized ones (TSO; implies <see cref="TcpChecksum"/>).</summary>
    TcpSegmentation = 2,
    /// <summary>The same for TCP/IPv6 (virtio_net_hdr gso_type TCPV6, VIRTIO_NET_F_HOST_TSO6). <see cref="TcpChecksum"/>
    /// covers both families: a partial checksum is a start and an offset, whatever the network header.</summary>
    Tcp6Segmentation = 4,
}

/// <summary>A device that can take over transmit work; a device without it gets complete, MTU-sized frames.</summary>
public interface INetworkOffloads
{
    /// <summary>What the device agreed to do (fixed once the device is up).</summary>
    NetworkOffloads Offloads { get; }

    /// <summary>The longest frame the device may deliver: an MTU-sized frame (<c>Mtu + 14</c>), or a whole coalesced TCP
    /// segment (up to <c>14 + 65,535</c>) when the host or device hands them over (GRO, GUEST_TSO4). A consumer that posts
    /// smaller receive buffers gets such frames cut, and a cut segment is lost.</summary>
    int LargestReceivedFrame { get; }
}

/// <summary>
/// What a frame asks of the NIC (virtio 1.2 §5.1.6.2, struct virtio_net_hdr): checksum bytes <see cref="ChecksumStart"/>
/// to the end and store the result at <see cref="ChecksumStart"/> + <see cref="ChecksumOffset"/>; and when
/// <see cref="SegmentSize"/> is set, send the TCP payload behind the first <see cref="HeaderLength"/> bytes as
/// segments of at most that many bytes, each with a copy of the headers — over IPv4, or over IPv6 when
/// <see cref="Ipv6"/> (gso_type TCPV6; only for a device offering <see cref="NetworkOffloads.Tcp6Segmentation"/>).
/// </summary>
public readonly record struct TxOffload(ushort ChecksumStart, ushort ChecksumOffset, ushort SegmentSize = 0, ushort HeaderLength = 0,
    bool Ipv6 = false)
{
    public bool IsNone => ChecksumOffset == 0 && SegmentSize == 0;
}

/// <summary>
/// A frame handed to a device together with its <see cref="TxOffload"/>: the TX token keeps the plain
/// <see cref="ReadOnlyMemory{T}"/> shape of <see cref="INetworkBatches.TransmitAsync"/>, so the NIC driver's queues pass
/// it through unchanged, and the device driver reads the request with <see cref="TryGet"/>. The stack wraps frames only
/// for a device whose <see cref="INetworkOffloads.Offloads"/> said yes.
/// </summary>
public sealed class OffloadedFrame : MemoryManager<byte>
{
    private readonly byte[] _frame;

    private OffloadedFrame(byte[] frame, TxOffload offload)
    {
        _frame = frame;
        Offload = offload;
    }

    public TxOffload Offload { get; }

    public static ReadOnlyMemory<byte> Wrap(byte[] frame, TxOffload offload) => new OffloadedFrame(frame, offload).Memory;

    /// <summary>The offload request riding on <paramref name="frame"/>: none for a plain frame; <c>InvalidArgument</c> for a
    /// slice of an offloaded frame (its offsets no longer hold).</summary>
    public static Result<TxOffload> TryGet(ReadOnlyMemory<byte> frame)
    {
        if (!MemoryMarshal.TryGetMemoryManager<byte, OffloadedFrame>(frame, out var m, out int start, out int length)) return default(TxOffload);
        if (start != 0 || length != m._frame.Length) return Errors.Of(ErrorCode.InvalidArgument, "a slice of an offloaded frame");
        return m.Offload;
    }

    public override Span<byte> GetSpan() => _frame;

    public override MemoryHandle Pin(int elementIndex = 0) => _frame.AsMemory(elementIndex).Pin();

    public override void Unpin() { }

    protected override void Dispose(bool disposing) { }
}
