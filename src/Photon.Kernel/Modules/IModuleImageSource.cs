namespace Photon.Kernel.Modules;

/// <summary>
/// Where module assembly images come from (HAL boundary): the host backend reads DLL files, a bare-metal build would
/// read them from a boot archive. Reads are synchronous because assembly resolution in the runtime is; images are
/// small and read once per load.
/// </summary>
public interface IModuleImageSource
{
    /// <summary>The module's own assembly image at <paramref name="location"/>.</summary>
    Result<byte[]> ReadModule(string location);

    /// <summary>
    /// A private dependency of the module at <paramref name="location"/> (an assembly shipped next to it), or
    /// <see cref="ErrorCode.NotFound"/> when the module ships no such assembly.
    /// </summary>
    Result<byte[]> ReadDependency(string location, string assemblyName);
}
