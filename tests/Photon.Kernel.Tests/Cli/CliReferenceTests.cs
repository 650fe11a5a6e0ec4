using Photon.Cli;

namespace Photon.Kernel.Tests.Cli;

/// <summary>docs/cli.md is the reference of every command: it must name each one in a heading and quote each usage
/// form exactly as `photon --help` prints it, so the reference cannot silently fall behind the program.</summary>
public sealed class CliReferenceTests
{
    private static string Reference()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Photon.sln"))) dir = dir.Parent;
        Assert.NotNull(dir);
        return File.ReadAllText(Path.Combine(dir.FullName, "docs", "cli.md"));
    }

    /// <summary>The usage forms of one command: one per line or per " | photon " alternative, trailing remarks (after
    /// two spaces) dropped.</summary>
    private static IEnumerable<string> Forms(string usage) =>
        usage.Split('\n').SelectMany(line => line.Split(" | photon ").Select((f, i) => i == 0 ? f : "photon " + f))
            .Select(f => f.Split("  ")[0].Trim())
            .Where(f => f.Length > 0);

    [Fact]
    public void Every_command_has_a_heading_and_every_usage_form_is_quoted()
    {
        var doc = Reference();
        var headings = doc.Split('\n').Where(l => l.StartsWith("## ", StringComparison.Ordinal)).ToList();
        var missing = new List<string>();
        foreach (var (name, usage) in CliApp.Reference)
        {
            if (!headings.Any(h => h.Contains($"photon {name}", StringComparison.Ordinal))) missing.Add($"heading for '{name}'");
            missing.AddRange(Forms(usage).Where(f => !doc.Contains(f, StringComparison.Ordinal)).Select(f => $"usage '{f}'"));
        }
        Assert.True(missing.Count == 0, "docs/cli.md lacks: " + string.Join("; ", missing));
    }

    [Fact]
    public void The_reference_documents_no_command_that_does_not_exist()
    {
        var names = CliApp.Reference.Select(c => c.Name).ToHashSet();
        var documented = Reference().Split('\n').Where(l => l.StartsWith("## photon ", StringComparison.Ordinal))
            .SelectMany(l => l[3..].Split(" / ")).Select(h => h.Split(' ')[1]);
        Assert.All(documented, d => Assert.Contains(d, names));
    }
}
