namespace Photon.Kernel.Scheduling;

/// <summary>
/// A kernel task: an <c>async</c> body running on the kernel's CPU workers, with a name, an id and a priority.
/// Its <see cref="Completion"/> carries the outcome; a body that throws faults only its own task.
/// <para>
/// A kernel task is also the <see cref="SynchronizationContext"/> installed while its code runs, so every <c>await</c>
/// in the body (including awaits of host I/O completing on foreign threads) posts its continuation back to the kernel
/// run queues at the task's priority, attributed to the task. Being its own context saves an object per task (a
/// million parked tasks pay for every one).
/// </para>
/// </summary>
public sealed class KernelTask : SynchronizationContext
{
    // The task's TaskShape until the first read of Completion, then the completion source that shape made (which
    // names its shape, IShapedSource): one field for both, since the shape is all that is needed before. A
    // fire-and-forget task that nobody awaits never allocates one (two objects fewer per spawn). The shape also names
    // the scheduler (one shape per scheduler and result type), so the task needs no field of its own for it: 72 B, not
    // 80 — the GC rounds this object by references, and every spawn allocates one.
    private object _shapeOrSource;
    // The spawn token and the task's own source, in one object made only for a task spawned with a token or whose
    // CancellationToken is read: most tasks never need either (8 bytes less per task than two inline fields).
    private Cancellation? _cancel;
    // One field for what the task holds in each phase of its life, never two at once (a million parked tasks pay for
    // every field): the body (a Delegate) until it starts; the Task it returned while that still runs; then the
    // outcome, written once by whoever won TryFinish and published by _finished = 2 — the body's Task when it ran to
    // completion, its exceptions when it faulted, the boxed CancellationToken when canceled. The body and its
    // running Task are dropped as soon as possible so the closure can be collected.
    private object? _work;
    private int _state;
    // 0 running or queued; 1 claimed by the finisher (TryFinish), state and outcome being written; 2 outcome published.
    private int _finished;

    // 1 + this task's index in its stripe of the scheduler's live-task registry while registered (a task suspended at
    // an await, so shutdown can cancel what never finished), 0 otherwise; written under the stripe's lock. An index
    // instead of two intrusive links: at least 8 bytes less on every task (80 B now), registered or not.
    internal int LiveSlot;

    /// <summary>Where the CPU time of this task's work items is charged (its process), or null.</summary>
    internal Diagnostics.Monitoring.CpuAccount? CpuAccount
    {
        get => Volatile.Read(ref _cancel)?.CpuAccount;
        set => Extras.CpuAccount = value;
    }

    internal KernelTask(int id, string name, TaskPriority priority, Delegate body, TaskShape shape, CancellationToken ct, bool pooled = false)
    {
        _id = id;
        _name = name;
        _flags = (byte)((int)priority | (pooled ? 0 : Pinned));
        _work = body;
        _shapeOrSource = shape;
        if (ct.CanBeCanceled) _cancel = new Cancellation(ct);
    }

    public string Name => _name;
    public int Id => _id;
    // Not readonly: a recycled task takes the next spawn's (KernelTaskPool); written before the task is queued. The id
    // is also the generation a KernelTaskHandle checks: every spawn takes a new one (they repeat after 2^32 spawns).
    private string _name;
    private int _id;
    // The priority (two bits) and the pool's two flags, in the one byte the layout has spare (an int more makes 80 B).
    // A task from Spawn is Pinned for life (its object is the caller's handle); one from SpawnPooled only once something
    // takes the object itself (KernelTask.Current, a handle's join, cancel or TryGetTask). Only an unpinned task is
    // Retired (recycled), and only a retired one is given a new id: so a handle's pin and the retirement exclude each
    // other through one compare-and-swap on this byte.
    private byte _flags;
    private const int PriorityMask = 3, Pinned = 4, Retired = 8;

    /// <summary>True once generation <paramref name="id"/> is over: retired into the pool, or already reused.</summary>
    internal bool RetiredFrom(int id) => Volatile.Read(ref _id) != id || (Volatile.Read(ref _flags) & Retired) != 0;

    /// <summary>Pins the task if it is still generation <paramref name="id"/>: it will never be recycled, so the caller
    /// may use the object itself. False when that generation ended and the object was (or is being) recycled.</summary>
    internal bool TryPin(int id)
    {
        while (true)
        {
            if (Volatile.Read(ref _id) != id) return false;
            byte flags = Volatile.Read(ref _flags);
            if ((flags & Retired) != 0) return false;
            if ((flags & Pinned) != 0 || Interlocked.CompareExchange(ref _flags, (byte)(flags | Pinned), flags) == flags)
            {
                // A reuse between the id read and the swap reset the flags for the next generation: that one is now
                // pinned (it only stays out of the pool), and this handle's generation is gone.
                return Volatile.Read(ref _id) == id;
            }
        }
    }

    /// <summary>The state of generation <paramref name="id"/>: the task's own while it is that generation, else
    /// RanToCompletion (only a task that ran to completion is ever recycled).</summary>
    internal KernelTaskState StateOf(int id)
    {
        if (Volatile.Read(ref _id) != id) return KernelTaskState.RanToCompletion;
        var state = (KernelTaskState)Volatile.Read(ref _state);
        // Read after the state: Reuse writes the new id before the new state, so a later generation's state is only
        // ever read together with its own id.
        return Volatile.Read(ref _id) == id ? state : KernelTaskState.RanToCompletion;
    }

    /// <summary>Ends this generation if the task may be recycled: unpinned, ran to completion, no extras (no token, no
    /// CPU account). Then drops everything the finished task references. Only the CPU that ran it calls this.</summary>
    internal bool TryRetire()
    {
        byte flags = Volatile.Read(ref _flags);
        if ((flags & (Pinned | Retired)) != 0 || Volatile.Read(ref _cancel) is not null || Volatile.Read(ref _finished) != 2) return false;
        if (Interlocked.CompareExchange(ref _flags, (byte)(flags | Retired), flags) != flags) return false; // pinned meanwhile
        // Nothing can reach the old generation now: its handles find it retired, and it was never pinned, so no one
        // holds the object as a task. Release the body's outcome, the shape (and so its scheduler) and the name.
        _work = null;
        _shapeOrSource = null!;
        _name = "";
        return true;
    }

    /// <summary>A retired task takes a new spawn (the pool hands it to one spawner only): reset before it is queued.</summary>
    internal void Reuse(int id, string name, TaskPriority priority, Delegate body, TaskShape shape)
    {
        Volatile.Write(ref _id, id); // first: every later write belongs to the new generation (see StateOf, TryPin)
        _name = name;
        _work = body;
        _shapeOrSource = shape;
        _finished = 0;
        Volatile.Write(ref _flags, (byte)priority);
        Volatile.Write(ref _state, (int)KernelTaskState.Queued);
    }

    /// <summary>Pins a pooled task whose object is about to be handed out (it may outlive this generation).</summary>
    private void Pin()
    {
        if ((Volatile.Read(ref _flags) & Pinned) == 0) TryPin(Volatile.Read(ref _id));
    }

    public TaskPriority Priority => (TaskPriority)(_flags & PriorityMask);

    /// <summary>Completes when the body finishes: ran to completion, faulted (with the body's exception) or canceled.</summary>
    /// <remarks>Created on first read. The finisher records the outcome, then sets <c>_finished</c> to 2 (full fence)
    /// and reads <c>_shapeOrSource</c>; this getter installs the source there (full fence) and then reads <c>_finished</c>.
    /// Whichever runs second sees the other's write, so the source is always completed; completing it twice is
    /// harmless (the same outcome, first one wins).</remarks>
    public Task Completion
    {
        get
        {
            var source = Volatile.Read(ref _shapeOrSource);
            if (source is TaskShape shape)
            {
                var created = shape.CreateSource(out _);
                var prior = Interlocked.CompareExchange(ref _shapeOrSource, created, shape);
                source = ReferenceEquals(prior, shape) ? created : prior;
                if (Volatile.Read(ref _finished) == 2) CompleteSource(source);
            }
            return ((IShapedSource)source).Shape.TaskOf(source);
        }
    }

    public KernelTaskState State => (KernelTaskState)Volatile.Read(ref _state);

    /// <summary>The kernel task whose code is running on this CPU right now, or null outside kernel tasks.</summary>
    /// <remarks>Pins a pooled task: the caller now holds the object itself, which must never become another task.</remarks>
    public static new KernelTask? Current
    {
        get
        {
            var task = KernelScheduler.CurrentWorker?.CurrentOwner;
            task?.Pin();
            return task;
        }
    }

    /// <summary>
    /// Cancelled by <see cref="Cancel"/> or by the token given to Spawn. Cooperative: the body passes it to what it awaits
    /// (e.g. <c>KernelTask.Current!.CancellationToken</c>).
    /// </summary>
    public CancellationToken CancellationToken
    {
        get
        {
            var cancel = Extras;
            if (Volatile.Read(ref cancel.Source) is null)
            {
                var spawn = cancel.SpawnToken;
                var cts = spawn.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(spawn) : new CancellationTokenSource();
                if (Interlocked.CompareExchange(ref cancel.Source, cts, null) is not null) cts.Dispose();
            }
            try { return cancel.Source!.Token; }
            catch (ObjectDisposedException) { return new CancellationToken(State == KernelTaskState.Canceled); } // finished
        }
    }

    /// <summary>
    /// Requests cancellation. A task that has not started yet is canceled without running; a running one sees its
    /// <see cref="CancellationToken"/> cancelled and ends as Canceled if it lets the <see cref="OperationCanceledException"/> escape.
    /// </summary>
    public void Cancel()
    {
        if (IsFinished) return;
        // Claim a queued task so Start sees it is no longer Queued and never runs the body.
        if (Interlocked.CompareExchange(ref _state, (int)KernelTaskState.Canceled, (int)KernelTaskState.Queued) == (int)KernelTaskState.Queued)
        {
            FinishCanceled(new CancellationToken(true));
            return;
        }
        try { _ = CancellationToken; Volatile.Read(ref _cancel)?.Source?.Cancel(); } catch (ObjectDisposedException) { }
    }

    public override string ToString() => $"#{Id} '{Name}' ({Priority}, {State})";

    /// <summary>Queues an <c>await</c> continuation of this task on the kernel run queues (from any thread).</summary>
    public override void Post(SendOrPostCallback d, object? state)
    {
        if (Diagnostics.Tracing.KernelTrace.Enabled) Diagnostics.Tracing.SchedulerTrace.Woken(this);
        Scheduler.Enqueue(new WorkItem(d, state, this), Priority);
    }

    public override void Send(SendOrPostCallback d, object? state) => d(state);

    public override SynchronizationContext CreateCopy() => this;

    internal KernelScheduler Scheduler => Shape.Scheduler;

    /// <summary>The shape, whether or not <see cref="Completion"/> has replaced it by its source (which names it).</summary>
    private TaskShape Shape
    {
        get
        {
            var current = Volatile.Read(ref _shapeOrSource);
            return current as TaskShape ?? ((IShapedSource)current).Shape;
        }
    }

    internal bool IsFinished => Volatile.Read(ref _finished) != 0;

    /// <summary>First run: invokes the body on the current CPU worker (its context is already installed). True when the
    /// task may be recycled: pooled, ran to completion within this run, and its body allocated nothing on this thread.</summary>
    /// <remarks>The allocation test is what keeps a recycled task from being reached through its context: an await
    /// that suspends captures <see cref="SynchronizationContext.Current"/> (this task) in a continuation object it
    /// allocates, as does any closure or async box the body leaves behind. A body that allocated nothing can have
    /// stored the task only into an object that already existed — by reading the context explicitly; see
    /// docs/design.md. (<see cref="Current"/> pins the task instead.)</remarks>
    internal bool Start()
    {
        // Claim the first run; fails if Cancel() claimed the task while it was queued.
        if (Interlocked.CompareExchange(ref _state, (int)KernelTaskState.Running, (int)KernelTaskState.Queued) != (int)KernelTaskState.Queued) return false;
        if (_cancel is { SpawnToken.IsCancellationRequested: true } spawned) { FinishCanceled(spawned.SpawnToken); return false; }
        bool pooled = (Volatile.Read(ref _flags) & Pinned) == 0;
        long allocated = pooled ? GC.GetAllocatedBytesForCurrentThread() : 0;
        Task? inner;
        try
        {
            inner = Shape.Invoke((Delegate)_work!);
        }
        catch (Exception e) // a body that throws before its first await
        {
            _work = null;
            FinishFaulted(e);
            return false;
        }
        if (pooled && GC.GetAllocatedBytesForCurrentThread() != allocated) pooled = false;
        // Nobody else writes _work while the first run is in progress: Cancel and shutdown finish only a task still
        // Queued (this run claimed it) or one registered as suspended (done below, after the last write here).
        _work = null;
        if (inner is null) { FinishFaulted(new KernelException(ErrorCode.InvalidArgument, $"task '{Name}' body returned null")); return false; }
        if (inner.IsCompletedSuccessfully) { FinishFirstRun(inner); return pooled; }
        if (inner.IsCompleted) { Finish(inner); return false; }
        _work = inner;
        Scheduler.TrackSuspended(this);
        // Runs synchronously on whichever thread completes the body; Finish itself never blocks.
        inner.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(OnInnerCompleted);
        return false;
    }

    /// <summary>A continuation of this task is about to run.</summary>
    internal void MarkRunning()
    {
        if (Volatile.Read(ref _state) == (int)KernelTaskState.Waiting)
            Interlocked.CompareExchange(ref _state, (int)KernelTaskState.Running, (int)KernelTaskState.Waiting);
    }

    /// <summary>The work item ended without finishing the task: it is suspended at an await.</summary>
    /// <remarks>Read first: a task that finished within the item (the common short task) skips the atomic.</remarks>
    internal void MarkSuspended()
    {
        if (Volatile.Read(ref _state) == (int)KernelTaskState.Running)
            Interlocked.CompareExchange(ref _state, (int)KernelTaskState.Waiting, (int)KernelTaskState.Running);
    }

    private void OnInnerCompleted()
    {
        // Shutdown may have finished the suspended task first (canceled): _work then holds that outcome, not the body's
        // Task, and there is nothing left to do. Otherwise this is the one finisher that can still win.
        if (IsFinished || Volatile.Read(ref _work) is not Task inner) return;
        Finish(inner);
    }

    /// <summary>
    /// The body ran to completion within its first run (the common short task). No one else can finish the task now:
    /// Cancel finishes only a task still Queued (this run claimed it from Queued), shutdown only one registered as
    /// suspended (this one never was) or still queued, and only once the last CPU, this one among them, has left its
    /// loop; Spawn's late cancel runs only after that. So the finisher's claim is a plain store, not a compare-and-swap.
    /// </summary>
    private void FinishFirstRun(Task inner)
    {
        _finished = 1;
        Claimed(KernelTaskState.RanToCompletion);
        _work = inner;
        PublishOutcome();
        Scheduler.OnTaskFinished(this, KernelTaskState.RanToCompletion, null);
    }

    private void Finish(Task inner)
    {
        if (inner.IsCompletedSuccessfully)
        {
            if (!TryFinish(KernelTaskState.RanToCompletion)) return;
            _work = inner;
            PublishOutcome();
            Scheduler.OnTaskFinished(this, KernelTaskState.RanToCompletion, null);
        }
        else if (inner.IsCanceled)
        {
            FinishCanceled(CancellationTokenOf(inner));
        }
        else
        {
            FinishFaulted(inner.Exception!);
        }
    }

    internal void FinishCanceled(CancellationToken token)
    {
        if (!TryFinish(KernelTaskState.Canceled)) return;
        _work = token;
        PublishOutcome();
        Scheduler.OnTaskFinished(this, KernelTaskState.Canceled, null);
    }

    private void FinishFaulted(Exception e)
    {
        if (!TryFinish(KernelTaskState.Faulted)) return;
        var exceptions = e is AggregateException agg ? agg.InnerExceptions : (IReadOnlyCollection<Exception>)[e];
        _work = exceptions;
        PublishOutcome();
        Scheduler.OnTaskFinished(this, KernelTaskState.Faulted, e is AggregateException { InnerExceptions.Count: 1 } one ? one.InnerExceptions[0] : e);
    }

    private void PublishOutcome()
    {
        Interlocked.Exchange(ref _finished, 2);
        if (Volatile.Read(ref _shapeOrSource) is IShapedSource source) CompleteSource(source);
    }

    private void CompleteSource(object source)
    {
        var shape = ((IShapedSource)source).Shape;
        // The final state is in _state: once TryFinish wrote it, the Running/Waiting transitions can no longer match.
        switch ((KernelTaskState)Volatile.Read(ref _state))
        {
            case KernelTaskState.RanToCompletion: shape.SetResult(source, (Task)_work!); break;
            case KernelTaskState.Canceled: shape.SetCanceled(source, (CancellationToken)_work!); break;
            default: shape.SetException(source, (IReadOnlyCollection<Exception>)_work!); break;
        }
    }

    private bool TryFinish(KernelTaskState final)
    {
        if (Interlocked.CompareExchange(ref _finished, 1, 0) != 0) return false;
        Claimed(final);
        return true;
    }

    /// <summary>The finisher, having claimed the task (<c>_finished</c> = 1): records the final state.</summary>
    private void Claimed(KernelTaskState final)
    {
        Volatile.Write(ref _state, (int)final);
        // A linked source holds a registration on the spawn token; release it. A plain one needs no disposal.
        if (Volatile.Read(ref _cancel) is { SpawnToken.CanBeCanceled: true } linked) Volatile.Read(ref linked.Source)?.Dispose();
    }

    /// <summary>The rare-use object, made on first need.</summary>
    private Cancellation Extras
    {
        get
        {
            var extras = Volatile.Read(ref _cancel);
            if (extras is not null) return extras;
            var created = new Cancellation(default);
            return Interlocked.CompareExchange(ref _cancel, created, null) ?? created;
        }
    }

    /// <summary>What most tasks never need: the token given to Spawn (default if none), the source behind
    /// <see cref="CancellationToken"/>, and the CPU account of a process's task.</summary>
    private sealed class Cancellation(CancellationToken spawnToken)
    {
        public readonly CancellationToken SpawnToken = spawnToken;
        public CancellationTokenSource? Source;
        public Diagnostics.Monitoring.CpuAccount? CpuAccount;
    }

    private static CancellationToken CancellationTokenOf(Task canceled)
    {
        try { canceled.GetAwaiter().GetResult(); }
        catch (OperationCanceledException oce) { return oce.CancellationToken; }
        return default;
    }
}

/// <summary>A kernel task whose body produces a value.</summary>
public sealed class KernelTask<T>
{
    internal KernelTask(KernelTask task)
    {
        Task = task;
        Completion = (Task<T>)task.Completion;
    }

    /// <summary>The untyped handle (same task).</summary>
    public KernelTask Task { get; }
    public Task<T> Completion { get; }
    public string Name => Task.Name;
    public int Id => Task.Id;
    public TaskPriority Priority => Task.Priority;
    public KernelTaskState State => Task.State;
    public CancellationToken CancellationToken => Task.CancellationToken;
    public void Cancel() => Task.Cancel();
    public override string ToString() => Task.ToString();
}

/// <summary>Starts a body and completes the right kind of promise; one per scheduler and result type, naming the
/// scheduler for the tasks of that shape (they keep no reference of their own to it).</summary>
internal abstract class TaskShape(KernelScheduler scheduler)
{
    public KernelScheduler Scheduler { get; } = scheduler;

    public abstract object CreateSource(out Task completion);
    public abstract Task TaskOf(object source);
    public abstract Task Invoke(Delegate body);
    public abstract void SetResult(object source, Task inner);
    public abstract void SetCanceled(object source, CancellationToken token);
    public abstract void SetException(object source, IEnumerable<Exception> exceptions);
}

/// <summary>A completion source that names the shape that made it (a kernel task keeps only one of the two).</summary>
internal interface IShapedSource
{
    TaskShape Shape { get; }
}

/// <summary>The shape of a body without a result; each scheduler makes one (<see cref="KernelScheduler.VoidShape"/>).</summary>
internal sealed class VoidShape(KernelScheduler scheduler) : TaskShape(scheduler)
{
    private sealed class VoidSource(VoidShape shape) : TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), IShapedSource
    {
        public TaskShape Shape => shape;
    }

    public override object CreateSource(out Task completion)
    {
        var tcs = new VoidSource(this);
        completion = tcs.Task;
        return tcs;
    }

    public override Task TaskOf(object source) => ((TaskCompletionSource)source).Task;
    public override Task Invoke(Delegate body) => ((Func<Task>)body)();
    public override void SetResult(object source, Task inner) => ((TaskCompletionSource)source).TrySetResult();
    public override void SetCanceled(object source, CancellationToken token) => ((TaskCompletionSource)source).TrySetCanceled(token);
    public override void SetException(object source, IEnumerable<Exception> exceptions) => ((TaskCompletionSource)source).TrySetException(exceptions);
}

internal sealed class ValueShape<T>(KernelScheduler scheduler) : TaskShape(scheduler)
{
    // The shape last made for T: almost every process has one scheduler, so a spawn finds its shape here. A miss (a
    // second scheduler spawning the same T) makes a new one; two shapes for one pair are harmless (no state but the
    // scheduler).
    private static ValueShape<T>? s_last;

    public static ValueShape<T> For(KernelScheduler scheduler)
    {
        var last = Volatile.Read(ref s_last);
        if (last is not null && ReferenceEquals(last.Scheduler, scheduler)) return last;
        var made = new ValueShape<T>(scheduler);
        Volatile.Write(ref s_last, made);
        return made;
    }

    private sealed class ValueSource(ValueShape<T> shape) : TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously), IShapedSource
    {
        public TaskShape Shape => shape;
    }

    public override object CreateSource(out Task completion)
    {
        var tcs = new ValueSource(this);
        completion = tcs.Task;
        return tcs;
    }

    public override Task TaskOf(object source) => ((TaskCompletionSource<T>)source).Task;
    public override Task Invoke(Delegate body) => ((Func<Task<T>>)body)();
    public override void SetResult(object source, Task inner) => ((TaskCompletionSource<T>)source).TrySetResult(((Task<T>)inner).Result);
    public override void SetCanceled(object source, CancellationToken token) => ((TaskCompletionSource<T>)source).TrySetCanceled(token);
    public override void SetException(object source, IEnumerable<Exception> exceptions) => ((TaskCompletionSource<T>)source).TrySetException(exceptions);
}
