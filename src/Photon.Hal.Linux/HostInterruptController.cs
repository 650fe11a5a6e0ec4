using System.Runtime.InteropServices;

namespace Photon.Kernel.Hal.Host;

/// <summary>
/// Host backend of <see cref="IInterruptController"/>: host signals (SIGINT, SIGTERM) become the shutdown vector, a host
/// timer drives the timer vector, and devices raise their own vectors.
/// </summary>
public sealed class HostInterruptController : IInterruptController
{
    private readonly Lock _lock = new();
    private readonly List<Action<int>>?[] _handlers = new List<Action<int>>?[InterruptVectors.Count];
    private readonly long[] _counts = new long[InterruptVectors.Count];
    private readonly List<PosixSignalRegistration> _signals = new();
    private Timer? _timer;

    /// <param name="captureSignals">Turn SIGINT/SIGTERM into the shutdown vector (the CLI does; tests don't).</param>
    public HostInterruptController(bool captureSignals = false)
    {
        if (!captureSignals) return;
        foreach (var sig in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
            _signals.Add(PosixSignalRegistration.Create(sig, ctx =>
            {
                // Only swallow the signal if the kernel is listening; otherwise let the host terminate as usual.
                if (HasHandler(InterruptVectors.Shutdown))
                {
                    ctx.Cancel = true;
                    Raise(InterruptVectors.Shutdown);
                }
            }));
    }

    public IDisposable Register(int vector, Action<int> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        if ((uint)vector >= InterruptVectors.Count) throw new KernelException(ErrorCode.OutOfRange, $"vector {vector} does not exist");
        lock (_lock) (_handlers[vector] ??= new()).Add(handler);
        return new Registration(this, vector, handler);
    }

    public void Raise(int vector)
    {
        if ((uint)vector >= InterruptVectors.Count) throw new KernelException(ErrorCode.OutOfRange, $"vector {vector} does not exist");
        Interlocked.Increment(ref _counts[vector]);
        Action<int>[] handlers;
        lock (_lock) handlers = _handlers[vector]?.ToArray() ?? [];
        foreach (var h in handlers) h(vector);
    }

    public void StartTimer(TimeSpan period)
    {
        if (period <= TimeSpan.Zero) throw new KernelException(ErrorCode.InvalidArgument, "timer period must be positive");
        lock (_lock)
        {
            _timer?.Dispose();
            _timer = new Timer(_ => Raise(InterruptVectors.Timer), null, period, period);
        }
    }

    public long Count(int vector) => (uint)vector < InterruptVectors.Count ? Interlocked.Read(ref _counts[vector]) : 0;

    private bool HasHandler(int vector)
    {
        lock (_lock) return _handlers[vector] is { Count: > 0 };
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _timer?.Dispose();
            _timer = null;
        }
        foreach (var s in _signals) s.Dispose();
        _signals.Clear();
    }

    private sealed class Registration(HostInterruptController owner, int vector, Action<int> handler) : IDisposable
    {
        public void Dispose()
        {
            lock (owner._lock) owner._handlers[vector]?.Remove(handler);
        }
    }
}
