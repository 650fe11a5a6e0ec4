using Photon.Kernel.Hal;

namespace Photon.Kernel.Diagnostics;

public enum LogLevel { Debug, Info, Warn, Error }

public sealed record LogEntry(TimeSpan Time, LogLevel Level, string Source, string Message)
{
    public override string ToString() => $"[{Time.TotalMilliseconds,10:F3} ms] {Level.ToString().ToLowerInvariant(),-5} {Source}: {Message}";
}

/// <summary>The kernel log: timestamped with monotonic time, kept in a bounded ring and optionally echoed to the console.</summary>
public sealed class KernelLog(IClock clock, IConsole? console, int capacity = 10_000)
{
    private readonly Queue<LogEntry> _entries = new();
    private readonly Lock _lock = new();

    public LogLevel EchoLevel { get; set; } = LogLevel.Info;

    /// <summary>When false nothing is echoed to the console (the CLI renders its own report).</summary>
    public bool Echo { get; set; } = true;

    public void Write(LogLevel level, string source, string message)
    {
        var e = new LogEntry(clock.Monotonic, level, source, message);
        lock (_lock)
        {
            if (_entries.Count == capacity) _entries.Dequeue();
            _entries.Enqueue(e);
        }
        if (Echo && console is not null && level >= EchoLevel) console.WriteLine(e.ToString());
    }

    public void Info(string source, string message) => Write(LogLevel.Info, source, message);
    public void Warn(string source, string message) => Write(LogLevel.Warn, source, message);
    public void Error(string source, string message) => Write(LogLevel.Error, source, message);

    public IReadOnlyList<LogEntry> Snapshot()
    {
        lock (_lock) return _entries.ToArray();
    }
}
