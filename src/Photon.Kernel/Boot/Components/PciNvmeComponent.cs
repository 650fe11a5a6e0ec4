using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Nvme;
using Photon.Kernel.Hal.Pci;

namespace Photon.Kernel.Boot.Components;

/// <summary>
/// The real NVMe driver on a PCI function the platform offers (<see cref="Hal.Platform.Pci"/>: VFIO inside the Photon
/// VM): opens the function (<paramref name="address"/>, or the first function of class 0x010802), brings the
/// controller up (<see cref="NvmeController"/>) and binds namespace 1 as <c>/dev/&lt;name&gt;</c> with Read, Write and
/// Delegate. Stopping revokes the device capability (cutting off every mount made through it), which shuts the
/// controller down (CC.SHN) and hands the function back.
/// </summary>
public sealed class PciNvmeComponent(string name, PciAddress? address = null, NvmeDriverOptions? options = null) : IKernelComponent
{
    private NvmeDisk? _disk;
    private CapabilityToken _capability;
    private PhotonKernel? _kernel;

    public string DeviceName { get; } = name;
    public string Name => $"nvme {DeviceName}";
    public NvmeIdentity? Identity => _disk?.Identity;

    public async ValueTask<Result<string>> StartAsync(PhotonKernel k, CancellationToken ct)
    {
        _kernel = k;
        if (k.Platform.Pci is not { } bus) return Errors.Of(ErrorCode.NotSupported, $"{k.Platform.Name} offers no PCI bus");
        var valid = Namespaces.NamespacePath.ValidateName(DeviceName);
        if (!valid.IsOk) return valid.Error;
        var at = address ?? bus.Enumerate().FirstOrDefault(f => f.ClassCode == 0x010802)?.Address;
        if (at is not { } where) return Errors.Of(ErrorCode.NotFound, "no NVMe controller on the PCI bus");
        var function = bus.Open(where);
        if (!function.IsOk) return function.Error;
        var controller = await NvmeController.StartAsync(function.Value, k.Timers, options, ct).ConfigureAwait(false);
        // The controller owns the function from here, failure included (it may have kept it open on purpose).
        if (!controller.IsOk) return controller.Error;
        var disk = NvmeDisk.Create(DeviceName, controller.Value, k.Capabilities);
        if (!disk.IsOk) { await controller.Value.DisposeAsync().ConfigureAwait(false); return disk.Error; }
        (_disk, _capability) = disk.Value;
        var bound = k.Namespaces.Bind(k.DevNamespace, DeviceName, _capability, Rights.Read | Rights.Write | Rights.Delegate);
        if (!bound.IsOk)
        {
            // A failed start is never stopped: give back the disk (and its controller) here, not at shutdown.
            k.Capabilities.Revoke(_capability);
            _capability = default;
            await _disk.DisposeAsync().ConfigureAwait(false);
            _disk = null;
            return bound.Error;
        }
        var id = _disk.Identity;
        return $"/dev/{DeviceName}: {where} '{id.Model}' sn {id.Serial} fw {id.Firmware} NVMe {id.Version}, {id.Blocks} blocks of {id.BlockSize} B, " +
            $"{id.IoQueues} I/O queue pairs, {(id.Interrupts ? "MSI-X" : "polled")}, max transfer {id.MaxTransferBytes / 1024} KiB";
    }

    public async ValueTask StopAsync()
    {
        if (_kernel is { } k && !_capability.IsNone)
        {
            k.Capabilities.Revoke(_capability);
            k.Namespaces.Unbind(k.DevNamespace, DeviceName);
            _capability = default;
        }
        if (_disk is not null) { await _disk.DisposeAsync().ConfigureAwait(false); _disk = null; }
        _kernel = null;
    }
}
