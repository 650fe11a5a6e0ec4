using System.Reflection;
using Photon.Kernel.Modules;

namespace Photon.Cli.Commands;

/// <summary>
/// The SHA-256 pins of the modules that ship with this build (FAT, ext4). The build computes them from the compiled
/// module assemblies and bakes them into the photon binary itself (Photon.Cli.csproj, target PinShippedModules), so a
/// module DLL swapped on disk after the build is refused at load time.
/// </summary>
public static class ShippedModules
{
    public const string MetadataPrefix = "Photon.ModulePin:";

    /// <summary>File name → digest, as baked in at build time.</summary>
    public static IReadOnlyDictionary<string, string> Digests { get; } = typeof(ShippedModules).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>()
        .Where(a => a.Key.StartsWith(MetadataPrefix, StringComparison.Ordinal) && a.Value is not null)
        .ToDictionary(a => a.Key[MetadataPrefix.Length..], a => a.Value!.ToLowerInvariant(), StringComparer.Ordinal);

    public static ModulePins Pins { get; } = ModulePins.Of(Digests.Values).Unwrap();

    /// <summary>In an ahead-of-time build of photon (which cannot load module code) the shipped modules are compiled
    /// in and start from here; in the JIT build there are none, and the pinned DLLs are loaded (and unloadable).</summary>
    public static BuiltInModules? BuiltIns { get; } = ModuleLoader.CanLoadImages ? null : new BuiltInModules(
    [
        new BuiltInModule("Photon.FileSystems.Fat", typeof(FileSystems.Fat.FatModule).Assembly, () => new FileSystems.Fat.FatModule()),
        new BuiltInModule("Photon.FileSystems.Ext4", typeof(FileSystems.Ext4.Ext4Module).Assembly, () => new FileSystems.Ext4.Ext4Module()),
    ]);
}
