using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Photon.Kernel.Diagnostics.Metrics;

namespace Photon.Kernel.Tests.Diagnostics;

[Collection(KernelTraceCollection.Name)]
public sealed class KernelMetricsTests
{
    /// <summary>Listens to the Photon.Kernel meter the way dotnet-counters does, summing counters and keeping the
    /// last value of gauges, per instrument (and per tag for tagged ones).</summary>
    private sealed class Recorder : IDisposable
    {
        private readonly MeterListener _listener = new();
        public readonly ConcurrentDictionary<string, double> Totals = new();
        public readonly ConcurrentDictionary<string, double> Last = new();
        public readonly ConcurrentBag<double> Latencies = new();

        public Recorder()
        {
            _listener.InstrumentPublished = (i, l) => { if (i.Meter.Name == KernelMetrics.MeterName) l.EnableMeasurementEvents(i); };
            _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Note(i, v, tags));
            _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Note(i, v, tags));
            _listener.Start();
        }

        private void Note(Instrument i, double v, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var key = i.Name + string.Concat(tags.ToArray().Select(t => $"[{t.Key}={t.Value}]"));
            if (i.Name == "photon.block.latency") Latencies.Add(v);
            Totals.AddOrUpdate(key, v, (_, old) => old + v);
            Last[key] = v;
        }

        /// <summary>Polls the observable instruments once and returns what they reported.</summary>
        public Dictionary<string, double> Poll()
        {
            Last.Clear();
            _listener.RecordObservableInstruments();
            return new Dictionary<string, double>(Last);
        }

        public double Total(string name) => Totals.Where(kv => kv.Key.StartsWith(name, StringComparison.Ordinal)).Sum(kv => kv.Value);

        public void Dispose() => _listener.Dispose();
    }

    [Fact]
    public async Task The_meter_reports_tasks_ipc_denials_block_io_and_tenant_quota_use_and_they_move_with_load()
    {
        using var recorder = new Recorder();
        await using var w = await ObservedWorkload.BootAsync();
        var before = recorder.Poll();
        double denialsBefore = recorder.Total("photon.capabilities.denied");

        await w.RunAsync("metered-worker");
        var after = recorder.Poll();

        Assert.True(after["photon.tasks.spawned"] > before["photon.tasks.spawned"]);
        Assert.True(after["photon.ipc.messages_sent"] >= before["photon.ipc.messages_sent"] + 8);
        Assert.True(after["photon.ipc.messages_received"] >= before["photon.ipc.messages_received"] + 8);
        Assert.True(after.ContainsKey("photon.scheduler.run_queue_length"));
        Assert.True(after.ContainsKey("photon.quota.memory[tenant=/tenant-a]"));
        Assert.True(recorder.Total("photon.capabilities.denied") >= denialsBefore + 1);
        Assert.True(recorder.Total("photon.block.operations[op=write]") >= 1);
        Assert.True(recorder.Total("photon.block.operations[op=read]") >= 1);
        Assert.True(recorder.Total("photon.block.bytes[op=write]") >= 512);
        Assert.NotEmpty(recorder.Latencies);
        Assert.All(recorder.Latencies, l => Assert.True(l >= 0));
    }

    [Fact]
    public async Task A_kernel_that_shut_down_no_longer_contributes_to_the_meter()
    {
        using var recorder = new Recorder();
        var w = await ObservedWorkload.BootAsync();
        await w.RunAsync("short-lived");
        var live = recorder.Poll();
        await w.DisposeAsync();
        var gone = recorder.Poll();
        Assert.True(gone.GetValueOrDefault("photon.ipc.messages_sent") <= live["photon.ipc.messages_sent"] - 8);
    }
}
