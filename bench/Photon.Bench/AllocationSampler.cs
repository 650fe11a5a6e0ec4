using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace Photon.Bench;

/// <summary>
/// Who allocates, by type: the runtime's GC AllocationTick events (one per ~100 KB allocated, naming the type of the
/// allocation that crossed the threshold), counted in-process while enabled — a sampled heap profile without an
/// external tracer. With N bytes allocated in all, a type seen in k of the ticks is about k/ticks of N. Used by the
/// network bench (PHOTON_BENCH_NET_ALLOC=1) to say which objects a round trip allocates.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private readonly ConcurrentQueue<(DateTime At, string Type)> _ticks = new();
    private readonly List<(DateTime From, DateTime To)> _windows = new();
    private DateTime _open;
    private volatile bool _on;

    public void Start() { _ticks.Clear(); _windows.Clear(); _on = true; }
    public void Stop() => _on = false;

    /// <summary>Counts only what is allocated between <see cref="Open"/> and <see cref="Close"/> (tcp18): the events arrive
    /// late, on the listener's thread, so they are matched by their own time stamps. Without windows, the bench's own
    /// reads of /proc between the measured runs (strings per line) were counted as the round trips'.</summary>
    public void Open() => _open = DateTime.UtcNow;
    public void Close() { lock (_windows) _windows.Add((_open, DateTime.UtcNow)); }

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1); // GC
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (!_on || e.EventName is null || !e.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.PayloadNames is null) return;
        int i = e.PayloadNames.IndexOf("TypeName");
        var type = i >= 0 ? e.Payload?[i] as string ?? "?" : "?";
        _ticks.Enqueue((e.TimeStamp.ToUniversalTime(), type));
    }

    /// <summary>The types seen, most ticks first, each with its share of <paramref name="bytesPerOp"/>.</summary>
    public string Report(double bytesPerOp, int top = 15)
    {
        (DateTime From, DateTime To)[] windows;
        lock (_windows) windows = _windows.ToArray();
        var counts = _ticks.Where(t => windows.Length == 0 || windows.Any(w => t.At >= w.From && t.At <= w.To))
            .GroupBy(t => t.Type).ToDictionary(g => g.Key, g => (long)g.Count());
        long total = counts.Values.Sum();
        if (total == 0) return "no allocation ticks";
        return string.Join("; ", counts.OrderByDescending(kv => kv.Value).Take(top)
            .Select(kv => $"{kv.Key} {kv.Value * bytesPerOp / total:F0} B ({kv.Value} ticks)"));
    }
}
