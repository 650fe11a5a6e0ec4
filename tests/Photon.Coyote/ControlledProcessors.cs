using Photon.Kernel.Hal;

namespace Photon.Coyote;

/// <summary>
/// CPUs for the kernel scheduler that Coyote controls: each worker loop is a <see cref="Task.Run(Action)"/> task and
/// parks on a <see cref="SemaphoreSlim"/> (both rewritten into Coyote's controlled types), so Coyote decides when each
/// CPU runs, parks and wakes. The host CPUs (dedicated threads, Monitor-based parking) are invisible to Coyote.
/// </summary>
internal sealed class ControlledProcessors(int count) : IProcessorSet, IProcessorIdleFactory
{
    private readonly List<Task> _loops = new();

    public int Count => count;

    /// <summary>The worker loops started so far; each completes when its loop returned.</summary>
    public IReadOnlyList<Task> Loops => _loops;

    public IProcessorHandle Start(int cpu, string name, Action<CancellationToken> loop)
    {
        var cts = new CancellationTokenSource();
        var running = Task.Run(() => loop(cts.Token));
        _loops.Add(running);
        return new Handle(cts);
    }

    public IProcessorIdle Create() => new ControlledIdle();

    private sealed class Handle(CancellationTokenSource cts) : IProcessorHandle
    {
        public void Stop() => cts.Cancel();
        public void Dispose() => cts.Cancel();
    }
}

/// <summary>
/// The idle primitive with the host's contract (HostProcessorIdle): a sticky auto-reset signal — a Wake before Park
/// is kept, wakes that arrive while one is pending merge. One difference, on purpose: Park ignores its timeout. The
/// host CPU wakes at least every 100 ms anyway, which would turn a lost unpark into a delay nobody notices; here it
/// leaves the CPU parked for good, so Coyote reports the path as a deadlock (stranded work, or a shutdown that never
/// returns) instead.
/// </summary>
internal sealed class ControlledIdle : IProcessorIdle
{
    private readonly SemaphoreSlim _signal = new(0);
    private int _pending;

    public void Park(TimeSpan timeout)
    {
        _signal.Wait();
        Volatile.Write(ref _pending, 0);
    }

    public void Wake()
    {
        if (Interlocked.Exchange(ref _pending, 1) == 0) _signal.Release();
    }
}

/// <summary>A clock that never moves: no timer fires and no item looks starved, so the only wake-ups are the
/// scheduler's own unparks.</summary>
internal sealed class FrozenClock : IClock
{
    public TimeSpan Monotonic => TimeSpan.FromSeconds(1);
    public DateTimeOffset WallClock => DateTimeOffset.UnixEpoch;
}
