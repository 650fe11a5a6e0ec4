using System.Text;
using Photon.Kernel.Drivers.Net;

namespace Photon.Kernel.Hal.Host.Net;

/// <summary>
/// Host backend of <see cref="INetworkDevice"/>: a Linux TAP device (/dev/net/tun, IFF_TAP | IFF_NO_PI). Each queue is
/// its own descriptor on the device (IFF_MULTI_QUEUE when there are several; Linux steers the frames it sends to the
/// TAP over the queues by flow hash), with a HAL-owned receive thread that reads every frame waiting per wakeup into a
/// bounded channel (the queue's RX ring; when it is full, frames are dropped and counted, as a NIC does). Transmit is one
/// write(2) per frame on the chosen queue's descriptor. With offloads asked for (IFF_VNET_HDR, a 12-byte header set with
/// TUNSETVNETHDRSZ), every frame carries a virtio_net_hdr: the stack sends 64 KiB TSO segments with partial checksums
/// (header and frame in one writev), and TUNSETOFFLOAD (CSUM, TSO4, TSO6) lets Linux hand over its large segments
/// unsegmented with their checksum state. A refusal falls back step by step (<see cref="OffloadStatus"/> says how far).
/// </summary>
public sealed class TapDevice : HostNetworkDevice
{
    private const uint TUNSETIFF = 0x400454ca;
    private const short IFF_TAP = 0x0002;
    private const short IFF_NO_PI = 0x1000;
    private const short IFF_MULTI_QUEUE = 0x0100;
    private const short IFF_VNET_HDR = 0x4000;
    private const uint TUNSETOFFLOAD = 0x400454d0, TUNSETVNETHDRSZ = 0x400454d8;
    private const uint TUN_F_CSUM = 0x01, TUN_F_TSO4 = 0x02, TUN_F_TSO6 = 0x04;
    /// <summary>Linux's limit on TAP queues is 256; more than 64 queue threads makes no sense for a hosted kernel.</summary>
    public const int MaxQueues = 64;

    private TapDevice(TapQueue[] queues, string name, byte[] mac, NetworkOffloads offloads, string offloadStatus)
        : base(name, mac, queues, offloads) => OffloadStatus = offloadStatus;

    /// <summary>What became of the offloads: "off" (not asked for), "on", or what the kernel refused.</summary>
    public string OffloadStatus { get; }

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
    public static Result<TapDevice> Open(string name, ReadOnlySpan<byte> mac, int queues) => Open(name, mac, queues, offloads: false);

    /// <summary>As <see cref="Open(string, ReadOnlySpan{byte}, int)"/>; with <paramref name="offloads"/>, checksum and
    /// segmentation offload through a virtio_net_hdr on every frame, as far as the kernel agrees.</summary>
    // Safety: ifr is a 40-byte stack struct ifreq; the name (≤ 15 bytes, checked) and flags are written inside it.
    public static unsafe Result<TapDevice> Open(string name, ReadOnlySpan<byte> mac, int queues, bool offloads)
    {
        if (name.Length is 0 or > 15 || name.Contains('/') || !Ascii.IsValid(name))
            return Errors.Of(ErrorCode.InvalidArgument, "interface names are 1..15 ASCII characters without '/'");
        if (mac.Length != 6) return Errors.Of(ErrorCode.InvalidArgument, "a MAC address is 6 bytes");
        if (queues is < 1 or > MaxQueues) return Errors.Of(ErrorCode.InvalidArgument, $"a TAP device has 1..{MaxQueues} queues");
        var opened = new List<TapQueue>(queues);
        var ifr = stackalloc byte[40];
        string status = offloads ? "on" : "off";
        bool largeReceive = offloads;
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
            *(short*)(ifr + 16) = (short)(IFF_TAP | IFF_NO_PI | (queues > 1 ? IFF_MULTI_QUEUE : 0) | (offloads ? IFF_VNET_HDR : 0));
            int set = LinuxNet.ioctl(fd, TUNSETIFF, ifr);
            if (set < 0 && offloads && i == 0 && LinuxNet.Errno == LinuxNet.EINVAL)
            {
                // An existing interface made without IFF_VNET_HDR, or a kernel without it: go on without offloads.
                offloads = largeReceive = false;
                status = "off: TUNSETIFF with IFF_VNET_HDR refused (errno 22)";
                *(short*)(ifr + 16) = (short)(IFF_TAP | IFF_NO_PI | (queues > 1 ? IFF_MULTI_QUEUE : 0));
                set = LinuxNet.ioctl(fd, TUNSETIFF, ifr);
            }
            if (set < 0)
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
            if (offloads && SetHeaderSize(fd) is { } refused)
            {
                LinuxNet.close(fd);
                CloseAll(opened);
                return Errors.Of(ErrorCode.NotSupported, $"{name}: {refused}");
            }
            // The offloads Linux may use towards us (the TAP's tx features); our own sends need only the header.
            if (largeReceive && i == 0 && SetOffload(fd, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) is { } partial)
            {
                largeReceive = false;
                status = $"on for sending; receive: {partial}";
            }
            opened.Add(new TapQueue(fd, offloads, $"hal-tap-{name}-q{i}"));
        }
        return new TapDevice(opened.ToArray(), name, mac.ToArray(),
            offloads ? NetworkOffloads.TcpChecksum | NetworkOffloads.TcpSegmentation | NetworkOffloads.Tcp6Segmentation : NetworkOffloads.None, status);
    }

    // Safety: the ioctl argument is a local int, as TUNSETVNETHDRSZ and TUNSETOFFLOAD take.
    private static unsafe string? SetHeaderSize(int fd)
    {
        int size = VirtioNetHeader.Size;
        return LinuxNet.ioctl(fd, TUNSETVNETHDRSZ, (byte*)&size) < 0 ? $"TUNSETVNETHDRSZ {size} refused (errno {LinuxNet.Errno})" : null;
    }

    /// <summary>TUNSETOFFLOAD takes its flags by value; tries CSUM|TSO4|TSO6, then CSUM alone.</summary>
    // Safety: the flags travel in the pointer-sized argument itself (TUNSETOFFLOAD reads no memory through it).
    private static unsafe string? SetOffload(int fd, uint flags)
    {
        if (LinuxNet.ioctl(fd, TUNSETOFFLOAD, (byte*)(nuint)flags) == 0) return null;
        int errno = LinuxNet.Errno;
        if (LinuxNet.ioctl(fd, TUNSETOFFLOAD, (byte*)(nuint)TUN_F_CSUM) == 0) return $"TSO refused (errno {errno}), checksum offload only";
        return $"TUNSETOFFLOAD refused (errno {errno}): Linux checksums and segments what it sends us";
    }

    private sealed class TapQueue(int fd, bool vnetHeader, string threadName) : HostFrameQueue(fd, threadName)
    {
        private const int MaxPlainFrame = 1514;
        private readonly int _header = vnetHeader ? VirtioNetHeader.Size : 0;
        private readonly byte[] _buffer = new byte[VirtioNetHeader.Size + MaxSegmentFrame6 + 64];
        private readonly byte[] _txHeader = new byte[VirtioNetHeader.Size];

        // Safety: read(2) writes at most _buffer.Length bytes into the buffer, which stays pinned during the call.
        protected override unsafe int ReadBurst(int budget)
        {
            int n = 0;
            fixed (byte* p = _buffer)
            {
                while (n < budget)
                {
                    CountRead();
                    nint got = LinuxNet.read(Fd, p, _buffer.Length);
                    if (got < 0) return n > 0 ? n : -LinuxNet.Errno;
                    if (got == 0) break;
                    n++;
                    if (_header == 0) { Deliver(_buffer.AsSpan(0, (int)got)); continue; }
                    if (got < _header) { CountBadHeader(); continue; }
                    var frame = _buffer.AsSpan(_header, (int)got - _header);
                    var info = VirtioNetHeader.ReadFromHost(_buffer.AsSpan(0, _header), frame.Length, MaxPlainFrame);
                    if (!info.IsOk) { CountBadHeader(); continue; }
                    if (frame.Length > MaxPlainFrame) CountLargeReceived();
                    Deliver(frame, info.Value);
                }
            }
            return n;
        }

        // Safety: write(2)/writev(2) read exactly the header's and the frame's lengths from them while they are pinned.
        protected override unsafe int WriteBatch(IReadOnlyList<ReadOnlyMemory<byte>> frames)
        {
            var iov = stackalloc LinuxNet.IoVec[2];
            for (int i = 0; i < frames.Count; i++)
            {
                int errno = 0;
                for (int attempt = 0; attempt < 3; attempt++)
                {
                    nint n;
                    CountWrite();
                    fixed (byte* p = frames[i].Span)
                    fixed (byte* h = _txHeader)
                    {
                        if (_header == 0) n = LinuxNet.write(Fd, p, frames[i].Length);
                        else
                        {
                            // The device checked the request (HostNetworkDevice.CheckOffloaded) before it got here.
                            VirtioNetHeader.Write(_txHeader, OffloadedFrame.TryGet(frames[i]) is { IsOk: true } o ? o.Value : default);
                            iov[0] = new LinuxNet.IoVec { Base = h, Length = (nuint)_header };
                            iov[1] = new LinuxNet.IoVec { Base = p, Length = (nuint)frames[i].Length };
                            n = LinuxNet.writev(Fd, iov, 2);
                        }
                    }
                    if (n >= 0) { errno = 0; break; }
                    errno = LinuxNet.Errno;
                    if (errno is not (LinuxNet.EAGAIN or LinuxNet.EINTR)) break;
                    LinuxNet.Poll(Fd, LinuxNet.POLLOUT, 100);
                }
                if (errno == 0)
                {
                    CountSent(1);
                    if (frames[i].Length > MaxPlainFrame) CountLargeSent();
                    continue;
                }
                CountSendError();
                if (i > 0) return i;
                throw new KernelException(errno == LinuxNet.EAGAIN ? ErrorCode.WouldBlock : ErrorCode.IoError,
                    $"tap write failed (errno {errno}{(errno == 5 ? ": is the interface down?" : "")})");
            }
            return frames.Count;
        }
    }
}
