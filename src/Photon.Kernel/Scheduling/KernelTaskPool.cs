namespace Photon.Kernel.Scheduling;

/// <summary>
/// Finished kernel tasks kept for reuse by <see cref="KernelScheduler.SpawnPooled"/>: a per-thread cache of two
/// magazines in front of a bounded depot of full ones (Bonwick and Adams, "Magazines and Vmem", USENIX 2001). A CPU
/// returns the tasks it finished to its own magazines and a spawner (a CPU or an outside thread) takes from its own,
/// with no shared write; the depot's lock is taken once per <see cref="MagazineSize"/> tasks, when a thread's two
/// magazines are both full (or both empty) and it trades one. Tasks returned while the depot is full are left to the GC.
/// <para>
/// Bound: at most <see cref="MaxDepotMagazines"/> full magazines in the depot plus two magazines per thread that
/// spawns or finishes pooled tasks (a CPU keeps its two in its worker), each of <see cref="MagazineSize"/> tasks of
/// 72 B: during a burst the depot holds at most 2,048 × 128 = 262,144 tasks (18.9 MB) and 4,096 magazine arrays
/// (4.2 MB); once a CPU idled through a whole park period (at most 100 ms) it is trimmed to 16 full and 16 empty
/// magazines (2,048 tasks, 180 KB with the arrays); each thread keeps 256 tasks (18 KB). A task in the pool holds no
/// reference but its own empty fields (<see cref="KernelTask.TryRetire"/>).
/// </para>
/// </summary>
internal static class KernelTaskPool
{
    internal const int MagazineSize = 128;
    // The depot's bound during a burst: deep enough for the tasks a burst has in flight when the spawner outruns the CPUs
    // (with 64 magazines most returns were dropped and 60% of spawns allocated). A kernel task spawning 1M leaves 40–60%
    // of them queued when its loop ends: at 512 magazines (65,536 tasks) most of those were fresh allocations and their
    // collections; at 2,048 that row's CPU per spawn fell from ~190 to ~105 ns in four A/B pairs (spawn20).
    internal const int MaxDepotMagazines = 2048;
    // What the depot keeps once a CPU has idled for a whole park period (the burst is over).
    internal const int DepotFloorMagazines = 16;

    /// <summary>The magazines of a thread that is not a kernel CPU (a CPU keeps its own in its worker: reaching a
    /// thread static costs a call into the runtime's TLS on every spawn and finish).</summary>
    [ThreadStatic] private static Cache? t_cache;

    private static readonly Lock s_lock = new();
    private static readonly Stack<Magazine> s_full = new();
    private static readonly Stack<Magazine> s_empty = new();
    private static int s_fullCount;

    /// <summary>Tasks in the depot now (a test's view of the bound).</summary>
    internal static int DepotTasks => Volatile.Read(ref s_fullCount) * MagazineSize;

    /// <summary>The calling thread's magazines, for a thread that is not a kernel CPU.</summary>
    public static Cache ThreadCache => t_cache ??= new Cache();

    /// <summary>A retired task from <paramref name="cache"/> (the calling thread's own), or null (the caller allocates).</summary>
    public static KernelTask? Rent(Cache cache)
    {
        var loaded = cache.Loaded;
        if (loaded.Count > 0) return loaded.Pop();
        var previous = cache.Previous;
        if (previous.Count > 0)
        {
            (cache.Loaded, cache.Previous) = (previous, loaded);
            return previous.Pop();
        }
        if (Volatile.Read(ref s_fullCount) == 0) return null;
        Magazine? full = null;
        lock (s_lock)
        {
            if (s_full.TryPop(out full))
            {
                s_fullCount--;
                if (s_empty.Count < MaxDepotMagazines) s_empty.Push(previous); // else left to the GC
            }
        }
        if (full is null) return null;
        cache.Previous = loaded; // both empty before: keep one, trade the other for the full one
        cache.Loaded = full;
        return full.Pop();
    }

    /// <summary>Keeps a retired task (<see cref="KernelTask.TryRetire"/> returned true) in <paramref name="cache"/> (the
    /// calling thread's own) for reuse.</summary>
    public static void Return(Cache cache, KernelTask task)
    {
        var loaded = cache.Loaded;
        if (loaded.Count < MagazineSize) { loaded.Push(task); return; }
        var previous = cache.Previous;
        if (previous.Count == 0)
        {
            (cache.Loaded, cache.Previous) = (previous, loaded);
            previous.Push(task);
            return;
        }
        // Both full: the full previous goes to the depot, the loaded one stays as previous, and an empty one is loaded.
        if (Volatile.Read(ref s_fullCount) >= MaxDepotMagazines) return; // the depot is at its bound: the GC takes it
        Magazine? empty = null;
        lock (s_lock)
        {
            if (s_fullCount >= MaxDepotMagazines) return;
            s_full.Push(previous);
            s_fullCount++;
            s_empty.TryPop(out empty);
        }
        empty ??= new Magazine();
        cache.Previous = loaded;
        cache.Loaded = empty;
        empty.Push(task);
    }

    /// <summary>One thread's two magazines: used by that thread alone (a CPU's worker holds its CPU's).</summary>
    internal sealed class Cache
    {
        public Magazine Loaded = new(), Previous = new();
    }

    /// <summary>A CPU idle for a whole park period: the burst is over, so the depot keeps only <see cref="DepotFloorMagazines"/> of each kind.</summary>
    public static void Trim()
    {
        if (Volatile.Read(ref s_fullCount) <= DepotFloorMagazines && s_empty.Count <= DepotFloorMagazines) return;
        lock (s_lock)
        {
            while (s_fullCount > DepotFloorMagazines) { s_full.Pop(); s_fullCount--; }
            while (s_empty.Count > DepotFloorMagazines) s_empty.Pop();
        }
    }

    internal sealed class Magazine
    {
        private readonly KernelTask?[] _tasks = new KernelTask?[MagazineSize];
        public int Count;

        public void Push(KernelTask task) => _tasks[Count++] = task;

        public KernelTask Pop()
        {
            var task = _tasks[--Count]!;
            _tasks[Count] = null;
            return task;
        }
    }
}
