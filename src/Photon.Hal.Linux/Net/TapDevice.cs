using System.Text;

namespace Photon.Kernel.Hal.Host.Net;

/// <summary>
/// Host backend of <see cref="INetworkDevice"/>: a Linux TAP device (/dev/net/tun, IFF_TAP | IFF_NO_PI). Each queue is
/// its own descriptor on the device (IFF_MULTI_QUEUE when there are several; Linux steers the frames it sends to the
/// TAP over the queues by flow hash), with a HAL-owned receive thread that reads every frame waiting per wakeup into a
/// bounded channel (the queue's RX ring; when it is full, frames are dropped and counted, as a NIC does). Transmit is one
/// write(2) per frame on the chosen queue's descriptor.
/// </summary>
public sealed class TapDevice : HostNetworkDevice
{
    private const uint TUNSETIFF = 0x400454ca;
    private const short IFF_TAP = 0x0002;
    private const short IFF_NO_PI = 0x1000;
    private const short IFF_MULTI_QUEUE = 0x0100;
    /// <summary>Linux's limit on TAP queues is 256; more than 64 queue threads makes no sense for a hosted kernel.</summary>
    public const int MaxQueues = 64;

    private TapDevice(TapQueue[] queues, string name, byte[] mac) : base(name, mac, queues) { }

    /// <summary>Fixed at the Ethernet default, so TAP frames are 14..1514 bytes.</summary>
    public override int Mtu => 1500;

    /// <summary>Creates (or attaches to) single-queue TAP interface <paramref name="name"/>. Needs CAP_NET_ADMIN.</summary>
    public static Result<TapDevice> Open(string name, ReadOnlySpan<byte> mac) => Open(name, mac, 1);

    /// <summary>
    /// Creates (or attaches to) TAP interface <paramref name="name"/> with <paramref name="queues"/> queues: /dev/net/tun is
    /// opened once per queue and each descriptor attached to the same interface (IFF_MULTI_QUEUE when queues &gt; 1).
    /// <paramref name="mac"/> is the address Photon uses on the wire (Linux's side of the TAP has its own). Needs
    /// CAP_NET_ADMIN; errors: <see cref="ErrorCode.AccessDenied"/> without it, <see cref="ErrorCode.Busy"/> or
    /// <see cref="ErrorCode.InvalidArgument"/> if the interface exists with another queue mode,
    /// <see cref="ErrorCode.NotSupported"/> without /dev/net/tun.
    /// </summary>
    // Safety: ifr is a 40-byte stack struct ifreq; the name (≤ 15 bytes, checked) and flags are written inside it.
    public static unsafe Result<TapDevice> Open(string name, ReadOnlySpan<byte> mac, int queues)
    {
        if (name.Length is 0 or > 15 || name.Contains('/') || !Ascii.IsValid(name))
            return Errors.Of(ErrorCode.InvalidArgument, "interface names are 1..15 ASCII characters without '/'");
        if (mac.Length != 6) return Errors.Of(ErrorCode.InvalidArgument, "a MAC address is 6 bytes");
        if (queues is < 1 or > MaxQueues) return Errors.Of(ErrorCode.InvalidArgument, $"a TAP device has 1..{MaxQueues} queues");
        var opened = new List<TapQueue>(queues);
        var ifr = stackalloc byte[40];
        for (int i = 0; i < queues; i++)
        {
            int fd = LinuxNet.open("/dev/net/tun", LinuxNet.O_RDWR | LinuxNet.O_NONBLOCK | LinuxNet.O_CLOEXEC);
            if (fd < 0)
            {
                int errno = LinuxNet.Errno;
                CloseAll(opened);
                return Errors.Of(errno is LinuxNet.EPERM or LinuxNet.EACCES ? ErrorCode.AccessDenied : ErrorCode.NotSupported,
                    $"cannot open /dev/net/tun (errno {errno})");
            }
            new Span<byte>(ifr, 40).Clear();
            Encoding.ASCII.GetBytes(name).CopyTo(new Span<byte>(ifr, 16));
            *(short*)(ifr + 16) = (short)(IFF_TAP | IFF_NO_PI | (queues > 1 ? IFF_MULTI_QUEUE : 0));
            if (LinuxNet.ioctl(fd, TUNSETIFF, ifr) < 0)
            {
                int errno = LinuxNet.Errno;
                LinuxNet.close(fd);
                CloseAll(opened);
                var code = errno switch
                {
                    LinuxNet.EPERM or LinuxNet.EACCES => ErrorCode.AccessDenied,
                    LinuxNet.EBUSY => ErrorCode.Busy,
                    LinuxNet.EINVAL => ErrorCode.InvalidArgument,
                    _ => ErrorCode.NotSupported,
                };
                return Errors.Of(code, $"TUNSETIFF {name} (queue {i} of {queues}) failed (errno {errno}); " +
                    (code == ErrorCode.AccessDenied ? "this needs root / CAP_NET_ADMIN" : "does the interface exist with another queue mode?"));
            }
            opened.Add(new TapQueue(fd, $"hal-tap-{name}-q{i}"));
        }
        return new TapDevice(opened.ToArray(), name, mac.ToArray());
    }

    private sealed class TapQueue(int fd, string threadName) : HostFrameQueue(fd, threadName)
    {
        private readonly byte[] _buffer = new byte[65536];

        // Safety: read(2) writes at most _buffer.Length bytes into the buffer, which stays pinned during the call.
        protected override unsafe int ReadBurst(int budget)
        {
            int n = 0;
            fixed (byte* p = _buffer)
            {
                while (n < budget)
                {
                    nint got = LinuxNet.read(Fd, p, _buffer.Length);
                    if (got < 0) return n > 0 ? n : -LinuxNet.Errno;
                    if (got == 0) break;
                    Deliver(_buffer.AsSpan(0, (int)got));
                    n++;
                }
            }
            return n;
        }

        // Safety: write(2) reads exactly the frame's length from it while it is pinned.
        protected override unsafe int WriteBatch(IReadOnlyList<ReadOnlyMemory<byte>> frames)
        {
            for (int i = 0; i < frames.Count; i++)
            {
                int errno = 0;
                for (int attempt = 0; attempt < 3; attempt++)
                {
                    nint n;
                    fixed (byte* p = frames[i].Span) n = LinuxNet.write(Fd, p, frames[i].Length);
                    if (n >= 0) { errno = 0; break; }
                    errno = LinuxNet.Errno;
                    if (errno is not (LinuxNet.EAGAIN or LinuxNet.EINTR)) break;
                    LinuxNet.Poll(Fd, LinuxNet.POLLOUT, 100);
                }
                if (errno == 0) { CountSent(1); continue; }
                CountSendError();
                if (i > 0) return i;
                throw new KernelException(errno == LinuxNet.EAGAIN ? ErrorCode.WouldBlock : ErrorCode.IoError,
                    $"tap write failed (errno {errno}{(errno == 5 ? ": is the interface down?" : "")})");
            }
            return frames.Count;
        }
    }
}
