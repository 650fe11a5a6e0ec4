using Photon.Kernel.Hal.Pci;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Drivers.Virtio;

/// <summary>How a driver sleeps until its device may have made progress: an MSI-X vector where the platform gives one,
/// otherwise a short timer tick (polling mode). Either way the driver polls its rings after waking, so a spurious or
/// merged wake-up costs one poll and a lost one at most a tick.
/// <para>With <c>resumeOnLine</c>, where the backend runs a top half on the vector's own thread
/// (<see cref="IDeviceInterrupt.TryHandleOnLine"/>), the sleeper resumes on that thread, as an interrupt handler's
/// bottom half runs right after it: the virtio-net receive queue's consumer (the stack's receive loop) then handles a
/// burst, decides its ACKs and sends them — and the data an ACK lets out — on the interrupt's delivery, with no
/// thread-pool wake in between. Only for a vector no other waiter of the same code path sleeps on (the line is busy
/// while the resumed code runs).</para></summary>
public sealed class DeviceWait
{
    private readonly IDeviceInterrupt? _interrupt;
    private readonly IKernelTimers _timers;
    private readonly TimeSpan _pollInterval;
    private readonly bool _onLine;
    private readonly Lock _gate = new();
    private TaskCompletionSource<int>? _waiter;
    private bool _signalled;
    private long _wakeups, _lineResumes;

    public DeviceWait(IDeviceInterrupt? interrupt, IKernelTimers timers, TimeSpan pollInterval, bool resumeOnLine = false)
    {
        _interrupt = interrupt;
        _timers = timers;
        _pollInterval = pollInterval;
        _onLine = resumeOnLine && interrupt is not null && interrupt.TryHandleOnLine(OnLine);
    }

    public bool Polling => _interrupt is null;

    /// <summary>The sleeper resumes on the interrupt line's own thread (see the class summary).</summary>
    public bool ResumesOnLine => _onLine;

    /// <summary>Sleeps that ended (an interrupt or a poll tick): each one is a thread wake-up, and with MSI-X an
    /// emulated interrupt.</summary>
    public long Wakeups => Interlocked.Read(ref _wakeups);

    /// <summary>Sleeps ended by the line resuming the sleeper on its own thread.</summary>
    public long LineResumes => Interlocked.Read(ref _lineResumes);

    /// <summary>Sleeps until the device may have made progress. Returns what ended the sleep: 1 an interrupt, 2 a poll
    /// tick, 0 an interrupt that had already been signalled (no sleep at all).</summary>
    public async ValueTask<int> WaitAsync(CancellationToken ct)
    {
        int woke = await SleepAsync(ct).ConfigureAwait(false);
        Interlocked.Increment(ref _wakeups);
        return woke;
    }

    private async ValueTask<int> SleepAsync(CancellationToken ct)
    {
        if (_interrupt is null)
        {
            await _timers.Delay(_pollInterval, ct).ConfigureAwait(false);
            return 2;
        }
        if (_onLine) return await SleepOnLineAsync(ct).ConfigureAwait(false);
        var signalled = _interrupt.WaitAsync(ct);
        if (signalled.IsCompleted) { await signalled.ConfigureAwait(false); return 0; }
        await signalled.ConfigureAwait(false);
        return 1;
    }

    private async ValueTask<int> SleepOnLineAsync(CancellationToken ct)
    {
        TaskCompletionSource<int> wait;
        lock (_gate)
        {
            if (_signalled) { _signalled = false; return 0; }
            // Not RunContinuationsAsynchronously: the line's TrySetResult runs the sleeper's continuation in place.
            wait = _waiter = new TaskCompletionSource<int>();
        }
        if (!ct.CanBeCanceled) return await wait.Task.ConfigureAwait(false);
        using (ct.UnsafeRegister(static (s, token) => ((DeviceWait)s!).Cancel(token), this))
            return await wait.Task.ConfigureAwait(false);
    }

    private void Cancel(CancellationToken token)
    {
        TaskCompletionSource<int>? w;
        lock (_gate) { w = _waiter; _waiter = null; }
        w?.TrySetCanceled(token);
    }

    /// <summary>The top half, on the line: resumes the sleeper here, or leaves the signal for the next sleep.</summary>
    private void OnLine()
    {
        TaskCompletionSource<int>? w;
        lock (_gate)
        {
            w = _waiter;
            _waiter = null;
            if (w is null) _signalled = true;
        }
        if (w is null) return;
        Interlocked.Increment(ref _lineResumes);
        w.TrySetResult(1);
    }
}
