using System.Diagnostics;
using System.Threading.Channels;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Scheduling;

namespace Photon.Bench;

/// <summary>Kernel scheduler benchmarks, each against the .NET runtime's own machinery measured in the same run.</summary>
public static class SchedulerBenchmarks
{
    public static IEnumerable<BenchResult> Run()
    {
        yield return SpawnComplete(fromKernelTask: false);
        yield return SpawnComplete(fromKernelTask: true);
        yield return WakerPingPong();
        yield return TimerArmFire();
    }

    /// <summary>ns per task to spawn and complete 1M tiny tasks vs Task.Run on the thread pool.</summary>
    private static BenchResult SpawnComplete(bool fromKernelTask)
    {
        const int N = 1_000_000;
        var s = LinuxPlatform.CreateScheduler();
        try
        {
            int remaining = 0;
            TaskCompletionSource allDone = new();
            Func<Task> photonBody = () =>
            {
                if (Interlocked.Decrement(ref remaining) == 0) allDone.TrySetResult();
                return Task.CompletedTask;
            };
            Action poolBody = () => { if (Interlocked.Decrement(ref remaining) == 0) allDone.TrySetResult(); };

            var photon = Measure.Median(async () =>
            {
                remaining = N;
                allDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                if (fromKernelTask)
                    s.Spawn(() => { for (int i = 0; i < N; i++) s.Spawn(photonBody, "tiny"); return Task.CompletedTask; }, "spawner");
                else
                    for (int i = 0; i < N; i++) s.Spawn(photonBody, "tiny");
                await allDone.Task;
            });
            var baseline = Measure.Median(async () =>
            {
                remaining = N;
                allDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                if (fromKernelTask)
                    _ = Task.Run(() => { for (int i = 0; i < N; i++) _ = Task.Run(poolBody); });
                else
                    for (int i = 0; i < N; i++) _ = Task.Run(poolBody);
                await allDone.Task;
            });
            string where = fromKernelTask ? "from a kernel task" : "from outside";
            return new BenchResult($"spawn+complete 1M tasks {where}", photon.TotalNanoseconds / N,
                fromKernelTask ? "Task.Run inside a pool task" : "Task.Run", baseline.TotalNanoseconds / N, "ns/task", LowerIsBetter: true);
        }
        finally { s.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
    }

    /// <summary>ns per round trip of two tasks ping-ponging through Wakers vs two tasks ping-ponging through Channels.</summary>
    private static BenchResult WakerPingPong()
    {
        const int N = 200_000;
        var s = LinuxPlatform.CreateScheduler();
        try
        {
            var photon = Measure.Median(async () =>
            {
                var ping = new Waker();
                var pong = new Waker();
                var a = s.Spawn(async () =>
                {
                    for (int i = 0; i < N; i++) { pong.Wake(); await ping.WaitAsync(); }
                }, "ping");
                var b = s.Spawn(async () =>
                {
                    for (int i = 0; i < N; i++) { await pong.WaitAsync(); ping.Wake(); }
                }, "pong");
                await Task.WhenAll(a.Completion, b.Completion);
            });
            var baseline = Measure.Median(async () =>
            {
                var ping = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
                var pong = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
                var a = Task.Run(async () =>
                {
                    for (int i = 0; i < N; i++) { pong.Writer.TryWrite(i); await ping.Reader.ReadAsync(); }
                });
                var b = Task.Run(async () =>
                {
                    for (int i = 0; i < N; i++) { await pong.Reader.ReadAsync(); ping.Writer.TryWrite(i); }
                });
                await Task.WhenAll(a, b);
            });
            return new BenchResult("Waker ping-pong round trip", photon.TotalNanoseconds / N,
                "Channel<int> ping-pong (thread pool)", baseline.TotalNanoseconds / N, "ns/round trip", LowerIsBetter: true);
        }
        finally { s.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
    }

    /// <summary>ns per timer to arm and cancel 1M timers (timer wheel) vs Task.Delay's host timer queue.</summary>
    private static BenchResult TimerArmFire()
    {
        const int N = 1_000_000;
        var s = LinuxPlatform.CreateScheduler();
        try
        {
            var photon = Measure.Median(async () =>
            {
                using var cts = new CancellationTokenSource();
                var tasks = new Task[N];
                for (int i = 0; i < N; i++) tasks[i] = s.Delay(TimeSpan.FromSeconds(30 + i % 1000), cts.Token);
                cts.Cancel();
                try { await Task.WhenAll(tasks); } catch (OperationCanceledException) { }
            }, runs: 3);
            var baseline = Measure.Median(async () =>
            {
                using var cts = new CancellationTokenSource();
                var tasks = new Task[N];
                for (int i = 0; i < N; i++) tasks[i] = Task.Delay(TimeSpan.FromSeconds(30 + i % 1000), cts.Token);
                cts.Cancel();
                try { await Task.WhenAll(tasks); } catch (OperationCanceledException) { }
            }, runs: 3);
            return new BenchResult("arm+cancel 1M timers", photon.TotalNanoseconds / N,
                "Task.Delay (host timer queue)", baseline.TotalNanoseconds / N, "ns/timer", LowerIsBetter: true);
        }
        finally { s.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
    }
}
