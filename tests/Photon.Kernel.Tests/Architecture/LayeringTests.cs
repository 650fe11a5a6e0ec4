namespace Photon.Kernel.Tests.Architecture;

/// <summary>
/// Keeps the kernel portable: it never references the host backend, and nothing above the HAL uses a host API
/// (files, sockets, threads, host timers, the console, P/Invoke). These read the compiled assemblies of Photon.sln, so a
/// violation fails whatever wrote it, however it is spelled in the source.
/// </summary>
public class LayeringTests
{
    private const string HostBackend = "Photon.Hal.Linux";
    private const string NativeMemory = "Photon.Memory.Native";

    /// <summary>Types only a HAL backend may touch.</summary>
    private static readonly string[] HostTypes =
    [
        "System.IO.File", "System.IO.FileInfo", "System.IO.FileStream", "System.IO.RandomAccess", "System.IO.Directory",
        "System.IO.DirectoryInfo", "System.IO.FileSystemInfo", "System.IO.FileSystemWatcher", "System.IO.DriveInfo",
        "Microsoft.Win32.SafeHandles.SafeFileHandle",
        "System.Threading.Thread", "System.Threading.ThreadPool", "System.Threading.Timer", "System.Timers.Timer",
        "System.Threading.PeriodicTimer",
        "System.Console", "System.Diagnostics.Process",
        "System.Runtime.InteropServices.PosixSignalRegistration", "System.Runtime.InteropServices.NativeLibrary",
        "System.Runtime.InteropServices.NativeMemory", "System.Runtime.InteropServices.Marshal",
    ];

    /// <summary>Whole namespaces only a HAL backend may touch.</summary>
    private static readonly string[] HostNamespaces =
        ["System.Net.Sockets.", "System.Net.Http.", "System.Net.NetworkInformation.", "System.IO.Pipes.", "System.IO.MemoryMappedFiles."];

    /// <summary>Members that run code on host threads or host timers instead of the kernel scheduler.</summary>
    private static readonly string[] HostMembers = ["System.Threading.Tasks.Task::Run", "System.Threading.Tasks.Task::Delay"];

    private static bool IsFramework(string reference) =>
        reference is "System" or "mscorlib" or "netstandard" || reference.StartsWith("System.", StringComparison.Ordinal);

    private static List<string> HostApiUses(AssemblyMetadata md) =>
    [
        .. md.TypeReferences.Where(t => HostTypes.Contains(t) || HostNamespaces.Any(ns => t.StartsWith(ns, StringComparison.Ordinal))),
        .. md.MemberReferences.Where(HostMembers.Contains),
        .. md.PInvokes.Select(p => "P/Invoke " + p),
    ];

    [Fact]
    public void The_kernel_references_only_the_framework_and_the_native_memory_assembly()
    {
        var kernel = AssemblyMetadata.Read(SolutionAssemblies.Named("Photon.Kernel"));
        Assert.DoesNotContain(HostBackend, kernel.References);
        Assert.Contains(NativeMemory, kernel.References); // the scan sees references at all
        var others = kernel.References.Where(r => !IsFramework(r) && r != NativeMemory).ToList();
        Assert.True(others.Count == 0, "Photon.Kernel references " + string.Join(", ", others));
    }

    [Fact]
    public void Only_the_CLI_the_tests_and_the_benchmarks_reference_the_host_backend()
    {
        var offenders = SolutionAssemblies.All
            .Where(a => a.IsSource && a.AssemblyName is not ("photon" or HostBackend))
            .Where(a => AssemblyMetadata.Read(a).References.Contains(HostBackend))
            .ToList();
        Assert.True(offenders.Count == 0, "libraries that reference the host backend: " + string.Join(", ", offenders));
        Assert.Contains(HostBackend, AssemblyMetadata.Read(SolutionAssemblies.Named("photon")).References);
    }

    [Fact]
    public void The_native_memory_assembly_sits_below_the_kernel_and_references_only_the_framework()
    {
        var refs = AssemblyMetadata.Read(SolutionAssemblies.Named(NativeMemory)).References;
        Assert.All(refs, r => Assert.True(IsFramework(r), $"{NativeMemory} references {r}"));
    }

    [Fact]
    public void No_library_above_the_HAL_uses_a_host_API()
    {
        // The kernel and everything built on it (network stack, filesystems, sandbox); the CLI is a host program.
        var libraries = SolutionAssemblies.All
            .Where(a => a.IsSource && a.AssemblyName is not ("photon" or HostBackend or NativeMemory))
            .ToList();
        Assert.Contains(libraries, a => a.AssemblyName == "Photon.Kernel");
        var offenders = libraries
            .SelectMany(a => HostApiUses(AssemblyMetadata.Read(a)).Select(use => $"{a}: {use}"))
            .ToList();
        Assert.True(offenders.Count == 0, "host APIs above the HAL: " + string.Join("; ", offenders));
    }

    [Fact]
    public void The_host_API_scan_finds_what_the_host_backend_uses()
    {
        // A scan that finds nothing anywhere would prove nothing: the backend must light it up.
        var uses = HostApiUses(AssemblyMetadata.Read(SolutionAssemblies.Named(HostBackend)));
        Assert.Contains("System.IO.FileStream", uses);
        Assert.Contains("System.IO.RandomAccess", uses);
        Assert.Contains("System.Threading.Thread", uses);
        Assert.Contains("System.Threading.Timer", uses);
        Assert.Contains("System.Console", uses);
        Assert.Contains(uses, u => u.StartsWith("P/Invoke Photon.Kernel.Hal.Host.Net.LinuxNet::", StringComparison.Ordinal));
    }
}
