using System.Diagnostics.Metrics;
using Photon.Kernel.Diagnostics.Metrics;
using Photon.Kernel.Diagnostics.Tracing;
using static Photon.Net.Tests.TwoStacks;

namespace Photon.Net.Tests;

/// <summary>The NIC trace points and the photon.nic.frames counter, on two stacks joined by an in-memory wire.</summary>
public sealed class NicTraceTests
{
    [Fact]
    public async Task A_ping_between_two_stacks_records_nic_transmit_spans_and_receive_events_and_counts_frames()
    {
        long rx = 0, tx = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (i, l) => { if (i.Meter.Name == KernelMetrics.MeterName && i.Name == "photon.nic.frames") l.EnableMeasurementEvents(i); };
        listener.SetMeasurementEventCallback<long>((_, v, tags, _) =>
        {
            foreach (var t in tags)
                if (t.Key == "direction") { if ((string)t.Value! == "rx") Interlocked.Add(ref rx, v); else Interlocked.Add(ref tx, v); }
        });
        listener.Start();

        await using var s = new TwoStacks();
        Assert.True(KernelTrace.Start().IsOk, "no other test in this assembly traces");
        TraceCapture capture;
        try
        {
            Assert.True((await s.Left.PingAsync(Ip("10.9.0.2"), TimeSpan.FromSeconds(2))).IsOk);
        }
        finally { capture = KernelTrace.Stop().Value; }

        var records = capture.Threads.SelectMany(t => t.Records).ToList();
        var sends = records.Where(r => r.Point == TracePoint.NicTransmit && r.Label == "wire0").ToList();
        Assert.NotEmpty(sends); // ARP request and echo request left the left stack
        Assert.All(sends, r => Assert.Equal(TracePhase.Complete, r.Phase));
        Assert.Contains(sends, r => r.A0 >= 1 && r.A1 >= 42); // frames and bytes (an ARP frame is 42 bytes)
        Assert.Contains(records, r => r.Point == TracePoint.NicReceive && r.Label == "wire1" && r.A0 >= 1);
        Assert.True(Interlocked.Read(ref rx) >= 2 && Interlocked.Read(ref tx) >= 2, $"rx {rx} tx {tx}");
    }
}
