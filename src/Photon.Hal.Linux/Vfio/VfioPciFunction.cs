using Photon.Kernel.Hal.Pci;
using static Photon.Kernel.Hal.Host.Vfio.VfioNative;

namespace Photon.Kernel.Hal.Host.Vfio;

/// <summary>
/// One PCI function owned through VFIO: its own container (type-1 v2 IOMMU) holding its IOMMU group, and the device
/// descriptor. Config space is read and written through the config region, BARs are mmapped, DMA buffers are
/// anonymous pinned memory mapped into the container at IOVAs handed out from 4 GiB up, and MSI-X vectors are eventfds.
/// </summary>
// Mappings made here are scrubbed (replaced with zero pages) before they are forgotten, never unmapped.
// Safety: every pointer here is a local handed to one ioctl/pread/pwrite of its own size, or such a mapping.
internal sealed unsafe class VfioPciFunction : IPciFunction
{
    private const ulong IovaBase = 1UL << 32;
    private readonly int _container, _group, _device;
    private readonly long _configOffset;
    private readonly Action _onClose;
    private readonly Lock _gate = new();
    private readonly List<VfioMmioRegion> _bars = [];
    private readonly List<VfioDmaBuffer> _buffers = [];
    private readonly List<VfioInterrupt> _interrupts = [];
    private ulong _nextIova = IovaBase;
    private bool _closed;

    private VfioPciFunction(PciFunctionInfo info, int container, int group, int device, long configOffset, Action onClose)
    {
        Info = info;
        _container = container;
        _group = group;
        _device = device;
        _configOffset = configOffset;
        _onClose = onClose;
    }

    public PciFunctionInfo Info { get; }

    internal static Result<IPciFunction> Open(string dir, PciAddress address, PciFunctionInfo info, Action onClose)
    {
        var groupLink = new DirectoryInfo(Path.Combine(dir, "iommu_group")).LinkTarget;
        if (groupLink is null) return Fail(ErrorCode.NotSupported, $"{address} has no IOMMU group (boot with an IOMMU and intel_iommu=on)");
        var groupPath = "/dev/vfio/" + Path.GetFileName(groupLink);
        int container = -1, group = -1, device = -1;
        Result<IPciFunction> Abort(ErrorCode code, string what)
        {
            int errno = Errno;
            if (device >= 0) close(device);
            if (group >= 0) close(group);
            if (container >= 0) close(container);
            return Fail(errno == 16 ? ErrorCode.Busy : errno is 1 or 13 ? ErrorCode.AccessDenied : code, $"{address}: {what} (errno {errno})");
        }
        container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
        if (container < 0) return Abort(ErrorCode.NotSupported, "cannot open /dev/vfio/vfio");
        if (ioctl(container, GetApiVersion, 0) != VfioApiVersion) return Abort(ErrorCode.NotSupported, "unknown VFIO API version");
        if (ioctl(container, CheckExtension, VfioType1v2Iommu) <= 0) return Abort(ErrorCode.NotSupported, "no type-1 v2 IOMMU");
        group = open(groupPath, O_RDWR | O_CLOEXEC);
        if (group < 0) return Abort(ErrorCode.NotSupported, $"cannot open {groupPath}");
        var status = new GroupStatus { ArgSz = (uint)sizeof(GroupStatus) };
        // Safety: status is a local the kernel fills within argsz bytes.
        if (ioctl(group, GroupGetStatus, (nint)(&status)) < 0) return Abort(ErrorCode.IoError, "VFIO_GROUP_GET_STATUS");
        if ((status.Flags & GroupFlagsViable) == 0) return Abort(ErrorCode.Busy, "IOMMU group not viable (another device in it has a host driver)");
        int c = container;
        // Safety: the kernel reads one int from a local.
        if (ioctl(group, GroupSetContainer, (nint)(&c)) < 0) return Abort(ErrorCode.IoError, "VFIO_GROUP_SET_CONTAINER");
        if (ioctl(container, SetIommu, VfioType1v2Iommu) < 0) return Abort(ErrorCode.IoError, "VFIO_SET_IOMMU");
        var name = System.Text.Encoding.ASCII.GetBytes(address + "\0");
        // Safety: name is a pinned NUL-terminated ASCII string for the duration of the call.
        fixed (byte* p = name) device = ioctl(group, GroupGetDeviceFd, (nint)p);
        if (device < 0) return Abort(ErrorCode.IoError, "VFIO_GROUP_GET_DEVICE_FD");
        var config = new RegionInfo { ArgSz = (uint)sizeof(RegionInfo), Index = PciConfigRegionIndex };
        // Safety: config is a local the kernel fills within argsz bytes.
        if (ioctl(device, DeviceGetRegionInfo, (nint)(&config)) < 0) return Abort(ErrorCode.IoError, "config region info");
        return Result<IPciFunction>.Success(new VfioPciFunction(info with { BoundDriver = "vfio-pci" }, container, group, device, (long)config.Offset, onClose));
    }

    private static Result<IPciFunction> Fail(ErrorCode code, string message) => Result<IPciFunction>.Fail(code, message);

    public uint ReadConfig32(int offset) { uint v = 0; Config(offset, (byte*)&v, 4, write: false); return v; }
    public ushort ReadConfig16(int offset) { ushort v = 0; Config(offset, (byte*)&v, 2, write: false); return v; }
    public byte ReadConfig8(int offset) { byte v = 0; Config(offset, &v, 1, write: false); return v; }
    public void WriteConfig32(int offset, uint value) => Config(offset, (byte*)&value, 4, write: true);
    public void WriteConfig16(int offset, ushort value) => Config(offset, (byte*)&value, 2, write: true);

    private void Config(int offset, byte* value, int width, bool write)
    {
        if (offset < 0 || offset + width > 4096 || offset % width != 0) throw new ArgumentOutOfRangeException(nameof(offset));
        lock (_gate)
        {
            if (_closed) throw new KernelException(ErrorCode.Closed, $"{Info.Address} is closed");
            // Safety: value points at a caller's local of exactly width bytes.
            nint n = write ? pwrite(_device, value, width, _configOffset + offset) : pread(_device, value, width, _configOffset + offset);
            if (n != width) throw new KernelException(ErrorCode.IoError, $"{Info.Address}: config access at 0x{offset:x} failed (errno {Errno})");
        }
    }

    public Result<IMmioRegion> MapBar(int index)
    {
        if (index is < 0 or > 5) return Result<IMmioRegion>.Fail(ErrorCode.NotFound, $"BAR{index} does not exist");
        lock (_gate)
        {
            if (_closed) return Result<IMmioRegion>.Fail(ErrorCode.Closed, $"{Info.Address} is closed");
            var info = new RegionInfo { ArgSz = (uint)sizeof(RegionInfo), Index = (uint)index };
            // Safety: info is a local the kernel fills within argsz bytes.
            if (ioctl(_device, DeviceGetRegionInfo, (nint)(&info)) < 0 || info.Size == 0)
                return Result<IMmioRegion>.Fail(ErrorCode.NotFound, $"{Info.Address}: BAR{index} is absent");
            if ((info.Flags & RegionInfoFlagMmap) == 0)
                return Result<IMmioRegion>.Fail(ErrorCode.NotFound, $"{Info.Address}: BAR{index} cannot be mapped (I/O port BAR?)");
            var address = mmap(0, (nuint)info.Size, PROT_READ | PROT_WRITE, MAP_SHARED, _device, (long)info.Offset);
            if (address == MapFailed) return Result<IMmioRegion>.Fail(ErrorCode.IoError, $"{Info.Address}: mmap BAR{index} failed (errno {Errno})");
            var bar = new VfioMmioRegion(address, (long)info.Size);
            _bars.Add(bar);
            return Result<IMmioRegion>.Success(bar);
        }
    }

    public Result<IDmaBuffer> AllocateDma(int bytes)
    {
        if (bytes <= 0 || bytes > 256 << 20) return Result<IDmaBuffer>.Fail(ErrorCode.OutOfRange, $"DMA buffer of {bytes} bytes");
        nuint length = (nuint)((bytes + 4095) & ~4095);
        lock (_gate)
        {
            if (_closed) return Result<IDmaBuffer>.Fail(ErrorCode.Closed, $"{Info.Address} is closed");
            var address = mmap(0, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
            if (address == MapFailed) return Result<IDmaBuffer>.Fail(ErrorCode.OutOfMemory, $"mmap {length} bytes (errno {Errno})");
            var map = new DmaMap { ArgSz = (uint)sizeof(DmaMap), Flags = DmaMapRead | DmaMapWrite, Vaddr = (ulong)address, Iova = _nextIova, Size = length };
            // Safety: map is a local the kernel reads within argsz bytes; the range it names is our mapping above.
            if (ioctl(_container, IommuMapDma, (nint)(&map)) < 0)
            {
                int errno = Errno;
                munmap(address, length);
                return Result<IDmaBuffer>.Fail(ErrorCode.IoError, $"VFIO_IOMMU_MAP_DMA of {length} bytes failed (errno {errno})");
            }
            var buffer = new VfioDmaBuffer(this, address, bytes, length, _nextIova);
            _nextIova += length;
            _buffers.Add(buffer);
            return Result<IDmaBuffer>.Success(buffer);
        }
    }

    /// <summary>Unmaps <paramref name="buffer"/> from the IOMMU (the device can no longer reach it), then scrubs the CPU side.</summary>
    internal void Release(VfioDmaBuffer buffer)
    {
        lock (_gate)
        {
            if (!_buffers.Remove(buffer)) return;
            Unmap(buffer);
        }
    }

    private void Unmap(VfioDmaBuffer buffer)
    {
        var unmap = new DmaUnmap { ArgSz = (uint)sizeof(DmaUnmap), Iova = buffer.DeviceAddress, Size = buffer.MappedLength };
        // Safety: unmap is a local the kernel reads within argsz bytes.
        ioctl(_container, IommuUnmapDma, (nint)(&unmap));
        buffer.Scrub();
    }

    public Result<IReadOnlyList<IDeviceInterrupt>> EnableMsix(int vectors)
    {
        lock (_gate)
        {
            if (_closed) return Result<IReadOnlyList<IDeviceInterrupt>>.Fail(ErrorCode.Closed, $"{Info.Address} is closed");
            if (_interrupts.Count > 0) return Result<IReadOnlyList<IDeviceInterrupt>>.Fail(ErrorCode.Busy, "MSI-X is already enabled");
            var irq = new IrqInfo { ArgSz = (uint)sizeof(IrqInfo), Index = PciMsixIrqIndex };
            // Safety: irq is a local the kernel fills within argsz bytes.
            if (ioctl(_device, DeviceGetIrqInfo, (nint)(&irq)) < 0 || irq.Count == 0)
                return Result<IReadOnlyList<IDeviceInterrupt>>.Fail(ErrorCode.NotSupported, $"{Info.Address} has no MSI-X");
            if (vectors < 1 || vectors > irq.Count)
                return Result<IReadOnlyList<IDeviceInterrupt>>.Fail(ErrorCode.OutOfRange, $"{vectors} vectors requested, the device has {irq.Count}");
            var fds = new int[vectors];
            for (int i = 0; i < vectors; i++)
            {
                fds[i] = eventfd(0, EFD_CLOEXEC);
                if (fds[i] < 0)
                {
                    for (int j = 0; j < i; j++) close(fds[j]);
                    return Result<IReadOnlyList<IDeviceInterrupt>>.Fail(ErrorCode.OutOfMemory, $"eventfd failed (errno {Errno})");
                }
            }
            int size = 20 + 4 * vectors;
            var set = stackalloc byte[size];
            ((uint*)set)[0] = (uint)size;
            ((uint*)set)[1] = IrqSetDataEventfd | IrqSetActionTrigger;
            ((uint*)set)[2] = PciMsixIrqIndex;
            ((uint*)set)[3] = 0;
            ((uint*)set)[4] = (uint)vectors;
            for (int i = 0; i < vectors; i++) ((int*)(set + 20))[i] = fds[i];
            // Safety: set is a stack buffer of exactly argsz bytes (header + one int per vector).
            if (ioctl(_device, DeviceSetIrqs, (nint)set) < 0)
            {
                int errno = Errno;
                foreach (var fd in fds) close(fd);
                return Result<IReadOnlyList<IDeviceInterrupt>>.Fail(ErrorCode.IoError, $"VFIO_DEVICE_SET_IRQS (MSI-X) failed (errno {errno})");
            }
            for (int i = 0; i < vectors; i++) _interrupts.Add(new VfioInterrupt(i, fds[i]));
            return Result<IReadOnlyList<IDeviceInterrupt>>.Success(_interrupts.ToArray());
        }
    }

    private void DisableMsix()
    {
        if (_interrupts.Count == 0) return;
        var set = stackalloc uint[5];
        set[0] = 20; set[1] = IrqSetDataNone | IrqSetActionTrigger; set[2] = PciMsixIrqIndex; set[3] = 0; set[4] = 0;
        // Safety: set is a stack buffer of exactly argsz bytes; count 0 with DATA_NONE disables the index.
        ioctl(_device, DeviceSetIrqs, (nint)set);
        foreach (var i in _interrupts) i.Dispose();
        _interrupts.Clear();
    }

    public Result Reset()
    {
        lock (_gate)
        {
            if (_closed) return Result.Fail(ErrorCode.Closed, $"{Info.Address} is closed");
            return ioctl(_device, DeviceReset, 0) < 0 ? Result.Fail(ErrorCode.NotSupported, $"{Info.Address}: VFIO_DEVICE_RESET failed (errno {Errno})") : Result.Ok;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_closed) return;
            _closed = true;
            DisableMsix();
            foreach (var b in _buffers) Unmap(b);
            _buffers.Clear();
            foreach (var bar in _bars) bar.Scrub();
            _bars.Clear();
            close(_device);
            close(_group);
            close(_container);
        }
        _onClose();
    }
}
