namespace Photon.Net.Device;

/// <summary>
/// A TCP payload that follows a frame's headers by reference instead of being copied into the frame: up to two pieces
/// of a socket's send buffer (the ring wraps at most once). Only built for an interface whose device gathers
/// (<see cref="Photon.Kernel.Hal.NetworkOffloads.ScatterGather"/>); a path that needs the frame whole (an ARP wait,
/// fragmentation, a route through another interface) copies it together with <see cref="Materialize"/>.
/// </summary>
/// <remarks>The pieces are slices of the send buffer's array. That array is never pooled or handed to another socket
/// (a grown buffer is a new array, a released one is dropped), and the stack only writes over bytes the peer has
/// acknowledged — so a frame still queued when its bytes are acknowledged and overwritten carries sequence numbers the
/// peer already has and discards (with the checksum the device computes over what it sends). Bytes a sender lent
/// (<c>ByteRing.Lend</c>) are never carried this way: they are its memory, handed back when its send ends, possibly
/// while a frame is still queued (<c>ByteRing.CanGatherByReference</c>).</remarks>
internal readonly record struct TxPayload(ReadOnlyMemory<byte> First, ReadOnlyMemory<byte> Second)
{
    public int Length => First.Length + Second.Length;
    public bool IsEmpty => First.IsEmpty && Second.IsEmpty;

    /// <summary>A new frame of <paramref name="headers"/> followed by the payload's bytes.</summary>
    public byte[] Materialize(byte[] headers)
    {
        var whole = GC.AllocateUninitializedArray<byte>(headers.Length + Length);
        headers.CopyTo(whole, 0);
        First.Span.CopyTo(whole.AsSpan(headers.Length));
        Second.Span.CopyTo(whole.AsSpan(headers.Length + First.Length));
        return whole;
    }
}
