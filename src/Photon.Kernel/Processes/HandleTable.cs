using Photon.Kernel.Capabilities;

namespace Photon.Kernel.Processes;

/// <summary>
/// A process-local name for a capability, like a Zircon handle or a Unix fd: small, meaningless outside its process.
/// Packs a slot index (low 20 bits) and a slot generation (high 11 bits) so a closed-and-reused slot is not confused
/// with the handle that used to live there. A slot is retired once its generation is used up, so an old handle value
/// can never name a newer object (stale handles are impossible, not just unlikely). Never 0.
/// </summary>
public readonly record struct Handle(int Value)
{
    public static readonly Handle Invalid = default;
    internal const int IndexBits = 20;
    internal const int MaxGeneration = (1 << (31 - IndexBits)) - 1; // 2047: keeps the value positive
    internal const int MaxSlots = 1 << IndexBits;
    internal int Index => Value & (MaxSlots - 1);
    internal int Generation => (int)((uint)Value >> IndexBits);
    internal static Handle Make(int index, int generation) => new((generation << IndexBits) | index);
    public override string ToString() => $"h{Value:x}";
}

/// <summary>A process's handle table: handle → capability. Thread-safe.</summary>
public sealed class HandleTable
{
    private struct Entry
    {
        public CapabilityToken Token;
        public int Generation; // 1..MaxGeneration, never 0 so Handle 0 is always invalid
        public bool InUse;
    }

    private readonly Lock _lock = new();
    private Entry[] _entries = new Entry[16];
    private readonly Stack<int> _free = new();
    private int _next = 1; // slot 0 unused so that index 0 never appears
    private int _count;
    // A sequence lock over the entries (Linux's seqcount): odd while a writer, holding _lock, changes them. Get reads
    // without the lock and retries under it if the count moved — every system call looks a handle up, and the lock
    // was most of that lookup's cost on the IPC fast path.
    private int _sequence;

    public HandleTable(int capacity = 65_536) => Capacity = Math.Clamp(capacity, 1, Handle.MaxSlots - 1);

    public int Capacity { get; }
    public int Count { get { lock (_lock) return _count; } }

    internal Result<Handle> Add(CapabilityToken token)
    {
        if (token.IsNone) return Errors.Of(ErrorCode.InvalidArgument, "cannot store an empty capability");
        lock (_lock)
        {
            // A drained table belongs to a process being torn down: whatever arrives now would never be revoked.
            if (_drained) return Errors.Of(ErrorCode.Closed, "the process's handle table was drained (it is exiting)");
            int index;
            if (_free.Count > 0) index = _free.Pop();
            else
            {
                if (_next > Capacity) return Errors.Of(ErrorCode.QuotaExceeded, $"handle table full ({Capacity})");
                BeginWrite();
                index = _next++;
                if (index >= _entries.Length) Array.Resize(ref _entries, Math.Min(_entries.Length * 2, Handle.MaxSlots));
                EndWrite();
            }
            BeginWrite();
            ref var e = ref _entries[index];
            e.Generation++;
            e.Token = token;
            e.InUse = true;
            EndWrite();
            _count++;
            return Handle.Make(index, e.Generation);
        }
    }

    internal Result<CapabilityToken> Get(Handle handle)
    {
        if (TryGetFast(handle, out var token)) return token;
        lock (_lock)
        {
            int i = Find(handle);
            return i < 0 ? Errors.Of(ErrorCode.InvalidHandle, $"{handle} is not a valid handle") : _entries[i].Token;
        }
    }

    /// <summary>
    /// The lock-free lookup alone: reads a snapshot and keeps it only if no writer ran meanwhile (a torn token is never
    /// used). False when the handle is not in the table or a writer was at work: <see cref="Get"/> then retries under
    /// the lock and names the error.
    /// </summary>
    internal bool TryGetFast(Handle handle, out CapabilityToken token)
    {
        token = default;
        int sequence = Volatile.Read(ref _sequence);
        if ((sequence & 1) != 0) return false;
        var entries = Volatile.Read(ref _entries);
        int i = Find(handle, entries, Volatile.Read(ref _next));
        if (i < 0) return false;
        token = entries[i].Token;
        Interlocked.MemoryBarrier(); // the reads above complete before the count is read again
        return Volatile.Read(ref _sequence) == sequence;
    }

    /// <summary>Removes the handle and returns the capability it held (the caller decides whether to revoke it).</summary>
    internal Result<CapabilityToken> Remove(Handle handle)
    {
        lock (_lock)
        {
            int i = Find(handle);
            if (i < 0) return Errors.Of(ErrorCode.InvalidHandle, $"{handle} is not a valid handle");
            var token = _entries[i].Token;
            Release(i);
            _count--;
            return token;
        }
    }

    internal IReadOnlyList<(Handle Handle, CapabilityToken Token)> Snapshot()
    {
        lock (_lock)
        {
            var list = new List<(Handle, CapabilityToken)>(_count);
            for (int i = 1; i < _next && i < _entries.Length; i++)
                if (_entries[i].InUse) list.Add((Handle.Make(i, _entries[i].Generation), _entries[i].Token));
            return list;
        }
    }

    /// <summary>
    /// Removes every handle in <paramref name="handles"/> in one step, after <paramref name="validate"/> accepted each
    /// one's capability — or removes none (how an IPC move takes handles: two racing moves of one handle cannot both
    /// see it). Runs <paramref name="validate"/> under the table's lock, so it must not call back into this table.
    /// </summary>
    internal Result<CapabilityToken[]> TakeAll(IReadOnlyList<Handle> handles, Func<int, CapabilityToken, Result> validate)
    {
        lock (_lock)
        {
            var tokens = new CapabilityToken[handles.Count];
            for (int k = 0; k < handles.Count; k++)
            {
                int i = Find(handles[k]);
                if (i < 0) return Errors.Of(ErrorCode.InvalidHandle, $"{handles[k]} is not a valid handle");
                for (int j = 0; j < k; j++)
                    if (handles[j] == handles[k]) return Errors.Of(ErrorCode.InvalidArgument, $"{handles[k]} appears twice");
                var ok = validate(k, _entries[i].Token);
                if (!ok.IsOk) return ok.Error;
                tokens[k] = _entries[i].Token;
            }
            foreach (var h in handles)
            {
                Release(Find(h));
                _count--;
            }
            return tokens;
        }
    }

    /// <summary>Empties the table for good, returning every capability it held; later adds fail with Closed (so a
    /// capability handed to the process while it is torn down is revoked by the giver instead of stranded here).</summary>
    internal List<CapabilityToken> Drain()
    {
        lock (_lock)
        {
            _drained = true;
            var list = new List<CapabilityToken>(_count);
            for (int i = 1; i < _next && i < _entries.Length; i++)
            {
                if (!_entries[i].InUse) continue;
                list.Add(_entries[i].Token);
                Release(i);
            }
            _count = 0;
            return list;
        }
    }

    /// <summary>Number of slots retired because every generation of them was used.</summary>
    public int RetiredSlots { get { lock (_lock) return _retired; } }

    private int _retired;
    private bool _drained;

    private void Release(int i)
    {
        BeginWrite();
        _entries[i].InUse = false;
        _entries[i].Token = default;
        EndWrite();
        // A slot whose last generation was handed out is never reused: its next handle would repeat an old value.
        if (_entries[i].Generation >= Handle.MaxGeneration) _retired++;
        else _free.Push(i);
    }

    private int Find(Handle h) => Find(h, _entries, _next);

    private static int Find(Handle h, Entry[] entries, int next)
    {
        int i = h.Index;
        if (h.Value <= 0 || i <= 0 || i >= next || i >= entries.Length) return -1;
        ref var e = ref entries[i];
        return e.InUse && e.Generation == h.Generation ? i : -1;
    }

    // Under _lock. The full fences order the count's change before (Begin) and after (End) the entries' writes.
    private void BeginWrite() => Interlocked.Increment(ref _sequence);

    private void EndWrite() => Interlocked.Increment(ref _sequence);
}
