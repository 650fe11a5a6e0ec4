using System.Threading.Channels;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Ipc;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Syscalls;
using Photon.Kernel.Memory;
using Photon.Kernel.Scheduling;
using Photon.Memory.Native;

namespace Photon.Bench;

/// <summary>
/// Figures that machine load moves little, for the issue #11 rows that wall clock cannot settle on a shared 2-core
/// machine: heap bytes allocated per operation (the GC's count, all threads) and process CPU time per operation,
/// Photon next to the same baseline as the wall-clock row, measured in the same run (median of three by CPU time).
/// </summary>
public static class CostBenchmarks
{
    public static IEnumerable<BenchResult> Run()
    {
        var s = LinuxPlatform.CreateScheduler();
        // PHOTON_BENCH_COSTS_ROWS=spawn,inner,waker (any of spawn, inner, waker, region, ipc): only those rows, for
        // alternating before/after invocations of the scheduler rows that fit in a shared machine's quieter minutes.
        var only = (Environment.GetEnvironmentVariable("PHOTON_BENCH_COSTS_ROWS") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries);
        bool Row(string name) => only.Length == 0 || only.Contains(name);
        try
        {
            foreach (bool inner in new[] { false, true })
                if (Row(inner ? "inner" : "spawn"))
                    foreach (var r in Spawn(s, inner)) yield return r;
            if (Row("waker")) foreach (var r in WakerPingPong(s)) yield return r;
            if (Row("region")) foreach (var r in RegionAllocFree()) yield return r;
            if (Row("ipc")) foreach (var r in Ipc(s)) yield return r;
        }
        finally { s.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
    }

    /// <summary>The IPC rows of the group alone (named to run: <c>-- ipccosts</c>).</summary>
    public static IEnumerable<BenchResult> RunIpc()
    {
        var s = LinuxPlatform.CreateScheduler();
        try
        {
            // Diagnosis of the batched rows' two regimes: PHOTON_BENCH_IPC_AFTER=spawn,inner,waker,region runs those
            // costs rows first (their results dropped), as the costs group does.
            foreach (var before in (Environment.GetEnvironmentVariable("PHOTON_BENCH_IPC_AFTER") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries))
                _ = (before switch
                {
                    "spawn" => Spawn(s, false),
                    "inner" => Spawn(s, true),
                    "waker" => WakerPingPong(s),
                    "region" => RegionAllocFree(),
                    _ => throw new ArgumentException($"PHOTON_BENCH_IPC_AFTER: unknown row {before}"),
                }).ToList();
            foreach (var r in Ipc(s)) yield return r;
        }
        finally { s.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
    }

    private readonly record struct Cost(double Bytes, double CpuNs);

    private static Cost Measure(Func<Task> body, int n, string? label = null)
    {
        var probe = label is not null && RunDiagnostics ? new RunProbe(label, n) : null;
        WarmUp(body, probe);
        var runs = new List<Cost>();
        for (int r = 0; r < 3; r++)
        {
            GC.Collect();
            probe?.Begin();
            long allocated = GC.GetTotalAllocatedBytes(precise: true);
            var cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
            body().GetAwaiter().GetResult();
            runs.Add(new Cost((GC.GetTotalAllocatedBytes(precise: true) - allocated) / (double)n,
                (System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalNanoseconds / n));
            probe?.End(runs[^1].CpuNs, measured: true);
        }
        probe?.Print();
        runs.Sort((a, b) => a.CpuNs.CompareTo(b.CpuNs));
        return runs[1];
    }

    /// <summary>
    /// Runs <paramref name="body"/> until the JIT has stopped compiling for it. Tiered compilation promotes hot methods
    /// (Tier0 → instrumented → Tier1, OSR of long loops) on a background thread whose CPU time is the process's, and
    /// only 100 ms after the last Tier0 activity: on a loaded machine the promotions of one row trickle in over several
    /// seconds (20–50 methods per run for ten runs), so after a single warm-up run the measured runs paid for the JIT and
    /// ran unoptimized code — why the batched IPC rows cost 62–174 ns per message after the other costs rows and 39–46
    /// alone, and 44–47 in both with <c>DOTNET_TieredCompilation=0</c>. Done after two runs in a row that compiled
    /// nothing and spanned at least 300 ms (short runs are spaced out so the call-counting delay can pass); at most 20.
    /// </summary>
    internal static void WarmUp(Func<Task> body) => WarmUp(body, null);

    private static void WarmUp(Func<Task> body, RunProbe? probe)
    {
        int quiet = 0;
        long quietSince = 0;
        for (int run = 0; run < 20; run++)
        {
            long compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            probe?.Begin(); // the probe's own code compiled and promoted in the warm-up, not in the measured runs
            body().GetAwaiter().GetResult();
            probe?.End(double.NaN, measured: false);
            if (System.Runtime.JitInfo.GetCompiledMethodCount() != compiled) { quiet = 0; continue; }
            if (quiet++ == 0) quietSince = started;
            if (quiet >= 2 && System.Diagnostics.Stopwatch.GetElapsedTime(quietSince) >= TimeSpan.FromMilliseconds(300)) return;
            Thread.Sleep(50);
        }
    }

    /// <summary>PHOTON_BENCH_COSTS_RUNS=1: every measured run of the spawn and <c>Waker</c> rows printed (stderr) with its
    /// wall time, collections, JIT activity and each thread group's CPU, to see which side of a row is bimodal and where
    /// its CPU went.</summary>
    private static readonly bool RunDiagnostics = Environment.GetEnvironmentVariable("PHOTON_BENCH_COSTS_RUNS") == "1";

    private static IEnumerable<BenchResult> Rows(string name, string baselineName, Cost photon, Cost baseline)
    {
        yield return new BenchResult($"{name}: heap allocated", photon.Bytes, baselineName, baseline.Bytes, "B/op", LowerIsBetter: true);
        yield return new BenchResult($"{name}: process CPU time", photon.CpuNs, baselineName, baseline.CpuNs, "ns/op", LowerIsBetter: true);
    }

    private static IEnumerable<BenchResult> Spawn(KernelScheduler s, bool fromKernelTask)
    {
        const int N = 1_000_000;
        int remaining = 0;
        var done = new TaskCompletionSource();
        Func<Task> body = () => { if (Interlocked.Decrement(ref remaining) == 0) done.TrySetResult(); return Task.CompletedTask; };
        Action pool = () => { if (Interlocked.Decrement(ref remaining) == 0) done.TrySetResult(); };
        void Spawned() { if (RunDiagnostics) RunProbe.Backlog = Volatile.Read(ref remaining) / (double)N; }
        var photon = Measure(async () =>
        {
            remaining = N;
            done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (fromKernelTask) s.Spawn(() => { for (int i = 0; i < N; i++) _ = s.SpawnPooled(body, "tiny"); Spawned(); return Task.CompletedTask; }, "spawner");
            else { for (int i = 0; i < N; i++) _ = s.SpawnPooled(body, "tiny"); Spawned(); }
            await done.Task;
        }, N, fromKernelTask ? "spawn-inside" : "spawn-outside");
        var baseline = Measure(async () =>
        {
            remaining = N;
            done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (fromKernelTask) _ = Task.Run(() => { for (int i = 0; i < N; i++) _ = Task.Run(pool); Spawned(); });
            else { for (int i = 0; i < N; i++) _ = Task.Run(pool); Spawned(); }
            await done.Task;
        }, N, fromKernelTask ? "taskrun-inside" : "taskrun-outside");
        return Rows($"spawn+complete 1M tasks {(fromKernelTask ? "from a kernel task" : "from outside")}",
            fromKernelTask ? "Task.Run inside a pool task" : "Task.Run", photon, baseline);
    }

    private static IEnumerable<BenchResult> WakerPingPong(KernelScheduler s)
    {
        const int N = 200_000;
        var photon = Measure(async () =>
        {
            var ping = new Waker();
            var pong = new Waker();
            var a = s.Spawn(async () => { for (int i = 0; i < N; i++) { pong.Wake(); await ping.WaitAsync(); } }, "ping");
            var b = s.Spawn(async () => { for (int i = 0; i < N; i++) { await pong.WaitAsync(); ping.Wake(); } }, "pong");
            await Task.WhenAll(a.Completion, b.Completion);
        }, N, "waker");
        var baseline = Measure(async () =>
        {
            var ping = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
            var pong = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
            var a = Task.Run(async () => { for (int i = 0; i < N; i++) { pong.Writer.TryWrite(i); await ping.Reader.ReadAsync(); } });
            var b = Task.Run(async () => { for (int i = 0; i < N; i++) { await pong.Reader.ReadAsync(); ping.Writer.TryWrite(i); } });
            await Task.WhenAll(a, b);
        }, N, "channel");
        return Rows("Waker ping-pong round trip", "Channel<int> ping-pong (thread pool)", photon, baseline);
    }

    /// <summary>IPC between two processes whose loops are kernel tasks (as a process's code runs): the 16 B round
    /// trip with both receive calls (a new message per receive, and into the caller's buffer) and the 64 B stream,
    /// against the Channel&lt;byte[]&gt; baselines of the userspace group (a copy per message).</summary>
    private static IEnumerable<BenchResult> Ipc(KernelScheduler s)
    {
        using var two = new TwoProcessIpc(s);
        var (ipc, a, b) = (two.Ipc, two.A, two.B);
        var (ha, hb) = two.Channel(depth: 256);

        const int N = 100_000;
        var small = new byte[16];
        // PHOTON_BENCH_IPC_ONLY=batched: the batched rows and their baseline alone (diagnosis runs).
        bool batchedOnly = Environment.GetEnvironmentVariable("PHOTON_BENCH_IPC_ONLY") == "batched";
        var rows = new List<BenchResult>();
        if (!batchedOnly)
        {
            var channelPingPong = Measure(() => UserspaceBenchmarks.ChannelPingPong(small, N), N);
            var messages = Measure(() => UserspaceBenchmarks.PhotonPingPong(s, ipc, a, ha, b, hb, small, N), N);
            var into = Measure(() => UserspaceBenchmarks.PhotonPingPongInto(s, ipc, a, ha, b, hb, small, N), N);
            rows.AddRange(Rows("IPC round trip 16 B, a message per receive", "Channel<byte[]> ping-pong", messages, channelPingPong));
            rows.AddRange(Rows("IPC round trip 16 B, receive into the caller's buffer", "Channel<byte[]> ping-pong", into, channelPingPong));
        }

        const int M = 500_000;
        var payload = new byte[64];
        var channelStream = Measure(Diagnosed(s, "Channel<byte[]> stream", M, () => UserspaceBenchmarks.ChannelStream(payload, M)), M);
        if (!batchedOnly)
        {
            var stream = Measure(() => UserspaceBenchmarks.PhotonStreamInto(s, ipc, a, ha, b, hb, payload, M), M);
            rows.AddRange(Rows("IPC throughput 64 B, receive into the caller's buffer", "Channel<byte[]> (bounded 256)", stream, channelStream));
        }
        // The baseline writes and reads one message at a time, as a user of Channel<byte[]> does (it has no batch call).
        foreach (int perSend in new[] { 64, 256 })
        {
            const int MB = 512_000; // whole batches of either size
            var batched = Measure(Diagnosed(s, $"batched {perSend}", MB, () => UserspaceBenchmarks.PhotonPackedStream(s, ipc, a, ha, b, hb, payload.Length, MB, perSend)), MB);
            rows.AddRange(Rows($"IPC throughput 64 B batched ({perSend} per send, packed; up to 256 per receive)",
                "Channel<byte[]> (bounded 256), one message per call", batched, channelStream));
        }
        return rows;
    }

    /// <summary>With PHOTON_BENCH_IPC_DIAG=1, prints per run (stderr) what moves with the regime a row runs in: CPU,
    /// scheduler items run and steals, context switches of the process's threads and collections, per message.</summary>
    private static Func<Task> Diagnosed(KernelScheduler s, string name, int n, Func<Task> body)
    {
        if (Environment.GetEnvironmentVariable("PHOTON_BENCH_IPC_DIAG") != "1") return body;
        return async () =>
        {
            var st = s.Stats;
            long jitted = System.Runtime.JitInfo.GetCompiledMethodCount();
            var jitTime = System.Runtime.JitInfo.GetCompilationTime();
            long ctx = ContextSwitches();
            int g0 = GC.CollectionCount(0), g1 = GC.CollectionCount(1), g2 = GC.CollectionCount(2);
            var cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
            await body();
            var cpuNs = (System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalNanoseconds / n;
            var en = s.Stats;
            Console.Error.WriteLine($"diag {name}: {cpuNs:F1} ns/msg, items/msg {(en.ItemsExecuted - st.ItemsExecuted) / (double)n:F4}, " +
                $"steals {en.Steals - st.Steals}, ctxsw/msg {(ContextSwitches() - ctx) / (double)n:F4}, " +
                $"gc {GC.CollectionCount(0) - g0}/{GC.CollectionCount(1) - g1}/{GC.CollectionCount(2) - g2}, heap {GC.GetTotalMemory(false) >> 20} MiB, " +
                $"jitted {System.Runtime.JitInfo.GetCompiledMethodCount() - jitted} methods in {(System.Runtime.JitInfo.GetCompilationTime() - jitTime).TotalMilliseconds:F1} ms");
        };
    }

    private static long ContextSwitches()
    {
        long total = 0;
        foreach (var dir in Directory.GetDirectories("/proc/self/task"))
        {
            try
            {
                foreach (var line in File.ReadLines(Path.Combine(dir, "status")))
                    if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal) || line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
                        total += long.Parse(line.AsSpan(line.IndexOf(':') + 1).Trim());
            }
            catch (IOException) { } // a thread that exited meanwhile
        }
        return total;
    }

    private static IEnumerable<BenchResult> RegionAllocFree()
    {
        using var phys = new PhysicalMemory(64L * 1024 * 1024);
        var mm = new MemoryManager(phys, new CapabilityManager());
        const int N = 200_000;
        var photon = Measure(() =>
        {
            for (int i = 0; i < N; i++) mm.Free(mm.Allocate(16 * 1024, Principal.Kernel).Value, Principal.Kernel).Unwrap();
            return Task.CompletedTask;
        }, N);
        var baseline = Measure(() =>
        {
            for (int i = 0; i < N; i++) new NativeArena(16 * 1024, PhysicalMemory.PageSize).Dispose();
            return Task.CompletedTask;
        }, N);
        var rows = Rows("region allocate+free (16 KiB)", "NativeArena alloc+zero+free", photon, baseline).ToList();
        // Written before the free, so the frames are zeroed again for their next owner (the row above: known zero).
        var bytes = new byte[16 * 1024];
        Array.Fill(bytes, (byte)0x5A);
        var written = Measure(() =>
        {
            for (int i = 0; i < N; i++)
            {
                var r = mm.Allocate(bytes.Length, Principal.Kernel).Value;
                mm.Write(r, 0, bytes, Principal.Kernel).Unwrap();
                mm.Free(r, Principal.Kernel).Unwrap();
            }
            return Task.CompletedTask;
        }, N);
        var writtenBaseline = Measure(() =>
        {
            for (int i = 0; i < N; i++)
            {
                using var arena = new NativeArena(bytes.Length, PhysicalMemory.PageSize);
                bytes.CopyTo(arena.Pages(0, 4, 0, bytes.Length));
            }
            return Task.CompletedTask;
        }, N);
        rows.AddRange(Rows("region allocate, write 16 KiB, free", "NativeArena alloc+zero, write, free", written, writtenBaseline));
        return rows;
    }
}
