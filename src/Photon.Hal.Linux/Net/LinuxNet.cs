using System.Runtime.InteropServices;

namespace Photon.Kernel.Hal.Host.Net;

/// <summary>The Linux system calls and structures the host network devices use (LP64 layouts: x86-64 and arm64).</summary>
// Safety: declarations only (struct layouts and libc signatures as the LP64 ABI has them); Poll passes a local.
internal static unsafe partial class LinuxNet
{
    public const int O_RDWR = 2, O_NONBLOCK = 0x800, O_CLOEXEC = 0x80000;
    public const short POLLIN = 0x1, POLLOUT = 0x4, POLLERR = 0x8, POLLHUP = 0x10, POLLNVAL = 0x20;
    public const int EINTR = 4, EAGAIN = 11, ENOMEM = 12, EACCES = 13, EBUSY = 16, ENODEV = 19, EINVAL = 22,
        ENOBUFS = 105, EEXIST = 17, EIO = 5, ENOPROTOOPT = 92, EPERM = 1, ENXIO = 6, EMSGSIZE = 90, ENETDOWN = 100, EAFNOSUPPORT = 97;
    public const int EBADF = 9;
    public const int MSG_TRUNC = 0x20, MSG_DONTWAIT = 0x40, MSG_WAITFORONE = 0x10000;
    public const int SOL_SOCKET = 1, SO_RCVTIMEO = 20;

    /// <summary>struct timeval (LP64), as SO_RCVTIMEO takes it.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct TimeVal { public long Seconds; public long Microseconds; }

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd { public int fd; public short events; public short revents; }

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec { public void* Base; public nuint Length; }

    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MMsgHdr { public MsgHdr Header; public uint Length; }

    /// <summary>struct sockaddr_ll (20 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SockAddrLl
    {
        public ushort Family;
        public ushort Protocol; // network byte order
        public int IfIndex;
        public ushort HaType;
        public byte PktType;
        public byte HaLen;
        public fixed byte Addr[8];
    }

    /// <summary>struct packet_mreq (16 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PacketMreq
    {
        public int IfIndex;
        public ushort Type;
        public ushort AddressLength;
        public fixed byte Address[8];
    }

    public static int Errno => Marshal.GetLastPInvokeError();

    /// <summary>Waits up to <paramref name="timeoutMs"/> for <paramref name="events"/> on one descriptor.</summary>
    public static short Poll(int fd, short events, int timeoutMs)
    {
        var p = new PollFd { fd = fd, events = events };
        int r = poll(&p, 1, timeoutMs);
        return r > 0 ? p.revents : (short)0;
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags);
    [LibraryImport("libc", SetLastError = true)]
    public static partial int ioctl(int fd, uint request, byte* arg);
    [LibraryImport("libc", SetLastError = true)]
    public static partial nint read(int fd, byte* buf, nint count);
    [LibraryImport("libc", SetLastError = true)]
    public static partial nint write(int fd, byte* buf, nint count);
    [LibraryImport("libc", SetLastError = true)]
    public static partial nint writev(int fd, IoVec* iov, int iovcnt);
    [LibraryImport("libc", SetLastError = true)]
    public static partial nint readv(int fd, IoVec* iov, int iovcnt);
    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);
    [LibraryImport("libc", SetLastError = true)]
    public static partial int poll(PollFd* fds, nuint nfds, int timeout);
    [LibraryImport("libc", SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);
    [LibraryImport("libc", SetLastError = true)]
    public static partial int bind(int fd, void* addr, uint addrlen);
    [LibraryImport("libc", SetLastError = true)]
    public static partial int setsockopt(int fd, int level, int name, void* value, uint length);
    [LibraryImport("libc", SetLastError = true)]
    public static partial int getsockopt(int fd, int level, int name, void* value, uint* length);
    [LibraryImport("libc", SetLastError = true)]
    public static partial int recvmmsg(int fd, MMsgHdr* msgs, uint vlen, int flags, void* timeout);
    [LibraryImport("libc", SetLastError = true)]
    public static partial int sendmmsg(int fd, MMsgHdr* msgs, uint vlen, int flags);
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint if_nametoindex(string name);
}
