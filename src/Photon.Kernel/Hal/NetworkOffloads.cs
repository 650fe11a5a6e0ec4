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
    /// <summary>The device gathers a frame from pieces (Linux's NETIF_F_SG): the stack may hand it the headers and a TCP
    /// payload that stays in the socket's send buffer (<see cref="OffloadedFrame.WrapGathered"/>), so the payload is not
    /// copied into a frame first — the host's own copy into its packet buffer is then the only one (AF_PACKET: one
    /// iovec per piece). Offered only with <see cref="TcpChecksum"/>: a checksum over the pieces is the device's.</summary>
    ScatterGather = 8,
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
/// for a device whose <see cref="INetworkOffloads.Offloads"/> said yes. A gathered frame (<see cref="WrapGathered"/>,
/// for a device offering <see cref="NetworkOffloads.ScatterGather"/>) is its headers followed by up to two payload
/// pieces held by reference; a device that gathers reads them with <see cref="TryGetGathered"/>, and anything that reads
/// the frame's bytes as one span gets a contiguous copy made on first use (correct, just not copy-free).
/// </summary>
public sealed class OffloadedFrame : MemoryManager<byte>
{
    private readonly byte[] _headers;
    private readonly ReadOnlyMemory<byte> _first, _second;
    private readonly TxLease? _lease;
    private readonly int _length;
    private byte[]? _whole; // the contiguous frame: the headers array itself, or a gathered frame's copy once asked for

    private OffloadedFrame(byte[] headers, ReadOnlyMemory<byte> first, ReadOnlyMemory<byte> second, TxOffload offload, TxLease? lease = null)
    {
        _headers = headers;
        _first = first;
        _second = second;
        _lease = lease;
        _length = headers.Length + first.Length + second.Length;
        _whole = first.IsEmpty && second.IsEmpty ? headers : null;
        Offload = offload;
    }

    public TxOffload Offload { get; }

    public static ReadOnlyMemory<byte> Wrap(byte[] frame, TxOffload offload) => new OffloadedFrame(frame, default, default, offload).Memory;

    /// <summary>A frame made of <paramref name="headers"/> (Ethernet, IP and TCP, filled in) and the payload in
    /// <paramref name="first"/> then <paramref name="second"/> (a socket buffer's bytes, not copied). The pieces must stay
    /// unchanged until the device has sent the frame — or, with a <paramref name="lease"/> (memory the stack does not
    /// own: a sender's lent bytes), until the lease is revoked: readers read the pieces only inside it
    /// (<see cref="TryGetGathered"/>), and a frame whose lease was revoked is dropped unread. The total is bounded by
    /// what a TSO frame may be.</summary>
    public static ReadOnlyMemory<byte> WrapGathered(byte[] headers, ReadOnlyMemory<byte> first, ReadOnlyMemory<byte> second, TxOffload offload,
        TxLease? lease = null)
    {
        if ((long)headers.Length + first.Length + second.Length > 14 + 40 + ushort.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(first), "a gathered frame larger than any TSO frame");
        var f = new OffloadedFrame(headers, first, second, offload, lease);
        return f.CreateMemory(f._length);
    }

    /// <summary>The offload request riding on <paramref name="frame"/>: none for a plain frame; <c>InvalidArgument</c> for a
    /// slice of an offloaded frame (its offsets no longer hold).</summary>
    public static Result<TxOffload> TryGet(ReadOnlyMemory<byte> frame)
    {
        if (!MemoryMarshal.TryGetMemoryManager<byte, OffloadedFrame>(frame, out var m, out int start, out int length)) return default(TxOffload);
        if (start != 0 || length != m._length) return Errors.Of(ErrorCode.InvalidArgument, "a slice of an offloaded frame");
        return m.Offload;
    }

    /// <summary>The pieces of a whole gathered frame (<see cref="WrapGathered"/>): false for any other frame or a slice.
    /// With a <paramref name="lease"/> the pieces may be read only between its <see cref="TxLease.TryEnter"/> and
    /// <see cref="TxLease.Exit"/>; when <c>TryEnter</c> is false the frame is dropped (its memory went back to its
    /// owner: see <see cref="TxLease"/>). The headers are the frame's own and always readable.</summary>
    public static bool TryGetGathered(ReadOnlyMemory<byte> frame, out byte[] headers, out ReadOnlyMemory<byte> first, out ReadOnlyMemory<byte> second,
        out TxLease? lease)
    {
        headers = [];
        first = second = default;
        lease = null;
        if (!MemoryMarshal.TryGetMemoryManager<byte, OffloadedFrame>(frame, out var m, out int start, out int length)
            || start != 0 || length != m._length || (m._first.IsEmpty && m._second.IsEmpty)) return false;
        headers = m._headers;
        first = m._first;
        second = m._second;
        lease = m._lease;
        return true;
    }

    /// <summary>A whole gathered frame's headers (Ethernet, IP, TCP: what steering hashes), its own array.</summary>
    public static bool TryGetGatheredHeaders(ReadOnlyMemory<byte> frame, out byte[] headers) =>
        TryGetGathered(frame, out headers, out _, out _, out _);

    /// <summary>Whether <paramref name="frame"/> carries memory on a lease its owner has taken back: a device drops it.</summary>
    public static bool IsWithdrawn(ReadOnlyMemory<byte> frame) =>
        MemoryMarshal.TryGetMemoryManager<byte, OffloadedFrame>(frame, out var m, out _, out _) && m._lease is { IsRevoked: true };

    public override Span<byte> GetSpan() => Whole();

    public override MemoryHandle Pin(int elementIndex = 0) => Whole().AsMemory(elementIndex).Pin();

    public override void Unpin() { }

    protected override void Dispose(bool disposing) { }

    /// <summary>The frame as one array: a gathered frame is copied together once (a consumer that cannot gather) — inside
    /// its lease, if it has one: once that is revoked the pieces are not read, and a consumer that asks gets
    /// <see cref="ErrorCode.Cancelled"/> (the frame is dropped, never sent with other bytes).</summary>
    private byte[] Whole()
    {
        if (Volatile.Read(ref _whole) is { } whole) return whole;
        if (_lease is { } lease && !lease.TryEnter())
            throw new KernelException(ErrorCode.Cancelled, "the frame's lent payload went back to its sender");
        try
        {
            var copy = new byte[_length];
            _headers.CopyTo(copy, 0);
            _first.Span.CopyTo(copy.AsSpan(_headers.Length));
            _second.Span.CopyTo(copy.AsSpan(_headers.Length + _first.Length));
            return Interlocked.CompareExchange(ref _whole, copy, null) ?? copy;
        }
        finally { _lease?.Exit(); }
    }
}
