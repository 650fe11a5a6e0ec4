using System.Diagnostics;

namespace Photon.Kernel.Hal.Host;

/// <summary>Host backend of <see cref="IClock"/>: the host's monotonic stopwatch and wall clock.</summary>
public sealed class HostClock : IClock
{
    private readonly long _start = Stopwatch.GetTimestamp();
    public TimeSpan Monotonic => Stopwatch.GetElapsedTime(_start);
    public DateTimeOffset WallClock => DateTimeOffset.UtcNow;
}

/// <summary>Host backend of <see cref="IConsole"/>: standard output.</summary>
public sealed class HostConsole : IConsole
{
    public void Write(string text) => Console.Out.Write(text);
    public void WriteLine(string text) => Console.Out.WriteLine(text);
}
