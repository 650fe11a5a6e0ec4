using System.Threading.Channels;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Scheduling;

namespace Photon.Bench;

/// <summary>
/// One workload of the <c>costs</c> group run alone for a few seconds, for <c>perf record</c> (issue #11: where each
/// nanosecond of a spawn or a round trip goes). <c>-- profile</c> with <c>PHOTON_PROFILE_LOOP</c> = spawn-outside,
/// spawn-inside, taskrun-outside, taskrun-inside, waker or channel; prints the CPU time per operation.
/// </summary>
public static class ProfileLoops
{
    public static IEnumerable<BenchResult> Run()
    {
        var loop = Environment.GetEnvironmentVariable("PHOTON_PROFILE_LOOP") ?? "spawn-outside";
        int rounds = int.TryParse(Environment.GetEnvironmentVariable("PHOTON_PROFILE_ROUNDS"), out var r) ? r : 5;
        var s = LinuxPlatform.CreateScheduler();
        try
        {
            const int N = 1_000_000;
            var cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
            long allocated = GC.GetTotalAllocatedBytes(precise: true);
            long ops = 0;
            for (int i = 0; i < rounds; i++)
            {
                ops += loop switch
                {
                    "spawn-outside" => Spawn(s, N, inside: false),
                    "spawn-inside" => Spawn(s, N, inside: true),
                    "taskrun-outside" => TaskRun(N, inside: false),
                    "taskrun-inside" => TaskRun(N, inside: true),
                    "waker" => Waker(s, N / 5),
                    "channel" => ChannelPingPong(N / 5),
                    _ => throw new ArgumentException($"unknown PHOTON_PROFILE_LOOP '{loop}'"),
                };
            }
            var ns = (System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalNanoseconds / ops;
            double bytes = (GC.GetTotalAllocatedBytes(precise: true) - allocated) / (double)ops;
            yield return new BenchResult($"{loop}: process CPU time", ns, "-", double.NaN, "ns/op", LowerIsBetter: true);
            yield return new BenchResult($"{loop}: heap allocated", bytes, "-", double.NaN, "B/op", LowerIsBetter: true);
        }
        finally { s.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
    }

    private static long Spawn(KernelScheduler s, int n, bool inside)
    {
        int remaining = n;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Func<Task> body = () => { if (Interlocked.Decrement(ref remaining) == 0) done.TrySetResult(); return Task.CompletedTask; };
        if (inside) s.Spawn(() => { for (int i = 0; i < n; i++) s.Spawn(body, "tiny"); return Task.CompletedTask; }, "spawner");
        else for (int i = 0; i < n; i++) s.Spawn(body, "tiny");
        done.Task.GetAwaiter().GetResult();
        return n;
    }

    private static long TaskRun(int n, bool inside)
    {
        int remaining = n;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Action pool = () => { if (Interlocked.Decrement(ref remaining) == 0) done.TrySetResult(); };
        if (inside) _ = Task.Run(() => { for (int i = 0; i < n; i++) _ = Task.Run(pool); });
        else for (int i = 0; i < n; i++) _ = Task.Run(pool);
        done.Task.GetAwaiter().GetResult();
        return n;
    }

    private static long Waker(KernelScheduler s, int n)
    {
        var ping = new Waker();
        var pong = new Waker();
        var a = s.Spawn(async () => { for (int i = 0; i < n; i++) { pong.Wake(); await ping.WaitAsync(); } }, "ping");
        var b = s.Spawn(async () => { for (int i = 0; i < n; i++) { await pong.WaitAsync(); ping.Wake(); } }, "pong");
        Task.WhenAll(a.Completion, b.Completion).GetAwaiter().GetResult();
        return n;
    }

    private static long ChannelPingPong(int n)
    {
        var ping = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var pong = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var a = Task.Run(async () => { for (int i = 0; i < n; i++) { pong.Writer.TryWrite(i); await ping.Reader.ReadAsync(); } });
        var b = Task.Run(async () => { for (int i = 0; i < n; i++) { await pong.Reader.ReadAsync(); ping.Writer.TryWrite(i); } });
        Task.WhenAll(a, b).GetAwaiter().GetResult();
        return n;
    }
}
