using Photon.Kernel.Hal.Host.Vfio;
using Photon.Kernel.Hal.Pci;

namespace Photon.Kernel.Hal.Host.Uio;

/// <summary>
/// PCI functions through <c>uio_pci_generic</c>, the fallback when there is no IOMMU (<see cref="PciBackend"/>):
/// opening a function unbinds it from its Linux driver and hands it to uio_pci_generic (<c>driver_override</c> +
/// <c>drivers_probe</c>, as for VFIO); config space is the sysfs <c>config</c> file, BARs are the sysfs
/// <c>resourceN</c> files mmapped, DMA buffers are locked hugepages at their physical addresses. Nothing confines the
/// device's DMA. Enumeration is the same sysfs walk as VFIO's.
/// </summary>
public sealed class UioPciBus(string sysfsRoot = "/sys/bus/pci") : IPciBus
{
    public const string Driver = "uio_pci_generic";
    private readonly VfioPciBus _listing = new(sysfsRoot);
    private readonly HashSet<PciAddress> _open = [];
    private readonly Lock _gate = new();

    public IReadOnlyList<PciFunctionInfo> Enumerate() => _listing.Enumerate();

    public Result<IPciFunction> Open(PciAddress address)
    {
        var dir = Path.Combine(sysfsRoot, "devices", address.ToString());
        var info = Enumerate().FirstOrDefault(f => f.Address == address);
        if (info is null || !Directory.Exists(dir)) return Result<IPciFunction>.Fail(ErrorCode.NotFound, $"no PCI function {address}");
        lock (_gate)
        {
            if (!_open.Add(address)) return Result<IPciFunction>.Fail(ErrorCode.Busy, $"{address} is already open");
        }
        var bound = Bind(dir, address);
        var opened = bound.IsOk ? UioPciFunction.Open(dir, info with { BoundDriver = Driver }, () => { lock (_gate) _open.Remove(address); })
            : Result<IPciFunction>.Fail(bound.Error);
        if (!opened.IsOk) lock (_gate) _open.Remove(address);
        return opened;
    }

    private Result Bind(string dir, PciAddress address)
    {
        try
        {
            var current = new DirectoryInfo(Path.Combine(dir, "driver")).LinkTarget is { } t ? Path.GetFileName(t) : null;
            if (current == Driver) return Result.Ok;
            if (!Directory.Exists(Path.Combine(sysfsRoot, "drivers", Driver)))
                return Result.Fail(ErrorCode.NotSupported, $"{Driver} is not loaded (no {sysfsRoot}/drivers/{Driver})");
            if (current is not null) File.WriteAllText(Path.Combine(dir, "driver", "unbind"), address.ToString());
            File.WriteAllText(Path.Combine(dir, "driver_override"), Driver);
            File.WriteAllText(Path.Combine(sysfsRoot, "drivers_probe"), address.ToString());
            var now = new DirectoryInfo(Path.Combine(dir, "driver")).LinkTarget is { } n ? Path.GetFileName(n) : null;
            return now == Driver ? Result.Ok : Result.Fail(ErrorCode.NotSupported, $"{Driver} did not bind {address}");
        }
        catch (UnauthorizedAccessException e) { return Result.Fail(ErrorCode.AccessDenied, e.Message); }
        catch (IOException e) { return Result.Fail(ErrorCode.IoError, $"binding {address} to {Driver}: {e.Message}"); }
    }
}
