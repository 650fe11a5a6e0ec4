using Photon.Kernel.Diagnostics.Tracing;
using System.Runtime.CompilerServices;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Processes;
using Photon.Net.Dns;
using Photon.Net.Sockets;
using Photon.Net.Udp;

namespace Photon.Net.Syscalls;

/// <summary>
/// The socket system calls of a kernel booted with a <see cref="NetworkComponent"/>: every call takes the calling
/// process and handles in its table, and reaches the kernel's one socket service through the process's kernel — so a
/// process needs nothing but capabilities it looked up (<c>/net/tcp</c>, <c>/net/udp</c>, <c>/net/outbound</c>, or grants
/// bound into its namespace) and handles it was given. Without a network component every call is <c>NotSupported</c>.
/// </summary>
public static class SocketSyscalls
{
    private static readonly ConditionalWeakTable<CapabilityManager, SocketService> Services = new();

    internal static Result Register(CapabilityManager caps, SocketService sockets) =>
        Services.TryAdd(caps, sockets) ? Result.Ok : Result.Fail(ErrorCode.AlreadyExists, "this kernel already runs a network component");

    internal static void Unregister(CapabilityManager caps) => Services.Remove(caps);

    private static Result<SocketService> Of(Process caller) =>
        Services.TryGetValue(caller.Manager.Capabilities, out var s) ? s : Errors.Of(ErrorCode.NotSupported, "no network component is running");

    /// <summary>Carves a grant for <paramref name="low"/>..<paramref name="high"/> out of the port grant
    /// <paramref name="parent"/> names (needs Delegate; the range must lie inside the parent's) into the caller's table.
    /// Closing the returned handle revokes the grant and closes everything opened through it.</summary>
    public static Result<Handle> GrantPorts(Process caller, Handle parent, ushort low, ushort high)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.net.grant_ports");
        var s = Of(caller);
        if (!s.IsOk) return s.Error;
        var g = caller.Get<PortGrant>(parent, Rights.Delegate);
        if (!g.IsOk) return g.Error;
        if (low == 0 || high < low || low < g.Value.Low || high > g.Value.High)
            return Errors.Of(ErrorCode.AccessDenied, $"{g.Value.Label} does not cover {low}-{high}");
        return s.Value.GrantPorts(caller, g.Value.Protocol, low, high);
    }

    public static Result<Handle> Listen(Process caller, Handle grant, ushort port, int backlog = 128)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.net.listen");
        var s = Of(caller);
        return s.IsOk ? s.Value.Listen(caller, grant, port, backlog) : s.Error;
    }

    public static async Task<Result<Handle>> AcceptAsync(Process caller, Handle listener, CancellationToken ct = default)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.net.accept");
        var s = Of(caller);
        return s.IsOk ? await s.Value.AcceptAsync(caller, listener, ct).ConfigureAwait(false) : s.Error;
    }

    public static async Task<Result<Handle>> ConnectAsync(Process caller, Handle network, IpEndpoint remote, CancellationToken ct = default)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.net.connect");
        var s = Of(caller);
        return s.IsOk ? await s.Value.ConnectAsync(caller, network, remote, ct).ConfigureAwait(false) : s.Error;
    }

    /// <summary>Connects to <paramref name="host"/>:<paramref name="port"/>: both handles are checked first (Connect on
    /// <paramref name="network"/>, Read on the <see cref="ResolverObject"/> <paramref name="resolver"/>), then the name is
    /// resolved (an address literal of either family needs no query; AAAA answers come first when the stack has a global
    /// IPv6 address) and its addresses are tried in order; the last failure is returned.</summary>
    public static async Task<Result<Handle>> ConnectAsync(Process caller, Handle network, Handle resolver, string host, ushort port, CancellationToken ct = default)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.net.connect_by_name");
        var s = Of(caller);
        if (!s.IsOk) return s.Error;
        var n = caller.Get<NetworkAccess>(network, Rights.Connect);
        if (!n.IsOk) return n.Error;
        var r = caller.Get<ResolverObject>(resolver, Rights.Read);
        if (!r.IsOk) return r.Error;
        if (port == 0) return Errors.Of(ErrorCode.InvalidArgument, "destination port 0");
        Result<IReadOnlyList<IpAddress>> addresses;
        using (var untilExit = CancellationTokenSource.CreateLinkedTokenSource(ct, caller.Lifetime))
            addresses = await r.Value.Resolver.ResolveAddressesAsync(caller.Principal, host, untilExit.Token).ConfigureAwait(false);
        if (!addresses.IsOk) return addresses.Error;
        KernelError last = Errors.Of(ErrorCode.NotFound, $"{host}: no address");
        foreach (var address in addresses.Value)
        {
            var c = await s.Value.ConnectAsync(caller, network, new IpEndpoint(address, port), ct).ConfigureAwait(false);
            if (c.IsOk || ct.IsCancellationRequested) return c;
            last = c.Error;
        }
        return last;
    }

    public static async Task<Result> SendAsync(Process caller, Handle connection, ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.net.send");
        var s = Of(caller);
        return s.IsOk ? await s.Value.SendAsync(caller, connection, data, ct).ConfigureAwait(false) : s.Error;
    }

    /// <summary>Receives into <paramref name="buffer"/>; 0 means the peer closed its side.</summary>
    public static async Task<Result<int>> ReceiveAsync(Process caller, Handle connection, Memory<byte> buffer, CancellationToken ct = default)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.net.receive");
        var s = Of(caller);
        return s.IsOk ? await s.Value.ReceiveAsync(caller, connection, buffer, ct).ConfigureAwait(false) : s.Error;
    }

    /// <summary>The local and remote endpoints of a connection (needs Read).</summary>
    public static Result<(IpEndpoint Local, IpEndpoint Remote)> Endpoints(Process caller, Handle connection)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.net.endpoints");
        var s = Of(caller);
        return s.IsOk ? s.Value.Endpoints(caller, connection) : s.Error;
    }

    /// <summary>Resets a connection and closes its handle (needs Write).</summary>
    public static async Task<Result> AbortAsync(Process caller, Handle connection)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.net.abort");
        var s = Of(caller);
        return s.IsOk ? await s.Value.AbortAsync(caller, connection).ConfigureAwait(false) : s.Error;
    }

    /// <summary>Closes a socket handle (a connection gracefully, a listener or UDP port at once).</summary>
    public static Result Close(Process caller, Handle socket)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.net.close");
        return caller.Close(socket);
    }

    public static Result<Handle> BindUdp(Process caller, Handle grant, ushort port)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.net.bind_udp");
        var s = Of(caller);
        return s.IsOk ? s.Value.BindUdp(caller, grant, port) : s.Error;
    }

    public static async Task<Result> SendToAsync(Process caller, Handle udp, IpEndpoint to, ReadOnlyMemory<byte> data)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.net.send_to");
        var s = Of(caller);
        return s.IsOk ? await s.Value.SendToAsync(caller, udp, to, data).ConfigureAwait(false) : s.Error;
    }

    public static async Task<Result<UdpDatagram>> ReceiveFromAsync(Process caller, Handle udp, CancellationToken ct = default)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.net.receive_from");
        var s = Of(caller);
        return s.IsOk ? await s.Value.ReceiveFromAsync(caller, udp, ct).ConfigureAwait(false) : s.Error;
    }

    /// <summary>ICMP echo to <paramref name="target"/>: needs Connect on a <see cref="NetworkAccess"/> (<c>/net/outbound</c>).</summary>
    public static async Task<Result<TimeSpan>> PingAsync(Process caller, Handle network, Ipv4Address target, TimeSpan timeout, CancellationToken ct = default)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.net.ping");
        var s = Of(caller);
        if (!s.IsOk) return s.Error;
        var n = caller.Get<NetworkAccess>(network, Rights.Connect);
        if (!n.IsOk) return n.Error;
        return await s.Value.Stack.PingAsync(target, timeout, ct: ct).ConfigureAwait(false);
    }

    /// <summary>The stack's tables (interfaces, routes, ARP cache, sockets, counters) as text rows — netstat — for a
    /// holder of Connect on a <see cref="NetworkAccess"/> (<c>/net/outbound</c>).</summary>
    public static Result<NetworkTables> Tables(Process caller, Handle network)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.net.tables");
        var s = Of(caller);
        if (!s.IsOk) return s.Error;
        var n = caller.Get<NetworkAccess>(network, Rights.Connect);
        if (!n.IsOk) return n.Error;
        return NetworkTables.Of(s.Value.Stack);
    }
}

/// <summary>A snapshot of a stack's tables, as plain rows (no live objects).</summary>
public sealed record NetworkTables(
    IReadOnlyList<string[]> Interfaces, IReadOnlyList<string[]> Routes, IReadOnlyList<string[]> Arp,
    IReadOnlyList<string[]> Sockets, IReadOnlyDictionary<string, long> Counters)
{
    public static readonly string[] InterfaceColumns = ["name", "address", "mac", "mtu", "rx frames", "tx frames"];
    public static readonly string[] RouteColumns = ["destination", "gateway", "dev", "metric"];
    public static readonly string[] ArpColumns = ["address", "mac", "dev", "age"];
    public static readonly string[] SocketColumns = ["proto", "local", "remote", "state", "send-q", "recv-q", "cwnd", "srtt", "rto", "retrans"];

    internal static NetworkTables Of(NetworkStack stack)
    {
        var ifs = stack.Interfaces.Select(i => new[] { i.Name, i.Cidr.ToString(), i.MacAddress, i.Mtu.ToString(), i.FramesReceived.ToString(), i.FramesSent.ToString() }).ToList();
        var routes = stack.Routes.Routes.Select(r => new[] { $"{r.Destination.Network}/{r.Destination.PrefixLength}", r.Gateway?.ToString() ?? "on-link", r.Interface.Name, r.Metric.ToString() }).ToList();
        var arp = stack.ArpCache.Select(e => new[] { e.Address.ToString(), e.Mac, e.Interface, $"{e.Age.TotalSeconds:0.0}s" }).ToList();
        var socks = new List<string[]>();
        foreach (var l in stack.Tcp.Listeners) socks.Add(["tcp", l.ToString()!, "*:*", "LISTEN", "", "", "", "", "", ""]);
        foreach (var c in stack.Tcp.Connections)
            socks.Add(["tcp", c.Local.ToString(), c.Remote.ToString(), c.State.ToString(), c.SendQueue.ToString(), c.ReceiveQueue.ToString(),
                c.CongestionWindow.ToString(), $"{c.SmoothedRtt.TotalMilliseconds:0.00}ms", $"{c.RetransmitTimeout.TotalMilliseconds:0}ms", c.Retransmits.ToString()]);
        foreach (var u in stack.Udp.Sockets) socks.Add(["udp", $"*:{u.Port}", "*:*", "", "", u.Queued.ToString(), "", "", "", ""]);
        return new NetworkTables(ifs, routes, arp, socks, stack.Statistics.ToDictionary(kv => kv.Key.ToString(), kv => (long)kv.Value));
    }
}
