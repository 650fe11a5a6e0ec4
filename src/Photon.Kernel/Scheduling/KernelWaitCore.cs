using System.Threading.Tasks.Sources;

namespace Photon.Kernel.Scheduling;

/// <summary>
/// A reusable <see cref="IValueTaskSource"/> wait whose continuation resumes on the waiting kernel task's CPU: the
/// object that embeds a <see cref="KernelWaitCore"/> is itself the work item queued there (nothing is allocated per
/// wait). <see cref="Waker"/>'s pooled wait node and IPC's parked receive are both one.
/// </summary>
internal interface IKernelWaiter : IKernelWorkItem
{
    ref KernelWaitCore Core { get; }
}

/// <summary>
/// The state machine of an <see cref="IKernelWaiter"/>: Waiting → Awaited (the awaiter registered its continuation)
/// or Completed (the result was published), each side moving it with one atomic step, so exactly one of them queues
/// the continuation on the owner's CPU, and the completing side never touches the waiter after publishing (the owner
/// may already be reusing it). The version number makes a stale <see cref="ValueTask"/> of an earlier wait fail
/// instead of reading a later wait's result. Like <see cref="ManualResetValueTaskSourceCore{TResult}"/>, but the
/// result lives in the embedding object and the continuation never runs on the completing thread or the thread pool.
/// </summary>
internal struct KernelWaitCore
{
    private const int Waiting = 0, Awaited = 1, Completed = 2;

    private static readonly ContextCallback s_runContinuation = static s => ((IKernelWaiter)s!).Core.RunContinuation();

    private int _state;
    private short _version;
    private KernelTask? _owner;
    private Action<object?>? _continuation;
    private object? _continuationState;
    private ExecutionContext? _executionContext;

    /// <summary>The token of the current wait (what a <see cref="ValueTask"/> over it carries).</summary>
    public readonly short Version => _version;

    /// <summary>The kernel task waiting (its CPU runs the continuation).</summary>
    public readonly KernelTask? Owner => _owner;

    public readonly bool IsCompleted => Volatile.Read(in _state) == Completed;

    /// <summary>Begins a wait for <paramref name="owner"/>.</summary>
    public void Begin(KernelTask owner) => _owner = owner;

    /// <summary>Publishes the result the caller wrote before this call. Only the party that owns the completion (the one
    /// that took the waiter off its wait list) calls it, once per wait; queues the continuation on the owner's CPU if
    /// the awaiter already registered it.</summary>
    public void Publish(IKernelWaiter self)
    {
        if (Interlocked.Exchange(ref _state, Completed) == Awaited) Dispatch(self);
    }

    /// <summary>As <see cref="Publish"/>, from the owner's own CPU inside <see cref="IKernelWorkItem.Execute"/>: the
    /// registered continuation runs here at once (no second hop).</summary>
    public void PublishInline(IKernelWaiter self)
    {
        if (Interlocked.Exchange(ref _state, Completed) == Awaited) RunOnThisCpu(self);
    }

    /// <summary>Queues <paramref name="self"/> on the owner's kernel CPU. False only during shutdown: the owner task is
    /// being canceled with every other, so nothing awaits the wait any more.</summary>
    public readonly void Dispatch(IKernelWaiter self)
    {
        var owner = _owner!;
        // The run lane's lock publishes the fields written before this to the CPU that runs Execute.
        owner.Scheduler.Post(self, owner, owner.Priority);
    }

    /// <summary>Runs the continuation on this (the owner's) CPU, under the execution context it was registered with.</summary>
    public readonly void RunOnThisCpu(IKernelWaiter self)
    {
        if (_executionContext is { } ec) ExecutionContext.Run(ec, s_runContinuation, self);
        else RunContinuation();
    }

    private readonly void RunContinuation() => _continuation!(_continuationState);

    public readonly ValueTaskSourceStatus GetStatus(short token, bool canceled = false)
    {
        ValidateToken(token);
        if (!IsCompleted) return ValueTaskSourceStatus.Pending;
        return canceled ? ValueTaskSourceStatus.Canceled : ValueTaskSourceStatus.Succeeded;
    }

    /// <summary>Registers the awaiter's continuation. True if the wait completed meanwhile: the caller then queues
    /// itself with <see cref="Dispatch"/> (resume through the queue, not inline: no stack dive).</summary>
    public bool OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        ValidateToken(token);
        // The scheduling context is the owner's CPU whatever the flags say (ConfigureAwait(false) included): kernel
        // code stays on kernel CPUs.
        _executionContext = (flags & ValueTaskSourceOnCompletedFlags.FlowExecutionContext) != 0 ? ExecutionContext.Capture() : null;
        _continuation = continuation;
        _continuationState = state;
        int previous = Interlocked.CompareExchange(ref _state, Awaited, Waiting);
        if (previous == Waiting) return false;
        if (previous == Awaited) throw new InvalidOperationException("a kernel wait can be awaited only once");
        return true;
    }

    /// <summary>Checks that the result may be read now, by the holder of the current wait's token.</summary>
    public readonly void CheckReadable(short token)
    {
        ValidateToken(token);
        if (!IsCompleted) throw new InvalidOperationException("the kernel wait has not completed");
    }

    private readonly void ValidateToken(short token)
    {
        if (token != _version) throw new InvalidOperationException("a kernel wait's result can be read only once");
    }

    /// <summary>Ends the wait: a new version, nothing registered, ready for the next <see cref="Begin"/>.</summary>
    public void Reset()
    {
        _version++;
        _continuation = null;
        _continuationState = null;
        _executionContext = null;
        _owner = null;
        Volatile.Write(ref _state, Waiting);
    }
}
