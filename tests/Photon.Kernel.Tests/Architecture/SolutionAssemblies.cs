using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Photon.Kernel.Tests.Architecture;

/// <summary>One project of Photon.sln and the assembly its build produced.</summary>
internal sealed record BuiltAssembly(string Project, string RelativeDirectory, string AssemblyName, string Path)
{
    /// <summary>Shipped code (src/), as opposed to tests, test modules and benchmarks.</summary>
    public bool IsSource => RelativeDirectory.StartsWith("src/", StringComparison.Ordinal);

    public override string ToString() => AssemblyName;
}

/// <summary>
/// Every project listed in Photon.sln with the assembly it compiled to (bin/&lt;configuration&gt;/&lt;tfm&gt;/, the
/// configuration and framework these tests were built with), so a project added later is fenced without editing the tests.
/// </summary>
internal static class SolutionAssemblies
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static IReadOnlyList<BuiltAssembly> All { get; } = Load();

    public static BuiltAssembly Named(string assemblyName) =>
        All.SingleOrDefault(a => a.AssemblyName == assemblyName)
        ?? throw new InvalidOperationException($"no project in Photon.sln builds {assemblyName}");

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(System.IO.Path.Combine(dir.FullName, "Photon.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Photon.sln not found above the test binaries");
    }

    private static List<BuiltAssembly> Load()
    {
        // The tests run from <project>/bin/<configuration>/<tfm>/.
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(System.IO.Path.DirectorySeparatorChar));
        string tfm = output.Name, configuration = output.Parent!.Name;
        var list = new List<BuiltAssembly>();
        var sln = File.ReadAllText(System.IO.Path.Combine(RepoRoot, "Photon.sln"));
        foreach (Match m in Regex.Matches(sln, @"^Project\(""\{[^}]+\}""\) = ""([^""]+)"", ""([^""]+\.csproj)""", RegexOptions.Multiline))
        {
            var csproj = System.IO.Path.Combine(RepoRoot, m.Groups[2].Value.Replace('\\', '/'));
            var dir = System.IO.Path.GetDirectoryName(csproj)!;
            var name = XDocument.Load(csproj).Descendants("AssemblyName").FirstOrDefault()?.Value
                ?? System.IO.Path.GetFileNameWithoutExtension(csproj);
            var dll = System.IO.Path.Combine(dir, "bin", configuration, tfm, name + ".dll");
            if (!File.Exists(dll))
                throw new InvalidOperationException($"{dll} is missing: build the solution (dotnet build Photon.sln -c {configuration}) first");
            list.Add(new BuiltAssembly(m.Groups[1].Value, System.IO.Path.GetRelativePath(RepoRoot, dir).Replace('\\', '/') + "/", name, dll));
        }
        if (list.Count == 0) throw new InvalidOperationException("no projects found in Photon.sln");
        return list;
    }
}
