using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.Loader;

namespace Photon.Kernel.Modules;

/// <summary>
/// The collectible load context of one module. The kernel and the framework always resolve to the host's copies (so
/// <see cref="IKernelModule"/>, <see cref="Capabilities.KernelObject"/> and friends are the same types on both
/// sides); only the module's own assembly and the private dependencies checked into its <see cref="ModuleImageSet"/>
/// load in here. This is a unit of code unloading, not a security boundary: code in it has the whole runtime.
/// </summary>
internal sealed class ModuleLoadContext : AssemblyLoadContext
{
    private readonly IReadOnlyDictionary<string, byte[]> _dependencies;

    public ModuleLoadContext(string moduleName, IReadOnlyDictionary<string, byte[]> dependencies)
        : base($"module:{moduleName}", isCollectible: true)
    {
        _dependencies = dependencies;
    }

    /// <summary>Assemblies that must be shared with the host: the kernel contract and the framework.</summary>
    public static bool IsShared(string? name) =>
        name is null or "Photon.Kernel" or "System" or "mscorlib" or "netstandard"
        || name.StartsWith("System.", StringComparison.Ordinal)
        || name.StartsWith("Microsoft.", StringComparison.Ordinal);

    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Only reached through ModuleLoader.LoadAsync, which is RequiresUnreferencedCode.")]
    protected override Assembly? Load(AssemblyName assemblyName)
    {
        if (IsShared(assemblyName.Name)) return null;
        // Not shipped with the module (so not in the checked set): let the default context resolve it (a host assembly).
        if (assemblyName.Name is null || !_dependencies.TryGetValue(assemblyName.Name, out var image)) return null;
        using var stream = new MemoryStream(image, writable: false);
        return LoadFromStream(stream);
    }
}
