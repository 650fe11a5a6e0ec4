namespace Photon.Net.Tcp;

/// <summary>
/// A byte ring of fixed capacity for socket buffers (smoltcp's <c>RingBuffer</c>): the send buffer keeps unacknowledged
/// bytes at its head and is read in place by offset (<see cref="Peek"/>), so a segment's payload is copied once, from
/// here into the frame. The storage is allocated on first write and grows by doubling (from <see cref="InitialStorage"/>)
/// up to the capacity as data needs it: a connection that never carries data (half-open in a SYN flood, waiting to be
/// accepted) costs no buffer memory, and one that carries a short request and response costs a few KiB — not two
/// 512 KiB arrays on the large-object heap per connection, whose zeroing and collection dominated short requests.
/// </summary>
internal sealed class ByteRing(int capacity)
{
    public const int InitialStorage = 4096;

    private byte[]? _buffer;
    private int _head;

    public int Count { get; private set; }
    public int Capacity => capacity;
    public int Free => capacity - Count;

    /// <summary>Bytes of storage allocated now (at most <see cref="Capacity"/>).</summary>
    public int Storage => _buffer?.Length ?? 0;

    public int Write(ReadOnlySpan<byte> data)
    {
        int n = Math.Min(data.Length, Free);
        if (n == 0) return 0;
        var buffer = Reserve(Count + n);
        int size = buffer.Length;
        int tail = (_head + Count) % size;
        int first = Math.Min(n, size - tail);
        data[..first].CopyTo(buffer.AsSpan(tail));
        data[first..n].CopyTo(buffer);
        Count += n;
        return n;
    }

    /// <summary>Storage for at least <paramref name="needed"/> bytes: the contents move to the start of a larger array.</summary>
    private byte[] Reserve(int needed)
    {
        if (_buffer is { } b && b.Length >= needed) return b;
        int size = Math.Max(_buffer?.Length ?? 0, Math.Min(InitialStorage, capacity));
        while (size < needed) size = (int)Math.Min((long)size * 2, capacity);
        var grown = new byte[size];
        if (Count > 0) Peek(0, grown.AsSpan(0, Count));
        _buffer = grown;
        _head = 0;
        return grown;
    }

    /// <summary>Copies bytes starting <paramref name="offset"/> past the head without consuming them.</summary>
    public void Peek(int offset, Span<byte> destination)
    {
        if ((uint)offset > (uint)Count || destination.Length > Count - offset)
            throw new ArgumentOutOfRangeException(nameof(offset), $"{destination.Length} bytes at {offset} of {Count}");
        if (destination.IsEmpty) return;
        int size = _buffer!.Length;
        int start = (_head + offset) % size;
        int first = Math.Min(destination.Length, size - start);
        _buffer.AsSpan(start, first).CopyTo(destination);
        _buffer.AsSpan(0, destination.Length - first).CopyTo(destination[first..]);
    }

    public void Discard(int n)
    {
        n = Math.Clamp(n, 0, Count);
        if (n == 0) return;
        _head = (_head + n) % _buffer!.Length;
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
