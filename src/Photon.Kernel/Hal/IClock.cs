namespace Photon.Kernel.Hal;

/// <summary>The platform's time source. Monotonic time drives timers; wall time is only for logs and audit.</summary>
public interface IClock
{
    /// <summary>Monotonic time since boot. Never goes backwards.</summary>
    TimeSpan Monotonic { get; }

    /// <summary>Wall-clock time (may jump); never use it for timeouts.</summary>
    DateTimeOffset WallClock { get; }
}
