using Photon.Kernel.Capabilities;
using Photon.Kernel.Processes;
using Photon.Net.Tcp;
using Photon.Net.Udp;

namespace Photon.Net.Sockets;

public enum TransportProtocol { Tcp, Udp }

/// <summary>
/// The right to use a range of ports: a capability to it with <see cref="Rights.Listen"/> lets its holder listen on a
/// TCP port in the range, with <see cref="Rights.Bind"/> bind a UDP port. The kernel binds grants into namespaces
/// (e.g. /tenant-a/net/http); a process that cannot look one up cannot open a port. Revoking the grant closes every
/// listener and socket opened through it.
/// </summary>
public sealed class PortGrant : KernelObject
{
    private readonly List<IAsyncDisposable> _opened = new();

    internal PortGrant(TransportProtocol protocol, ushort low, ushort high)
        : base(ObjectKind.NetworkPort, $"{protocol.ToString().ToLowerInvariant()}:{low}-{high}")
    {
        Protocol = protocol;
        Low = low;
        High = high;
    }

    public TransportProtocol Protocol { get; }
    public ushort Low { get; }
    public ushort High { get; }
    public bool Covers(TransportProtocol p, ushort port) => p == Protocol && port >= Low && port <= High;

    internal void Track(IAsyncDisposable socket) { lock (_opened) _opened.Add(socket); }

    protected override void OnLastCapabilityRevoked()
    {
        IAsyncDisposable[] all;
        lock (_opened) { all = _opened.ToArray(); _opened.Clear(); }
        foreach (var s in all) _ = s.DisposeAsync().AsTask();
    }
}

/// <summary>The right to reach out: <see cref="Rights.Connect"/> opens TCP connections to remote endpoints.</summary>
public sealed class NetworkAccess(string label) : KernelObject(ObjectKind.NetworkInterface, label);

/// <summary>A listening TCP port as a kernel object; its capability is what accepting needs.</summary>
public sealed class ListenerObject(TcpListener listener) : KernelObject(ObjectKind.NetworkPort, $"tcp-listen:{listener.Port}")
{
    public TcpListener Listener { get; } = listener;
    protected override void OnLastCapabilityRevoked() => _ = Listener.DisposeAsync().AsTask();
}

/// <summary>A TCP connection as a kernel object: Read to receive, Write to send; closing the last capability closes it.</summary>
public sealed class ConnectionObject(TcpConnection connection) : KernelObject(ObjectKind.Channel, $"tcp:{connection.Local}->{connection.Remote}")
{
    public TcpConnection Connection { get; } = connection;
    protected override void OnLastCapabilityRevoked() => _ = Connection.CloseAsync();
}

/// <summary>A bound UDP port as a kernel object.</summary>
public sealed class UdpSocketObject(UdpSocket socket) : KernelObject(ObjectKind.NetworkPort, $"udp:{socket.Port}")
{
    public UdpSocket Socket { get; } = socket;
    protected override void OnLastCapabilityRevoked() => _ = Socket.DisposeAsync().AsTask();
}

/// <summary>
/// The socket API for services: every call names its objects by handles in the calling process's table and is checked
/// against the capability behind the handle (listen needs a <see cref="PortGrant"/> covering the port, connect a
/// <see cref="NetworkAccess"/> with Connect, send/receive Write/Read on the connection). Results land in the caller's
/// handle table, so they can be delegated or moved over IPC like any capability, and die with the process.
/// </summary>
public sealed class SocketService(NetworkStack stack, CapabilityManager caps)
{
    private const Rights SocketRights = Rights.Read | Rights.Write | Rights.Delegate | Rights.Transfer;

    public NetworkStack Stack => stack;

    /// <summary>Creates a port-range grant (for the kernel or a parent to bind into a namespace).</summary>
    public Result<CapabilityToken> GrantPorts(TransportProtocol protocol, ushort low, ushort high, Principal holder)
    {
        if (low == 0 || high < low) return Errors.Of(ErrorCode.InvalidArgument, $"bad port range {low}-{high}");
        return caps.Create(new PortGrant(protocol, low, high), Rights.Bind | Rights.Listen | Rights.Delegate | Rights.Transfer, holder);
    }

    /// <summary>Creates the right to open outbound connections.</summary>
    public Result<CapabilityToken> GrantNetworkAccess(Principal holder) =>
        caps.Create(new NetworkAccess("net:outbound"), Rights.Connect | Rights.Delegate | Rights.Transfer, holder);

    public Result<Handle> Listen(Process process, Handle grant, ushort port, int backlog = 128)
    {
        var g = process.Check<PortGrant>(grant, Rights.Listen);
        if (!g.IsOk) return g.Error;
        if (!g.Value.Covers(TransportProtocol.Tcp, port))
            return Deny(process, grant, Rights.Listen, $"{g.Value.Label} does not cover tcp port {port}");
        var l = stack.Tcp.Listen(port, backlog);
        if (!l.IsOk) return l.Error;
        g.Value.Track(l.Value);
        return Issue(process, new ListenerObject(l.Value), Rights.Read | Rights.Delegate | Rights.Transfer, l.Value);
    }

    public async Task<Result<Handle>> AcceptAsync(Process process, Handle listener, CancellationToken ct = default)
    {
        var l = process.Check<ListenerObject>(listener, Rights.Read);
        if (!l.IsOk) return l.Error;
        var c = await l.Value.Listener.AcceptAsync(ct).ConfigureAwait(false);
        if (!c.IsOk) return c.Error;
        return Issue(process, new ConnectionObject(c.Value), SocketRights, c.Value);
    }

    public async Task<Result<Handle>> ConnectAsync(Process process, Handle network, IpEndpoint remote, CancellationToken ct = default)
    {
        var n = process.Check<NetworkAccess>(network, Rights.Connect);
        if (!n.IsOk) return n.Error;
        var c = await stack.Tcp.ConnectAsync(remote, ct).ConfigureAwait(false);
        if (!c.IsOk) return c.Error;
        return Issue(process, new ConnectionObject(c.Value), SocketRights, c.Value);
    }

    public async Task<Result> SendAsync(Process process, Handle connection, ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        var c = process.Check<ConnectionObject>(connection, Rights.Write);
        if (!c.IsOk) return c.Error;
        return await c.Value.Connection.SendAsync(data, ct).ConfigureAwait(false);
    }

    /// <summary>Receives into <paramref name="buffer"/>; 0 means the peer closed its side.</summary>
    public async Task<Result<int>> ReceiveAsync(Process process, Handle connection, Memory<byte> buffer, CancellationToken ct = default)
    {
        var c = process.Check<ConnectionObject>(connection, Rights.Read);
        if (!c.IsOk) return c.Error;
        return await c.Value.Connection.ReceiveAsync(buffer, ct).ConfigureAwait(false);
    }

    /// <summary>Closes a socket handle: revoking its capability closes a connection gracefully (FIN after queued data),
    /// a listener or a UDP port immediately.</summary>
    public Result Close(Process process, Handle socket) => process.Close(socket);

    /// <summary>Binds a UDP port: a given port needs a <see cref="PortGrant"/> covering it; port 0 (an ephemeral port,
    /// for clients) needs <see cref="NetworkAccess"/> with Connect instead.</summary>
    public Result<Handle> BindUdp(Process process, Handle grant, ushort port)
    {
        if (port == 0)
        {
            var n = process.Check<NetworkAccess>(grant, Rights.Connect);
            if (!n.IsOk) return n.Error;
            var eph = stack.Udp.Bind(0);
            if (!eph.IsOk) return eph.Error;
            return Issue(process, new UdpSocketObject(eph.Value), SocketRights, eph.Value);
        }
        var g = process.Check<PortGrant>(grant, Rights.Bind);
        if (!g.IsOk) return g.Error;
        if (!g.Value.Covers(TransportProtocol.Udp, port))
            return Deny(process, grant, Rights.Bind, $"{g.Value.Label} does not cover udp port {port}");
        var s = stack.Udp.Bind(port);
        if (!s.IsOk) return s.Error;
        g.Value.Track(s.Value);
        return Issue(process, new UdpSocketObject(s.Value), SocketRights, s.Value);
    }

    public async Task<Result> SendToAsync(Process process, Handle udp, IpEndpoint to, ReadOnlyMemory<byte> data)
    {
        var s = process.Check<UdpSocketObject>(udp, Rights.Write);
        if (!s.IsOk) return s.Error;
        return await s.Value.Socket.SendToAsync(to, data).ConfigureAwait(false);
    }

    public async Task<Result<UdpDatagram>> ReceiveFromAsync(Process process, Handle udp, CancellationToken ct = default)
    {
        var s = process.Check<UdpSocketObject>(udp, Rights.Read);
        if (!s.IsOk) return s.Error;
        return await s.Value.Socket.ReceiveAsync(ct).ConfigureAwait(false);
    }

    private Result<Handle> Issue(Process process, KernelObject obj, Rights rights, IAsyncDisposable socket)
    {
        var cap = caps.Create(obj, rights, process.Principal);
        if (!cap.IsOk) { _ = socket.DisposeAsync().AsTask(); return cap.Error; }
        return process.AddHandle(cap.Value);
    }

    private KernelError Deny(Process process, Handle h, Rights rights, string why)
    {
        var token = process.TokenOf(h);
        var error = Errors.Of(ErrorCode.AccessDenied, why);
        return token.IsOk ? caps.RecordDenied(process.Principal, token.Value, rights, error) : error;
    }
}
