using System.Runtime.InteropServices;

namespace Photon.Kernel.Hal.Host.Vfio;

/// <summary>
/// The libc calls and the VFIO ioctl ABI (<c>include/uapi/linux/vfio.h</c>) the PCI backend uses. Request numbers are
/// <c>_IO(';', 100 + n)</c>; argument structs start with <c>argsz</c>, as the header requires.
/// </summary>
// Safety: declarations only; callers pass pointers to locals or mappings of the stated size.
internal static unsafe partial class VfioNative
{
    public const int VfioApiVersion = 0;
    public const nint VfioType1v2Iommu = 3;

    public const nuint GetApiVersion = 0x3B64;
    public const nuint CheckExtension = 0x3B65;
    public const nuint SetIommu = 0x3B66;
    public const nuint GroupGetStatus = 0x3B67;
    public const nuint GroupSetContainer = 0x3B68;
    public const nuint GroupGetDeviceFd = 0x3B6A;
    public const nuint DeviceGetInfo = 0x3B6B;
    public const nuint DeviceGetRegionInfo = 0x3B6C;
    public const nuint DeviceGetIrqInfo = 0x3B6D;
    public const nuint DeviceSetIrqs = 0x3B6E;
    public const nuint DeviceReset = 0x3B6F;
    public const nuint IommuMapDma = 0x3B71;
    public const nuint IommuUnmapDma = 0x3B72;

    public const uint GroupFlagsViable = 1;
    public const int PciConfigRegionIndex = 7;
    public const uint PciMsixIrqIndex = 2;
    public const uint RegionInfoFlagMmap = 1 << 2;
    public const uint IrqSetDataNone = 1 << 0;
    public const uint IrqSetDataEventfd = 1 << 2;
    public const uint IrqSetActionTrigger = 1 << 5;
    public const uint DmaMapRead = 1, DmaMapWrite = 2;

    public const int O_RDWR = 2, O_CLOEXEC = 0x80000;
    public const int PROT_READ = 1, PROT_WRITE = 2;
    public const int MAP_SHARED = 1, MAP_PRIVATE = 2, MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20, MAP_POPULATE = 0x8000;
    public const int MAP_LOCKED = 0x2000;
    public const int EFD_CLOEXEC = 0x80000;
    public const short POLLIN = 1;
    public static readonly nint MapFailed = -1;

    [StructLayout(LayoutKind.Sequential)]
    public struct GroupStatus { public uint ArgSz; public uint Flags; }

    [StructLayout(LayoutKind.Sequential)]
    public struct DeviceInfo { public uint ArgSz; public uint Flags; public uint NumRegions; public uint NumIrqs; }

    [StructLayout(LayoutKind.Sequential)]
    public struct RegionInfo { public uint ArgSz; public uint Flags; public uint Index; public uint CapOffset; public ulong Size; public ulong Offset; }

    [StructLayout(LayoutKind.Sequential)]
    public struct IrqInfo { public uint ArgSz; public uint Flags; public uint Index; public uint Count; }

    [StructLayout(LayoutKind.Sequential)]
    public struct DmaMap { public uint ArgSz; public uint Flags; public ulong Vaddr; public ulong Iova; public ulong Size; }

    [StructLayout(LayoutKind.Sequential)]
    public struct DmaUnmap { public uint ArgSz; public uint Flags; public ulong Iova; public ulong Size; }

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd { public int Fd; public short Events; public short Revents; }

    public static int Errno => Marshal.GetLastPInvokeError();

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags);
    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);
    [LibraryImport("libc", SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, nint arg);
    [LibraryImport("libc", SetLastError = true)]
    public static partial nint pread(int fd, byte* buf, nint count, long offset);
    [LibraryImport("libc", SetLastError = true)]
    public static partial nint pwrite(int fd, byte* buf, nint count, long offset);
    [LibraryImport("libc", SetLastError = true)]
    public static partial nint read(int fd, byte* buf, nint count);
    [LibraryImport("libc", SetLastError = true)]
    public static partial nint mmap(nint addr, nuint length, int prot, int flags, int fd, long offset);
    [LibraryImport("libc", SetLastError = true)]
    public static partial int munmap(nint addr, nuint length);
    [LibraryImport("libc", SetLastError = true)]
    public static partial int eventfd(uint initval, int flags);
    [LibraryImport("libc", SetLastError = true)]
    public static partial int poll(PollFd* fds, nuint nfds, int timeout);

    /// <summary>Replaces a mapping in place with private zero pages, so a stale access after close reads zeros and
    /// writes nowhere instead of faulting or reaching the device.</summary>
    public static void Scrub(nint address, nuint length) =>
        mmap(address, length, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}
