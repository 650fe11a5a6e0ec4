using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Block;
using Photon.Kernel.Hal;
using Photon.Kernel.Io;

namespace Photon.FileSystems.Tests;

/// <summary>Filesystem tests reach their images the way the kernel does: through the NVMe-style block driver (queue
/// pairs, capability-checked commands) over HAL storage.</summary>
public static class TestDevices
{
    public static IBlockDevice Nvme(IBlockStorage storage, int sectorSize = 512) => TryNvme(storage, sectorSize).Value;

    /// <summary>Storage smaller than one sector is refused by the driver itself (InvalidArgument).</summary>
    public static Result<IBlockDevice> TryNvme(IBlockStorage storage, int sectorSize = 512)
    {
        var started = NvmeBlockDevice.Start(storage, new CapabilityManager(), new NvmeOptions(SectorSize: sectorSize));
        if (!started.IsOk) return started.Error;
        return Result<IBlockDevice>.Success(started.Value.Device.Open(started.Value.Capability));
    }
}
