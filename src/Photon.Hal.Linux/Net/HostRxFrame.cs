using System.Buffers;
using Photon.Kernel.Drivers.Net;

namespace Photon.Kernel.Hal.Host.Net;

/// <summary>A received frame on a host queue's RX ring: the first <see cref="Length"/> bytes of a buffer rented from
/// <see cref="ArrayPool{T}.Shared"/>, and what the host said of its transport checksum.</summary>
internal readonly record struct HostRxFrame(byte[] Buffer, int Length, RxChecksumInfo Checksum)
{
    /// <summary>Copies the frame into <paramref name="into"/> (truncated to it) and returns the buffer to the pool. A
    /// partial checksum (NEEDS_CSUM) is finished in the copy, since a copying consumer cannot be told the host vouched
    /// for it and will verify it itself.</summary>
    public int CopyOut(Span<byte> into) => CopyOut(into, reportVerified: false, out _);

    private const int TcpChecksumOffset = 16;

    /// <summary>As <see cref="CopyOut(Span{byte})"/>; when the consumer can be told (<paramref name="reportVerified"/>),
    /// a whole frame the host vouched for is reported <paramref name="verified"/> and a partial checksum is left
    /// unfinished (the stack does not read a verified frame's checksum field).</summary>
    public int CopyOut(Span<byte> into, bool reportVerified, out bool verified)
    {
        int n = Math.Min(Length, into.Length);
        // Only TCP takes the verdict (UDP, ICMP and DHCP verify their own checksum field): a partial checksum is left
        // unfinished only where the stack will not read it — csum_offset 16 is TCP's checksum field, UDP's is 6.
        verified = reportVerified && n == Length && Checksum.Verified && (Checksum.State != RxChecksum.Partial || Checksum.Offset == TcpChecksumOffset);
        Buffer.AsSpan(0, n).CopyTo(into);
        if (!verified && Checksum.State == RxChecksum.Partial && n == Length) VirtioNetHeader.FinishChecksum(into[..n], Checksum);
        ArrayPool<byte>.Shared.Return(Buffer);
        return n;
    }
}

/// <summary>One queue's burst of received frames lent to the stack in their pooled buffers (read in place, no copy);
/// <see cref="Release"/> returns the buffers to the pool.</summary>
internal sealed class HostRxBatch : IRxBatch
{
    public const int Capacity = 32;
    private readonly HostRxFrame[] _frames = new HostRxFrame[Capacity];

    public int Count { get; private set; }

    public ReadOnlySpan<byte> this[int index] =>
        (uint)index < (uint)Count ? _frames[index].Buffer.AsSpan(0, _frames[index].Length) : throw new ArgumentOutOfRangeException(nameof(index));

    public bool ChecksumVerified(int index) => (uint)index < (uint)Count && _frames[index].Checksum.Verified;

    /// <summary>Takes the frames waiting on <paramref name="ring"/>, up to <see cref="Capacity"/>.</summary>
    public void Fill(HostRxRing ring)
    {
        while (Count < Capacity && ring.TryRead(out var frame)) _frames[Count++] = frame;
    }

    public void Release()
    {
        for (int i = 0; i < Count; i++)
        {
            ArrayPool<byte>.Shared.Return(_frames[i].Buffer);
            _frames[i] = default;
        }
        Count = 0;
    }
}
