using Photon.Kernel.Hal;

namespace Photon.Net.Device;

/// <summary>
/// A TCP payload that follows a frame's headers by reference instead of being copied into the frame: up to two pieces
/// of a socket's send buffer (the ring wraps at most once, or the ring's end then a lent extent). Only built for an
/// interface whose device gathers (<see cref="NetworkOffloads.ScatterGather"/>); a path that needs the frame whole (an
/// ARP wait, fragmentation, a route through another interface) copies it together with <see cref="Materialize"/>.
/// </summary>
/// <remarks>The pieces are slices of the send buffer's array, or of a sender's lent memory. The send buffer's array is
/// never pooled or handed to another socket (a grown buffer is a new array, a released one is dropped), and the stack
/// only writes over bytes the peer has acknowledged — so a frame still queued when its bytes are acknowledged and
/// overwritten carries sequence numbers the peer already has and discards (with the checksum the device computes over
/// what it sends). Lent bytes (<c>ByteRing.Lend</c>) are the sender's memory, handed back when its send ends —
/// possibly while a frame is still queued (a retransmission behind a slow queue, or a frame a peer acknowledged before
/// it left) — and the sender may give it to anyone then (HttpServer returns it to the process-wide <c>ArrayPool</c>).
/// So a lent piece rides with its <see cref="Lease"/>: every reader reads inside it, and the send ends only once it is
/// revoked (issue #17, vm18): a frame read after that is dropped, never sent with another owner's bytes. At most one
/// piece is lent (<c>ByteRing.CanGatherByReference</c>).</remarks>
internal readonly record struct TxPayload(ReadOnlyMemory<byte> First, ReadOnlyMemory<byte> Second, TxLease? Lease = null)
{
    public int Length => First.Length + Second.Length;
    public bool IsEmpty => First.IsEmpty && Second.IsEmpty;

    /// <summary>A new frame of <paramref name="headers"/> followed by the payload's bytes — under the stack's lock, while
    /// the frame is built: a lent piece is still its sender's live send then, so the lease needs no entering.</summary>
    public byte[] Materialize(byte[] headers)
    {
        var whole = GC.AllocateUninitializedArray<byte>(headers.Length + Length);
        headers.CopyTo(whole, 0);
        First.Span.CopyTo(whole.AsSpan(headers.Length));
        Second.Span.CopyTo(whole.AsSpan(headers.Length + First.Length));
        return whole;
    }
}
