namespace Photon.Bench;

/// <summary>CPU time of the process's threads grouped by name (<c>/proc/self/task/*/comm</c>, digits dropped), for the
/// costs rows' run diagnostics: the spawner, the kernel CPUs, the pool's workers and the GC apart.</summary>
internal static class ThreadCpu
{
    private static readonly double NsPerTick = 1e9 / 100; // USER_HZ

    public static Dictionary<int, (string Name, long Ticks)> Snapshot()
    {
        var all = new Dictionary<int, (string, long)>();
        foreach (var dir in Directory.GetDirectories("/proc/self/task"))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                long ticks = long.Parse(fields[11]) + long.Parse(fields[12]); // utime, stime (fields 14 and 15)
                var name = new string(File.ReadAllText(Path.Combine(dir, "comm")).Trim().Where(c => !char.IsDigit(c)).ToArray());
                all[int.Parse(Path.GetFileName(dir))] = (name, ticks);
            }
            catch (IOException) { } // a thread that exited meanwhile
        }
        return all;
    }

    /// <summary>Per group, CPU ns per operation since <paramref name="before"/> (threads born since count from zero).</summary>
    public static string Since(Dictionary<int, (string Name, long Ticks)> before, int n)
    {
        var groups = new SortedDictionary<string, double>(StringComparer.Ordinal);
        foreach (var (tid, (name, ticks)) in Snapshot())
        {
            long d = ticks - (before.TryGetValue(tid, out var b) ? b.Ticks : 0);
            if (d > 0) groups[name] = groups.GetValueOrDefault(name) + d * NsPerTick / n;
        }
        return string.Join(", ", groups.Select(g => $"{g.Key} {g.Value:F0}"));
    }
}
