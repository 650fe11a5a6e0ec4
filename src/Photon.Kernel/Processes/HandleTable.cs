using Photon.Kernel.Capabilities;

namespace Photon.Kernel.Processes;

/// <summary>
/// A process-local name for a capability, like a Zircon handle or a Unix fd: small, meaningless outside its process.
/// Packs a slot index (low 20 bits) and a slot generation (high 11 bits) so a closed-and-reused slot is not confused
/// with the handle that used to live there. Never 0.
/// </summary>
public readonly record struct Handle(int Value)
{
    public static readonly Handle Invalid = default;
    internal const int IndexBits = 20;
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
        public int Generation; // 1..2047, never 0 so Handle 0 is always invalid
        public bool InUse;
    }

    private readonly Lock _lock = new();
    private Entry[] _entries = new Entry[16];
    private readonly Stack<int> _free = new();
    private int _next = 1; // slot 0 unused so that index 0 never appears
    private int _count;

    public HandleTable(int capacity = 65_536) => Capacity = Math.Clamp(capacity, 1, Handle.MaxSlots - 1);

    public int Capacity { get; }
    public int Count { get { lock (_lock) return _count; } }

    public Result<Handle> Add(CapabilityToken token)
    {
        if (token.IsNone) return Errors.Of(ErrorCode.InvalidArgument, "cannot store an empty capability");
        lock (_lock)
        {
            int index;
            if (_free.Count > 0) index = _free.Pop();
            else
            {
                if (_next > Capacity) return Errors.Of(ErrorCode.QuotaExceeded, $"handle table full ({Capacity})");
                index = _next++;
                if (index >= _entries.Length) Array.Resize(ref _entries, Math.Min(_entries.Length * 2, Handle.MaxSlots));
            }
            ref var e = ref _entries[index];
            e.Generation = e.Generation % 2047 + 1;
            e.Token = token;
            e.InUse = true;
            _count++;
            return Handle.Make(index, e.Generation);
        }
    }

    public Result<CapabilityToken> Get(Handle handle)
    {
        lock (_lock)
        {
            int i = Find(handle);
            return i < 0 ? Errors.Of(ErrorCode.InvalidHandle, $"{handle} is not a valid handle") : _entries[i].Token;
        }
    }

    /// <summary>Removes the handle and returns the capability it held (the caller decides whether to revoke it).</summary>
    public Result<CapabilityToken> Remove(Handle handle)
    {
        lock (_lock)
        {
            int i = Find(handle);
            if (i < 0) return Errors.Of(ErrorCode.InvalidHandle, $"{handle} is not a valid handle");
            var token = _entries[i].Token;
            _entries[i].InUse = false;
            _entries[i].Token = default;
            _free.Push(i);
            _count--;
            return token;
        }
    }

    public IReadOnlyList<(Handle Handle, CapabilityToken Token)> Snapshot()
    {
        lock (_lock)
        {
            var list = new List<(Handle, CapabilityToken)>(_count);
            for (int i = 1; i < _next && i < _entries.Length; i++)
                if (_entries[i].InUse) list.Add((Handle.Make(i, _entries[i].Generation), _entries[i].Token));
            return list;
        }
    }

    /// <summary>Empties the table, returning every capability it held.</summary>
    internal List<CapabilityToken> Drain()
    {
        lock (_lock)
        {
            var list = new List<CapabilityToken>(_count);
            for (int i = 1; i < _next && i < _entries.Length; i++)
            {
                if (!_entries[i].InUse) continue;
                list.Add(_entries[i].Token);
                _entries[i].InUse = false;
                _entries[i].Token = default;
                _free.Push(i);
            }
            _count = 0;
            return list;
        }
    }

    private int Find(Handle h)
    {
        int i = h.Index;
        if (h.Value <= 0 || i <= 0 || i >= _next || i >= _entries.Length) return -1;
        ref var e = ref _entries[i];
        return e.InUse && e.Generation == h.Generation ? i : -1;
    }
}
