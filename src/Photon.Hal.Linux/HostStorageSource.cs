namespace Photon.Kernel.Hal.Host;

/// <summary>The host's storage: a storage unit's name is the path of an image file.</summary>
public sealed class HostStorageSource : IBlockStorageSource
{
    public Result<IBlockStorage> Open(string name, bool readOnly = false)
    {
        var opened = HostImageStorage.Open(name, readOnly);
        if (!opened.IsOk) return opened.Error;
        return opened.Value;
    }
}
