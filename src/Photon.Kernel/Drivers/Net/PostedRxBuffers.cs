using Photon.Kernel.Io;

namespace Photon.Kernel.Drivers.Net;

/// <summary>
/// One RX queue's posted buffers not yet filled, in posting (= filling) order, as its controller keeps them: a ring, so a
/// burst takes from the front without moving the rest; the distinct withdrawal tokens among them, each with how many
/// buffers carry it, so a pass asks each token once instead of every buffer; and the front of the ring as the list the
/// device fills (<see cref="Front"/>), without copying it out. Owned by the controller's loop alone.
/// </summary>
/// <remarks>tcp18: kept in a <c>List</c>, every burst scanned all posted buffers for a withdrawal (~63 with the stack's
/// face posting 64), scanned and copied the first 32 into a buffer list, and shifted the rest down after the burst —
/// O(posted) per request/response round trip, for a burst of one frame.</remarks>
internal sealed class PostedRxBuffers
{
    private Submission<RxRequest>[] _ring;
    private int _head, _count;
    private readonly List<(CancellationToken Token, int Buffers)> _tokens = new();
    private readonly FrontView _front;

    public PostedRxBuffers(int capacity)
    {
        _ring = new Submission<RxRequest>[Math.Max(1, capacity)];
        _front = new FrontView(this);
    }

    public int Count => _count;

    /// <summary>The <paramref name="i"/>-th posted buffer from the front (the oldest).</summary>
    public ref readonly Submission<RxRequest> this[int i]
    {
        get
        {
            if ((uint)i >= (uint)_count) throw new ArgumentOutOfRangeException(nameof(i));
            return ref _ring[(_head + i) % _ring.Length];
        }
    }

    /// <summary>The distinct cancellable withdrawal tokens of the posted buffers.</summary>
    public int TokenCount => _tokens.Count;
    public CancellationToken Token(int i) => _tokens[i].Token;

    public void Add(ReadOnlySpan<Submission<RxRequest>> submissions)
    {
        if (_count + submissions.Length > _ring.Length) Grow(_count + submissions.Length);
        foreach (var s in submissions)
        {
            _ring[(_head + _count) % _ring.Length] = s;
            _count++;
            Tally(s.Request.Abandon, +1);
        }
    }

    /// <summary>Whether any posted buffer was withdrawn (one look per distinct token).</summary>
    public bool AnyWithdrawn()
    {
        for (int i = 0; i < _tokens.Count; i++)
            if (_tokens[i].Token.IsCancellationRequested) return true;
        return false;
    }

    /// <summary>Takes the withdrawn buffers out (the rest keep their order) and writes their tags to
    /// <paramref name="tags"/> (room for <see cref="Count"/>); returns how many.</summary>
    public int TakeWithdrawn(Span<ushort> tags)
    {
        int taken = 0, kept = 0;
        for (int i = 0; i < _count; i++)
        {
            var s = _ring[(_head + i) % _ring.Length];
            if (s.Request.Abandon.IsCancellationRequested)
            {
                tags[taken++] = s.Tag;
                Tally(s.Request.Abandon, -1);
            }
            else _ring[(_head + kept++) % _ring.Length] = s;
        }
        for (int i = kept; i < _count; i++) _ring[(_head + i) % _ring.Length] = default;
        _count = kept;
        return taken;
    }

    /// <summary>Takes every posted buffer out, writing their tags to <paramref name="tags"/>; returns how many.</summary>
    public int TakeAll(Span<ushort> tags)
    {
        int n = _count;
        for (int i = 0; i < n; i++) tags[i] = this[i].Tag;
        RemoveFront(n);
        return n;
    }

    /// <summary>Drops the <paramref name="n"/> oldest (filled by the device).</summary>
    public void RemoveFront(int n)
    {
        if ((uint)n > (uint)_count) throw new ArgumentOutOfRangeException(nameof(n));
        for (int i = 0; i < n; i++)
        {
            ref var s = ref _ring[_head];
            Tally(s.Request.Abandon, -1);
            s = default; // the buffer's memory is the consumer's again: hold no reference to it
            _head = (_head + 1) % _ring.Length;
        }
        _count -= n;
        if (_count == 0) _head = 0;
    }

    /// <summary>The <paramref name="take"/> oldest buffers as the device's list; valid until the ring next changes.</summary>
    public IReadOnlyList<Memory<byte>> Front(int take)
    {
        if ((uint)take > (uint)_count) throw new ArgumentOutOfRangeException(nameof(take));
        _front.Take = take;
        return _front;
    }

    private void Tally(CancellationToken token, int delta)
    {
        if (!token.CanBeCanceled) return;
        for (int i = 0; i < _tokens.Count; i++)
        {
            if (_tokens[i].Token != token) continue;
            int n = _tokens[i].Buffers + delta;
            if (n == 0) _tokens.RemoveAt(i);
            else _tokens[i] = (token, n);
            return;
        }
        if (delta > 0) _tokens.Add((token, delta));
    }

    private void Grow(int needed)
    {
        var ring = new Submission<RxRequest>[Math.Max(needed, _ring.Length * 2)];
        for (int i = 0; i < _count; i++) ring[i] = _ring[(_head + i) % _ring.Length];
        _ring = ring;
        _head = 0;
    }

    private sealed class FrontView(PostedRxBuffers owner) : IReadOnlyList<Memory<byte>>
    {
        public int Take;

        public int Count => Take;

        public Memory<byte> this[int index] =>
            (uint)index < (uint)Take ? owner[index].Request.Buffer : throw new ArgumentOutOfRangeException(nameof(index));

        public IEnumerator<Memory<byte>> GetEnumerator()
        {
            for (int i = 0; i < Take; i++) yield return owner[i].Request.Buffer;
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
