using System.Diagnostics;

namespace Photon.Bench;

/// <summary>One benchmark figure: Photon's measurement next to a baseline measured in the same run.</summary>
/// <param name="LowerIsBetter">True for times/latencies, false for throughputs.</param>
public sealed record BenchResult(string Name, double Photon, string BaselineName, double Baseline, string Unit, bool LowerIsBetter)
{
    /// <summary>How many times better (&gt;1) or worse (&lt;1) Photon is than the baseline.</summary>
    public double Ratio => Baseline == 0 || Photon == 0 ? double.NaN : LowerIsBetter ? Baseline / Photon : Photon / Baseline;
}

public static class Measure
{
    /// <summary>Runs <paramref name="body"/> a few times after a warm-up and returns the median elapsed time.</summary>
    public static TimeSpan Median(Func<Task> body, int runs = 5, int warmups = 1)
    {
        for (int i = 0; i < warmups; i++) body().GetAwaiter().GetResult();
        var times = new List<TimeSpan>();
        for (int i = 0; i < runs; i++)
        {
            GC.Collect();
            var sw = Stopwatch.StartNew();
            body().GetAwaiter().GetResult();
            times.Add(sw.Elapsed);
        }
        times.Sort();
        return times[times.Count / 2];
    }

    public static TimeSpan Median(Action body, int runs = 5, int warmups = 1) =>
        Median(() => { body(); return Task.CompletedTask; }, runs, warmups);
}
