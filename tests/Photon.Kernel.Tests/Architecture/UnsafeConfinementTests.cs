using System.Text.RegularExpressions;

namespace Photon.Kernel.Tests.Architecture;

/// <summary>
/// Unsafe code lives only in the two small assemblies built for it (Photon.Memory.Native: the physical-memory arena;
/// Photon.Hal.Linux: libc calls of the host backend), as Asterinas keeps it in ostd; every other assembly is compiled
/// with unsafe code off, so the compiler refuses it there.
/// </summary>
public class UnsafeConfinementTests
{
    private static readonly string[] UnsafeAssemblies = ["Photon.Hal.Linux", "Photon.Memory.Native"];

    [Fact]
    public void Only_the_native_memory_and_Linux_host_assemblies_are_compiled_with_unsafe_code()
    {
        var compiledUnsafe = SolutionAssemblies.All
            .Where(a => AssemblyMetadata.Read(a).CompiledWithUnsafe)
            .Select(a => a.AssemblyName).Order().ToList();
        // Equality, so the check is also seen to detect the two that are allowed.
        Assert.Equal(UnsafeAssemblies, compiledUnsafe);
    }

    [Fact]
    public void Every_unsafe_context_in_those_assemblies_says_why_it_is_sound()
    {
        var missing = new List<string>();
        int seen = 0;
        foreach (var assembly in UnsafeAssemblies.Select(SolutionAssemblies.Named))
        {
            var dir = Path.Combine(SolutionAssemblies.RepoRoot, assembly.RelativeDirectory);
            foreach (var file in Directory.EnumerateFiles(dir, "*.cs", SearchOption.AllDirectories))
            {
                var rel = Path.GetRelativePath(SolutionAssemblies.RepoRoot, file).Replace('\\', '/');
                if (rel.Contains("/obj/") || rel.Contains("/bin/")) continue;
                var lines = File.ReadAllLines(file);
                for (int i = 0; i < lines.Length; i++)
                {
                    var code = lines[i].Split("//")[0];
                    if (!Regex.IsMatch(code, @"\bunsafe\b")) continue;
                    seen++;
                    // The comment sits right above the unsafe method, class or block (attributes may come between).
                    int j = i - 1;
                    while (j >= 0 && lines[j].TrimStart().StartsWith('[')) j--;
                    if (j < 0 || !lines[j].TrimStart().StartsWith("// Safety:", StringComparison.Ordinal))
                        missing.Add($"{rel}:{i + 1}");
                }
            }
        }
        Assert.True(seen > 0, "no unsafe code found in the unsafe assemblies: is the scan looking in the right place?");
        Assert.True(missing.Count == 0, "unsafe without a '// Safety:' comment right above: " + string.Join(", ", missing));
    }
}
