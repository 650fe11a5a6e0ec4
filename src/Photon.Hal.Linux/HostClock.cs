using System.Diagnostics;

namespace Photon.Kernel.Hal.Host;

/// <summary>Host backend of <see cref="IClock"/>: the host's monotonic stopwatch and wall clock.</summary>
public sealed class HostClock : IClock
{
    private readonly long _start = Stopwatch.GetTimestamp();
    public TimeSpan Monotonic => Stopwatch.GetElapsedTime(_start);
    public DateTimeOffset WallClock => DateTimeOffset.UtcNow;
}
