using System.Runtime.InteropServices;

namespace Photon.Kernel.Hal.Host.IoUring;

/// <summary>
/// The io_uring system calls and structures (include/uapi/linux/io_uring.h), called through libc's syscall(2) so no
/// liburing is needed. The syscall numbers are the same on x86-64 and arm64 (the unified 424+ table). Also libc's
/// preadv2, for the page-cache reads tried before a ring round trip (HostNoWaitRead), and pwritev and pwrite, for the
/// small writes written by the submitter (HostWriteCombiner).
/// </summary>
// Safety: declarations only (struct layouts as the uapi header has them, 64-bit); no pointer is dereferenced here.
internal static unsafe partial class IoUringNative
{
    public const int SysSetup = 425, SysEnter = 426, SysRegister = 427;

    public const byte OpNop = 0, OpFsync = 3, OpPollAdd = 6, OpRead = 22, OpWrite = 23;
    public const byte SqeFixedFile = 1 << 0;
    public const uint FsyncDatasync = 1 << 0;
    public const uint EnterGetEvents = 1 << 0;
    public const uint RegisterFiles = 2;
    public const uint FeatSingleMmap = 1 << 0;
    public const long OffSqRing = 0, OffCqRing = 0x8000000, OffSqes = 0x10000000;

    public const int ProtRead = 1, ProtWrite = 2, MapShared = 1, MapPopulate = 0x8000;
    public const int EfdCloexec = 0x80000, EfdNonblock = 0x800;
    public const int EINTR = 4, EAGAIN = 11, EBUSY = 16, EINVAL = 22, ENOSYS = 38, EOPNOTSUPP = 95;
    /// <summary>preadv2's "fail with EAGAIN rather than wait for I/O" (RWF_NOWAIT, include/uapi/linux/fs.h).</summary>
    public const int RwfNoWait = 0x8;
    public const uint PollIn = 0x1;

    [StructLayout(LayoutKind.Sequential)]
    public struct SqRingOffsets { public uint Head, Tail, RingMask, RingEntries, Flags, Dropped, Array, Resv1; public ulong UserAddr; }

    [StructLayout(LayoutKind.Sequential)]
    public struct CqRingOffsets { public uint Head, Tail, RingMask, RingEntries, Overflow, Cqes, Flags, Resv1; public ulong UserAddr; }

    /// <summary>struct io_uring_params (120 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Params
    {
        public uint SqEntries, CqEntries, Flags, SqThreadCpu, SqThreadIdle, Features, WqFd;
        public fixed uint Resv[3];
        public SqRingOffsets SqOff;
        public CqRingOffsets CqOff;
    }

    /// <summary>struct io_uring_sqe (64 bytes), the fields the storage backend uses.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 64)]
    public struct Sqe
    {
        [FieldOffset(0)] public byte Opcode;
        [FieldOffset(1)] public byte Flags;
        [FieldOffset(2)] public ushort IoPrio;
        [FieldOffset(4)] public int Fd;
        [FieldOffset(8)] public ulong Off;
        [FieldOffset(16)] public ulong Addr;
        [FieldOffset(24)] public uint Len;
        [FieldOffset(28)] public uint OpFlags; // rw_flags / fsync_flags / poll32_events
        [FieldOffset(32)] public ulong UserData;
    }

    /// <summary>struct iovec.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Iovec { public void* Base; public nuint Length; }

    /// <summary>struct io_uring_cqe (16 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Cqe { public ulong UserData; public int Res; public uint Flags; }

    public static int Errno => Marshal.GetLastPInvokeError();

    public static int Setup(uint entries, Params* p) => (int)syscall(SysSetup, (nint)entries, (nint)p, 0, 0, 0, 0);

    public static int Enter(int fd, uint toSubmit, uint minComplete, uint flags) =>
        (int)syscall(SysEnter, fd, (nint)toSubmit, (nint)minComplete, (nint)flags, 0, 0);

    public static int Register(int fd, uint opcode, void* arg, uint count) =>
        (int)syscall(SysRegister, fd, (nint)opcode, (nint)arg, (nint)count, 0, 0);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint syscall(nint number, nint a1, nint a2, nint a3, nint a4, nint a5, nint a6);
    [LibraryImport("libc", SetLastError = true)]
    public static partial void* mmap(void* addr, nuint length, int prot, int flags, int fd, long offset);
    [LibraryImport("libc", SetLastError = true)]
    public static partial int munmap(void* addr, nuint length);
    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);
    [LibraryImport("libc", SetLastError = true)]
    public static partial int eventfd(uint initval, int flags);
    [LibraryImport("libc", SetLastError = true)]
    public static partial nint read(int fd, void* buf, nint count);
    [LibraryImport("libc", SetLastError = true)]
    public static partial nint write(int fd, void* buf, nint count);
    /// <summary>The positional read HostNoWaitRead tries before a ring round trip (with <see cref="RwfNoWait"/>).</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial nint preadv2(int fd, Iovec* iov, int iovcnt, long offset, int flags);
    /// <summary>The positional gather write HostWriteCombiner writes small writes with (adjacent ones as one call).</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial nint pwritev(int fd, Iovec* iov, int iovcnt, long offset);
    /// <summary>The positional write HostWriteCombiner writes a lone small write with: unlike a one-entry pwritev, the
    /// kernel imports no iovec array for it (import_iovec, a copy from user and a free per call).</summary>
    [LibraryImport("libc", SetLastError = true)]
    public static partial nint pwrite(int fd, void* buf, nuint count, long offset);

    public static string ErrnoName(int errno) => errno switch
    {
        1 => "EPERM", 2 => "ENOENT", 4 => "EINTR", 5 => "EIO", 9 => "EBADF", 11 => "EAGAIN", 12 => "ENOMEM", 13 => "EACCES",
        14 => "EFAULT", 16 => "EBUSY", 22 => "EINVAL", 27 => "EFBIG", 28 => "ENOSPC", 30 => "EROFS", 38 => "ENOSYS",
        95 => "EOPNOTSUPP", 125 => "ECANCELED", _ => $"errno {errno}",
    };
}
