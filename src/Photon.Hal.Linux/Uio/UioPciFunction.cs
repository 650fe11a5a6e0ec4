using Microsoft.Win32.SafeHandles;
using Photon.Kernel.Hal.Host.Vfio;
using Photon.Kernel.Hal.Pci;
using static Photon.Kernel.Hal.Host.Vfio.VfioNative;

namespace Photon.Kernel.Hal.Host.Uio;

/// <summary>
/// One PCI function bound to <c>uio_pci_generic</c>: config space through the sysfs <c>config</c> file, memory BARs
/// mmapped from <c>resourceN</c>, DMA buffers as locked 2 MiB hugepages (physically contiguous by construction; a
/// larger buffer is checked page by page) — or one locked 4 KiB page when no hugepage is free — handed to the device at
/// the physical address <c>/proc/self/pagemap</c> gives. Buffers up to a hugepage are carved from a shared hugepage
/// (<see cref="UioHugepageArena"/>: drivers allocate many small rings and slots, and hugepages are few); a larger one
/// gets its own. uio_pci_generic offers only legacy INTx, so there is no MSI-X: drivers poll.
/// </summary>
// Mappings made here are scrubbed (replaced with zero pages) before they are forgotten, never unmapped.
// Safety: every pointer here is a mapping of the stated size handed to VfioMmioRegion/UioDmaBuffer, which bounds-check.
internal sealed unsafe class UioPciFunction : IPciFunction
{
    private const int MAP_HUGETLB = 0x40000;
    private const int HugePage = 2 << 20;
    private readonly string _dir;
    private readonly SafeFileHandle _config;
    private readonly Action _onClose;
    private readonly Lock _gate = new();
    private readonly List<VfioMmioRegion> _bars = [];
    private readonly List<UioDmaBuffer> _buffers = [];
    private UioHugepageArena? _arena;
    private bool _closed;

    private UioPciFunction(PciFunctionInfo info, string dir, SafeFileHandle config, Action onClose)
    {
        Info = info;
        _dir = dir;
        _config = config;
        _onClose = onClose;
    }

    public PciFunctionInfo Info { get; }

    internal static Result<IPciFunction> Open(string dir, PciFunctionInfo info, Action onClose)
    {
        try
        {
            var config = File.OpenHandle(Path.Combine(dir, "config"), FileMode.Open, FileAccess.ReadWrite);
            return Result<IPciFunction>.Success(new UioPciFunction(info, dir, config, onClose));
        }
        catch (UnauthorizedAccessException e) { return Result<IPciFunction>.Fail(ErrorCode.AccessDenied, e.Message); }
        catch (IOException e) { return Result<IPciFunction>.Fail(ErrorCode.IoError, $"{info.Address}: config space: {e.Message}"); }
    }

    public uint ReadConfig32(int offset) => BitConverter.ToUInt32(Config(offset, 4));
    public ushort ReadConfig16(int offset) => BitConverter.ToUInt16(Config(offset, 2));
    public byte ReadConfig8(int offset) => Config(offset, 1)[0];
    public void WriteConfig32(int offset, uint value) => Config(offset, 4, BitConverter.GetBytes(value));
    public void WriteConfig16(int offset, ushort value) => Config(offset, 2, BitConverter.GetBytes(value));

    private byte[] Config(int offset, int width, byte[]? write = null)
    {
        if (offset < 0 || offset + width > 4096 || offset % width != 0) throw new ArgumentOutOfRangeException(nameof(offset));
        lock (_gate)
        {
            if (_closed) throw new KernelException(ErrorCode.Closed, $"{Info.Address} is closed");
            var buffer = write ?? new byte[width];
            try
            {
                if (write is not null) RandomAccess.Write(_config, buffer, offset);
                else if (RandomAccess.Read(_config, buffer, offset) != width) throw new IOException("short read");
            }
            catch (IOException e) { throw new KernelException(ErrorCode.IoError, $"{Info.Address}: config access at 0x{offset:x} failed: {e.Message}"); }
            return buffer;
        }
    }

    public Result<IMmioRegion> MapBar(int index)
    {
        if (index is < 0 or > 5) return Result<IMmioRegion>.Fail(ErrorCode.NotFound, $"BAR{index} does not exist");
        var path = Path.Combine(_dir, $"resource{index}");
        if (!File.Exists(path)) return Result<IMmioRegion>.Fail(ErrorCode.NotFound, $"{Info.Address}: BAR{index} is absent or an I/O port BAR");
        long size = new FileInfo(path).Length;
        if (size <= 0) return Result<IMmioRegion>.Fail(ErrorCode.NotFound, $"{Info.Address}: BAR{index} is absent");
        lock (_gate)
        {
            if (_closed) return Result<IMmioRegion>.Fail(ErrorCode.Closed, $"{Info.Address} is closed");
            int fd = open(path, O_RDWR | O_CLOEXEC);
            if (fd < 0) return Result<IMmioRegion>.Fail(ErrorCode.IoError, $"{Info.Address}: open {path} (errno {Errno})");
            var address = mmap(0, (nuint)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            int errno = Errno;
            close(fd); // the mapping stays
            if (address == MapFailed) return Result<IMmioRegion>.Fail(ErrorCode.IoError, $"{Info.Address}: mmap BAR{index} failed (errno {errno})");
            var bar = new VfioMmioRegion(address, size);
            _bars.Add(bar);
            return Result<IMmioRegion>.Success(bar);
        }
    }

    public Result<IDmaBuffer> AllocateDma(int bytes)
    {
        if (bytes <= 0 || bytes > 256 << 20) return Result<IDmaBuffer>.Fail(ErrorCode.OutOfRange, $"DMA buffer of {bytes} bytes");
        lock (_gate)
        {
            if (_closed) return Result<IDmaBuffer>.Fail(ErrorCode.Closed, $"{Info.Address} is closed");
            if (bytes <= HugePage)
            {
                nuint chunk = (nuint)((bytes + Pagemap.PageSize - 1) & ~(Pagemap.PageSize - 1));
                if (_arena is null || !_arena.Fits(chunk))
                {
                    var arena = UioHugepageArena.Create();
                    if (arena.IsOk)
                    {
                        _arena?.Retire();
                        _arena = arena.Value;
                    }
                }
                if (_arena is not null && _arena.Fits(chunk))
                {
                    var (at, piecePhysical) = _arena.Take(chunk);
                    var carved = new UioDmaBuffer(this, at, bytes, chunk, piecePhysical, _arena);
                    _buffers.Add(carved);
                    return Result<IDmaBuffer>.Success(carved);
                }
            }
            // Hugepages first: DPDK's choice, physically contiguous and never migrated. A single page needs no contiguity.
            nuint length = (nuint)(((long)bytes + HugePage - 1) / HugePage * HugePage);
            var address = mmap(0, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE | MAP_LOCKED | MAP_HUGETLB, -1, 0);
            if (address == MapFailed && bytes <= Pagemap.PageSize)
            {
                length = Pagemap.PageSize;
                address = mmap(0, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE | MAP_LOCKED, -1, 0);
            }
            if (address == MapFailed)
                return Result<IDmaBuffer>.Fail(ErrorCode.OutOfMemory, $"no locked hugepages for {bytes} bytes of DMA memory (errno {Errno}; boot with hugepages=N)");
            var physical = Pagemap.TranslateContiguous((ulong)address, bytes);
            if (!physical.IsOk)
            {
                Scrub(address, length);
                return Result<IDmaBuffer>.Fail(physical.Error);
            }
            var buffer = new UioDmaBuffer(this, address, bytes, length, physical.Value);
            _buffers.Add(buffer);
            return Result<IDmaBuffer>.Success(buffer);
        }
    }

    internal void Release(UioDmaBuffer buffer)
    {
        lock (_gate)
        {
            if (_buffers.Remove(buffer)) buffer.Release();
        }
    }

    public Result<IReadOnlyList<IDeviceInterrupt>> EnableMsix(int vectors) =>
        Result<IReadOnlyList<IDeviceInterrupt>>.Fail(ErrorCode.NotSupported, $"{Info.Address}: uio_pci_generic has no MSI-X (drivers poll)");

    public Result Reset()
    {
        lock (_gate)
        {
            if (_closed) return Result.Fail(ErrorCode.Closed, $"{Info.Address} is closed");
            try
            {
                File.WriteAllText(Path.Combine(_dir, "reset"), "1");
                return Result.Ok;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return Result.Fail(ErrorCode.NotSupported, $"{Info.Address}: sysfs reset failed: {e.Message}");
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_closed) return;
            _closed = true;
            // Bus mastering off first: without an IOMMU nothing else stops the device writing the memory freed below.
            try
            {
                var cmd = new byte[2];
                RandomAccess.Read(_config, cmd, 4);
                cmd[0] &= unchecked((byte)~0x04);
                RandomAccess.Write(_config, cmd, 4);
            }
            catch (IOException) { }
            foreach (var b in _buffers) b.Release();
            _buffers.Clear();
            _arena?.Retire();
            foreach (var bar in _bars) bar.Scrub();
            _bars.Clear();
            _config.Dispose();
        }
        _onClose();
    }
}
