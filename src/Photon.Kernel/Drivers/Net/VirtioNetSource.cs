using Photon.Kernel.Hal;
using Photon.Kernel.Hal.Pci;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Drivers.Net;

/// <summary>
/// Network devices from the machine's PCI bus: the platform's <see cref="INetworkDeviceSource"/> when Photon owns real
/// devices (the VM of #17), so the network boot component brings the stack up on a virtio-net NIC unchanged. A name is a
/// PCI address (<c>0000:00:04.0</c>) or <c>virtio-net</c> for the first modern virtio-net function (1AF4:1041). The
/// device's own MAC is used (the requested one only when the device has none); <paramref name="queues"/> caps the
/// queue pairs. Bring-up is awaited synchronously, as the interface is synchronous; it waits only on kernel timers.
/// </summary>
public sealed class VirtioNetSource(IPciBus bus, IKernelTimers timers, VirtioNetOptions? options = null) : INetworkDeviceSource
{
    public const ushort VirtioVendor = 0x1AF4, VirtioNetModern = 0x1041;
    private readonly List<VirtioNetDevice> _opened = new();

    /// <summary>The devices this source brought up (for their counters: <see cref="VirtioNetDevice.Stats"/>).</summary>
    public IReadOnlyList<VirtioNetDevice> Opened { get { lock (_opened) return _opened.ToList(); } }

    public Result<INetworkDevice> Open(string name, ReadOnlySpan<byte> mac, int queues)
    {
        PciAddress address;
        if (name == "virtio-net")
        {
            var found = bus.Enumerate().FirstOrDefault(f => f.VendorId == VirtioVendor && f.DeviceId == VirtioNetModern);
            if (found is null) return Errors.Of(ErrorCode.NotFound, "no modern virtio-net PCI function");
            address = found.Address;
        }
        else
        {
            var parsed = PciAddress.Parse(name);
            if (!parsed.TryGet(out address)) return parsed.Error;
            var info = bus.Enumerate().FirstOrDefault(f => f.Address == address);
            if (info is null) return Errors.Of(ErrorCode.NotFound, $"no PCI function {name}");
            if (info.VendorId != VirtioVendor || info.DeviceId != VirtioNetModern)
                return Errors.Of(ErrorCode.NotSupported, $"{name} is {info.VendorId:x4}:{info.DeviceId:x4}, not a modern virtio-net device");
        }
        var function = bus.Open(address);
        if (!function.TryGet(out var f)) return function.Error;
        var o = (options ?? new VirtioNetOptions()) with { MaxQueuePairs = Math.Max(1, queues) };
        var opened = VirtioNetDevice.OpenAsync(f, timers, o).GetAwaiter().GetResult();
        if (!opened.IsOk) return opened.Error;
        lock (_opened) _opened.Add(opened.Value);
        return opened.Value;
    }
}
