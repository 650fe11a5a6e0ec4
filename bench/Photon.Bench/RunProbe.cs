namespace Photon.Bench;

/// <summary>What a costs run did besides its CPU figure (PHOTON_BENCH_COSTS_RUNS=1): wall time, collections, methods the
/// JIT compiled meanwhile and each thread group's CPU. Run around the warm-up runs too, so that its own code is compiled
/// and promoted before the measured runs; the lines are formatted only after the last one. Also the GC's pause time
/// per operation and, for the spawn rows, the share of tasks still unfinished when the spawning loop returned (the
/// backlog that every collection during the burst has to trace and promote).</summary>
internal sealed class RunProbe(string label, int n)
{
    /// <summary>Set by a spawn row's loop as it returns: tasks not yet finished, as a share of the run's.</summary>
    public static double Backlog = double.NaN;

    private readonly List<(double Cpu, double Wall, int G0, int G1, int G2, double PauseNs, double Backlog, long Jitted, double JitMs, string Threads)> _runs = [];
    private Dictionary<int, (string Name, long Ticks)>? _threads;
    private int _g0, _g1, _g2;
    private long _jitted, _wall;
    private TimeSpan _jitTime, _pause;

    public void Begin()
    {
        _threads = ThreadCpu.Snapshot();
        _g0 = GC.CollectionCount(0); _g1 = GC.CollectionCount(1); _g2 = GC.CollectionCount(2);
        _jitted = System.Runtime.JitInfo.GetCompiledMethodCount();
        _jitTime = System.Runtime.JitInfo.GetCompilationTime();
        _pause = GC.GetTotalPauseDuration();
        Backlog = double.NaN;
        _wall = System.Diagnostics.Stopwatch.GetTimestamp();
    }

    public void End(double cpuNs, bool measured)
    {
        double wall = System.Diagnostics.Stopwatch.GetElapsedTime(_wall).TotalNanoseconds / n;
        long jitted = System.Runtime.JitInfo.GetCompiledMethodCount() - _jitted;
        double jitMs = (System.Runtime.JitInfo.GetCompilationTime() - _jitTime).TotalMilliseconds;
        int g0 = GC.CollectionCount(0) - _g0, g1 = GC.CollectionCount(1) - _g1, g2 = GC.CollectionCount(2) - _g2;
        double pauseNs = (GC.GetTotalPauseDuration() - _pause).TotalNanoseconds / n;
        string threads = ThreadCpu.Since(_threads!, n);
        if (measured) _runs.Add((cpuNs, wall, g0, g1, g2, pauseNs, Backlog, jitted, jitMs, threads));
    }

    public void Print()
    {
        for (int r = 0; r < _runs.Count; r++)
        {
            var x = _runs[r];
            Console.Error.WriteLine($"run {label} #{r}: cpu {x.Cpu:F0} ns/op, wall {x.Wall:F0} ns/op, gc {x.G0}/{x.G1}/{x.G2} paused {x.PauseNs:F0} ns/op, backlog {x.Backlog:P0}, " +
                $"jit {x.Jitted} methods {x.JitMs:F0} ms, threads {x.Threads}");
        }
    }
}
