using System.Threading.Channels;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Memory;
using Photon.Kernel.Scheduling;
using Photon.Memory.Native;

namespace Photon.Bench;

/// <summary>
/// One workload of the <c>costs</c> group run alone for a few seconds, for <c>perf record</c> (issue #11: where each
/// nanosecond of a spawn or a round trip goes). <c>-- profile</c> with <c>PHOTON_PROFILE_LOOP</c> = spawn-outside,
/// spawn-inside, taskrun-outside, taskrun-inside, waker, channel, region (16 KiB allocate+free), region-written (written
/// before the free), or arena (the region rows' baseline: <c>NativeArena</c> alloc+zero+free); prints the CPU time per operation.
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
                    "region" => Region(N, write: false),
                    "region-written" => Region(N, write: true),
                    "arena" => Arena(N),
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
        if (inside) s.Spawn(() => { for (int i = 0; i < n; i++) _ = s.SpawnPooled(body, "tiny"); return Task.CompletedTask; }, "spawner");
        else for (int i = 0; i < n; i++) _ = s.SpawnPooled(body, "tiny");
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

    private static PhysicalMemory? s_physical;
    private static MemoryManager? s_memory;

    /// <summary>The costs group's region rows: 16 KiB allocate (+ write) + free through one memory manager.</summary>
    private static long Region(int n, bool write)
    {
        s_physical ??= new PhysicalMemory(64L * 1024 * 1024);
        var mm = s_memory ??= new MemoryManager(s_physical, new CapabilityManager());
        var bytes = new byte[16 * 1024];
        Array.Fill(bytes, (byte)0x5A);
        for (int i = 0; i < n; i++)
        {
            var r = mm.Allocate(bytes.Length, Principal.Kernel).Value;
            if (write) mm.Write(r, 0, bytes, Principal.Kernel).Unwrap();
            mm.Free(r, Principal.Kernel).Unwrap();
        }
        return n;
    }

    private static long Arena(int n)
    {
        for (int i = 0; i < n; i++) new NativeArena(16 * 1024, PhysicalMemory.PageSize).Dispose();
        return n;
    }
}
