using System.Diagnostics;
using Photon.Kernel.Diagnostics.Tracing;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Scheduling;

namespace Photon.Bench;

/// <summary>What the kernel trace costs: the same scheduler workloads with a trace session recording against the same
/// workloads with tracing off (the default), measured in one run; and one trace point on and off.</summary>
public static class TracingBenchmarks
{
    public static IEnumerable<BenchResult> Run()
    {
        yield return SpawnComplete();
        yield return WakerPingPong();
        yield return TracePoint(on: true);
        yield return TracePoint(on: false);
    }

    private static TimeSpan Traced(bool on, Func<TimeSpan> measure)
    {
        if (!on) return measure();
        // Rings big enough that the runs measure recording, not only overwriting.
        if (!KernelTrace.Start(1 << 20).IsOk) throw new InvalidOperationException("a trace session is already recording");
        try { return measure(); }
        finally { _ = KernelTrace.Stop(); }
    }

    /// <summary>ns per task to spawn and complete 200k tiny tasks (spawn, run B/E, finish: four records each).</summary>
    private static BenchResult SpawnComplete()
    {
        const int N = 200_000;
        var s = LinuxPlatform.CreateScheduler();
        try
        {
            int remaining = 0;
            var allDone = new TaskCompletionSource();
            Func<Task> body = () =>
            {
                if (Interlocked.Decrement(ref remaining) == 0) allDone.TrySetResult();
                return Task.CompletedTask;
            };
            TimeSpan Run() => Measure.Median(async () =>
            {
                remaining = N;
                allDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                for (int i = 0; i < N; i++) s.Spawn(body, "tiny");
                await allDone.Task;
            });
            var off = Traced(false, Run);
            var on = Traced(true, Run);
            return new BenchResult("spawn+complete 200k tasks, tracing on", on.TotalNanoseconds / N, "tracing off", off.TotalNanoseconds / N, "ns/task", LowerIsBetter: true);
        }
        finally { s.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
    }

    /// <summary>ns per round trip of two kernel tasks ping-ponging through Wakers (each round: two wakes, two blocks,
    /// two run spans).</summary>
    private static BenchResult WakerPingPong()
    {
        const int N = 100_000;
        var s = LinuxPlatform.CreateScheduler();
        try
        {
            TimeSpan Run() => Measure.Median(async () =>
            {
                var ping = new Waker();
                var pong = new Waker();
                var a = s.Spawn(async () => { for (int i = 0; i < N; i++) { pong.Wake(); await ping.WaitAsync(); } }, "ping");
                var b = s.Spawn(async () => { for (int i = 0; i < N; i++) { await pong.WaitAsync(); ping.Wake(); } }, "pong");
                await Task.WhenAll(a.Completion, b.Completion);
            }, runs: 3);
            var off = Traced(false, Run);
            var on = Traced(true, Run);
            return new BenchResult("waker ping-pong round trip, tracing on", on.TotalNanoseconds / N, "tracing off", off.TotalNanoseconds / N, "ns/round trip", LowerIsBetter: true);
        }
        finally { s.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
    }

    /// <summary>ns per guarded trace point (<c>if (KernelTrace.Enabled) KernelTrace.Instant(…)</c>) against reading the
    /// clock once (on) or an empty loop (off).</summary>
    private static BenchResult TracePoint(bool on)
    {
        const int N = 5_000_000;
        long sink = 0;
        var point = Traced(on, () => Measure.Median(() =>
        {
            for (int i = 0; i < N; i++)
                if (KernelTrace.Enabled) KernelTrace.Instant(Photon.Kernel.Diagnostics.Tracing.TracePoint.TaskWake, i);
        }));
        var baseline = Measure.Median(() =>
        {
            if (on) for (int i = 0; i < N; i++) sink += Stopwatch.GetTimestamp();
            else for (int i = 0; i < N; i++) Volatile.Write(ref sink, i);
        });
        GC.KeepAlive(sink);
        return on
            ? new BenchResult("one trace point, tracing on (per-thread ring)", point.TotalNanoseconds / N, "Stopwatch.GetTimestamp()", baseline.TotalNanoseconds / N, "ns/event", LowerIsBetter: true)
            : new BenchResult("one trace point, tracing off (one volatile bool read)", point.TotalNanoseconds / N, "a volatile store in a loop", baseline.TotalNanoseconds / N, "ns/site", LowerIsBetter: true);
    }
}
