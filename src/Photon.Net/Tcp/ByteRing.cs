namespace Photon.Net.Tcp;

/// <summary>
/// A fixed-capacity byte ring for socket buffers (smoltcp's <c>RingBuffer</c>): the send buffer keeps unacknowledged
/// bytes at its head and is read in place by offset (<see cref="Peek"/>), so a segment's payload is copied once, from
/// here into the frame. The storage is allocated on first write, so a connection that never carries data (a half-open
/// one in a SYN flood, one waiting to be accepted) costs no buffer memory.
/// </summary>
internal sealed class ByteRing(int capacity)
{
    private byte[]? _buffer;
    private int _head;

    public int Count { get; private set; }
    public int Capacity => capacity;
    public int Free => capacity - Count;

    public int Write(ReadOnlySpan<byte> data)
    {
        int n = Math.Min(data.Length, Free);
        if (n == 0) return 0;
        var buffer = _buffer ??= new byte[capacity];
        int tail = (_head + Count) % capacity;
        int first = Math.Min(n, capacity - tail);
        data[..first].CopyTo(buffer.AsSpan(tail));
        data[first..n].CopyTo(buffer);
        Count += n;
        return n;
    }

    /// <summary>Copies bytes starting <paramref name="offset"/> past the head without consuming them.</summary>
    public void Peek(int offset, Span<byte> destination)
    {
        if ((uint)offset > (uint)Count || destination.Length > Count - offset)
            throw new ArgumentOutOfRangeException(nameof(offset), $"{destination.Length} bytes at {offset} of {Count}");
        if (destination.IsEmpty) return;
        int start = (_head + offset) % capacity;
        int first = Math.Min(destination.Length, capacity - start);
        _buffer!.AsSpan(start, first).CopyTo(destination);
        _buffer.AsSpan(0, destination.Length - first).CopyTo(destination[first..]);
    }

    public void Discard(int n)
    {
        n = Math.Clamp(n, 0, Count);
        if (n == 0) return;
        _head = (_head + n) % capacity;
        Count -= n;
    }

    public int Read(Span<byte> destination)
    {
        int n = Math.Min(destination.Length, Count);
        Peek(0, destination[..n]);
        Discard(n);
        return n;
    }
}
