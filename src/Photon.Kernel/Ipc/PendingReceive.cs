using System.Threading.Tasks.Sources;
using Photon.Kernel.Processes;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Ipc;

/// <summary>
/// A kernel task's receive parked on an empty endpoint, reused from one wait to the next (nothing allocated per wait).
/// A byte-only send that finds it parked hands its bytes straight to it (<see cref="IpcManager"/>'s direct hand-off:
/// no envelope, no queue); any other change of the endpoint (a message with capabilities queued, a close) has it re-run
/// the receive. Either way the waiter queues itself on its task's kernel CPU (<see cref="IKernelWorkItem"/>), where the
/// receive's continuation then runs inline — one scheduler hop per message, never on the sender's thread, never on the
/// host thread pool. Whoever takes it off the endpoint's list under the endpoint's lock (a sender, a wake-up, its
/// cancellation) is the only party that may complete it, so a message is delivered exactly once or not at all.
/// </summary>
internal sealed class PendingReceive : IValueTaskSource<Result<IpcMessage>>, IKernelWorkItem
{
    private static readonly ContextCallback s_runContinuation = static s => ((PendingReceive)s!).RunContinuation();

    // _state: nobody awaits yet, an awaiter's continuation is registered, or the result is set. Each side moves it with
    // one atomic step, so exactly one of them runs the continuation, and the completing side never touches the waiter
    // after it published the result (the receiver may already have reused it).
    private const int Waiting = 0, Awaited = 1, Completed = 2;

    private enum Next { Deliver, Retry, Resume }

    private readonly ChannelEndpoint _endpoint;
    private int _state;
    private Action<object?>? _continuation;
    private object? _continuationState;
    private ExecutionContext? _executionContext;
    private Result<IpcMessage> _result;
    private Next _next;
    private short _version;
    private CancellationTokenRegistration _cancellation;
    private CancellationToken _ct;
    private Func<Process, Handle, Result<IpcMessage>>? _receive;
    private KernelTask? _owner;

    internal PendingReceive(ChannelEndpoint endpoint) => _endpoint = endpoint;

    /// <summary>The waiting process and the handle it receives through (a hand-off re-checks both).</summary>
    internal Process? Receiver { get; private set; }
    internal Handle Handle { get; private set; }

    /// <summary>Whether the wait was cancelled (read under the endpoint's lock before parking).</summary>
    internal bool CancellationRequested => _ct.IsCancellationRequested;

    /// <summary>
    /// Parks on the endpoint for <paramref name="owner"/>, or receives at once if a receive would no longer block.
    /// <paramref name="receive"/> is the whole receive call, rights check included, re-run after a wake-up that carried
    /// no message.
    /// </summary>
    internal ValueTask<Result<IpcMessage>> Start(Process receiver, Handle handle, Func<Process, Handle, Result<IpcMessage>> receive,
        KernelTask owner, CancellationToken ct)
    {
        Receiver = receiver;
        Handle = handle;
        _receive = receive;
        _owner = owner;
        _ct = ct;
        while (!_endpoint.TryPark(this))
        {
            var r = ct.IsCancellationRequested ? Cancelled : receive(receiver, handle);
            if (r.Code == ErrorCode.WouldBlock) continue;
            Recycle();
            return new(r);
        }
        // Registered after parking: a token cancelled by now runs Cancel at once, which finds the waiter parked.
        if (ct.CanBeCanceled) _cancellation = ct.UnsafeRegister(static s => ((PendingReceive)s!).Cancel(), this);
        return new(this, _version);
    }

    /// <summary>Completes the wait with <paramref name="result"/> (a hand-off). Only the party that took the waiter
    /// off the endpoint's list calls this.</summary>
    internal void Complete(Result<IpcMessage> result)
    {
        _result = result;
        _next = Next.Deliver;
        Dispatch();
    }

    /// <summary>Has the receive re-run on the owner's CPU (the endpoint changed without handing a message over). Only
    /// the party that took the waiter off the endpoint's list calls this.</summary>
    internal void Wake()
    {
        _next = Next.Retry;
        Dispatch();
    }

    private void Cancel()
    {
        if (_endpoint.Unpark(this)) Complete(Cancelled);
    }

    private static Result<IpcMessage> Cancelled => Errors.Of(ErrorCode.Cancelled, "receive cancelled");

    // The run lane's lock publishes the fields written before this to the CPU that runs Execute.
    private void Dispatch()
    {
        var owner = _owner!;
        // False only during shutdown: the owner task is being canceled with every other, so nothing awaits this any more.
        owner.Scheduler.Post(this, owner, owner.Priority);
    }

    /// <summary>On the owner's kernel CPU, its context installed.</summary>
    public void Execute()
    {
        if (_next == Next.Resume) { Invoke(); return; }
        if (_next == Next.Retry)
        {
            while (true)
            {
                var r = _ct.IsCancellationRequested ? Cancelled : _receive!(Receiver!, Handle);
                if (r.Code != ErrorCode.WouldBlock) { _result = r; break; }
                if (_endpoint.TryPark(this)) return; // parked again: whoever takes it next owns it
            }
        }
        // Already on the owner's CPU: an awaiter registered before this runs here, with no second hop.
        if (Interlocked.Exchange(ref _state, Completed) == Awaited) Invoke();
    }

    private void Invoke()
    {
        if (_executionContext is { } ec) ExecutionContext.Run(ec, s_runContinuation, this);
        else RunContinuation();
    }

    private void RunContinuation() => _continuation!(_continuationState);

    public ValueTaskSourceStatus GetStatus(short token)
    {
        ValidateToken(token);
        return Volatile.Read(ref _state) == Completed ? ValueTaskSourceStatus.Succeeded : ValueTaskSourceStatus.Pending;
    }

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        ValidateToken(token);
        // The scheduling context is the owner's CPU whatever the flags say: the waiter always resumes there.
        _executionContext = (flags & ValueTaskSourceOnCompletedFlags.FlowExecutionContext) != 0 ? ExecutionContext.Capture() : null;
        _continuation = continuation;
        _continuationState = state;
        int previous = Interlocked.CompareExchange(ref _state, Awaited, Waiting);
        if (previous == Waiting) return;
        if (previous == Awaited) throw new InvalidOperationException("a receive can be awaited only once");
        // Completed between the caller's status check and now: resume on the owner's CPU, not inline (no stack dive).
        _next = Next.Resume;
        Dispatch();
    }

    public Result<IpcMessage> GetResult(short token)
    {
        ValidateToken(token);
        if (Volatile.Read(ref _state) != Completed) throw new InvalidOperationException("the receive has not completed");
        var result = _result;
        Recycle();
        return result;
    }

    private void ValidateToken(short token)
    {
        if (token != _version) throw new InvalidOperationException("a receive's result can be read only once");
    }

    /// <summary>Resets for the next wait and offers this waiter back to its endpoint.</summary>
    private void Recycle()
    {
        // Dispose waits for a cancellation callback that is running, so none reaches this waiter once it is reused.
        _cancellation.Dispose();
        _cancellation = default;
        _version++;
        _continuation = null;
        _continuationState = null;
        _executionContext = null;
        _result = default;
        _receive = null;
        _owner = null;
        _ct = default;
        Receiver = null;
        Volatile.Write(ref _state, Waiting);
        _endpoint.ReturnReceiver(this);
    }
}
