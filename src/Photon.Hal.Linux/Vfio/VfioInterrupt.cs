using Photon.Kernel.Diagnostics.Tracing;
using Photon.Kernel.Hal.Pci;
using static Photon.Kernel.Hal.Host.Vfio.VfioNative;

namespace Photon.Kernel.Hal.Host.Vfio;

/// <summary>
/// One MSI-X vector as an eventfd VFIO signals. A host thread (the interrupt line) waits on the eventfd, reads the
/// count and completes the pending <see cref="WaitAsync"/> — on the kernel's scheduler, since the awaiting driver
/// task resumes in its own context — so a driver sleeps until its device raises the vector. A driver may instead hand
/// the line a top half (<see cref="TryHandleOnLine"/>) that it runs itself on every signal, saving the wake of a task.
/// </summary>
internal sealed class VfioInterrupt : IDeviceInterrupt
{
    private readonly int _fd;
    private readonly Thread _line;
    private readonly Lock _gate = new();
    private TaskCompletionSource<long>? _waiter;
    private volatile Action? _handler;
    private long _pending;
    private volatile bool _stopped;

    internal VfioInterrupt(int vector, int fd)
    {
        Vector = vector;
        _fd = fd;
        _line = new Thread(Run) { IsBackground = true, Name = $"msix-{vector}" };
        _line.Start();
    }

    public int Vector { get; }

    public bool TryHandleOnLine(Action handler)
    {
        _handler = handler;
        return true;
    }

    public ValueTask<long> WaitAsync(CancellationToken cancellationToken)
    {
        TaskCompletionSource<long> tcs;
        lock (_gate)
        {
            if (_stopped) return ValueTask.FromException<long>(new KernelException(ErrorCode.Closed, $"MSI-X vector {Vector} is closed"));
            if (_pending > 0) { var n = _pending; _pending = 0; return new ValueTask<long>(n); }
            _waiter ??= new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
            tcs = _waiter;
        }
        if (!cancellationToken.CanBeCanceled) return new ValueTask<long>(tcs.Task);
        return new ValueTask<long>(WithCancellation(tcs, cancellationToken));
    }

    private async Task<long> WithCancellation(TaskCompletionSource<long> tcs, CancellationToken ct)
    {
        using (ct.Register(() => { lock (_gate) { if (_waiter == tcs) _waiter = null; } tcs.TrySetCanceled(ct); }))
            return await tcs.Task.ConfigureAwait(false);
    }

    // Safety: the only pointers are to locals handed to poll/read of their own size.
    private unsafe void Run()
    {
        var p = new PollFd { Fd = _fd, Events = POLLIN };
        ulong count = 0;
        while (!_stopped)
        {
            p.Revents = 0;
            if (poll(&p, 1, 100) <= 0) continue;
            if (read(_fd, (byte*)&count, 8) != 8) continue;
            NetPathTimeline.Mark(NetPathEvent.IrqSignal, Vector);
            RunHandler();
            TaskCompletionSource<long>? wake;
            long n;
            lock (_gate)
            {
                _pending += (long)count;
                wake = _waiter;
                _waiter = null;
                n = _pending;
                if (wake is not null) _pending = 0;
            }
            wake?.TrySetResult(n);
        }
    }

    /// <summary>Exceptions the driver's top half threw on this line, counted and not rethrown.</summary>
    public long HandlerFailures => Interlocked.Read(ref _handlerFailures);
    private long _handlerFailures;

    // A driver's top half that throws (a hostile device's registers, a driver bug) must not end the line's thread: an
    // exception there kills the process, PID 1 in the Photon VM (a panic). Counted, the first one written to stderr.
    private void RunHandler()
    {
        try { _handler?.Invoke(); }
        catch (Exception e)
        {
            if (Interlocked.Increment(ref _handlerFailures) == 1) Console.Error.WriteLine($"msix-{Vector}: interrupt handler failed: {e.GetType().Name}: {e.Message}");
        }
    }

    public void Dispose()
    {
        TaskCompletionSource<long>? wake;
        lock (_gate)
        {
            if (_stopped) return;
            _stopped = true;
            wake = _waiter;
            _waiter = null;
        }
        wake?.TrySetException(new KernelException(ErrorCode.Closed, $"MSI-X vector {Vector} is closed"));
        // A driver's completion may run its waiter's code on the line itself, and that code may dispose the device:
        // the line cannot wait for itself, and it ends on its own once the handler returns (it sees _stopped).
        if (Thread.CurrentThread != _line) _line.Join();
        close(_fd);
    }
}
