using Photon.Kernel.Diagnostics;
using Photon.Kernel.Diagnostics.Tracing;
using Photon.Kernel.Hal;

namespace Photon.Kernel.Scheduling;

/// <summary>
/// One CPU's scheduler loop: its local run queue (one FIFO lane per priority), the work item it is running (watched
/// for starvation) and its idle primitive. The loop runs on a processor provided by the HAL.
/// </summary>
internal sealed class Worker
{
    private const int PriorityCount = 4;
    private const int GlobalCheckInterval = 31; // every Nth pick looks at the shared queue first, so injected work is not starved
    private const int StealBatch = 32;
    // From another CPU's overflow (a kernel task spawning past its ring) a thief takes up to this many at once, straight
    // into its own ring: a deep backlog costs the victim's take lock once per OverflowStealBatch items, not per 32.
    private const int OverflowStealBatch = 128;
    // From the shared injection queue a CPU takes up to this many at once (its fair share of the backlog): a burst of
    // spawns from outside costs one lock round trip on the contended shared queue per GlobalBatch items, not per 32.
    private const int GlobalBatch = 128;

    private readonly KernelScheduler _scheduler;
    private readonly WorkItem[] _stolen = new WorkItem[GlobalBatch];
    private uint _random;
    private int _picks;
    private int _passedOverLower;

    public Worker(KernelScheduler scheduler, int index, IProcessorIdle idle)
    {
        _scheduler = scheduler;
        Index = index;
        Idle = idle;
        _random = (uint)(index * 2654435761u + 1);
        for (int i = 0; i < PriorityCount; i++) Lanes[i] = new LocalRunLane();
    }

    public int Index { get; }
    public KernelScheduler Scheduler => _scheduler;
    public IProcessorIdle Idle { get; }
    /// <summary>This CPU's lanes, one per priority: only this CPU pushes into them (lock-free rings in front of overflow lanes).</summary>
    public readonly LocalRunLane[] Lanes = new LocalRunLane[PriorityCount];

    /// <summary>This CPU's magazines of the task pool (only this CPU's thread uses them).</summary>
    public readonly KernelTaskPool.Cache PoolCache = new();

    /// <summary>1 while parked (or about to park); a waker claims it by swapping it to 0.</summary>
    public int Parked;
    /// <summary>Set by the waker that woke this CPU to look for work (at most one such searcher at a time).</summary>
    public bool WokenToSearch;

    // What is running now, for starvation monitoring by the other CPUs.
    public KernelTask? CurrentOwner;
    public long ItemStartTicks;      // HAL monotonic ticks; 0 while not running an item
    public long ItemSequence;
    public long ReportedSequence = -1;

    public long Executed;
    public long Steals;
    public long Completed;
    /// <summary>Precise clock reading at the end of the last item (or after idling): the next item's start, saving a
    /// clock read. With a coarse clock it is taken only once the coarse reading moved (see <see cref="ClockAfterItem"/>),
    /// so while short items run back to back it lags the real time by less than one coarse tick.</summary>
    private long _lastClock;
    /// <summary>The coarse reading taken just before the precise one in <see cref="_lastClock"/> (or before an earlier
    /// precise one: an equal coarse reading still bounds the lag).</summary>
    private long _coarseAtClock = long.MinValue;
    /// <summary>True when at least one item ended without a precise read since <see cref="_lastClock"/> was taken.</summary>
    private bool _clockLags;

    public int LocalCount
    {
        get
        {
            int n = 0;
            foreach (var lane in Lanes) n += lane.Count;
            return n;
        }
    }

    public void Run(CancellationToken token)
    {
        KernelScheduler.CurrentWorker = this;
        try
        {
            ReadClock();
            while (!token.IsCancellationRequested && !_scheduler.IsStopping)
            {
                // A lagging reading must not hold back a timer: one due within the lag bound gets a precise read first.
                if (_clockLags && _scheduler.TimerDueBy(_lastClock + _scheduler.CoarseLagTicks)) ReadClock();
                if (_scheduler.PollTimers(_lastClock) > 0) ReadClock();
                if (TryFindWork(out var item))
                {
                    DoneSearching();
                    _scheduler.MonitorIfDue(this, Execute(in item));
                    continue;
                }

                // Nothing to do: announce idleness, re-check (a producer may have pushed meanwhile), then park.
                InterleavingSeam.Point(); // a producer may push after the search found nothing
                Volatile.Write(ref Parked, 1);
                _scheduler.EnterIdle();
                DoneSearching();
                InterleavingSeam.Point(); // ... or after the CPU announced itself idle, before its re-check
                if (_scheduler.HasVisibleWork(this) || _scheduler.IsStopping || token.IsCancellationRequested)
                {
                    Volatile.Write(ref Parked, 0);
                    _scheduler.LeaveIdle();
                    // The re-check reads the clock afresh and counts a due timer as work: poll with a fresh reading too,
                    // or a deadline that fell between the last item's end and the re-check is due for one and not for
                    // the other, and this loop spins forever without polling or parking.
                    ReadClock();
                    continue;
                }
                InterleavingSeam.Point(); // ... or after the re-check, so its wake arrives before the park
                TrimLanes();
                Idle.Park(_scheduler.ParkTimeout(this));
                // Still unclaimed: no spawn or wake came for a whole park period, so the burst is over and the task
                // pool's depot can shrink. Not on every park: a CPU parks whenever a spawner is descheduled mid-burst,
                // and trimming then dropped the tasks the spawner was about to reuse. (A racing claim only moves a trim.)
                bool quiet = Volatile.Read(ref Parked) == 1;
                Volatile.Write(ref Parked, 0);
                if (quiet) KernelTaskPool.Trim();
                _scheduler.LeaveIdle();
                ReadClock();
                _scheduler.MonitorStarvation(this, _lastClock); // the reading just taken: one clock read per wake
            }
        }
        finally
        {
            KernelScheduler.CurrentWorker = null;
            _scheduler.OnWorkerExited();
        }
    }

    /// <summary>A precise reading (with the coarse one taken just before it, when the clock has one).</summary>
    private void ReadClock()
    {
        if (_scheduler.CoarseClock is { } coarse) _coarseAtClock = coarse.CoarseTicks;
        _lastClock = _scheduler.ClockTicks;
        _clockLags = false;
    }

    /// <summary>
    /// The clock reading after an item. With a coarse clock, the precise clock (the costliest call of a short item's
    /// run: ~9% of a spawn's CPU) is read only when the coarse reading moved since the last precise one — always, then,
    /// after an item that ran a coarse tick or longer, so the starvation checks see every long item's real end — or when
    /// <paramref name="exact"/> (an item charged to a CPU account). Otherwise the last reading stands, less than one
    /// coarse tick old: the next item's start (for the other CPUs' starvation watch) may be that much early.
    /// </summary>
    private long ClockAfterItem(bool exact)
    {
        if (!exact && _scheduler.CoarseClock is { } coarse)
        {
            long c = coarse.CoarseTicks;
            if (c == _coarseAtClock) { _clockLags = true; return _lastClock; }
            _coarseAtClock = c; // taken before the precise read below, so an equal reading later bounds its lag
        }
        _clockLags = false;
        return _lastClock = _scheduler.ClockTicks;
    }

    /// <summary>Going idle: a burst is over, so the drained segments its run lanes kept (this CPU's and the shared ones) go.</summary>
    private void TrimLanes()
    {
        foreach (var lane in Lanes) lane.TrimIfIdle();
        foreach (var lane in _scheduler.Global) lane.TrimIfIdle();
    }

    private void DoneSearching()
    {
        if (!WokenToSearch) return;
        WokenToSearch = false;
        _scheduler.SearchEnded();
        // Chain: if work is still waiting here, let another idle CPU help (spreads a burst over all CPUs).
        if (LocalCount > 0) _scheduler.NotifyIdleWorker();
    }

    private bool TryFindWork(out WorkItem item)
    {
        for (int attempt = 0; attempt < 3; attempt++)
        {
            int best = -1;
            for (int p = PriorityCount - 1; p >= 0; p--)
            {
                if (Lanes[p].Count > 0 || SharedCount(p) > 0) { best = p; break; }
            }
            if (best < 0) break;

            int pick = best;
            if (best < (int)TaskPriority.Realtime)
            {
                int lower = LowestWaitingBelow(best);
                if (lower >= 0)
                {
                    // Aging: after FairnessBudget picks that passed over lower-priority work, serve the lowest once.
                    if (++_passedOverLower > _scheduler.FairnessBudget) { pick = lower; _passedOverLower = 0; }
                }
                else _passedOverLower = 0;
            }

            bool globalFirst = ++_picks % GlobalCheckInterval == 0;
            if (globalFirst ? TakeGlobal(pick, out item) || Lanes[pick].TryPop(out item)
                            : Lanes[pick].TryPop(out item) || TakeGlobal(pick, out item))
                return true;
        }
        return TrySteal(out item);
    }

    private int SharedCount(int priority) => _scheduler.Global[priority].Count;

    /// <summary>Takes a batch from the shared queue into the local lane (one lock round trip per batch, not per item).</summary>
    private bool TakeGlobal(int priority, out WorkItem item)
    {
        var global = _scheduler.Global[priority];
        int n = global.Count;
        if (n == 0) { item = default; return false; }
        int share = Math.Max(1, n / _scheduler.Workers.Length);
        // Straight into the ring when the overflow is empty: each item written once (a spawn from outside is then
        // written into the shared queue and into this ring, not also into and out of the staging array).
        if (Lanes[priority].TryTakeBatch(global, Math.Min(Math.Min(share, (n + 1) / 2), GlobalBatch), out item)) return true;
        int got = global.StealHalf(_stolen, share);
        if (got == 0) { item = default; return false; }
        item = _stolen[0];
        Lanes[priority].PushRange(_stolen.AsSpan(1, got - 1));
        Array.Clear(_stolen, 0, got);
        return true;
    }

    private int LowestWaitingBelow(int priority)
    {
        for (int p = 0; p < priority; p++)
            if (Lanes[p].Count > 0 || SharedCount(p) > 0) return p;
        return -1;
    }

    private bool TrySteal(out WorkItem item)
    {
        var workers = _scheduler.Workers;
        int n = workers.Length;
        if (n > 1)
        {
            _random ^= _random << 13; _random ^= _random >> 17; _random ^= _random << 5;
            int start = (int)(_random % (uint)n);
            for (int p = PriorityCount - 1; p >= 0; p--)
            {
                for (int i = 0; i < n; i++)
                {
                    var victim = workers[(start + i) % n];
                    if (victim == this) continue;
                    if (victim.Lanes[p].Count == 0) continue;
                    // The victim's ring drained (its owner is busy, e.g. spawning past it): take from its overflow
                    // straight into this CPU's ring.
                    int before = Lanes[p].RingCount;
                    if (Lanes[p].TryStealOverflowInto(victim.Lanes[p], OverflowStealBatch, out item))
                    {
                        Steals++;
                        if (KernelTrace.Enabled) SchedulerTrace.Stole(victim.Index, 1 + Lanes[p].RingCount - before);
                        return true;
                    }
                    int got = victim.Lanes[p].StealHalf(_stolen, StealBatch);
                    if (got == 0) continue;
                    Steals++;
                    if (KernelTrace.Enabled) SchedulerTrace.Stole(victim.Index, got);
                    item = _stolen[0];
                    Lanes[p].PushRange(_stolen.AsSpan(1, got - 1));
                    Array.Clear(_stolen, 0, got);
                    return true;
                }
            }
        }
        item = default;
        return false;
    }

    /// <summary>Runs one item; returns the clock reading taken when it ended.</summary>
    private long Execute(in WorkItem item)
    {
        var owner = item.Owner;
        CurrentOwner = owner;
        SynchronizationContext.SetSynchronizationContext(owner);
        if (_clockLags && owner?.CpuAccount is not null) ReadClock(); // a charged item's start is exact too
        long start = _lastClock;
        ItemSequence++;
        Volatile.Write(ref ItemStartTicks, start == 0 ? 1 : start);
        if (KernelTrace.Enabled) SchedulerTrace.ItemStarted(owner);
        bool recycle = false;
        try
        {
            switch (item.Callback)
            {
                case KernelTask task: recycle = task.Start(); break;
                case Task task: _scheduler.KernelTaskScheduler.Execute(task); break;
                case SendOrPostCallback callback: owner?.MarkRunning(); callback(item.State); break;
                case Action action: owner?.MarkRunning(); action(); break;
                case IKernelWorkItem work: owner?.MarkRunning(); work.Execute(); break;
            }
        }
        catch (Exception e) // e.g. an async void method's exception: contained, counted, reported
        {
            _scheduler.OnUnhandledException(owner, e);
        }
        finally
        {
            owner?.MarkSuspended();
            if (KernelTrace.Enabled) SchedulerTrace.ItemEnded(owner);
            Volatile.Write(ref ItemStartTicks, 0);
            SynchronizationContext.SetSynchronizationContext(null);
            CurrentOwner = null;
            Executed++;
        }
        var account = owner?.CpuAccount; // read after the item: its first item may have set it
        long end = ClockAfterItem(exact: account is not null);
        _scheduler.CheckItemDuration(this, owner, start, end, ItemSequence);
        account?.Charge(end - start);
        // Last use of the owner by this item; a pooled task that qualifies goes back to this CPU's magazines.
        if (recycle && owner!.TryRetire()) KernelTaskPool.Return(PoolCache, owner);
        return end;
    }
}
