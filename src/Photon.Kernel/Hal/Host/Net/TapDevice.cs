using System.Runtime.InteropServices;
using System.Threading.Channels;

namespace Photon.Kernel.Hal.Host.Net;

/// <summary>
/// Host backend of <see cref="INetworkDevice"/>: a Linux TAP device (/dev/net/tun, IFF_TAP | IFF_NO_PI). A HAL-owned
/// receive thread polls the descriptor and hands frames to the kernel through a bounded channel (the "RX ring"; when
/// it is full, frames are dropped and counted, as a NIC does); transmit is one write(2) per frame.
/// </summary>
public sealed partial class TapDevice : INetworkDevice
{
    private const uint TUNSETIFF = 0x400454ca;
    private const short IFF_TAP = 0x0002;
    private const short IFF_NO_PI = 0x1000;
    private const int O_RDWR = 2, O_NONBLOCK = 0x800;
    private const short POLLIN = 1;

    private readonly int _fd;
    private readonly Channel<byte[]> _rx = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(1024) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly Thread _reader;
    private volatile bool _stopping;
    private readonly byte[] _mac;

    private TapDevice(int fd, string name, byte[] mac)
    {
        _fd = fd;
        Name = name;
        _mac = mac;
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = $"hal-tap-{name}" };
        _reader.Start();
    }

    public string Name { get; }
    public ReadOnlyMemory<byte> MacAddress => _mac;
    public int Mtu => 1500;
    public long ReceivedFrames { get; private set; }
    public long DroppedFrames { get; private set; }

    /// <summary>Creates (or attaches to) TAP interface <paramref name="name"/>. Needs CAP_NET_ADMIN.</summary>
    public static unsafe Result<TapDevice> Open(string name, ReadOnlySpan<byte> mac)
    {
        if (name.Length is 0 or > 15) return Errors.Of(ErrorCode.InvalidArgument, "interface names are 1..15 characters");
        if (mac.Length != 6) return Errors.Of(ErrorCode.InvalidArgument, "a MAC address is 6 bytes");
        int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK);
        if (fd < 0) return Errors.Of(ErrorCode.NotSupported, $"cannot open /dev/net/tun (errno {Marshal.GetLastPInvokeError()})");
        var ifr = stackalloc byte[40];
        new Span<byte>(ifr, 40).Clear();
        var nameBytes = System.Text.Encoding.ASCII.GetBytes(name);
        nameBytes.CopyTo(new Span<byte>(ifr, 16));
        *(short*)(ifr + 16) = IFF_TAP | IFF_NO_PI;
        if (ioctl(fd, TUNSETIFF, ifr) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            close(fd);
            return Errors.Of(ErrorCode.NotSupported, $"TUNSETIFF {name} failed (errno {errno}); is this process root / CAP_NET_ADMIN?");
        }
        return new TapDevice(fd, name, mac.ToArray());
    }

    public unsafe ValueTask SendAsync(ReadOnlyMemory<byte> frame, CancellationToken ct = default)
    {
        if (frame.Length is < 14 or > 1514) throw new KernelException(ErrorCode.InvalidArgument, $"frame of {frame.Length} bytes");
        fixed (byte* p = frame.Span)
        {
            nint n = write(_fd, p, (nint)frame.Length);
            if (n < 0) throw new KernelException(ErrorCode.IoError, $"tap write failed (errno {Marshal.GetLastPInvokeError()})");
        }
        return ValueTask.CompletedTask;
    }

    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        try
        {
            var frame = await _rx.Reader.ReadAsync(ct).ConfigureAwait(false);
            int n = Math.Min(frame.Length, buffer.Length);
            frame.AsSpan(0, n).CopyTo(buffer.Span);
            return n;
        }
        catch (ChannelClosedException) { throw new KernelException(ErrorCode.Closed, $"{Name} is closed"); }
    }

    private unsafe void ReadLoop()
    {
        var buf = new byte[65536];
        var pfd = stackalloc PollFd[1];
        while (!_stopping)
        {
            pfd[0] = new PollFd { fd = _fd, events = POLLIN };
            int ready = poll(pfd, 1, 100);
            if (ready <= 0) continue;
            nint n;
            fixed (byte* p = buf) n = read(_fd, p, buf.Length);
            if (n <= 0) continue;
            ReceivedFrames++;
            if (!_rx.Writer.TryWrite(buf.AsSpan(0, (int)n).ToArray())) DroppedFrames++;
        }
        _rx.Writer.TryComplete();
    }

    public ValueTask DisposeAsync()
    {
        _stopping = true;
        _reader.Join();
        close(_fd);
        return ValueTask.CompletedTask;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd { public int fd; public short events; public short revents; }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);
    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int ioctl(int fd, uint request, byte* arg);
    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint read(int fd, byte* buf, nint count);
    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint write(int fd, byte* buf, nint count);
    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int poll(PollFd* fds, nuint nfds, int timeout);
}
