using System.Diagnostics;
using System.Diagnostics.Metrics;
using Photon.Kernel.Boot;

namespace Photon.Kernel.Diagnostics.Metrics;

/// <summary>
/// The kernel's counters on the <see cref="System.Diagnostics.Metrics"/> meter "Photon.Kernel", so
/// <c>dotnet-counters monitor -n photon --counters Photon.Kernel</c> (or any OpenTelemetry exporter) sees them.
/// Figures the kernel already keeps (tasks, run queues, IPC, quotas) are observed when a listener polls, summed over
/// the kernels booted in this host process; events with no running total (denials, block I/O, NIC frames) are
/// counted where they happen — an <c>Add</c> nobody listens to returns at once.
/// </summary>
public static class KernelMetrics
{
    public const string MeterName = "Photon.Kernel";

    private static readonly Lock s_lock = new();
    private static PhotonKernel[] s_kernels = [];

    private static readonly Meter s_meter = new(MeterName, "1.0");

    private static readonly Counter<long> s_denials =
        s_meter.CreateCounter<long>("photon.capabilities.denied", "{denial}", "Capability checks refused (wrong rights, revoked, stale, unknown)");
    private static readonly Counter<long> s_blockOps =
        s_meter.CreateCounter<long>("photon.block.operations", "{operation}", "Block I/O requests completed, by op");
    private static readonly Counter<long> s_blockBytes =
        s_meter.CreateCounter<long>("photon.block.bytes", "By", "Bytes read and written by block I/O, by op");
    private static readonly Histogram<double> s_blockLatency =
        s_meter.CreateHistogram<double>("photon.block.latency", "ms", "Block I/O latency from submission to completion");
    private static readonly Counter<long> s_nicFrames =
        s_meter.CreateCounter<long>("photon.nic.frames", "{frame}", "Ethernet frames received and sent, by direction");

    static KernelMetrics()
    {
        s_meter.CreateObservableCounter("photon.tasks.spawned", () => Sum(k => k.Scheduler.Stats.Spawned), "{task}", "Kernel tasks spawned");
        s_meter.CreateObservableCounter("photon.tasks.completed", () => Sum(k => k.Scheduler.Stats.Completed), "{task}", "Kernel tasks that ran to completion");
        s_meter.CreateObservableGauge("photon.tasks.in_flight", () => Sum(k => k.Scheduler.Stats.InFlight), "{task}", "Kernel tasks queued, running or waiting");
        s_meter.CreateObservableGauge("photon.scheduler.run_queue_length", () => Sum(k =>
        {
            var s = k.Scheduler.Stats;
            return s.GlobalQueueLength + s.RunQueueLengths.Sum();
        }), "{item}", "Work items waiting in the CPU run queues and the shared queue");
        s_meter.CreateObservableCounter("photon.scheduler.steals", () => Sum(k => k.Scheduler.Stats.Steals), "{steal}", "Times a CPU took work from another CPU");
        s_meter.CreateObservableCounter("photon.ipc.messages_sent", () => Sum(k => k.Ipc.MessagesSent), "{message}", "IPC messages sent");
        s_meter.CreateObservableCounter("photon.ipc.messages_received", () => Sum(k => k.Ipc.MessagesReceived), "{message}", "IPC messages received");
        s_meter.CreateObservableGauge("photon.capabilities.live", () => Sum(k => k.Capabilities.LiveCount), "{capability}", "Live capabilities");
        s_meter.CreateObservableGauge("photon.memory.free", () => Sum(k => k.Physical.FreeFrames * Memory.PhysicalMemory.PageSize), "By", "Free physical memory");
        s_meter.CreateObservableGauge("photon.quota.memory", () => PerTenant(u => u.MemoryBytes), "By", "Memory a tenant holds (regions and queued IPC)");
        s_meter.CreateObservableGauge("photon.quota.tasks", () => PerTenant(u => u.Tasks), "{task}", "Tasks a tenant runs");
        s_meter.CreateObservableGauge("photon.queue.in_flight", () => PerQueue(q => q.InFlight), "{request}",
            "Requests in flight on a device queue (block queue pairs, NIC transmit and receive rings), by queue");
        s_meter.CreateObservableGauge("photon.quota.capabilities", () => PerTenant(u => u.Capabilities), "{capability}", "Capabilities a tenant holds");
    }

    /// <summary>Puts a booted kernel's figures on the meter until the returned object is disposed (at shutdown).</summary>
    internal static IDisposable Register(PhotonKernel kernel)
    {
        lock (s_lock) s_kernels = [.. s_kernels, kernel];
        return new Registration(kernel);
    }

    internal static void CapabilityDenied() => s_denials.Add(1);

    /// <summary>True when someone listens to block latency (only then is a submission timestamped for it).</summary>
    internal static bool BlockLatencyEnabled => s_blockLatency.Enabled;

    internal static void BlockCompleted(string op, long bytes, long startTimestamp)
    {
        var tag = new KeyValuePair<string, object?>("op", op);
        s_blockOps.Add(1, tag);
        if (bytes > 0) s_blockBytes.Add(bytes, tag);
        if (startTimestamp != 0) s_blockLatency.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalMilliseconds, tag);
    }

    internal static void NicFrames(long frames, bool received) =>
        s_nicFrames.Add(frames, new KeyValuePair<string, object?>("direction", received ? "rx" : "tx"));

    private static long Sum(Func<PhotonKernel, long> figure)
    {
        long total = 0;
        foreach (var k in Volatile.Read(ref s_kernels)) total += figure(k);
        return total;
    }

    private static IEnumerable<Measurement<long>> PerTenant(Func<Quotas.QuotaUsage, long> figure)
    {
        var totals = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var k in Volatile.Read(ref s_kernels))
            foreach (var t in k.Quotas.Tenants)
                totals[t] = totals.GetValueOrDefault(t) + figure(k.Quotas.Usage(t));
        return totals.Select(t => new Measurement<long>(t.Value, new KeyValuePair<string, object?>("tenant", t.Key)));
    }

    private static IEnumerable<Measurement<long>> PerQueue(Func<Monitoring.QueueStat, long> figure)
    {
        var measurements = new List<Measurement<long>>();
        foreach (var k in Volatile.Read(ref s_kernels))
            foreach (var q in k.Monitor.Queues())
                measurements.Add(new Measurement<long>(figure(q), new KeyValuePair<string, object?>("queue", q.Name)));
        return measurements;
    }

    private sealed class Registration(PhotonKernel kernel) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            lock (s_lock) s_kernels = s_kernels.Where(k => k != kernel).ToArray();
        }
    }
}
