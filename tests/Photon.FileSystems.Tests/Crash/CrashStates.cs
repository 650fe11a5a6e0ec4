namespace Photon.FileSystems.Tests.Crash;

/// <summary>
/// A crash state: every write before log index <see cref="Cut"/> (a flush boundary: the flush at Cut-1 completed, or
/// the start of the log) plus the chosen subset <see cref="Extra"/> of the writes issued after it and before the next
/// flush — a disk may have persisted any of those, in any order.
/// </summary>
public sealed record CrashState(int Cut, int[] Extra, string Kind)
{
    public byte[] Build(byte[] baseImage, IReadOnlyList<BlockLogEntry> log)
    {
        var img = (byte[])baseImage.Clone();
        ApplyTo(img, log);
        return img;
    }

    /// <summary>Writes this state's log entries over <paramref name="image"/> (which must hold the base image).</summary>
    public void ApplyTo(byte[] image, IReadOnlyList<BlockLogEntry> log)
    {
        for (int i = 0; i < Cut; i++)
            if (log[i].Data is { } d) d.CopyTo(image, log[i].Offset);
        foreach (int i in Extra) log[i].Data!.CopyTo(image, log[i].Offset);
    }

    public override string ToString() => $"{Kind} cut={Cut} extra=[{string.Join(',', Extra)}]";
}

/// <summary>
/// Generates crash states from a recorded log, ALICE/CrashMonkey style: every flush boundary; within each epoch every
/// in-order prefix, every single dropped write, and seeded random subsets (reorderings) — deduplicated and bounded by
/// <c>maxStates</c> (at least half flush boundaries, each group sampled evenly so every epoch is represented).
/// </summary>
public static class CrashStates
{
    public static List<CrashState> Generate(IReadOnlyList<BlockLogEntry> log, int maxStates, int randomPerEpoch, int seed)
    {
        var boundaries = new List<int> { 0 };
        for (int i = 0; i < log.Count; i++) if (log[i].IsFlush) boundaries.Add(i + 1);
        var primary = new List<CrashState>();
        var secondary = new List<CrashState>();
        var seen = new HashSet<string>();
        var rng = new Random(seed);
        void Add(List<CrashState> into, CrashState s) { if (seen.Add(s.Cut + ":" + string.Join(',', s.Extra))) into.Add(s); }
        foreach (int cut in boundaries)
        {
            Add(primary, new CrashState(cut, [], "flush-boundary"));
            var epoch = new List<int>();
            for (int i = cut; i < log.Count && !log[i].IsFlush; i++) epoch.Add(i);
            if (epoch.Count == 0) continue;
            for (int n = 1; n < epoch.Count; n++) Add(secondary, new CrashState(cut, epoch.Take(n).ToArray(), "prefix"));
            if (epoch.Count > 1)
                foreach (int drop in epoch) Add(secondary, new CrashState(cut, epoch.Where(i => i != drop).ToArray(), "drop-one"));
            for (int r = 0; r < randomPerEpoch; r++)
            {
                var subset = epoch.Where(_ => rng.Next(2) == 0).ToArray();
                Add(secondary, new CrashState(cut, subset, "reorder"));
            }
        }
        var result = Even(primary, Math.Max(maxStates / 2, maxStates - secondary.Count));
        result.AddRange(Even(secondary, maxStates - result.Count));
        return result;
    }

    /// <summary>At most <paramref name="n"/> items spread evenly over the list.</summary>
    private static List<CrashState> Even(List<CrashState> list, int n)
    {
        if (n <= 0) return new List<CrashState>();
        if (list.Count <= n) return new List<CrashState>(list);
        var picked = new List<CrashState>(n);
        double step = (double)list.Count / n;
        for (int k = 0; k < n; k++) picked.Add(list[(int)(k * step)]);
        return picked;
    }
}
