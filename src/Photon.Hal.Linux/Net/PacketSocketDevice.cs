using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Photon.Kernel.Drivers.Net;

namespace Photon.Kernel.Hal.Host.Net;

/// <summary>
/// Host backend of <see cref="INetworkDevice"/> over an existing Linux Ethernet interface (typically one end of a veth
/// pair): AF_PACKET SOCK_RAW sockets bound to the interface for every protocol (ETH_P_ALL), with
/// PACKET_IGNORE_OUTGOING so Photon does not see its own transmissions. Each queue is one socket; with several, the
/// sockets form a PACKET_FANOUT_HASH group, so Linux spreads received frames over them by flow hash, as RSS does. Each
/// queue's HAL receive thread takes every frame waiting per wakeup with recvmmsg; transmit batches go out with one
/// sendmmsg. Needs CAP_NET_RAW. With offloads asked for, every frame carries a 12-byte virtio_net_hdr
/// (PACKET_VNET_HDR, PACKET_VNET_HDR_SZ): the stack sends 64 KiB TSO segments with partial checksums, which the host
/// cuts (or hands to the veth peer whole), and receives Linux's large segments with the checksum state the host knew.
/// A kernel that refuses either option gives a device without offloads (<see cref="OffloadStatus"/> says why).
/// </summary>
public sealed class PacketSocketDevice : HostNetworkDevice
{
    private const int AF_PACKET = 17, SOCK_RAW = 3, SOCK_CLOEXEC = 0x80000;
    private const ushort ETH_P_ALL = 0x0003;
    private const int SOL_PACKET = 263, PACKET_ADD_MEMBERSHIP = 1, PACKET_VNET_HDR = 15, PACKET_FANOUT = 18, PACKET_IGNORE_OUTGOING = 23,
        PACKET_VNET_HDR_SZ = 24;
    private const ushort PACKET_MR_PROMISC = 1;
    private const int PACKET_FANOUT_HASH = 0, PACKET_FANOUT_FLAG_UNIQUEID = 0x2000;
    private const byte PACKET_OUTGOING = 4;
    public const int MaxQueues = 64;

    private PacketSocketDevice(string name, int ifIndex, byte[] mac, int mtu, bool promiscuous, PacketQueue[] queues, NetworkOffloads offloads, string offloadStatus)
        : base(name, mac, queues, offloads)
    {
        InterfaceIndex = ifIndex;
        Mtu = mtu;
        IsPromiscuous = promiscuous;
        OffloadStatus = offloadStatus;
    }

    /// <summary>What became of the offloads: "off" (not asked for), "on", or why the kernel refused them.</summary>
    public string OffloadStatus { get; }

    public int InterfaceIndex { get; }
    /// <summary>The interface's MTU (/sys/class/net/&lt;if&gt;/mtu), which bounds the frames sent.</summary>
    public override int Mtu { get; }
    /// <summary>True when Photon uses its own MAC, so the interface was put in promiscuous mode (PACKET_ADD_MEMBERSHIP).</summary>
    public bool IsPromiscuous { get; }

    /// <summary>Opens <paramref name="interfaceName"/> with its own MAC address (/sys/class/net/&lt;if&gt;/address).</summary>
    public static Result<PacketSocketDevice> Open(string interfaceName, int queues = 1, bool offloads = false) => OpenCore(interfaceName, null, queues, offloads);

    /// <summary>Opens <paramref name="interfaceName"/> using <paramref name="mac"/> as Photon's address; the interface is
    /// put in promiscuous mode for as long as the device is open, so frames to that address are received.</summary>
    /// <remarks>With <paramref name="offloads"/>, checksum and segmentation offload through a virtio_net_hdr on every
    /// frame, if the kernel agrees (see <see cref="OffloadStatus"/>).</remarks>
    public static Result<PacketSocketDevice> Open(string interfaceName, ReadOnlySpan<byte> mac, int queues = 1, bool offloads = false)
    {
        if (mac.Length != 6) return Errors.Of(ErrorCode.InvalidArgument, "a MAC address is 6 bytes");
        if ((mac[0] & 1) != 0) return Errors.Of(ErrorCode.InvalidArgument, "a unicast MAC address has the group bit clear");
        return OpenCore(interfaceName, mac.ToArray(), queues, offloads);
    }

    private static Result<PacketSocketDevice> OpenCore(string name, byte[]? mac, int queues, bool offloads)
    {
        if (name.Length is 0 or > 15 || name.Contains('/') || name is "." or ".." || !Ascii.IsValid(name))
            return Errors.Of(ErrorCode.InvalidArgument, "interface names are 1..15 ASCII characters without '/'");
        if (queues is < 1 or > MaxQueues) return Errors.Of(ErrorCode.InvalidArgument, $"a packet-socket device has 1..{MaxQueues} queues");
        int ifIndex = (int)LinuxNet.if_nametoindex(name);
        var sys = "/sys/class/net/" + name;
        string? address = ReadSys(sys + "/address");
        if (ifIndex == 0 || address is null)
            return Errors.Of(ErrorCode.NotFound, $"no network interface {name} in this network namespace");
        if (ReadSys(sys + "/type") is { } type && type != "1")
            return Errors.Of(ErrorCode.NotSupported, $"{name} is not an Ethernet interface (ARPHRD {type})");
        var ownMac = ParseMac(address);
        if (ownMac is null) return Errors.Of(ErrorCode.NotSupported, $"{name} has no Ethernet address ({address})");
        int mtu = int.TryParse(ReadSys(sys + "/mtu"), out var m) && m >= 68 ? m : 1500;

        var opened = new List<PacketQueue>(queues);
        int fanoutId = 0;
        string offloadStatus = offloads ? "on" : "off";
        for (int i = 0; i < queues; i++)
        {
            // Blocking (reads that must not block say MSG_DONTWAIT), so the receive thread can sleep in recvmmsg itself.
            int fd = LinuxNet.socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0); // protocol 0: nothing arrives before bind
            if (fd < 0)
            {
                int errno = LinuxNet.Errno;
                CloseAll(opened);
                return errno switch
                {
                    LinuxNet.EPERM or LinuxNet.EACCES => Errors.Of(ErrorCode.AccessDenied,
                        $"cannot open an AF_PACKET socket: this process lacks CAP_NET_RAW (errno {errno})"),
                    LinuxNet.EAFNOSUPPORT => Errors.Of(ErrorCode.NotSupported, "this kernel has no AF_PACKET sockets"),
                    _ => Errors.Of(ErrorCode.IoError, $"socket(AF_PACKET) failed (errno {errno})"),
                };
            }
            if (offloads && EnableVnetHeader(fd) is { } refused)
            {
                // Every queue must agree: the first one decides, a later refusal (it should not happen) is an error.
                if (i > 0)
                {
                    LinuxNet.close(fd);
                    CloseAll(opened);
                    return Errors.Of(ErrorCode.IoError, $"{name} queue {i}: {refused}");
                }
                offloads = false;
                offloadStatus = $"off: {refused}";
            }
            var error = Configure(fd, name, ifIndex, i == 0 ? mac : null, queues, ref fanoutId);
            if (error is { } e)
            {
                LinuxNet.close(fd);
                CloseAll(opened);
                return e;
            }
            opened.Add(new PacketQueue(fd, mtu, offloads, $"hal-pkt-{name}-q{i}"));
        }
        return new PacketSocketDevice(name, ifIndex, mac ?? ownMac, mtu, mac is not null, opened.ToArray(),
            offloads ? NetworkOffloads.TcpChecksum | NetworkOffloads.TcpSegmentation | NetworkOffloads.Tcp6Segmentation | NetworkOffloads.ScatterGather
                : NetworkOffloads.None, offloadStatus);
    }

    /// <summary>Asks for a 12-byte virtio_net_hdr before every frame (the virtio 1.x layout the virtio-net driver shares;
    /// PACKET_VNET_HDR_SZ is Linux 6.7+). Returns why not, or null.</summary>
    // Safety: the option values are locals of the size passed.
    private static unsafe string? EnableVnetHeader(int fd)
    {
        int one = 1, size = VirtioNetHeader.Size;
        if (LinuxNet.setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, 4) < 0) return $"PACKET_VNET_HDR refused (errno {LinuxNet.Errno})";
        if (LinuxNet.setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR_SZ, &size, 4) < 0)
        {
            int errno = LinuxNet.Errno;
            int zero = 0;
            LinuxNet.setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &zero, 4);
            return $"PACKET_VNET_HDR_SZ {size} refused (errno {errno}; Linux 6.7+)";
        }
        return null;
    }

    // Safety: every pointer is to a local of exactly the size passed with it (the option lengths and sizeof(struct)).
    private static unsafe KernelError? Configure(int fd, string name, int ifIndex, byte[]? promiscFor, int queues, ref int fanoutId)
    {
        int one = 1;
        // The receive thread blocks in recvmmsg for at most this long before it looks at its stop flag (as poll's timeout did).
        var timeout = new LinuxNet.TimeVal { Microseconds = HostFrameQueue.WaitMilliseconds * 1000 };
        if (LinuxNet.setsockopt(fd, LinuxNet.SOL_SOCKET, LinuxNet.SO_RCVTIMEO, &timeout, (uint)sizeof(LinuxNet.TimeVal)) < 0)
            return Errors.Of(ErrorCode.IoError, $"SO_RCVTIMEO failed (errno {LinuxNet.Errno})");
        // Linux 4.20+; on older kernels the receive path drops PACKET_OUTGOING frames itself.
        if (LinuxNet.setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, 4) < 0 && LinuxNet.Errno != LinuxNet.ENOPROTOOPT)
            return Errors.Of(ErrorCode.IoError, $"PACKET_IGNORE_OUTGOING failed (errno {LinuxNet.Errno})");
        var sll = new LinuxNet.SockAddrLl { Family = AF_PACKET, Protocol = BinaryPrimitives.ReverseEndianness(ETH_P_ALL), IfIndex = ifIndex };
        if (LinuxNet.bind(fd, &sll, (uint)sizeof(LinuxNet.SockAddrLl)) < 0)
        {
            int errno = LinuxNet.Errno;
            return errno == LinuxNet.ENODEV || errno == LinuxNet.ENXIO
                ? Errors.Of(ErrorCode.NotFound, $"network interface {name} disappeared")
                : Errors.Of(ErrorCode.IoError, $"binding to {name} failed (errno {errno})");
        }
        if (promiscFor is not null)
        {
            var mreq = new LinuxNet.PacketMreq { IfIndex = ifIndex, Type = PACKET_MR_PROMISC };
            if (LinuxNet.setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, (uint)sizeof(LinuxNet.PacketMreq)) < 0)
                return Errors.Of(LinuxNet.Errno is LinuxNet.EPERM ? ErrorCode.AccessDenied : ErrorCode.IoError,
                    $"putting {name} in promiscuous mode failed (errno {LinuxNet.Errno})");
        }
        if (queues == 1) return null;
        if (fanoutId == 0)
        {
            // The first socket asks the kernel for a fresh group id; the others join that group.
            int arg = (PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_UNIQUEID) << 16;
            if (LinuxNet.setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, 4) == 0)
            {
                int got = 0;
                uint len = 4;
                if (LinuxNet.getsockopt(fd, SOL_PACKET, PACKET_FANOUT, &got, &len) < 0)
                    return Errors.Of(ErrorCode.IoError, $"reading the PACKET_FANOUT group failed (errno {LinuxNet.Errno})");
                fanoutId = got & 0xffff;
                return null;
            }
            for (int attempt = 0; attempt < 16; attempt++) // kernels before 4.3: pick an unused id ourselves
            {
                int id = Random.Shared.Next(1, 0x10000);
                arg = id | (PACKET_FANOUT_HASH << 16);
                if (LinuxNet.setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, 4) == 0) { fanoutId = id; return null; }
            }
            return Errors.Of(ErrorCode.NotSupported, $"PACKET_FANOUT is not available (errno {LinuxNet.Errno})");
        }
        int join = fanoutId | (PACKET_FANOUT_HASH << 16);
        if (LinuxNet.setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &join, 4) < 0)
            return Errors.Of(ErrorCode.IoError, $"joining PACKET_FANOUT group {fanoutId} failed (errno {LinuxNet.Errno})");
        return null;
    }

    private static string? ReadSys(string path)
    {
        try { return File.ReadAllText(path).Trim(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    private static byte[]? ParseMac(string text)
    {
        var parts = text.Split(':');
        if (parts.Length != 6) return null;
        var mac = new byte[6];
        for (int i = 0; i < 6; i++)
            if (!byte.TryParse(parts[i], System.Globalization.NumberStyles.HexNumber, null, out mac[i])) return null;
        return mac;
    }

    private protected override string BadFrameMessage(int length) => $"frame of {length} bytes (MTU {Mtu})";

    /// <summary>One AF_PACKET socket: recvmmsg into native buffers on the receive thread, sendmmsg for transmit batches;
    /// with a virtio_net_hdr, each message is the header then the frame (two iovecs on transmit, so nothing is copied) —
    /// or, for a gathered frame (<see cref="OffloadedFrame.WrapGathered"/>), the header, the frame's headers and its
    /// payload pieces where they lie in the socket buffer (up to four iovecs): the host's copy into its packet buffer is
    /// the only copy of the payload between the send buffer and the wire.</summary>
    /// <remarks>Why not PACKET_TX_RING: its frames reach a veth peer through <c>__dev_forward_skb</c>, whose
    /// <c>skb_orphan_frags</c> copies the ring pages a TX-ring skb points to (they are marked zero-copy), so on veth the
    /// ring saves no copy over sendmmsg from the send buffer and needs one more (into the ring slot) unless frames are
    /// built there.</remarks>
    // Safety: native arrays of Batch entries, indexed below Batch, freed by Close after the receive thread is joined; sent frames and gathered pieces are pinned until sendmmsg returns (at most MaxIov iovecs a message), and lent pieces are read inside their lease until then.
    private sealed unsafe class PacketQueue : HostFrameQueue
    {
        private const int Batch = 32, SendChunk = 64, MaxIov = 4, MaxPins = 3;
        private readonly int _bufferSize, _maxPlainFrame, _header;
        private readonly byte* _buffers;
        private readonly LinuxNet.MMsgHdr* _msgs;
        private readonly LinuxNet.IoVec* _iov;
        private readonly LinuxNet.SockAddrLl* _addrs;
        private readonly byte[] _txHeaders = new byte[SendChunk * VirtioNetHeader.Size];
        private int _freed;

        public PacketQueue(int fd, int mtu, bool vnetHeader, string threadName) : base(fd, threadName)
        {
            _maxPlainFrame = mtu + 14;
            _header = vnetHeader ? VirtioNetHeader.Size : 0;
            // With a header, Linux may hand over a coalesced segment of up to 64 KiB of IP packet.
            _bufferSize = vnetHeader ? _header + MaxSegmentFrame6 + 64 : Math.Max(2048, mtu + 64);
            _buffers = (byte*)NativeMemory.Alloc((nuint)(Batch * _bufferSize));
            _msgs = (LinuxNet.MMsgHdr*)NativeMemory.AllocZeroed((nuint)(Batch * sizeof(LinuxNet.MMsgHdr)));
            _iov = (LinuxNet.IoVec*)NativeMemory.AllocZeroed((nuint)(Batch * sizeof(LinuxNet.IoVec)));
            _addrs = (LinuxNet.SockAddrLl*)NativeMemory.AllocZeroed((nuint)(Batch * sizeof(LinuxNet.SockAddrLl)));
            for (int i = 0; i < Batch; i++)
            {
                _iov[i] = new LinuxNet.IoVec { Base = _buffers + (long)i * _bufferSize, Length = (nuint)_bufferSize };
                _msgs[i].Header.Iov = &_iov[i];
                _msgs[i].Header.IovLength = 1;
                _msgs[i].Header.Name = &_addrs[i];
            }
        }

        protected override int FramesPerRead => Batch;

        protected override int ReadBurst(int budget) => Read(budget, LinuxNet.MSG_DONTWAIT);

        /// <summary>One syscall per wake instead of poll then recvmmsg: the socket is blocking with SO_RCVTIMEO, so
        /// recvmmsg sleeps until the first frame (or the timeout: EAGAIN, read as 0) and MSG_WAITFORONE then takes
        /// what else is waiting without blocking again.</summary>
        protected override int WaitAndReadBurst(int budget)
        {
            int r = Read(budget, LinuxNet.MSG_WAITFORONE);
            return r == -LinuxNet.EAGAIN || r == -LinuxNet.EINTR ? 0 : r;
        }

        private int Read(int budget, int flags)
        {
            int vlen = Math.Min(budget, Batch);
            for (int i = 0; i < vlen; i++)
            {
                _msgs[i].Header.NameLength = (uint)sizeof(LinuxNet.SockAddrLl);
                _msgs[i].Header.Flags = 0;
                _msgs[i].Length = 0;
            }
            CountRead();
            int n = LinuxNet.recvmmsg(Fd, _msgs, (uint)vlen, flags | LinuxNet.MSG_TRUNC, null);
            if (n < 0) return -LinuxNet.Errno;
            for (int i = 0; i < n; i++)
            {
                if (_addrs[i].PktType == PACKET_OUTGOING) continue; // our own transmissions (kernels without IGNORE_OUTGOING)
                int len = (int)_msgs[i].Length;
                if ((_msgs[i].Header.Flags & LinuxNet.MSG_TRUNC) != 0 || len > _bufferSize) { CountDropped(); continue; }
                var message = new ReadOnlySpan<byte>(_buffers + (long)i * _bufferSize, len);
                if (_header == 0) { Deliver(message); continue; }
                DeliverWithHeader(message);
            }
            return n;
        }

        /// <summary>Checks the header as the host's word about a frame it may have built from anything on the wire:
        /// a malformed one drops the frame (counted), never reaches the stack.</summary>
        private void DeliverWithHeader(ReadOnlySpan<byte> message)
        {
            if (message.Length < _header) { CountBadHeader(); return; }
            var frame = message[_header..];
            var info = VirtioNetHeader.ReadFromHost(message[.._header], frame.Length, _maxPlainFrame);
            if (!info.IsOk) { CountBadHeader(); return; }
            if (frame.Length > _maxPlainFrame) CountLargeReceived();
            Deliver(frame, info.Value);
        }

        [ThreadStatic] private static MemoryHandle[]? t_pins;
        [ThreadStatic] private static TxLease?[]? t_leases;

        protected override int WriteBatch(IReadOnlyList<ReadOnlyMemory<byte>> frames)
        {
            int sent = 0;
            var msgs = stackalloc LinuxNet.MMsgHdr[SendChunk];
            var iov = stackalloc LinuxNet.IoVec[SendChunk * MaxIov];
            // Per thread and reused (this method never awaits): an array per sendmmsg was part of every round trip's heap.
            var pins = t_pins ??= new MemoryHandle[SendChunk * MaxPins];
            var leases = t_leases ??= new TxLease?[SendChunk]; // entered for each message's lent piece until sendmmsg returns
            fixed (byte* headers = _txHeaders)
            while (sent < frames.Count)
            {
                int n = Math.Min(SendChunk, frames.Count - sent);
                int r = -1, errno = 0;
                // A frame whose lent payload went back to its sender (TxLease) is dropped unread: at the chunk's start it
                // counts as sent; later in the chunk it ends the chunk, and the next one starts with it.
                if (OffloadedFrame.IsWithdrawn(frames[sent])) { sent++; CountWithdrawn(); continue; }
                try
                {
                    for (int i = 0; i < n; i++)
                    {
                        var frame = frames[sent + i];
                        msgs[i] = default;
                        var v = iov + i * MaxIov;
                        msgs[i].Header.Iov = v;
                        int used = 0;
                        if (_header != 0)
                        {
                            // The device checked the request (HostNetworkDevice.CheckOffloaded) before it got here.
                            var header = _txHeaders.AsSpan(i * _header, _header);
                            VirtioNetHeader.Write(header, OffloadedFrame.TryGet(frame) is { IsOk: true } o ? o.Value : default);
                            v[used++] = new LinuxNet.IoVec { Base = headers + i * _header, Length = (nuint)_header };
                        }
                        if (_header != 0 && OffloadedFrame.TryGetGathered(frame, out var frameHeaders, out var first, out var second, out var lease))
                        {
                            if (lease is not null && !lease.TryEnter()) { n = i; break; } // withdrawn: not in this chunk
                            leases[i] = lease;
                            used = AddPiece(v, used, pins, i * MaxPins, frameHeaders);
                            used = AddPiece(v, used, pins, i * MaxPins + 1, first);
                            used = AddPiece(v, used, pins, i * MaxPins + 2, second);
                        }
                        else used = AddPiece(v, used, pins, i * MaxPins, frame);
                        msgs[i].Header.IovLength = (nuint)used;
                    }
                    for (int attempt = 0; attempt < 3 && n > 0; attempt++)
                    {
                        CountWrite();
                        r = LinuxNet.sendmmsg(Fd, msgs, (uint)n, LinuxNet.MSG_DONTWAIT); // the socket itself blocks (for receiving)
                        if (r >= 0) break;
                        errno = LinuxNet.Errno;
                        if (errno is not (LinuxNet.EAGAIN or LinuxNet.ENOBUFS or LinuxNet.EINTR)) break;
                        LinuxNet.Poll(Fd, LinuxNet.POLLOUT, 100);
                    }
                }
                finally
                {
                    for (int i = 0; i < n * MaxPins; i++) { pins[i].Dispose(); pins[i] = default; }
                    for (int i = 0; i < n; i++) { leases[i]?.Exit(); leases[i] = null; }
                }
                if (n == 0) { sent++; CountWithdrawn(); continue; } // revoked between the check above and the build
                if (r > 0)
                {
                    CountSent(r);
                    for (int i = 0; i < r; i++) if (frames[sent + i].Length > _maxPlainFrame) CountLargeSent();
                    sent += r;
                    if (r < n) return sent; // the caller resubmits the rest and sees the error then
                    continue;
                }
                CountSendError();
                if (sent > 0) return sent;
                throw new KernelException(errno switch
                {
                    LinuxNet.EAGAIN or LinuxNet.ENOBUFS => ErrorCode.WouldBlock,
                    LinuxNet.EMSGSIZE or LinuxNet.EINVAL => ErrorCode.InvalidArgument,
                    _ => ErrorCode.IoError,
                }, $"AF_PACKET send failed (errno {errno}{(errno == LinuxNet.ENETDOWN ? ": the interface is down" : "")})");
            }
            return sent;
        }

        /// <summary>Pins a non-empty piece into <paramref name="pins"/>[<paramref name="pin"/>] and appends its iovec.</summary>
        private static int AddPiece(LinuxNet.IoVec* v, int used, MemoryHandle[] pins, int pin, ReadOnlyMemory<byte> piece)
        {
            if (piece.IsEmpty) return used;
            pins[pin] = piece.Pin();
            v[used] = new LinuxNet.IoVec { Base = pins[pin].Pointer, Length = (nuint)piece.Length };
            return used + 1;
        }

        public override void Close()
        {
            base.Close(); // joins the receive thread first, so the buffers are no longer in use
            if (Interlocked.Exchange(ref _freed, 1) != 0) return;
            NativeMemory.Free(_buffers);
            NativeMemory.Free(_msgs);
            NativeMemory.Free(_iov);
            NativeMemory.Free(_addrs);
        }
    }
}
