namespace Photon.FileSystems.Tests.Fat;

/// <summary>
/// Reads what <c>fsck.vfat -n</c> says about an image and sorts its findings into the ones FAT's write order allows
/// after a crash or a device failure — clusters allocated but reachable from no file, or from a file whose size needs
/// fewer (fsck frees the tail: lost clusters too), FAT copies that differ, and the advisory FSInfo free count — and
/// everything else (shared clusters, a size past its chain, damaged directories), which the order must never produce.
/// </summary>
public static class FatFsckFindings
{
    public sealed record Report(int ExitCode, List<string> Allowed, List<string> Forbidden, string Output)
    {
        public bool Clean => ExitCode == 0;
    }

    public static Report Check(string imagePath)
    {
        var fsck = FatImage.Run("fsck.vfat", ["-n", imagePath]);
        return Parse(fsck.ExitCode, fsck.Stdout + fsck.Stderr);
    }

    /// <summary>Sorts the findings of an <c>fsck.vfat -n</c> run already made (crash tests run it in batches).</summary>
    public static Report Parse(int exitCode, string output)
    {
        var allowed = new List<string>();
        var forbidden = new List<string>();
        var lines = output.Split('\n');
        bool previousAllowed = false;
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (IsNoise(line)) continue;
            // A finding about a file is its path line followed by the problem; judge the problem.
            if (line.StartsWith('/') && i + 1 < lines.Length && lines[i + 1].StartsWith("  ", StringComparison.Ordinal)) continue;
            string cls = new string(line.Where(c => !char.IsDigit(c)).ToArray()).Replace("  ", " ");
            // "Truncating file to N bytes." is the repair of the problem line before it and shares its verdict.
            bool ok = line.StartsWith("Truncating file to", StringComparison.Ordinal) ? previousAllowed : IsAllowed(line);
            (ok ? allowed : forbidden).Add(cls);
            previousAllowed = ok;
        }
        if (exitCode != 0 && allowed.Count == 0 && forbidden.Count == 0) forbidden.Add($"fsck.vfat exit {exitCode} with no finding");
        return new Report(exitCode, allowed, forbidden, output);
    }

    private static bool IsAllowed(string line) =>
        line.Contains("unused cluster", StringComparison.Ordinal)                 // "Reclaimed N unused cluster(s)" (lost clusters)
        || line.Contains("Free cluster summary", StringComparison.Ordinal)       // FSInfo's advisory count
        || line.Contains("FATs differ", StringComparison.Ordinal)                // a crash between the FAT copies
        || line.Contains("cluster chain length is >", StringComparison.Ordinal); // chain longer than the size: its tail is lost

    private static bool IsNoise(string line) =>
        line.Length == 0 || line.StartsWith("fsck.fat", StringComparison.Ordinal) || line.Contains("files,", StringComparison.Ordinal)
        || line.StartsWith("Leaving", StringComparison.Ordinal) || line.StartsWith("There are differences", StringComparison.Ordinal)
        || line.StartsWith("1)", StringComparison.Ordinal) || line.StartsWith("2)", StringComparison.Ordinal) || line.StartsWith("3)", StringComparison.Ordinal)
        || line.StartsWith("Not automatically", StringComparison.Ordinal) || line.StartsWith("Auto-", StringComparison.Ordinal)
        || line.StartsWith("Differences", StringComparison.Ordinal) || line.StartsWith("Offset", StringComparison.Ordinal)
        || line.StartsWith("Checking", StringComparison.Ordinal) || line.StartsWith("Starting", StringComparison.Ordinal)
        || line.StartsWith("Using first FAT", StringComparison.Ordinal) || char.IsDigit(line[0]);
}
