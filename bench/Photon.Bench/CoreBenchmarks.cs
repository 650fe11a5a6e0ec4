using System.Diagnostics;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Memory;
using Photon.Memory.Native;

namespace Photon.Bench;

/// <summary>Capability and memory benchmarks, each against a baseline measured in the same run.</summary>
public static class CoreBenchmarks
{
    public static IEnumerable<BenchResult> Run()
    {
        yield return CapabilityCheck();
        yield return RevokeSubtree();
        yield return RegionAllocFree();
        yield return RegionAllocWriteFree();
    }

    /// <summary>ns per capability check vs a plain Dictionary lookup of an object by id (what an unchecked handle table costs).</summary>
    private static BenchResult CapabilityCheck()
    {
        var caps = new CapabilityManager();
        var tokens = Enumerable.Range(0, 1024).Select(i => caps.Create(new GenericObject($"o{i}"), Rights.Read | Rights.Write, Principal.Kernel).Value).ToArray();
        var dict = tokens.Select((t, i) => (t, i)).ToDictionary(x => x.t, x => (object)new GenericObject("x"));
        const int N = 4_000_000;
        double photon = NsPerOp(() =>
        {
            for (int i = 0; i < N; i++) if (!caps.Check(tokens[i & 1023], Rights.Read).IsOk) throw new InvalidOperationException();
        }, N);
        double baseline = NsPerOp(() =>
        {
            for (int i = 0; i < N; i++) if (!dict.TryGetValue(tokens[i & 1023], out _)) throw new InvalidOperationException();
        }, N);
        return new BenchResult("capability check", photon, "Dictionary<token,object> lookup", baseline, "ns/op", LowerIsBetter: true);
    }

    /// <summary>ms to revoke a 100,000-node derivation subtree vs building it (the same number of tree operations).</summary>
    private static BenchResult RevokeSubtree()
    {
        var revokeTimes = new List<double>();
        var buildTimes = new List<double>();
        for (int run = 0; run < 5; run++)
        {
            var caps = new CapabilityManager();
            var root = caps.Create(new GenericObject("root"), Rights.All, Principal.Kernel).Value;
            var sw = Stopwatch.StartNew();
            // A bushy tree: each node gets up to 8 children, breadth first.
            var frontier = new Queue<CapabilityToken>();
            frontier.Enqueue(root);
            int made = 0;
            while (made < 100_000)
            {
                var p = frontier.Dequeue();
                for (int c = 0; c < 8 && made < 100_000; c++, made++) frontier.Enqueue(caps.Derive(p, Rights.All, Principal.Kernel).Value);
            }
            buildTimes.Add(sw.Elapsed.TotalMilliseconds);
            sw.Restart();
            int n = caps.RevokeDescendants(root).Value;
            revokeTimes.Add(sw.Elapsed.TotalMilliseconds);
            if (n != 100_000) throw new InvalidOperationException($"revoked {n}");
        }
        return new BenchResult("revoke 100k-node subtree", Median(revokeTimes), "derive the same 100k nodes", Median(buildTimes), "ms", LowerIsBetter: true);
    }

    /// <summary>ns per 16 KiB region allocate+free (capability issue, buddy, zeroing, revoke) vs a bare native arena of
    /// 16 KiB (aligned alloc, zero, free: the host primitive under physical memory).</summary>
    private static BenchResult RegionAllocFree()
    {
        using var phys = new PhysicalMemory(64L * 1024 * 1024);
        var caps = new CapabilityManager();
        var mm = new MemoryManager(phys, caps);
        const int N = 200_000;
        double photon = NsPerOp(() =>
        {
            for (int i = 0; i < N; i++) mm.Free(mm.Allocate(16 * 1024, Principal.Kernel).Value, Principal.Kernel).Unwrap();
        }, N);
        double baseline = NsPerOp(() =>
        {
            for (int i = 0; i < N; i++) new NativeArena(16 * 1024, PhysicalMemory.PageSize).Dispose();
        }, N);
        return new BenchResult("region allocate+free (16 KiB)", photon, "NativeArena alloc+zero+free", baseline, "ns/op", LowerIsBetter: true);
    }

    /// <summary>As <see cref="RegionAllocFree"/> with the whole region written before it is freed, so its frames must be
    /// zeroed again before the next owner gets them (the unwritten row above skips that: its frames stay known zero).</summary>
    private static BenchResult RegionAllocWriteFree()
    {
        using var phys = new PhysicalMemory(64L * 1024 * 1024);
        var mm = new MemoryManager(phys, new CapabilityManager());
        var bytes = new byte[16 * 1024];
        Array.Fill(bytes, (byte)0x5A);
        const int N = 100_000;
        double photon = NsPerOp(() =>
        {
            for (int i = 0; i < N; i++)
            {
                var r = mm.Allocate(bytes.Length, Principal.Kernel).Value;
                mm.Write(r, 0, bytes, Principal.Kernel).Unwrap();
                mm.Free(r, Principal.Kernel).Unwrap();
            }
        }, N);
        double baseline = NsPerOp(() =>
        {
            for (int i = 0; i < N; i++)
            {
                using var arena = new NativeArena(bytes.Length, PhysicalMemory.PageSize);
                bytes.CopyTo(arena.Pages(0, 4, 0, bytes.Length));
            }
        }, N);
        return new BenchResult("region allocate, write 16 KiB, free", photon, "NativeArena alloc+zero, write, free", baseline, "ns/op", LowerIsBetter: true);
    }

    private static double NsPerOp(Action body, int ops) => Measure.Median(body, runs: 5).TotalMilliseconds * 1e6 / ops;

    private static double Median(List<double> xs)
    {
        xs.Sort();
        return xs[xs.Count / 2];
    }
}
