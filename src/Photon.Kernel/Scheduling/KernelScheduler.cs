using System.Runtime.CompilerServices;
using Photon.Kernel.Diagnostics;
using Photon.Kernel.Diagnostics.Tracing;
using Photon.Kernel.Hal;

namespace Photon.Kernel.Scheduling;

/// <summary>
/// Photon's event-driven cooperative scheduler. Kernel code writes ordinary <c>async Task</c> methods and spawns them
/// here; they run on CPU workers provided by the HAL (<see cref="IProcessorSet"/>), and because every kernel task runs
/// under its own <see cref="SynchronizationContext"/> every <c>await</c> continuation comes back to a kernel CPU, even
/// when the awaited operation (host I/O, a device) completes on a foreign thread.
/// <para>
/// Each CPU has a local run queue with one FIFO lane per <see cref="TaskPriority"/>; work posted from outside goes to a
/// shared injection queue; idle CPUs steal half of a busy CPU's lane. Timers live in one hierarchical timing wheel
/// driven by the HAL clock and polled by the CPUs between work items. Scheduling is cooperative: a work item that runs
/// longer than <see cref="SchedulerOptions.StarvationThreshold"/> without awaiting is reported through
/// <see cref="StarvationDetected"/> and counted, while the other CPUs steal the work queued behind it.
/// </para>
/// </summary>
public sealed class KernelScheduler : IKernelTimers, IAsyncDisposable
{
    private const int PriorityCount = 4;
    private const int LiveStripes = 16;
    private static readonly TimeSpan MaxPark = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxCoarseResolution = TimeSpan.FromMilliseconds(10);

    [ThreadStatic] private static Worker? t_worker;

    private readonly IClock _clock;
    private readonly TimerQueue _timers;
    private readonly IProcessorHandle[] _handles;
    private readonly long _starvationTicks;
    private readonly LiveStripe[] _live = new LiveStripe[LiveStripes];
    private readonly TaskCompletionSource _allStopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private PaddedCounter _spawnCount; // every spawn takes the next value as its id (truncated): one atomic for both
    private int _idle;
    private int _searching;
    private int _running;
    private volatile bool _stopping;
    private volatile bool _stopped;
    private int _disposeStarted;
    private long _lastMonitorTicks;

    private long _completed, _faulted, _canceled, _starvationReports, _unhandled;

    public KernelScheduler(IProcessorSet cpus, IClock clock, SchedulerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(cpus);
        ArgumentNullException.ThrowIfNull(clock);
        options ??= new SchedulerOptions();
        int count = options.Workers == 0 ? cpus.Count : options.Workers;
        if (count < 1 || count > cpus.Count)
            throw new ArgumentOutOfRangeException(nameof(options), $"workers must be 1..{cpus.Count} (the processor count), got {options.Workers}");
        var threshold = options.StarvationThreshold ?? SchedulerOptions.DefaultStarvationThreshold;
        if (threshold <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(options), "starvation threshold must be positive");
        if (options.FairnessBudget < 1) throw new ArgumentOutOfRangeException(nameof(options), "fairness budget must be at least 1");
        var idleFactory = options.Idle ?? cpus as IProcessorIdleFactory
            ?? throw new ArgumentException("the processor set provides no idle primitive; pass SchedulerOptions.Idle", nameof(options));

        _clock = clock;
        // The coarse clock only where its step is small against the starvation threshold (it bounds how early an
        // item's recorded start can be) and against a timer's millisecond (see TimerDueBy's slack).
        if (clock is ICoarseClock coarse && coarse.CoarseResolution > TimeSpan.Zero
            && coarse.CoarseResolution.Ticks * 8 <= threshold.Ticks && coarse.CoarseResolution <= MaxCoarseResolution)
        {
            CoarseClock = coarse;
            // One step, and one more for the host's tick lag (the coarse clock is updated by the timer interrupt).
            CoarseLagTicks = 2 * coarse.CoarseResolution.Ticks;
        }
        _timers = new TimerQueue(clock);
        _starvationTicks = threshold.Ticks;
        StarvationThreshold = threshold;
        FairnessBudget = options.FairnessBudget;
        KernelTaskScheduler = new KernelTaskSchedulerImpl(this, count);
        VoidShape = new VoidShape(this);
        for (int i = 0; i < PriorityCount; i++) Global[i] = new RunLane();
        for (int i = 0; i < LiveStripes; i++) _live[i] = new LiveStripe();

        Workers = new Worker[count];
        for (int i = 0; i < count; i++) Workers[i] = new Worker(this, i, idleFactory.Create());
        _running = count;
        _handles = new IProcessorHandle[count];
        for (int i = 0; i < count; i++)
        {
            var worker = Workers[i];
            _handles[i] = cpus.Start(i, options.Name, worker.Run);
        }
    }

    public TimeSpan StarvationThreshold { get; }

    /// <summary>Monotonic time of the HAL clock the timers run on.</summary>
    public TimeSpan Now => _clock.Monotonic;

    /// <summary>
    /// A <see cref="System.Threading.Tasks.TaskScheduler"/> that runs tasks on the kernel CPUs, for
    /// <c>Task.Factory.StartNew</c>/<c>ContinueWith</c> style code.
    /// </summary>
    public TaskScheduler TaskScheduler => KernelTaskScheduler;

    /// <summary>Raised (on a kernel CPU) when a work item runs longer than the starvation threshold without awaiting.</summary>
    public event Action<StarvationReport>? StarvationDetected;

    /// <summary>Raised (on whichever thread finished it) when a kernel task faults; the scheduler itself carries on.</summary>
    public event Action<KernelTask, Exception>? TaskFaulted;

    /// <summary>The CPU worker index the calling code runs on, or -1 when not on a CPU of this scheduler.</summary>
    public int CurrentCpu => t_worker is { } w && w.Scheduler == this ? w.Index : -1;

    /// <summary>True when the caller runs on one of this scheduler's CPU workers.</summary>
    public bool IsKernelThread => CurrentCpu >= 0;

    public int WorkerCount => Workers.Length;

    public SchedulerStats Stats
    {
        get
        {
            var lengths = new int[Workers.Length];
            long steals = 0, executed = 0, spawned = Interlocked.Read(ref _spawnCount.Value), completed = Interlocked.Read(ref _completed);
            for (int i = 0; i < Workers.Length; i++)
            {
                lengths[i] = Workers[i].LocalCount;
                steals += Volatile.Read(ref Workers[i].Steals);
                executed += Volatile.Read(ref Workers[i].Executed);
                completed += Volatile.Read(ref Workers[i].Completed);
            }
            int global = 0;
            foreach (var lane in Global) global += lane.Count;
            long faulted = Interlocked.Read(ref _faulted), canceled = Interlocked.Read(ref _canceled);
            return new SchedulerStats(Workers.Length, spawned, completed, faulted, canceled,
                Math.Max(0, spawned - completed - faulted - canceled), lengths, global, steals,
                Interlocked.Read(ref _starvationReports), executed, _timers.Count);
        }
    }

    /// <summary>Exceptions that escaped a work item outside any kernel task body (e.g. from an <c>async void</c> method).</summary>
    public long UnhandledExceptions => Interlocked.Read(ref _unhandled);

    /// <summary>
    /// Spawns a kernel task. The body starts on a kernel CPU (never inline on the caller). After shutdown the returned
    /// task is already canceled.
    /// </summary>
    public KernelTask Spawn(Func<Task> body, string name, TaskPriority priority = TaskPriority.Normal, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(body);
        return SpawnCore(body, VoidShape, name, priority, ct);
    }

    /// <summary>
    /// Spawns a kernel task whose object is recycled once it ran to completion: a burst of short tasks allocates
    /// (almost) nothing. The caller gets a generation-checked <see cref="KernelTaskHandle"/>, not the object; a handle
    /// kept after its task finished reads it as completed and can neither observe nor affect the task that reuses the
    /// object. A task is recycled only when it finished within its first run, its body allocated nothing on the CPU
    /// while running, and nothing pinned it (<see cref="KernelTask.Current"/>, a handle's join or cancel); any other
    /// pooled task is an ordinary one. After shutdown the handle's task is already canceled.
    /// </summary>
    public KernelTaskHandle SpawnPooled(Func<Task> body, string name, TaskPriority priority = TaskPriority.Normal)
    {
        ArgumentNullException.ThrowIfNull(body);
        if ((uint)priority >= PriorityCount) priority = TaskPriority.Normal;
        name ??= "";
        int id = unchecked((int)Interlocked.Increment(ref _spawnCount.Value));
        var w = t_worker; // one thread-static read for the pool's magazines and the run queue
        var task = KernelTaskPool.Rent(w is not null ? w.PoolCache : KernelTaskPool.ThreadCache);
        if (task is null) task = new KernelTask(id, name, priority, body, VoidShape, default, pooled: true);
        else task.Reuse(id, name, priority, body, VoidShape);
        if (KernelTrace.Enabled)
        {
            task.TryPin(id); // the trace keeps the object
            SchedulerTrace.Spawned(task);
        }
        if (_stopping)
        {
            task.FinishCanceled(default);
            return new KernelTaskHandle(task, id);
        }
        InterleavingSeam.Point(); // shutdown may run to its end between the check and the enqueue
        Enqueue(w, new WorkItem(task, null, task), priority, behindEverything: false);
        // As in SpawnCore; but once queued the task may already have run and been recycled into another spawn, so it is
        // canceled only if it is still this generation (pinned: it stays so).
        if (_stopped && task.TryPin(id)) task.FinishCanceled(default);
        return new KernelTaskHandle(task, id);
    }

    public KernelTask<T> Spawn<T>(Func<Task<T>> body, string name, TaskPriority priority = TaskPriority.Normal, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(body);
        return new KernelTask<T>(SpawnCore(body, ValueShape<T>.For(this), name, priority, ct));
    }

    /// <summary>
    /// Queues <paramref name="item"/> to run once on a kernel CPU, behind the work already waiting at its priority
    /// (the same lanes, fairness and stealing as task continuations; nothing is allocated). False once shutdown has
    /// begun: the item will not run. A shutdown that races the call may still discard it, as it discards every queued
    /// continuation (their tasks are canceled).
    /// </summary>
    public bool Post(IKernelWorkItem item, TaskPriority priority = TaskPriority.Normal)
    {
        ArgumentNullException.ThrowIfNull(item);
        return Post(item, null, priority);
    }

    /// <summary>As <see cref="Post(IKernelWorkItem, TaskPriority)"/>, run as part of <paramref name="owner"/> (its
    /// context installed, its CPU account charged, at its priority).</summary>
    internal bool Post(IKernelWorkItem item, KernelTask? owner, TaskPriority priority)
    {
        if (_stopping) return false;
        if ((uint)priority >= PriorityCount) priority = TaskPriority.Normal;
        Enqueue(new WorkItem(item, null, owner), owner?.Priority ?? priority);
        return true;
    }

    /// <summary>A kernel timer: completes once <paramref name="due"/> has passed on the HAL clock (never earlier).</summary>
    public Task Delay(TimeSpan due, CancellationToken ct = default) => _timers.Delay(due, ct);

    /// <summary>
    /// Cooperatively yields the CPU: the rest of the calling kernel task is queued behind the work already waiting.
    /// Outside a kernel task it behaves like <see cref="Task.Yield"/>.
    /// </summary>
    public static KernelYieldAwaitable Yield() => default;

    /// <summary>
    /// Stops the CPUs: each finishes the item it is running and exits; then armed timers and every unfinished kernel
    /// task are canceled and queued work is discarded. Awaiting it from inside a kernel task does not wait for the
    /// calling CPU (it cannot stop itself while running you).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposeStarted, 1) == 0)
        {
            _stopping = true;
            InterleavingSeam.Point(); // CPUs may park after the flag, before their wake
            foreach (var w in Workers) w.Idle.Wake();
        }
        if (IsKernelThread) return;
        await _allStopped.Task.ConfigureAwait(false);
        foreach (var h in _handles) h.Dispose();
    }

    // ---- internals used by workers, contexts and tasks ----

    internal static Worker? CurrentWorker { get => t_worker; set => t_worker = value; }
    internal Worker[] Workers { get; }
    internal readonly RunLane[] Global = new RunLane[PriorityCount];
    internal KernelTaskSchedulerImpl KernelTaskScheduler { get; }
    /// <summary>The shape of this scheduler's tasks without a result (it names the scheduler for them).</summary>
    internal VoidShape VoidShape { get; }
    internal int FairnessBudget { get; }
    internal bool IsStopping => _stopping;
    internal long ClockTicks => _clock.Monotonic.Ticks;
    /// <summary>The clock's cheap coarse reading, when it has one fine enough (else every item ends with a precise read).</summary>
    internal ICoarseClock? CoarseClock { get; }
    /// <summary>The most a CPU's last precise reading can lag while it skips reads (two coarse steps).</summary>
    internal long CoarseLagTicks { get; }

    /// <summary>True when a timer is due at or before <paramref name="clockTicks"/> (no lock, no clock read).</summary>
    internal bool TimerDueBy(long clockTicks) => clockTicks / TimeSpan.TicksPerMillisecond >= _timers.NextWakeTick;

    private KernelTask SpawnCore(Delegate body, TaskShape shape, string name, TaskPriority priority, CancellationToken ct)
    {
        if ((uint)priority >= PriorityCount) priority = TaskPriority.Normal;
        name ??= "";
        var task = new KernelTask(unchecked((int)Interlocked.Increment(ref _spawnCount.Value)), name, priority, body, shape, ct);
        if (KernelTrace.Enabled) SchedulerTrace.Spawned(task);
        if (_stopping)
        {
            task.FinishCanceled(default); // never runs: the CPUs are gone
            return task;
        }
        InterleavingSeam.Point(); // shutdown may run to its end between the check and the enqueue
        Enqueue(new WorkItem(task, null, task), priority);
        // Shutdown finished meanwhile (Coyote found it): Enqueue dropped the item, or queued it after the last CPU
        // cancelled and discarded the queues. No CPU will run it, so cancel it here (once; a CPU never started it).
        if (_stopped) task.FinishCanceled(default);
        return task;
    }

    internal void Enqueue(in WorkItem item, TaskPriority priority, bool behindEverything = false) =>
        Enqueue(t_worker, in item, priority, behindEverything);

    /// <summary>As above, with the calling thread's worker (<c>t_worker</c>, or null) already read by the caller.</summary>
    private void Enqueue(Worker? w, in WorkItem item, TaskPriority priority, bool behindEverything)
    {
        if (_stopped) return; // after shutdown continuations are dropped; their tasks were canceled
        if (!behindEverything && w is not null && w.Scheduler == this)
        {
            var lane = w.Lanes[(int)priority];
            lane.Push(in item);
            InterleavingSeam.Point(); // a CPU may park between the push and the idle check
            // The CPU will take one item itself; wake a helper only for a backlog (keeps ping-pong on one CPU).
            Interlocked.MemoryBarrier();
            if (Volatile.Read(ref _idle) > 0 && (w.LocalCount > 1 || w.ItemStartTicks == 0)) NotifyIdleWorker();
        }
        else
        {
            Global[(int)priority].Push(in item);
            InterleavingSeam.Point();
            Interlocked.MemoryBarrier();
            if (Volatile.Read(ref _idle) > 0) NotifyIdleWorker();
        }
    }

    /// <summary>Wakes one parked CPU to look for work, unless one is already searching.</summary>
    internal void NotifyIdleWorker()
    {
        if (Volatile.Read(ref _searching) > 0) return;
        if (Interlocked.CompareExchange(ref _searching, 1, 0) != 0) return;
        foreach (var w in Workers)
        {
            if (Volatile.Read(ref w.Parked) == 1 && Interlocked.CompareExchange(ref w.Parked, 0, 1) == 1)
            {
                w.WokenToSearch = true;
                InterleavingSeam.Point(); // the claimed CPU may run on (or park) before the wake arrives
                w.Idle.Wake();
                return;
            }
        }
        Interlocked.Exchange(ref _searching, 0);
    }

    internal void SearchEnded() => Interlocked.Decrement(ref _searching);
    internal void EnterIdle() => Interlocked.Increment(ref _idle);
    internal void LeaveIdle() => Interlocked.Decrement(ref _idle);

    internal bool HasVisibleWork(Worker self)
    {
        foreach (var lane in Global) if (lane.Count > 0) return true;
        foreach (var w in Workers) if (w.LocalCount > 0) return true;
        return _timers.NextWakeTick <= _timers.NowTick;
    }

    /// <summary>Fires due timers as of <paramref name="nowClockTicks"/>, the clock reading the CPU took at its last item's end.</summary>
    internal int PollTimers(long nowClockTicks) => _timers.Poll(nowClockTicks);

    internal TimeSpan ParkTimeout(Worker self)
    {
        var timeout = MaxPark;
        long next = _timers.NextWakeTick;
        if (next != long.MaxValue)
        {
            var untilTimer = TimeSpan.FromMilliseconds(Math.Max(0, next - _timers.NowTick));
            if (untilTimer < timeout) timeout = untilTimer;
        }
        // While another CPU runs an item, wake periodically to watch it for starvation and steal behind it.
        foreach (var w in Workers)
        {
            if (w != self && Volatile.Read(ref w.ItemStartTicks) != 0)
            {
                var watch = TimeSpan.FromTicks(_starvationTicks / 2);
                if (watch < timeout) timeout = watch;
                break;
            }
        }
        return timeout;
    }

    /// <summary>Called by a busy CPU between items: watches the others at most every quarter threshold.</summary>
    internal void MonitorIfDue(Worker self, long now)
    {
        long last = Volatile.Read(ref _lastMonitorTicks);
        if (now - last < _starvationTicks / 4) return;
        if (Interlocked.CompareExchange(ref _lastMonitorTicks, now, last) != last) return;
        MonitorStarvation(self, now);
    }

    /// <summary>Reports every other CPU whose current item has run past the threshold (once per item), as of
    /// <paramref name="now"/>, a clock reading the caller just took.</summary>
    internal void MonitorStarvation(Worker self, long now)
    {
        foreach (var w in Workers)
        {
            if (w == self) continue;
            long start = Volatile.Read(ref w.ItemStartTicks);
            if (start == 0 || now - start <= _starvationTicks) continue;
            long sequence = Volatile.Read(ref w.ItemSequence);
            var owner = w.CurrentOwner;
            if (Volatile.Read(ref w.ItemStartTicks) != start) continue; // it moved on meanwhile
            long reported = Volatile.Read(ref w.ReportedSequence);
            if (reported == sequence || Interlocked.CompareExchange(ref w.ReportedSequence, sequence, reported) != reported) continue;
            Report(new StarvationReport(w.Index, owner?.Id ?? 0, owner?.Name ?? "<work outside kernel tasks>",
                owner?.Priority ?? TaskPriority.Normal, TimeSpan.FromTicks(now - start), StillRunning: true));
        }
    }

    /// <summary>After each item: report it if it overran and nobody caught it while it ran (e.g. a single CPU).</summary>
    internal void CheckItemDuration(Worker w, KernelTask? owner, long start, long end, long sequence)
    {
        long elapsed = end - start;
        if (elapsed <= _starvationTicks) return;
        long reported = Volatile.Read(ref w.ReportedSequence);
        if (reported == sequence || Interlocked.CompareExchange(ref w.ReportedSequence, sequence, reported) != reported) return;
        Report(new StarvationReport(w.Index, owner?.Id ?? 0, owner?.Name ?? "<work outside kernel tasks>",
            owner?.Priority ?? TaskPriority.Normal, TimeSpan.FromTicks(elapsed), StillRunning: false));
    }

    private void Report(StarvationReport report)
    {
        Interlocked.Increment(ref _starvationReports);
        if (KernelTrace.Enabled) SchedulerTrace.Starved(report);
        try { StarvationDetected?.Invoke(report); }
        catch (Exception e) { OnUnhandledException(null, e); } // a faulty listener must not take a CPU down
    }

    internal void OnUnhandledException(KernelTask? owner, Exception e) => Interlocked.Increment(ref _unhandled);

    /// <summary>
    /// A started task suspended at an await: remember it so shutdown can cancel it. Tasks that finish within their
    /// first run (or still sit in a run queue) are never registered, keeping the common short task cheap.
    /// </summary>
    internal void TrackSuspended(KernelTask task) => _live[task.Id & (LiveStripes - 1)].Add(task);

    internal void OnTaskFinished(KernelTask task, KernelTaskState final, Exception? fault)
    {
        if (Volatile.Read(ref task.LiveSlot) != 0) _live[task.Id & (LiveStripes - 1)].Remove(task);
        if (KernelTrace.Enabled) SchedulerTrace.Finished(task, final);
        switch (final)
        {
            case KernelTaskState.RanToCompletion:
                if (t_worker is { } w && w.Scheduler == this) Volatile.Write(ref w.Completed, w.Completed + 1);
                else Interlocked.Increment(ref _completed);
                break;
            case KernelTaskState.Canceled: Interlocked.Increment(ref _canceled); break;
            case KernelTaskState.Faulted:
                Interlocked.Increment(ref _faulted);
                try { TaskFaulted?.Invoke(task, fault!); }
                catch (Exception e) { OnUnhandledException(task, e); }
                break;
        }
    }

    internal void OnWorkerExited()
    {
        if (Interlocked.Decrement(ref _running) != 0) return;
        // Last CPU out: nothing runs any more, so cancel what can never finish and drop queued work.
        _stopping = true;
        _stopped = true;
        _timers.Close();
        foreach (var stripe in _live)
            foreach (var task in stripe.Drain()) task.FinishCanceled(default);
        // Tasks that never got their first run are still queued: cancel them as the queues are discarded.
        foreach (var item in Workers.SelectMany(w => w.Lanes).SelectMany(lane => lane.Drain()).Concat(Global.SelectMany(lane => lane.Drain())))
            if (item.Callback is KernelTask queued) queued.FinishCanceled(default);
        _allStopped.TrySetResult();
    }

    /// <summary>One stripe of the registry of unfinished kernel tasks: an array with each task's index in the task
    /// (<see cref="KernelTask.LiveSlot"/>), removal by moving the last entry into the hole; striped to spread lock
    /// traffic. 8 bytes a registered task (plus the array's slack) instead of two links in every task.</summary>
    private sealed class LiveStripe
    {
        private const int MinCapacity = 16;
        private readonly Lock _lock = new();
        private KernelTask?[] _tasks = [];
        private int _count;

        public void Add(KernelTask task)
        {
            lock (_lock)
            {
                if (_count == _tasks.Length) Array.Resize(ref _tasks, Math.Max(MinCapacity, _count * 2));
                _tasks[_count] = task;
                task.LiveSlot = ++_count;
            }
        }

        public void Remove(KernelTask task)
        {
            lock (_lock)
            {
                int slot = task.LiveSlot;
                if (slot == 0) return; // already drained
                var last = _tasks[--_count]!;
                _tasks[slot - 1] = last;
                last.LiveSlot = slot;
                _tasks[_count] = null;
                task.LiveSlot = 0; // after the move: the task may itself have been the last entry
                // A million tasks that suspended and then finished must not pin the array they needed.
                if (_tasks.Length > MinCapacity && _count < _tasks.Length / 4) Array.Resize(ref _tasks, _tasks.Length / 2);
            }
        }

        public List<KernelTask> Drain()
        {
            lock (_lock)
            {
                var all = new List<KernelTask>(_count);
                for (int i = 0; i < _count; i++)
                {
                    var t = _tasks[i]!;
                    t.LiveSlot = 0;
                    all.Add(t);
                }
                _tasks = [];
                _count = 0;
                return all;
            }
        }
    }
}

/// <summary>The kernel <see cref="TaskScheduler"/>: queues tasks on the CPU run queues at the current task's priority.</summary>
internal sealed class KernelTaskSchedulerImpl(KernelScheduler scheduler, int workers) : TaskScheduler
{
    public override int MaximumConcurrencyLevel => workers;

    protected override void QueueTask(Task task)
    {
        var owner = KernelScheduler.CurrentWorker is { } w && w.Scheduler == scheduler ? w.CurrentOwner : null;
        scheduler.Enqueue(new WorkItem(task, null, owner), owner?.Priority ?? TaskPriority.Normal);
    }

    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) =>
        scheduler.IsKernelThread && TryExecuteTask(task);

    // Queued work is spread over per-CPU lanes; the debugger view is not supported.
    protected override IEnumerable<Task>? GetScheduledTasks() => null;

    internal void Execute(Task task) => TryExecuteTask(task);
}

/// <summary>Awaitable returned by <see cref="KernelScheduler.Yield"/>.</summary>
public readonly struct KernelYieldAwaitable
{
    public KernelYieldAwaiter GetAwaiter() => default;

    public readonly struct KernelYieldAwaiter : ICriticalNotifyCompletion
    {
        public bool IsCompleted => false;
        public void GetResult() { }

        public void OnCompleted(Action continuation) => Schedule(continuation, flowContext: true);
        public void UnsafeOnCompleted(Action continuation) => Schedule(continuation, flowContext: false);

        private static void Schedule(Action continuation, bool flowContext)
        {
            if (KernelScheduler.CurrentWorker is { } w)
            {
                if (flowContext && ExecutionContext.Capture() is { } ec)
                {
                    var inner = continuation;
                    continuation = () => ExecutionContext.Run(ec, static s => ((Action)s!)(), inner);
                }
                var owner = w.CurrentOwner;
                // Like Go's Gosched: to the shared queue, so it goes behind local and injected work alike.
                w.Scheduler.Enqueue(new WorkItem(continuation, null, owner), owner?.Priority ?? TaskPriority.Normal, behindEverything: true);
                return;
            }
            if (flowContext) Task.Yield().GetAwaiter().OnCompleted(continuation);
            else Task.Yield().GetAwaiter().UnsafeOnCompleted(continuation);
        }
    }
}
