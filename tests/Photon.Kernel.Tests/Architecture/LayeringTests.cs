using System.Text.RegularExpressions;

namespace Photon.Kernel.Tests.Architecture;

/// <summary>
/// Keeps the kernel portable and auditable: host APIs (files, sockets, threads, host timers) only under Hal/, and
/// unsafe code only under Memory/ and Hal/. These read the source tree, so they fail the build the moment a violation lands.
/// </summary>
public class LayeringTests
{
    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Photon.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Photon.sln not found above the test binaries");
    }

    private static IEnumerable<(string Path, string Rel, string Text)> KernelSources()
    {
        var src = Path.Combine(RepoRoot(), "src");
        foreach (var f in Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories))
        {
            var rel = Path.GetRelativePath(src, f).Replace('\\', '/');
            if (rel.Contains("/obj/") || rel.Contains("/bin/") || rel.StartsWith("Photon.Cli/")) continue;
            yield return (f, rel, File.ReadAllText(f));
        }
    }

    private static bool InHal(string rel) => rel.StartsWith("Photon.Kernel/Hal/") || rel.StartsWith("Photon.Hal.Linux/");

    private static string StripComments(string text) =>
        Regex.Replace(text, @"//.*?$|/\*.*?\*/", "", RegexOptions.Multiline | RegexOptions.Singleline);

    [Fact]
    public void Unsafe_code_is_confined_to_Memory_and_Hal()
    {
        var offenders = KernelSources()
            .Where(s => !InHal(s.Rel) && !s.Rel.StartsWith("Photon.Kernel/Memory/") && !s.Rel.StartsWith("Photon.Memory.Native/"))
            .Where(s => Regex.IsMatch(StripComments(s.Text), @"\bunsafe\b|\bstackalloc\b.*\*|\bfixed\s*\("))
            .Select(s => s.Rel).ToList();
        Assert.True(offenders.Count == 0, "unsafe code outside Memory/ and Hal/: " + string.Join(", ", offenders));
    }

    [Fact]
    public void Host_APIs_are_used_only_under_Hal()
    {
        var forbidden = new Regex(
            @"\bSystem\.IO\.(File|Directory|FileStream|RandomAccess)\b|\bnew\s+FileStream\b|\bFile\.(Open|Read|Write|Create)|" +
            @"\bSystem\.Net\.Sockets\b|\bnew\s+Socket\b|\bnew\s+Thread\b|\bThreadPool\.|\bTask\.Run\b|\bTask\.Delay\b|" +
            @"\bnew\s+(System\.Threading\.)?Timer\b|\bDllImport\b|\bLibraryImport\b|\bThread\.Sleep\b");
        var offenders = KernelSources()
            .Where(s => !InHal(s.Rel))
            .SelectMany(s => forbidden.Matches(StripComments(s.Text)).Select(m => $"{s.Rel}: {m.Value}"))
            .ToList();
        Assert.True(offenders.Count == 0, "host APIs above the HAL: " + string.Join("; ", offenders));
    }
}
