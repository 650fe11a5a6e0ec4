using Photon.Kernel.Capabilities;
using Photon.Kernel.Processes;
using Photon.Net.Udp;

namespace Photon.Net.Sockets;

/// <summary>
/// The socket API for services: every call names its objects by handles in the calling process's table and is checked
/// against the capability behind the handle (listen needs a <see cref="PortGrant"/> covering the port, connect a
/// <see cref="NetworkAccess"/> with Connect, send/receive Write/Read on the connection). Results land in the caller's
/// handle table, so they can be delegated or moved over IPC like any capability, and die with the process. Every socket
/// is tethered under the capability it was opened through (<see cref="SocketObject"/>): revoking that capability or an
/// ancestor retires it — at its next use, within <see cref="SweepInterval"/> otherwise, at once when the whole grant dies.
/// </summary>
public sealed class SocketService
{
    private const Rights SocketRights = Rights.Read | Rights.Write | Rights.Delegate | Rights.Transfer;
    /// <summary>Most connections one listener queues for accepting: each holds its socket buffers until accepted.</summary>
    public const int MaxBacklog = 1024;

    private readonly NetworkStack _stack;
    private readonly CapabilityManager _caps;
    private readonly HashSet<SocketObject> _live = new();
    private TimeSpan _lastSweep;

    public SocketService(NetworkStack stack, CapabilityManager caps)
    {
        _stack = stack;
        _caps = caps;
        stack.Ticked += SweepIfDue;
    }

    public NetworkStack Stack => _stack;

    /// <summary>Per-tenant socket accounting: buffers charged to each tenant's memory quota, ephemeral ports capped per
    /// tenant. Without the kernel's quotas buffers are still counted per tenant, just charged to no quota.</summary>
    public SocketQuota Quota { get; init; } = new();

    /// <summary>How often sockets whose grant was revoked (without anyone using them) are looked for.</summary>
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Sockets this service has open (listeners, connections, UDP ports with a live capability).</summary>
    public int OpenSockets { get { lock (_live) return _live.Count; } }

    /// <summary>Creates a port-range grant (for the kernel or a parent to bind into a namespace).</summary>
    internal Result<CapabilityToken> GrantPorts(TransportProtocol protocol, ushort low, ushort high, Principal holder)
    {
        if (low == 0 || high < low) return Errors.Of(ErrorCode.InvalidArgument, $"bad port range {low}-{high}");
        return _caps.Create(new PortGrant(protocol, low, high, Sweep), Rights.Bind | Rights.Listen | Rights.Delegate | Rights.Transfer, holder);
    }

    /// <summary>Creates the right to open outbound connections.</summary>
    internal Result<CapabilityToken> GrantNetworkAccess(Principal holder) =>
        _caps.Create(new NetworkAccess("net:outbound") { OnDestroyed = Sweep }, Rights.Connect | Rights.Delegate | Rights.Transfer, holder);

    internal Result<Handle> Listen(Process process, Handle grant, ushort port, int backlog = 128)
    {
        var g = process.Get<PortGrant>(grant, Rights.Listen);
        if (!g.IsOk) return g.Error;
        if (!g.Value.Covers(TransportProtocol.Tcp, port))
            return Deny(process, grant, Rights.Listen, $"{g.Value.Label} does not cover tcp port {port}");
        if (backlog is < 1 or > MaxBacklog) return Errors.Of(ErrorCode.InvalidArgument, $"backlog must be 1..{MaxBacklog}");
        var through = process.TokenOf(grant); // closed meanwhile: the error, not an exception
        if (!through.IsOk) return through.Error;
        var l = _stack.Tcp.Listen(port, backlog);
        if (!l.IsOk) return l.Error;
        lock (_stack.Gate) l.Value.Account = Quota.AccountOf(process.Principal);
        return Issue(process, new ListenerObject(l.Value, through.Value), Rights.Read | Rights.Delegate | Rights.Transfer, through.Value);
    }

    internal async Task<Result<Handle>> AcceptAsync(Process process, Handle listener, CancellationToken ct = default)
    {
        var l = Use<ListenerObject>(process, listener, Rights.Read);
        if (!l.IsOk) return l.Error;
        var c = await l.Value.Listener.AcceptAsync(ct).ConfigureAwait(false);
        if (!c.IsOk) return c.Error;
        // Tethered to the grant the listener came through, so revoking the grant resets accepted connections too.
        return Issue(process, new ConnectionObject(c.Value), SocketRights, l.Value.Through);
    }

    internal async Task<Result<Handle>> ConnectAsync(Process process, Handle network, IpEndpoint remote, CancellationToken ct = default)
    {
        var n = process.Get<NetworkAccess>(network, Rights.Connect);
        if (!n.IsOk) return n.Error;
        var through = process.TokenOf(network);
        if (!through.IsOk) return through.Error;
        var c = await _stack.Tcp.ConnectAsync(remote, Quota.AccountOf(process.Principal), ct).ConfigureAwait(false);
        if (!c.IsOk) return c.Error;
        return Issue(process, new ConnectionObject(c.Value), SocketRights, through.Value);
    }

    internal async Task<Result> SendAsync(Process process, Handle connection, ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        var c = Use<ConnectionObject>(process, connection, Rights.Write);
        if (!c.IsOk) return c.Error;
        return await c.Value.Connection.SendAsync(data, ct).ConfigureAwait(false);
    }

    /// <summary>Receives into <paramref name="buffer"/>; 0 means the peer closed its side.</summary>
    internal async Task<Result<int>> ReceiveAsync(Process process, Handle connection, Memory<byte> buffer, CancellationToken ct = default)
    {
        var c = Use<ConnectionObject>(process, connection, Rights.Read);
        if (!c.IsOk) return c.Error;
        return await c.Value.Connection.ReceiveValueAsync(buffer, ct).ConfigureAwait(false);
    }

    /// <summary>The two ends of a connection (needs Read).</summary>
    internal Result<(IpEndpoint Local, IpEndpoint Remote)> Endpoints(Process process, Handle connection)
    {
        var c = Use<ConnectionObject>(process, connection, Rights.Read);
        return c.IsOk ? (c.Value.Connection.Local, c.Value.Connection.Remote) : c.Error;
    }

    /// <summary>Resets a connection (RST, buffers dropped, pending calls end) and closes the handle (needs Write):
    /// what a server does to a client it gives up on, so the connection leaves no state behind.</summary>
    internal async Task<Result> AbortAsync(Process process, Handle connection)
    {
        var c = Use<ConnectionObject>(process, connection, Rights.Write);
        if (!c.IsOk) return c.Error;
        await c.Value.Connection.AbortAsync().ConfigureAwait(false);
        return process.Close(connection);
    }

    /// <summary>Closes a socket handle: revoking its capability closes a connection gracefully (FIN after queued data,
    /// pending calls end with Closed), a listener (resetting connections not yet accepted) or a UDP port immediately.</summary>
    internal Result Close(Process process, Handle socket) => process.Close(socket);

    /// <summary>Binds a UDP port: a given port needs a <see cref="PortGrant"/> covering it; port 0 (an ephemeral port,
    /// for clients) needs <see cref="NetworkAccess"/> with Connect instead.</summary>
    internal Result<Handle> BindUdp(Process process, Handle grant, ushort port)
    {
        SocketAccount? ephemeral = null;
        if (port == 0)
        {
            var n = process.Get<NetworkAccess>(grant, Rights.Connect);
            if (!n.IsOk) return n.Error;
        }
        else
        {
            var g = process.Get<PortGrant>(grant, Rights.Bind);
            if (!g.IsOk) return g.Error;
            if (!g.Value.Covers(TransportProtocol.Udp, port))
                return Deny(process, grant, Rights.Bind, $"{g.Value.Label} does not cover udp port {port}");
        }
        var through = process.TokenOf(grant);
        if (!through.IsOk) return through.Error;
        var account = Quota.AccountOf(process.Principal);
        if (port == 0 && account is not null)
        {
            var taken = account.TakeEphemeralPort();
            if (!taken.IsOk) return taken.Error;
            ephemeral = account;
        }
        var s = _stack.Udp.Bind(port, account); // its queued datagrams are charged to the tenant
        if (!s.IsOk) { ephemeral?.ReturnEphemeralPort(); return s.Error; }
        return Issue(process, new UdpSocketObject(s.Value) { EphemeralPortOf = ephemeral }, SocketRights, through.Value);
    }

    internal async Task<Result> SendToAsync(Process process, Handle udp, IpEndpoint to, ReadOnlyMemory<byte> data)
    {
        var s = Use<UdpSocketObject>(process, udp, Rights.Write);
        if (!s.IsOk) return s.Error;
        return await s.Value.Socket.SendToAsync(to, data).ConfigureAwait(false);
    }

    internal async Task<Result<UdpDatagram>> ReceiveFromAsync(Process process, Handle udp, CancellationToken ct = default)
    {
        var s = Use<UdpSocketObject>(process, udp, Rights.Read);
        if (!s.IsOk) return s.Error;
        return await s.Value.Socket.ReceiveAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Looks for sockets whose tether died and retires them (the grant sweep; also run on every stack tick
    /// once <see cref="SweepInterval"/> has passed).</summary>
    public void Sweep()
    {
        SocketObject[] live;
        lock (_live) live = [.. _live];
        foreach (var s in live)
            if (!_caps.Inspect(s.Tether).IsOk) Retire(s);
    }

    private void SweepIfDue()
    {
        var now = _stack.Now;
        if (now - _lastSweep < SweepInterval) return;
        _lastSweep = now;
        Sweep();
    }

    /// <summary>The socket behind a handle, checked for rights and for a live tether (a dead one retires it).</summary>
    private Result<T> Use<T>(Process process, Handle handle, Rights rights) where T : SocketObject
    {
        var s = process.Get<T>(handle, rights);
        if (!s.IsOk) return s.Error;
        if (!s.Value.Retired && _caps.Inspect(s.Value.Tether).IsOk) return s.Value;
        Retire(s.Value);
        return Errors.Of(ErrorCode.Revoked, $"{s.Value.Label}: the capability it was opened through has been revoked");
    }

    /// <summary>Revokes a socket whose grant is gone: every capability to it dies, which resets it (see
    /// <see cref="SocketObject.Shut"/>).</summary>
    private void Retire(SocketObject s)
    {
        s.MarkRetired();
        // Closed meanwhile is fine: it is gone either way (the check keeps the audit log free of spurious denials).
        if (_caps.Inspect(s.Capability).IsOk) _caps.Revoke(s.Capability);
    }

    /// <summary>Called once a socket's last capability is gone: drops its tether and forgets it.</summary>
    internal void Forget(SocketObject s)
    {
        lock (_live) _live.Remove(s);
        if (_caps.Inspect(s.Tether).IsOk) _caps.Revoke(s.Tether); // usually dead already when the grant was revoked
    }

    /// <summary>Gives the process a capability to a new socket, tethered under <paramref name="through"/>. Every failure
    /// closes the socket and leaves no capability behind.</summary>
    private Result<Handle> Issue(Process process, SocketObject socket, Rights rights, CapabilityToken through)
    {
        var tether = _caps.DeriveForKernel(through, Rights.None, Principal.Kernel, process.Principal);
        if (!tether.IsOk) { socket.Shut(reset: true); return tether.Error; }
        var cap = _caps.Create(socket, rights, process.Principal);
        if (!cap.IsOk)
        {
            _caps.Revoke(tether.Value);
            socket.Shut(reset: true);
            return cap.Error;
        }
        socket.Attach(this, cap.Value, tether.Value);
        lock (_live) _live.Add(socket);
        // AddHandle revokes the capability when it fails, which shuts the socket and drops the tether (Forget).
        return process.AddHandle(cap.Value);
    }

    private KernelError Deny(Process process, Handle h, Rights rights, string why)
    {
        var token = process.TokenOf(h);
        var error = Errors.Of(ErrorCode.AccessDenied, why);
        return token.IsOk ? _caps.RecordDenied(process.Principal, token.Value, rights, error) : error;
    }
}
