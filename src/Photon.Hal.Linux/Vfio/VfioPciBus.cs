using System.Globalization;
using Photon.Kernel.Hal.Pci;

namespace Photon.Kernel.Hal.Host.Vfio;

/// <summary>
/// The machine's PCI functions through Linux VFIO (the way SPDK and DPDK reach devices): enumeration reads sysfs;
/// opening a function unbinds it from its Linux driver, hands it to <c>vfio-pci</c> (<c>driver_override</c> +
/// <c>drivers_probe</c>), and gives it its own IOMMU container, so a device can reach only the DMA buffers allocated
/// for it. Needs the vfio, vfio_iommu_type1, vfio-pci modules and an IOMMU (the Photon VM boots with an emulated
/// Intel IOMMU); without them <see cref="Open"/> answers <c>NotSupported</c>.
/// </summary>
public sealed class VfioPciBus(string sysfsRoot = "/sys/bus/pci") : IPciBus
{
    private readonly HashSet<PciAddress> _open = [];
    private readonly Lock _gate = new();

    public IReadOnlyList<PciFunctionInfo> Enumerate()
    {
        var list = new List<PciFunctionInfo>();
        var devices = Path.Combine(sysfsRoot, "devices");
        if (!Directory.Exists(devices)) return list;
        foreach (var dir in Directory.GetDirectories(devices).Order(StringComparer.Ordinal))
        {
            var parsed = PciAddress.Parse(Path.GetFileName(dir));
            if (!parsed.IsOk) continue;
            if (ReadHex(dir, "vendor") is not { } vendor || ReadHex(dir, "device") is not { } device || ReadHex(dir, "class") is not { } cls)
                continue;
            list.Add(new PciFunctionInfo(parsed.Value, (ushort)vendor, (ushort)device, cls, BoundDriver(dir)));
        }
        return list;
    }

    public Result<IPciFunction> Open(PciAddress address)
    {
        var dir = Path.Combine(sysfsRoot, "devices", address.ToString());
        if (!Directory.Exists(dir)) return Result<IPciFunction>.Fail(ErrorCode.NotFound, $"no PCI function {address}");
        lock (_gate)
        {
            if (!_open.Add(address)) return Result<IPciFunction>.Fail(ErrorCode.Busy, $"{address} is already open");
        }
        var bound = BindToVfio(dir, address);
        var opened = bound.IsOk ? VfioPciFunction.Open(dir, address, Info(dir, address), () => { lock (_gate) _open.Remove(address); })
            : Result<IPciFunction>.Fail(bound.Error);
        if (!opened.IsOk) lock (_gate) _open.Remove(address);
        return opened;
    }

    private PciFunctionInfo Info(string dir, PciAddress address) =>
        new(address, (ushort)(ReadHex(dir, "vendor") ?? 0), (ushort)(ReadHex(dir, "device") ?? 0), ReadHex(dir, "class") ?? 0, BoundDriver(dir));

    /// <summary>Takes the function from its Linux driver and gives it to vfio-pci (the issue's "unbind first, then
    /// driver_override + drivers_probe").</summary>
    private Result BindToVfio(string dir, PciAddress address)
    {
        try
        {
            var current = BoundDriver(dir);
            if (current == "vfio-pci") return Result.Ok;
            if (!Directory.Exists(Path.Combine(sysfsRoot, "drivers", "vfio-pci")))
                return Result.Fail(ErrorCode.NotSupported, "vfio-pci is not loaded (no /sys/bus/pci/drivers/vfio-pci)");
            if (current is not null) File.WriteAllText(Path.Combine(dir, "driver", "unbind"), address.ToString());
            File.WriteAllText(Path.Combine(dir, "driver_override"), "vfio-pci");
            File.WriteAllText(Path.Combine(sysfsRoot, "drivers_probe"), address.ToString());
            return BoundDriver(dir) == "vfio-pci" ? Result.Ok
                : Result.Fail(ErrorCode.NotSupported, $"vfio-pci did not bind {address} (no IOMMU group?)");
        }
        catch (UnauthorizedAccessException e) { return Result.Fail(ErrorCode.AccessDenied, e.Message); }
        catch (IOException e) { return Result.Fail(ErrorCode.IoError, $"binding {address} to vfio-pci: {e.Message}"); }
    }

    private static string? BoundDriver(string dir) =>
        new DirectoryInfo(Path.Combine(dir, "driver")).LinkTarget is { } target ? Path.GetFileName(target) : null;

    private static uint? ReadHex(string dir, string name)
    {
        try
        {
            var text = File.ReadAllText(Path.Combine(dir, name)).Trim();
            if (text.StartsWith("0x", StringComparison.Ordinal)) text = text[2..];
            return uint.TryParse(text, NumberStyles.HexNumber, null, out var v) ? v : null;
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }
}
