using System.Security.Cryptography;

namespace Photon.FileSystems.Tests.Crash;

/// <summary>
/// Groups crash states by the image they materialise to. Many states are byte-identical disks (a dropped write whose
/// bytes a later write in the same state covers, a write of bytes the disk already held), so each distinct image is
/// mounted and fsck'd once and only the per-state checks (what must be durable at that cut) run per state.
/// Only the byte ranges some log write touches can differ from the base image, so only those are restored and hashed.
/// </summary>
public static class CrashImageGroups
{
    /// <summary>The states grouped by identical image, groups in order of first appearance.</summary>
    public static List<List<CrashState>> ByImage(byte[] baseImage, IReadOnlyList<BlockLogEntry> log, IReadOnlyList<CrashState> states)
    {
        var ranges = TouchedRanges(log);
        var keys = new string[states.Count];
        Parallel.For(0, states.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
            () => (byte[])baseImage.Clone(),
            (i, _, image) =>
            {
                // Reuse one image buffer per worker: put the touched ranges back to the base, then apply the state.
                foreach (var (offset, length) in ranges) baseImage.AsSpan((int)offset, length).CopyTo(image.AsSpan((int)offset));
                states[i].ApplyTo(image, log);
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                foreach (var (offset, length) in ranges) hash.AppendData(image, (int)offset, length);
                keys[i] = Convert.ToHexString(hash.GetHashAndReset());
                return image;
            },
            _ => { });
        var groups = new List<List<CrashState>>();
        var byKey = new Dictionary<string, List<CrashState>>();
        for (int i = 0; i < states.Count; i++)
        {
            if (!byKey.TryGetValue(keys[i], out var group)) { group = new List<CrashState>(); byKey[keys[i]] = group; groups.Add(group); }
            group.Add(states[i]);
        }
        return groups;
    }

    /// <summary>The union of the byte ranges written anywhere in the log, sorted and merged.</summary>
    private static List<(long Offset, int Length)> TouchedRanges(IReadOnlyList<BlockLogEntry> log)
    {
        var spans = log.Where(e => !e.IsFlush).Select(e => (Start: e.Offset, End: e.Offset + e.Data!.Length)).OrderBy(s => s.Start).ToList();
        var merged = new List<(long Offset, int Length)>();
        long start = -1, end = -1;
        foreach (var s in spans)
        {
            if (s.Start <= end) { end = Math.Max(end, s.End); continue; }
            if (start >= 0) merged.Add((start, (int)(end - start)));
            (start, end) = s;
        }
        if (start >= 0) merged.Add((start, (int)(end - start)));
        return merged;
    }
}
