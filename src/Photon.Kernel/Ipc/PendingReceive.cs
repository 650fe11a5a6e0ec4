using System.Threading.Tasks.Sources;
using Photon.Kernel.Processes;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Ipc;

/// <summary>
/// A kernel task's receive parked on an empty endpoint, reused from one wait to the next (nothing allocated per wait).
/// A byte-only send that finds it parked hands its bytes straight to it (<see cref="IpcManager"/>'s direct hand-off:
/// no envelope, no queue) — into the receiver's own buffer when it passed one (nothing allocated per message either),
/// else into a message (the one the receiver disposed last when it has the size: nothing allocated then either). Any other change of the endpoint (a message with capabilities queued, a close) has it
/// re-run the receive. Either way the waiter queues itself on its task's kernel CPU (<see cref="KernelWaitCore"/>),
/// where the receive's continuation then runs inline — one scheduler hop per message, never on the sender's thread,
/// never on the host thread pool. Whoever takes it off the endpoint's list under the endpoint's lock (a sender, a
/// wake-up, its cancellation) is the only party that may complete it, so a message is delivered exactly once or not
/// at all.
/// </summary>
internal sealed class PendingReceive : IValueTaskSource<Result<IpcMessage>>, IValueTaskSource<Result<IpcReceipt>>, IValueTaskSource<Result<int>>,
    IKernelWaiter
{
    private enum Next { Deliver, Retry, Resume }

    private readonly ChannelEndpoint _endpoint;
    private KernelWaitCore _core;
    private Next _next;
    private CancellationTokenRegistration _cancellation;
    private CancellationToken _ct;
    // One of the three receives is set: into a new message, into the receiver's buffer (_buffer), or a batch into
    // the buffer and _lengths (never handed a message: a send queues and wakes it, and it re-runs the batch receive).
    private Func<Process, Handle, Result<IpcMessage>>? _receive;
    private Func<Process, Handle, Memory<byte>, Result<IpcReceipt>>? _receiveInto;
    private Func<Process, Handle, Memory<byte>, Memory<int>, Result<int>>? _receiveBatch;
    private Memory<byte> _buffer;
    private Memory<int> _lengths;
    private Result<IpcMessage> _message;
    private Result<IpcReceipt> _receipt;
    private Result<int> _count;

    internal PendingReceive(ChannelEndpoint endpoint) => _endpoint = endpoint;

    public ref KernelWaitCore Core => ref _core;

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
        _receive = receive;
        if (Park(receiver, handle, owner, ct)) return new(this, _core.Version);
        var r = _message;
        Recycle();
        return new(r);
    }

    /// <summary>As <see cref="Start"/>, receiving into <paramref name="buffer"/>: a hand-off copies the sender's bytes
    /// straight into it.</summary>
    internal ValueTask<Result<IpcReceipt>> StartInto(Process receiver, Handle handle, Memory<byte> buffer,
        Func<Process, Handle, Memory<byte>, Result<IpcReceipt>> receive, KernelTask owner, CancellationToken ct)
    {
        _receiveInto = receive;
        _buffer = buffer;
        if (Park(receiver, handle, owner, ct)) return new(this, _core.Version);
        var r = _receipt;
        Recycle();
        return new(r);
    }

    /// <summary>As <see cref="StartInto"/> for a batched receive (<paramref name="receive"/> returns how many messages
    /// it took into <paramref name="buffer"/> and <paramref name="lengths"/>).</summary>
    internal ValueTask<Result<int>> StartBatchInto(Process receiver, Handle handle, Memory<byte> buffer, Memory<int> lengths,
        Func<Process, Handle, Memory<byte>, Memory<int>, Result<int>> receive, KernelTask owner, CancellationToken ct)
    {
        _receiveBatch = receive;
        _buffer = buffer;
        _lengths = lengths;
        if (Park(receiver, handle, owner, ct)) return new(this, _core.Version);
        var r = _count;
        Recycle();
        return new(r);
    }

    /// <summary>Whether a send may hand its message straight to this waiter (a batched receive is woken instead).</summary>
    internal bool TakesHandOff => _receiveBatch is null;

    /// <summary>True if parked; false if the receive finished at once (its result stored).</summary>
    private bool Park(Process receiver, Handle handle, KernelTask owner, CancellationToken ct)
    {
        Receiver = receiver;
        Handle = handle;
        _ct = ct;
        _core.Begin(owner);
        while (!_endpoint.TryPark(this))
            if (ReceiveNow()) return false;
        // Registered after parking: a token cancelled by now runs Cancel at once, which finds the waiter parked.
        if (ct.CanBeCanceled) _cancellation = ct.UnsafeRegister(static s => ((PendingReceive)s!).Cancel(), this);
        return true;
    }

    /// <summary>Runs the receive once: true if it finished (result stored), false if it would still block.</summary>
    private bool ReceiveNow()
    {
        if (_receiveBatch is { } batch)
        {
            var n = _ct.IsCancellationRequested ? Cancelled : batch(Receiver!, Handle, _buffer, _lengths);
            if (n.Code == ErrorCode.WouldBlock) return false;
            _count = n;
            return true;
        }
        if (_receiveInto is { } into)
        {
            var r = _ct.IsCancellationRequested ? Cancelled : into(Receiver!, Handle, _buffer);
            if (r.Code == ErrorCode.WouldBlock) return false;
            _receipt = r;
            return true;
        }
        var m = _ct.IsCancellationRequested ? Cancelled : _receive!(Receiver!, Handle);
        if (m.Code == ErrorCode.WouldBlock) return false;
        _message = m;
        return true;
    }

    /// <summary>Whether a hand-off of <paramref name="length"/> bytes fits (a receive into a smaller buffer has the
    /// message queued instead, and its re-run reports the size).</summary>
    internal bool Fits(int length) => _receiveInto is null || length <= _buffer.Length;

    /// <summary>Completes the wait with <paramref name="data"/> (a hand-off; <see cref="Fits"/> said yes). Only the
    /// party that took the waiter off the endpoint's list calls this.</summary>
    internal void HandOff(ReadOnlySpan<byte> data)
    {
        if (_receiveInto is null)
        {
            // The message the receiver disposed last, when it has this size (nothing allocated), else a new one.
            var message = _endpoint.RentMessage(Receiver!, data.Length);
            data.CopyTo(message.Data);
            _message = message;
        }
        else
        {
            // The receiver is parked and does not touch its buffer until this wait completes.
            data.CopyTo(_buffer.Span);
            _receipt = new IpcReceipt(data.Length, []);
        }
        _next = Next.Deliver;
        _core.Dispatch(this);
    }

    /// <summary>Has the receive re-run on the owner's CPU (the endpoint changed without handing a message over). Only
    /// the party that took the waiter off the endpoint's list calls this.</summary>
    internal void Wake()
    {
        _next = Next.Retry;
        _core.Dispatch(this);
    }

    private void Cancel()
    {
        if (!_endpoint.Unpark(this)) return;
        if (_receiveBatch is not null) _count = Cancelled;
        else if (_receiveInto is null) _message = Cancelled;
        else _receipt = Cancelled;
        _next = Next.Deliver;
        _core.Dispatch(this);
    }

    private static KernelError Cancelled => new(ErrorCode.Cancelled, "receive cancelled");

    /// <summary>On the owner's kernel CPU, its context installed.</summary>
    public void Execute()
    {
        if (_next == Next.Resume) { _core.RunOnThisCpu(this); return; }
        if (_next == Next.Retry)
            while (!ReceiveNow())
                if (_endpoint.TryPark(this)) return; // parked again: whoever takes it next owns it
        // Already on the owner's CPU: an awaiter registered before this runs here, with no second hop.
        _core.PublishInline(this);
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
    {
        if (!_core.OnCompleted(continuation, state, token, flags)) return;
        // Completed between the caller's status check and now: resume on the owner's CPU, not inline (no stack dive).
        _next = Next.Resume;
        _core.Dispatch(this);
    }

    Result<IpcMessage> IValueTaskSource<Result<IpcMessage>>.GetResult(short token)
    {
        _core.CheckReadable(token);
        var result = _message;
        Recycle();
        return result;
    }

    Result<IpcReceipt> IValueTaskSource<Result<IpcReceipt>>.GetResult(short token)
    {
        _core.CheckReadable(token);
        var result = _receipt;
        Recycle();
        return result;
    }

    Result<int> IValueTaskSource<Result<int>>.GetResult(short token)
    {
        _core.CheckReadable(token);
        var result = _count;
        Recycle();
        return result;
    }

    /// <summary>Resets for the next wait and offers this waiter back to its endpoint.</summary>
    private void Recycle()
    {
        // Dispose waits for a cancellation callback that is running, so none reaches this waiter once it is reused.
        _cancellation.Dispose();
        _cancellation = default;
        _message = default;
        _receipt = default;
        _count = default;
        _receive = null;
        _receiveInto = null;
        _receiveBatch = null;
        _buffer = default;
        _lengths = default;
        _ct = default;
        Receiver = null;
        _core.Reset();
        _endpoint.ReturnReceiver(this);
    }
}
