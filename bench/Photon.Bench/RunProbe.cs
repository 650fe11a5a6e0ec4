namespace Photon.Bench;

/// <summary>What a costs run did besides its CPU figure (PHOTON_BENCH_COSTS_RUNS=1): wall time, collections, methods the
/// JIT compiled meanwhile and each thread group's CPU. Run around the warm-up runs too, so that its own code is compiled
/// and promoted before the measured runs; the lines are formatted only after the last one.</summary>
internal sealed class RunProbe(string label, int n)
{
    private readonly List<(double Cpu, double Wall, int G0, int G1, int G2, long Jitted, double JitMs, string Threads)> _runs = [];
    private Dictionary<int, (string Name, long Ticks)>? _threads;
    private int _g0, _g1, _g2;
    private long _jitted, _wall;
    private TimeSpan _jitTime;

    public void Begin()
    {
        _threads = ThreadCpu.Snapshot();
        _g0 = GC.CollectionCount(0); _g1 = GC.CollectionCount(1); _g2 = GC.CollectionCount(2);
        _jitted = System.Runtime.JitInfo.GetCompiledMethodCount();
        _jitTime = System.Runtime.JitInfo.GetCompilationTime();
        _wall = System.Diagnostics.Stopwatch.GetTimestamp();
    }

    public void End(double cpuNs, bool measured)
    {
        double wall = System.Diagnostics.Stopwatch.GetElapsedTime(_wall).TotalNanoseconds / n;
        long jitted = System.Runtime.JitInfo.GetCompiledMethodCount() - _jitted;
        double jitMs = (System.Runtime.JitInfo.GetCompilationTime() - _jitTime).TotalMilliseconds;
        int g0 = GC.CollectionCount(0) - _g0, g1 = GC.CollectionCount(1) - _g1, g2 = GC.CollectionCount(2) - _g2;
        string threads = ThreadCpu.Since(_threads!, n);
        if (measured) _runs.Add((cpuNs, wall, g0, g1, g2, jitted, jitMs, threads));
    }

    public void Print()
    {
        for (int r = 0; r < _runs.Count; r++)
        {
            var x = _runs[r];
            Console.Error.WriteLine($"run {label} #{r}: cpu {x.Cpu:F0} ns/op, wall {x.Wall:F0} ns/op, gc {x.G0}/{x.G1}/{x.G2}, " +
                $"jit {x.Jitted} methods {x.JitMs:F0} ms, threads {x.Threads}");
        }
    }
}
