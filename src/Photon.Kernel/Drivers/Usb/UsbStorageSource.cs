using Photon.Kernel.Hal;
using Photon.Kernel.Hal.Pci;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Drivers.Usb;

/// <summary>
/// Block storage from USB sticks on the machine's xHCI controllers, as the platform's <see cref="IBlockStorageSource"/>,
/// so the block-device and mount boot components put FAT on a USB stick unchanged. <c>usb</c> opens the stick on the
/// first xHCI function (class 0C0330) found; <c>usb:0000:00:06.0</c> the one on that controller. Other names go to
/// <paramref name="next"/> (the NVMe or image-file source). Bring-up is awaited synchronously (the interface is
/// synchronous); it waits only on kernel timers. Disposing the storage detaches the stick and stops the controller.
/// </summary>
public sealed class UsbStorageSource(IPciBus bus, IKernelTimers timers, IBlockStorageSource? next = null, XhciOptions? options = null)
    : IBlockStorageSource
{
    public const uint XhciClass = 0x0C0330;

    public Result<IBlockStorage> Open(string name, bool readOnly = false)
    {
        if (name != "usb" && !name.StartsWith("usb:", StringComparison.Ordinal))
            return next?.Open(name, readOnly) ?? Errors.Of(ErrorCode.NotFound, $"no storage named {name}");
        if (readOnly) return Errors.Of(ErrorCode.NotSupported, "read-only USB storage is not offered (open read-write, mount read-only)");
        PciFunctionInfo? info = name == "usb"
            ? bus.Enumerate().FirstOrDefault(f => f.ClassCode == XhciClass)
            : PciAddress.Parse(name[4..]) is { IsOk: true } a ? bus.Enumerate().FirstOrDefault(f => f.Address == a.Value) : null;
        if (info is null) return Errors.Of(ErrorCode.NotFound, $"no xHCI controller for {name}");
        if (info.ClassCode != XhciClass) return Errors.Of(ErrorCode.NotSupported, $"{info.Address} is not an xHCI controller");
        var function = bus.Open(info.Address);
        if (!function.TryGet(out var f)) return function.Error;
        var hc = XhciController.OpenAsync(f, timers, options).GetAwaiter().GetResult();
        if (!hc.TryGet(out var controller)) return hc.Error;
        var stick = UsbMassStorage.AttachAsync(controller).GetAwaiter().GetResult();
        if (!stick.TryGet(out var s))
        {
            controller.DisposeAsync().AsTask().GetAwaiter().GetResult();
            return stick.Error;
        }
        return new UsbBlockStorage(s, controller);
    }
}
