using System.Text.RegularExpressions;

namespace Photon.Kernel.Tests.Architecture;

/// <summary>
/// `photon trace` promises one span per system call: every public method of the syscall layer that takes the calling
/// process opens a <c>SyscallSpan</c> (directly, or by tracking the task it hands back). A syscall added without one
/// fails here, by name.
/// </summary>
public sealed class SyscallSpanCoverageTests
{
    private static readonly Regex Syscall = new(@"^\s*public (static )?(async )?[\w<>\[\](),?. ]+? (?<name>\w+)\(Process caller", RegexOptions.Multiline);

    [Fact]
    public void Every_syscall_opens_a_trace_span()
    {
        var files = new[] { "src/Photon.Kernel/Syscalls", "src/Photon.Net/Syscalls" }
            .SelectMany(d => Directory.GetFiles(Path.Combine(SolutionAssemblies.RepoRoot, d), "*Syscalls.cs"))
            .Where(f => Path.GetFileName(f) != "Syscalls.cs")
            .ToList();
        Assert.True(files.Count >= 12, $"found only {files.Count} syscall files");
        var missing = new List<string>();
        int checkedCount = 0;
        foreach (var file in files)
        {
            var text = File.ReadAllText(file);
            var matches = Syscall.Matches(text).ToList();
            for (int i = 0; i < matches.Count; i++)
            {
                // The method's text runs to the next syscall (or the end of the file); its first lines must open the span.
                int end = i + 1 < matches.Count ? matches[i + 1].Index : text.Length;
                var head = string.Join('\n', text[matches[i].Index..end].Split('\n').Take(6));
                checkedCount++;
                if (!head.Contains("SyscallSpan.", StringComparison.Ordinal)) missing.Add($"{Path.GetFileName(file)}: {matches[i].Groups["name"].Value}");
            }
        }
        Assert.True(checkedCount >= 90, $"checked only {checkedCount} syscalls");
        Assert.Empty(missing);
    }
}
