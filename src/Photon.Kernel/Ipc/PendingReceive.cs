using System.Threading.Tasks.Sources;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Ipc;

/// <summary>
/// A receiver parked on an empty endpoint, reused from one wait to the next (no allocation per message). A sender
/// that finds it parked hands its bytes straight to it (<see cref="IpcManager"/>'s direct hand-off: no queue hop, no
/// envelope); any other change of the endpoint (a queued message with capabilities, a close) re-runs the receive for
/// it on the thread pool. Whoever takes it off the endpoint's list under the endpoint's lock — a sender, a wake-up or
/// its cancellation — is the only one that may complete it, so a message is delivered exactly once or not at all.
/// </summary>
internal sealed class PendingReceive : IValueTaskSource<Result<IpcMessage>>, IThreadPoolWorkItem
{
    private readonly ChannelEndpoint _endpoint;
    // The receiver's continuation runs on the thread pool, as Channel<T>'s does, never on the completing sender's or
    // canceller's thread: they queue this object itself (see Complete), whose Execute then sets the result, so the
    // continuation runs inline there — no separate work item allocated per message.
    private ManualResetValueTaskSourceCore<Result<IpcMessage>> _core;
    private Result<IpcMessage> _delivered;
    private bool _hasDelivery;
    private CancellationTokenRegistration _cancellation;
    private CancellationToken _ct;
    private Func<Process, Handle, Result<IpcMessage>>? _retry;

    internal PendingReceive(ChannelEndpoint endpoint) => _endpoint = endpoint;

    /// <summary>The waiting process and the handle it receives through (a hand-off re-checks both).</summary>
    internal Process? Receiver { get; private set; }
    internal Handle Handle { get; private set; }

    /// <summary>Parks on the endpoint (or receives at once if a message arrived meanwhile). <paramref name="retry"/> is
    /// the full receive call — rights check included — run again after a wake-up that was not a hand-off.</summary>
    internal ValueTask<Result<IpcMessage>> Start(Process receiver, Handle handle, Func<Process, Handle, Result<IpcMessage>> retry,
        CancellationToken ct)
    {
        Receiver = receiver;
        Handle = handle;
        _retry = retry;
        _ct = ct;
        var pending = new ValueTask<Result<IpcMessage>>(this, _core.Version);
        // Registered before parking: a cancellation that comes first is seen by TryPark under the endpoint's lock,
        // one that comes later finds the waiter on the list. Either way it is never missed.
        if (ct.CanBeCanceled) _cancellation = ct.UnsafeRegister(static s => ((PendingReceive)s!).Cancel(), this);
        if (!_endpoint.TryPark(this)) Execute();
        return pending;
    }

    /// <summary>Whether the wait was cancelled (read under the endpoint's lock before parking).</summary>
    internal bool CancellationRequested => _ct.IsCancellationRequested;

    /// <summary>Completes the wait from another party's thread (a sender's hand-off, a cancellation): the result is
    /// set on the thread pool. Only the party that took the waiter off the endpoint's list calls this.</summary>
    internal void Complete(Result<IpcMessage> result)
    {
        _delivered = result;
        _hasDelivery = true;
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false); // publishes the two fields above
    }

    /// <summary>On the thread pool (or in <see cref="Start"/>, before anyone awaits): sets a delivered result, or
    /// re-runs the receive after a wake-up that carried no message.</summary>
    public void Execute()
    {
        if (_hasDelivery)
        {
            _hasDelivery = false;
            var delivered = _delivered;
            _delivered = default;
            _core.SetResult(delivered); // the awaiting continuation may run inline here, and reuse this waiter
            return;
        }
        while (true)
        {
            if (_ct.IsCancellationRequested) { _core.SetResult(Errors.Of(ErrorCode.Cancelled, "receive cancelled")); return; }
            var r = _retry!(Receiver!, Handle);
            if (r.Code != ErrorCode.WouldBlock) { _core.SetResult(r); return; }
            if (_endpoint.TryPark(this)) return;
        }
    }

    private void Cancel()
    {
        if (_endpoint.Unpark(this)) Complete(Errors.Of(ErrorCode.Cancelled, "receive cancelled"));
    }

    public Result<IpcMessage> GetResult(short token)
    {
        // Dispose waits for a cancellation callback that is running, so none can reach this waiter once it is reused.
        _cancellation.Dispose();
        _cancellation = default;
        var result = _core.GetResult(token);
        _core.Reset();
        Receiver = null;
        _retry = null;
        _ct = default;
        _endpoint.ReturnReceiver(this);
        return result;
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
