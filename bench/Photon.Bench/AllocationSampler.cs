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
    private readonly ConcurrentDictionary<string, long> _ticks = new();
    private volatile bool _on;

    public void Start() { _ticks.Clear(); _on = true; }
    public void Stop() => _on = false;

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1); // GC
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (!_on || e.EventName is null || !e.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.PayloadNames is null) return;
        int i = e.PayloadNames.IndexOf("TypeName");
        var type = i >= 0 ? e.Payload?[i] as string ?? "?" : "?";
        _ticks.AddOrUpdate(type, 1, (_, n) => n + 1);
    }

    /// <summary>The types seen, most ticks first, each with its share of <paramref name="bytesPerOp"/>.</summary>
    public string Report(double bytesPerOp, int top = 15)
    {
        long total = _ticks.Values.Sum();
        if (total == 0) return "no allocation ticks";
        return string.Join("; ", _ticks.OrderByDescending(kv => kv.Value).Take(top)
            .Select(kv => $"{kv.Key} {kv.Value * bytesPerOp / total:F0} B ({kv.Value} ticks)"));
    }
}
