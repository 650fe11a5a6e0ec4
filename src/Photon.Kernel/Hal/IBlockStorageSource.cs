namespace Photon.Kernel.Hal;

/// <summary>
/// Where the platform's persistent storage comes from: opens a storage unit by the platform's name for it (an image
/// file path on the host backend, a controller/namespace id on bare metal). Block-device boot components open theirs here.
/// </summary>
public interface IBlockStorageSource
{
    /// <summary>Opens <paramref name="name"/>; <c>NotFound</c> when it does not exist, <c>AccessDenied</c> when the
    /// platform refuses it.</summary>
    Result<IBlockStorage> Open(string name, bool readOnly = false);
}
