using System.Diagnostics;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Scheduling;

namespace Photon.Bench;

/// <summary>
/// Scale curves: how a cost grows with size or concurrency. Each point is a row whose baseline is the curve's first
/// point (or the same work on the .NET runtime), so a ratio near 1 means "scales linearly / does not collapse".
/// </summary>
public static class ScaleBenchmarks
{
    public static IEnumerable<BenchResult> Run()
    {
        // Process CPU per node: on a loaded machine one lost time slice makes a wall-clock point meaningless.
        var revoke = new ScaleCurve("Revoke a subtree", "nodes", "CPU ns per node", LogX: true, "Photon (process CPU)", "1k-node point (linear)");
        var checks = new ScaleCurve("Capability checks under churn", "checkers (+1 deriving/revoking thread)", "M checks/s", LogX: false,
            "Photon, with churn", "1 checker, no churn");
        var memory = new ScaleCurve("Heap per in-flight task", "parked tasks", "bytes per task", LogX: true, "kernel task", "Task.Run awaiting a gate");
        foreach (var r in RevokeCurve(revoke)) yield return r;
        foreach (var r in CheckersUnderChurn(checks)) yield return r;
        foreach (var r in MemoryPerTask(memory)) yield return r;
        var tcp = new ScaleCurve("TCP, concurrent connections", "connections (64 MiB in all)", "aggregate MiB/s", LogX: true, "Photon stacks, in-memory wire", "1 connection");
        var ipc = new ScaleCurve("IPC, busy channels", "channels (64 B messages)", "aggregate M msg/s", LogX: true, "Photon channels (syscalls)", "bounded Channel<byte[]> pairs");
        foreach (var r in ConcurrencyScaleBenchmarks.Tcp(tcp)) yield return r;
        foreach (var r in ConcurrencyScaleBenchmarks.Ipc(ipc)) yield return r;
        // The plot is the run's own figures (a loaded machine moves the wall-clock ones; the caption says when).
        var path = ScalePlot.WriteToDocs([revoke, checks, memory, tcp, ipc],
            $"Photon -- scale, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} CPUs, load average {LoadAverage()}");
        Console.Error.WriteLine(path is null ? "scale: not inside the repository, no plot written" : $"scale: plot written to {path}");
    }

    private static string LoadAverage()
    {
        try { return File.ReadAllText("/proc/loadavg").Split(' ')[0]; }
        catch (IOException) { return "unknown"; }
    }

    /// <summary>ns per node to revoke a bushy subtree of 1k..1M nodes; baseline: the 1k point (linear = 1.00x).</summary>
    private static IEnumerable<BenchResult> RevokeCurve(ScaleCurve curve)
    {
        double first = 0, firstCpu = 0;
        foreach (int size in new[] { 1_000, 10_000, 100_000, 1_000_000 })
        {
            var times = new List<double>();
            var cpuTimes = new List<double>();
            for (int run = 0; run < 3; run++)
            {
                var caps = new CapabilityManager();
                var root = caps.Create(new GenericObject("root"), Rights.All, Principal.Kernel).Value;
                var frontier = new Queue<CapabilityToken>();
                frontier.Enqueue(root);
                int made = 0;
                while (made < size)
                {
                    var p = frontier.Dequeue();
                    for (int c = 0; c < 8 && made < size; c++, made++) frontier.Enqueue(caps.Derive(p, Rights.All, Principal.Kernel).Value);
                }
                GC.Collect();
                // Process CPU time too: on a loaded machine wall time counts other processes' time slices, and the
                // revoke is one thread that allocates almost nothing (no GC runs during it).
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                var sw = Stopwatch.StartNew();
                int n = caps.RevokeDescendants(root).Value;
                times.Add(sw.Elapsed.TotalNanoseconds / n);
                cpuTimes.Add((Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds);
                if (n != size) throw new InvalidOperationException($"revoked {n}");
            }
            double perNode = Median(times);
            if (first == 0) first = perNode;
            double cpuPerNode = Median(cpuTimes) * 1e6 / size;
            if (firstCpu == 0) firstCpu = cpuPerNode;
            curve.Points.Add((size, cpuPerNode, firstCpu));
            yield return new BenchResult($"revoke subtree of {size:N0} nodes ({perNode * size / 1e6:F1} ms, CPU {Median(cpuTimes):F1} ms)", perNode,
                "revoke of 1,000 nodes", first, "ns/node", LowerIsBetter: true);
        }
    }

    /// <summary>Aggregate capability checks/s with 1, 2 and 4 checkers while another thread derives and revokes;
    /// baseline: one checker with no churn.</summary>
    private static IEnumerable<BenchResult> CheckersUnderChurn(ScaleCurve curve)
    {
        var caps = new CapabilityManager();
        var tokens = Enumerable.Range(0, 1024).Select(i => caps.Create(new GenericObject($"o{i}"), Rights.All, Principal.Kernel).Value).ToArray();
        double alone = Median(Enumerable.Range(0, 3).Select(_ => ChecksPerSecond(caps, tokens, checkers: 1, churn: false)).ToList());
        foreach (int checkers in new[] { 1, 2, 4 })
        {
            double rate = Median(Enumerable.Range(0, 3).Select(_ => ChecksPerSecond(caps, tokens, checkers, churn: true)).ToList());
            curve.Points.Add((checkers, rate / 1e6, alone / 1e6));
            yield return new BenchResult($"capability checks, {checkers} checker(s) + 1 deriving/revoking thread", rate / 1e6,
                "1 checker, no churn", alone / 1e6, "M checks/s", LowerIsBetter: false);
        }
    }

    private static double ChecksPerSecond(CapabilityManager caps, CapabilityToken[] tokens, int checkers, bool churn)
    {
        const int PerChecker = 4_000_000;
        bool stop = false;
        var churner = new Thread(() =>
        {
            int i = 0;
            while (!Volatile.Read(ref stop))
            {
                var child = caps.Derive(tokens[i++ & 1023], Rights.Read, Principal.Kernel).Value;
                caps.Derive(child, Rights.Read, Principal.Kernel);
                caps.Revoke(child).Unwrap();
            }
        });
        if (churn) churner.Start();
        var threads = Enumerable.Range(0, checkers).Select(t => new Thread(() =>
        {
            for (int i = 0; i < PerChecker; i++)
                if (!caps.Check(tokens[(i + t * 97) & 1023], Rights.Read).IsOk) throw new InvalidOperationException();
        })).ToArray();
        var sw = Stopwatch.StartNew();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        double seconds = sw.Elapsed.TotalSeconds;
        Volatile.Write(ref stop, true);
        if (churn) churner.Join();
        return checkers * (double)PerChecker / seconds;
    }

    /// <summary>Heap bytes per suspended kernel task (10k..1M tasks parked on one gate) vs per suspended pool task.</summary>
    public static IEnumerable<BenchResult> MemoryPerTask() => MemoryPerTask(null);

    private static IEnumerable<BenchResult> MemoryPerTask(ScaleCurve? curve)
    {
        foreach (int n in new[] { 10_000, 100_000, 1_000_000 })
        {
            double photon = PhotonBytesPerTask(n);
            double baseline = PoolBytesPerTask(n);
            curve?.Points.Add((n, photon, baseline));
            yield return new BenchResult($"memory per in-flight task, {n:N0} tasks", photon, "Task.Run awaiting a gate", baseline, "B/task", LowerIsBetter: true);
        }
    }

    private static double PhotonBytesPerTask(int n)
    {
        var s = LinuxPlatform.CreateScheduler();
        try
        {
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var gateTask = gate.Task;
            int started = 0;
            var allStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            long before = Settle();
            for (int i = 0; i < n; i++)
                s.Spawn(async () =>
                {
                    if (Interlocked.Increment(ref started) == n) allStarted.TrySetResult();
                    await gateTask;
                }, "parked");
            allStarted.Task.GetAwaiter().GetResult();
            Thread.Sleep(50); // let the last ones reach their await
            long after = Settle();
            gate.SetResult();
            return (after - before) / (double)n;
        }
        finally { s.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
    }

    private static double PoolBytesPerTask(int n)
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var gateTask = gate.Task;
        int started = 0;
        var allStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tasks = new Task[n]; // the caller keeps the Task handles, as Spawn's caller may keep its KernelTasks
        long before = Settle();
        for (int i = 0; i < n; i++)
            tasks[i] = Task.Run(async () =>
            {
                if (Interlocked.Increment(ref started) == n) allStarted.TrySetResult();
                await gateTask;
            });
        allStarted.Task.GetAwaiter().GetResult();
        Thread.Sleep(50);
        long after = Settle() - (long)n * IntPtr.Size - 32; // minus the handle array itself
        gate.SetResult();
        Task.WaitAll(tasks);
        return (after - before) / (double)n;
    }

    private static long Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private static double Median(List<double> xs)
    {
        xs.Sort();
        return xs[xs.Count / 2];
    }
}
