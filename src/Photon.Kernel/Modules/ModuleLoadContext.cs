using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.Loader;

namespace Photon.Kernel.Modules;

/// <summary>
/// The collectible load context of one module. The kernel and the framework always resolve to the host's copies (so
/// <see cref="IKernelModule"/>, <see cref="Capabilities.KernelObject"/> and friends are the same types on both
/// sides); only the module's own assembly and the private dependencies shipped next to it load in here.
/// </summary>
internal sealed class ModuleLoadContext : AssemblyLoadContext
{
    private readonly string _location;
    private readonly IModuleImageSource _images;

    public ModuleLoadContext(string moduleName, string location, IModuleImageSource images)
        : base($"module:{moduleName}", isCollectible: true)
    {
        _location = location;
        _images = images;
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
        var image = _images.ReadDependency(_location, assemblyName.Name!);
        // Not shipped with the module: let the default context resolve it (a host assembly).
        if (!image.IsOk) return null;
        using var stream = new MemoryStream(image.Value, writable: false);
        return LoadFromStream(stream);
    }
}
