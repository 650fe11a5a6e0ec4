namespace Photon.Kernel.Diagnostics.Tracing;

/// <summary>The records of one thread, oldest first.</summary>
public sealed record ThreadTrace(int ThreadId, string ThreadName, IReadOnlyList<TraceRecord> Records, long Dropped);

/// <summary>What a stopped trace session recorded: per-thread records, how many were dropped because a ring was full,
/// and the <see cref="System.Diagnostics.Stopwatch"/> timestamp the session started at (time zero of the trace).</summary>
public sealed record TraceCapture(IReadOnlyList<ThreadTrace> Threads, long StartTimestamp, long StopTimestamp)
{
    public long Recorded => Threads.Sum(t => (long)t.Records.Count);
    public long Dropped => Threads.Sum(t => t.Dropped);

    /// <summary>Events recorded per category.</summary>
    public IReadOnlyDictionary<TraceCategory, long> CountByCategory() =>
        Threads.SelectMany(t => t.Records).GroupBy(r => TracePoints.CategoryOf(r.Point)).ToDictionary(g => g.Key, g => (long)g.Count());
}
