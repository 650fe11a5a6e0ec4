namespace Photon.Kernel.Hal.Host;

/// <summary>
/// Host backend of <see cref="IProcessorIdle"/>: a sticky auto-reset signal. A <see cref="Wake"/> that arrives before
/// <see cref="Park"/> is remembered, so the park/wake race can never lose a wake-up.
/// </summary>
public sealed class HostProcessorIdle : IProcessorIdle
{
    private static readonly TimeSpan MaxPark = TimeSpan.FromHours(1);
    private const int SpinIterations = 40; // a few microseconds of PAUSE before blocking: most wakes arrive quickly
    private readonly object _gate = new();
    private int _signaled;
    private int _blocked;

    public void Park(TimeSpan timeout)
    {
        if (Interlocked.Exchange(ref _signaled, 0) == 1) return;
        if (timeout <= TimeSpan.Zero) return;
        for (int i = 0; i < SpinIterations; i++)
        {
            Thread.SpinWait(30);
            if (Volatile.Read(ref _signaled) == 1 && Interlocked.Exchange(ref _signaled, 0) == 1) return;
        }
        if (timeout > MaxPark) timeout = MaxPark; // Monitor.Wait takes at most int.MaxValue ms
        lock (_gate)
        {
            // Dekker with Wake: publish "blocked", then re-check the signal (both sides use full fences).
            Interlocked.Exchange(ref _blocked, 1);
            if (Volatile.Read(ref _signaled) == 0) Monitor.Wait(_gate, timeout);
            Interlocked.Exchange(ref _blocked, 0);
            _signaled = 0;
        }
    }

    public void Wake()
    {
        if (Interlocked.Exchange(ref _signaled, 1) == 1) return; // already pending: the parker will see it
        if (Volatile.Read(ref _blocked) == 0) return;            // still spinning (or not parked): it will see the signal
        lock (_gate) Monitor.Pulse(_gate);
    }
}
