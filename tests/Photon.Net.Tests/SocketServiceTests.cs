using System.Text;
using Photon.Kernel.Audit;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Net.Sockets;
using static Photon.Net.Tests.TwoStacks;

namespace Photon.Net.Tests;

/// <summary>Sockets as capabilities: ports come from grants bound in namespaces, connections are handles.</summary>
public sealed class SocketServiceTests : IAsyncLifetime
{
    private readonly PhysicalMemory _phys = new(8 * 1024 * 1024);
    private readonly InMemoryAuditSink _audit = new();
    private readonly CapabilityManager _caps;
    private readonly NamespaceManager _ns;
    private readonly ProcessManager _pm;
    private readonly MemoryManager _mm;
    private readonly TwoStacks _net = new();
    private readonly SocketService _server, _client;
    private readonly CapabilityToken _tenantA, _tenantB, _httpGrant;

    public SocketServiceTests()
    {
        _caps = new CapabilityManager(_audit);
        _ns = new NamespaceManager(_caps);
        _mm = new MemoryManager(_phys, _caps);
        _pm = new ProcessManager(_caps, _ns, _mm);
        _server = new SocketService(_net.Right, _caps);
        _client = new SocketService(_net.Left, _caps);
        _tenantA = _ns.CreateChild(_ns.RootCapability, "tenant-a").Value;
        _tenantB = _ns.CreateChild(_ns.RootCapability, "tenant-b").Value;
        // tenant-a may serve HTTP on 8080; tenant-b may only make outbound connections.
        var http = _server.GrantPorts(TransportProtocol.Tcp, 8080, 8080, Principal.Kernel).Value;
        _ns.Bind(_tenantA, "http", http, Rights.Listen | Rights.Delegate).Unwrap();
        _httpGrant = http;
        var udp = _server.GrantPorts(TransportProtocol.Udp, 5300, 5399, Principal.Kernel).Value;
        _ns.Bind(_tenantA, "dns", udp, Rights.Bind).Unwrap();
        var outbound = _client.GrantNetworkAccess(Principal.Kernel).Value;
        _ns.Bind(_tenantB, "net", outbound, Rights.Connect).Unwrap();
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _net.DisposeAsync();
        _phys.Dispose();
    }

    private Process Spawn(string name, CapabilityToken ns) => _pm.Spawn(name, ns).Value.Process;

    [Fact]
    public async Task A_listening_port_needs_a_grant_from_the_namespace_and_connections_are_handles()
    {
        var web = Spawn("web", _tenantA);
        var client = Spawn("client", _tenantB);
        var grant = web.Open("http", Rights.Listen).Value;
        Assert.Equal(ErrorCode.AccessDenied, _server.Listen(web, grant, 9090).Code); // outside the granted range
        var listener = _server.Listen(web, grant, 8080).Value;
        Assert.Equal(ErrorCode.NotFound, client.Open("http", Rights.Listen).Code);   // tenant-b has no port grant
        Assert.Equal(ErrorCode.InvalidHandle, _server.Listen(client, new Handle(12345), 8080).Code); // forged handle
        Assert.Equal(ErrorCode.NotFound, web.Open("net", Rights.Connect).Code);      // and tenant-a no outbound access

        var accept = _server.AcceptAsync(web, listener);
        var net = client.Open("net", Rights.Connect).Value;
        var conn = await _client.ConnectAsync(client, net, new IpEndpoint(Ip("10.9.0.2"), 8080));
        Assert.True(conn.IsOk, conn.ToString());
        var served = (await accept).Value;
        Assert.True((await _client.SendAsync(client, conn.Value, "GET /"u8.ToArray())).IsOk);
        var buf = new byte[16];
        var n = await _server.ReceiveAsync(web, served, buf);
        Assert.Equal("GET /", Encoding.ASCII.GetString(buf, 0, n.Value));
        // A handle of one process means nothing in another's table; a listener handle is not a connection.
        Assert.NotEqual(ErrorCode.None, (await _server.SendAsync(client, served, new byte[1])).Code);
        Assert.Equal(ErrorCode.WrongObjectType, (await _server.ReceiveAsync(web, listener, new byte[1])).Code);
        // Closing the handle closes the connection gracefully: the client reads end of stream.
        Assert.True(_server.Close(web, served).IsOk);
        Assert.Equal(0, (await _client.ReceiveAsync(client, conn.Value, buf).WaitAsync(TimeSpan.FromSeconds(5))).Value);
        Assert.Contains(_audit.Snapshot(), e => e.Action == AuditAction.Denied && e.Subject.StartsWith("web") && e.Detail.Contains("9090"));
    }

    [Fact]
    public async Task Revoking_the_port_grant_closes_the_listener_and_destroying_a_process_closes_its_connections()
    {
        var web = Spawn("web", _tenantA);
        var client = Spawn("client", _tenantB);
        var grant = web.Open("http", Rights.Listen).Value;
        var listener = _server.Listen(web, grant, 8080).Value;
        var accept = _server.AcceptAsync(web, listener);
        var net = client.Open("net", Rights.Connect).Value;
        var conn = (await _client.ConnectAsync(client, net, new IpEndpoint(Ip("10.9.0.2"), 8080))).Value;
        Assert.True((await accept).IsOk);

        var (victim, control) = _pm.Spawn("victim", _tenantB).Value;
        var vnet = victim.Open("net", Rights.Connect).Value;
        var accept2 = _server.AcceptAsync(web, listener);
        var vconn = (await _client.ConnectAsync(victim, vnet, new IpEndpoint(Ip("10.9.0.2"), 8080))).Value;
        var served2 = (await accept2).Value;
        Assert.True((await _pm.DestroyAsync(control)).IsOk);
        var buf = new byte[8];
        Assert.Equal(0, (await _server.ReceiveAsync(web, served2, buf).WaitAsync(TimeSpan.FromSeconds(5))).Value);

        // The kernel revokes the grant at its root: every derived copy dies and the listener opened through it closes.
        Assert.True(_caps.Revoke(_httpGrant).IsOk);
        Assert.Equal(ErrorCode.Revoked, _server.Listen(web, grant, 8080).Code);
        await StackTests.WaitUntil(() => _net.Right.Tcp.Listeners.Count == 0);
        Assert.Equal(ErrorCode.Revoked, (await _server.AcceptAsync(web, listener)).Code);
        Assert.Equal(ErrorCode.ConnectionRefused, (await _client.ConnectAsync(client, net, new IpEndpoint(Ip("10.9.0.2"), 8080))).Code);
        // The connection accepted through the grant lived under it too: it was reset.
        Assert.Equal(ErrorCode.ConnectionReset, (await _client.ReceiveAsync(client, conn, buf).WaitAsync(TimeSpan.FromSeconds(5))).Code);
    }

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);
    private static readonly IpEndpoint Http = new(Ip("10.9.0.2"), 8080);

    private T ObjectOf<T>(Process p, Handle h) where T : KernelObject => (T)_caps.Inspect(p.TokenOf(h).Value).Value.Object;

    /// <summary>Issue #9 item 12: with the kernel keeping its root grant, revoking what was derived from it used to
    /// leave the tenant's listener open, its handle valid and the port busy.</summary>
    [Fact]
    public async Task Revoking_the_descendants_of_the_root_grant_closes_the_tenants_listener_frees_the_port_and_resets_connections()
    {
        var web = Spawn("web", _tenantA);
        var client = Spawn("client", _tenantB);
        var grant = web.Open("http", Rights.Listen).Value;
        var listener = _server.Listen(web, grant, 8080).Value;
        var accept = _server.AcceptAsync(web, listener);
        var net = client.Open("net", Rights.Connect).Value;
        var conn = (await _client.ConnectAsync(client, net, Http)).Value;
        var served = (await accept).Value;
        var listenerObject = ObjectOf<ListenerObject>(web, listener);
        var servedObject = ObjectOf<ConnectionObject>(web, served);
        var waiting = _server.AcceptAsync(web, listener);

        // The audit trail names sockets by what they are (they were once recorded as IPC channels and ports).
        Assert.Contains(_audit.Snapshot(), e => e.ObjectKind == ObjectKind.TcpListener && e.ObjectLabel == listenerObject.Label);
        Assert.Contains(_audit.Snapshot(), e => e.ObjectKind == ObjectKind.TcpConnection && e.ObjectLabel == servedObject.Label);

        Assert.True(_caps.RevokeDescendants(_httpGrant).IsOk); // the kernel keeps the root, the tenant's copies die

        // Without anyone touching the handles, the sweep closes the listener (ending the pending accept), frees the
        // port and resets the accepted connection.
        Assert.Equal(ErrorCode.Closed, (await waiting.WaitAsync(Patience)).Code);
        await StackTests.WaitUntil(() => _net.Right.Tcp.Listeners.Count == 0);
        Assert.Equal(ErrorCode.ConnectionReset, (await _client.ReceiveAsync(client, conn, new byte[8]).WaitAsync(Patience)).Code);
        await StackTests.WaitUntil(() => _net.Right.Tcp.Connections.Count == 0);

        // Every socket handle web holds fails with Revoked; nothing of the sockets is left; the port can be bound again.
        Assert.Equal(ErrorCode.Revoked, (await _server.AcceptAsync(web, listener)).Code);
        Assert.Equal(ErrorCode.Revoked, (await _server.ReceiveAsync(web, served, new byte[8])).Code);
        Assert.Equal(ErrorCode.Revoked, (await _server.SendAsync(web, served, new byte[1])).Code);
        Assert.Equal(ErrorCode.Revoked, _server.Listen(web, grant, 8080).Code);
        Assert.True(listenerObject.IsDestroyed && servedObject.IsDestroyed);
        Assert.True(listenerObject.Listener.IsClosed);
        Assert.Equal(0, _server.OpenSockets);
        await using (var again = _net.Right.Tcp.Listen(8080).Value) { }
        Assert.True(_caps.VerifyInvariants().IsOk);
    }

    [Fact]
    public async Task A_revoked_grant_is_noticed_at_the_sockets_next_use_even_before_any_sweep()
    {
        await using var stacks = new TwoStacks();
        var lazy = new SocketService(stacks.Right, _caps) { SweepInterval = TimeSpan.FromDays(1) };
        var client = new SocketService(stacks.Left, _caps);
        var root = lazy.GrantPorts(TransportProtocol.Udp, 7000, 7000, Principal.Kernel).Value;
        var tcpRoot = lazy.GrantPorts(TransportProtocol.Tcp, 7000, 7000, Principal.Kernel).Value;
        var net = client.GrantNetworkAccess(Principal.Kernel).Value;
        var ns = _ns.CreateChild(_ns.RootCapability, "tenant-c").Value;
        _ns.Bind(ns, "udp", root, Rights.Bind).Unwrap();
        _ns.Bind(ns, "tcp", tcpRoot, Rights.Listen).Unwrap();
        _ns.Bind(ns, "net", net, Rights.Connect).Unwrap();
        var p = Spawn("svc", ns);
        var udp = lazy.BindUdp(p, p.Open("udp", Rights.Bind).Value, 7000).Value;
        var listener = lazy.Listen(p, p.Open("tcp", Rights.Listen).Value, 7000).Value;
        var accept = lazy.AcceptAsync(p, listener);
        Assert.Equal(ErrorCode.AccessDenied, client.Listen(p, p.Open("net", Rights.Connect).Value, 7000).Code); // outbound access cannot listen
        var c = (await client.ConnectAsync(p, p.Open("net", Rights.Connect).Value, new IpEndpoint(Ip("10.9.0.2"), 7000))).Value;
        var served = (await accept).Value;

        Assert.True(_caps.RevokeDescendants(root).IsOk);
        Assert.True(_caps.RevokeDescendants(tcpRoot).IsOk);
        Assert.True(_caps.RevokeDescendants(net).IsOk);
        Assert.Equal(ErrorCode.Revoked, (await lazy.ReceiveFromAsync(p, udp)).Code);
        Assert.Equal(ErrorCode.Revoked, (await lazy.AcceptAsync(p, listener)).Code);
        Assert.Equal(ErrorCode.Revoked, (await lazy.SendAsync(p, served, new byte[1])).Code);
        Assert.Equal(ErrorCode.Revoked, (await client.ReceiveAsync(p, c, new byte[1])).Code);
        Assert.Equal(0, lazy.OpenSockets + client.OpenSockets);
        Assert.True(stacks.Right.Udp.Bind(7000).IsOk);   // the port is free at once
        Assert.True(stacks.Right.Tcp.Listen(7000).IsOk);
        Assert.True(_caps.VerifyInvariants().IsOk);
    }

    [Fact]
    public async Task A_listener_closed_with_connections_in_its_backlog_resets_them_and_leaves_nothing_behind()
    {
        var web = Spawn("web", _tenantA);
        var client = Spawn("client", _tenantB);
        var grant = web.Open("http", Rights.Listen).Value;
        var net = client.Open("net", Rights.Connect).Value;
        long capabilities = _caps.LiveCount;
        int handles = web.Handles.Count;
        var listener = _server.Listen(web, grant, 8080, backlog: 4).Value;
        var listenerObject = ObjectOf<ListenerObject>(web, listener);
        var queued = new List<Handle>();
        for (int i = 0; i < 3; i++) queued.Add((await _client.ConnectAsync(client, net, Http)).Value);
        await StackTests.WaitUntil(() => listenerObject.Listener.PendingAccept == 3);

        Assert.True(_server.Close(web, listener).IsOk);
        foreach (var c in queued)
            Assert.Equal(ErrorCode.ConnectionReset, (await _client.ReceiveAsync(client, c, new byte[8]).WaitAsync(Patience)).Code);
        foreach (var c in queued) Assert.True(_client.Close(client, c).IsOk);
        await StackTests.WaitUntil(() => _net.Right.Tcp.Connections.Count == 0 && _net.Left.Tcp.Connections.Count == 0);
        Assert.Empty(_net.Right.Tcp.Listeners);
        Assert.Equal(0, listenerObject.Listener.PendingAccept + listenerObject.Listener.HalfOpen);
        Assert.True(listenerObject.IsDestroyed);
        Assert.Equal(0, _server.OpenSockets + _client.OpenSockets);
        Assert.Equal(capabilities, _caps.LiveCount); // listener, tethers and the client's connections: all gone
        Assert.Equal(handles, web.Handles.Count);
        Assert.True(_caps.VerifyInvariants().IsOk);
    }

    [Fact]
    public async Task Every_socket_call_refuses_forged_closed_stale_and_mistyped_handles_and_bad_sizes()
    {
        var web = Spawn("web", _tenantA);
        var client = Spawn("client", _tenantB);
        var grant = web.Open("http", Rights.Listen).Value;
        var udpGrant = web.Open("dns", Rights.Bind).Value;
        var net = client.Open("net", Rights.Connect).Value;
        long capabilities = _caps.LiveCount;

        var forged = new Handle(0x7777);
        var to = new IpEndpoint(Ip("10.9.0.1"), 9);
        Assert.Equal(ErrorCode.InvalidHandle, _server.Listen(web, forged, 8080).Code);
        Assert.Equal(ErrorCode.InvalidHandle, (await _server.AcceptAsync(web, forged)).Code);
        Assert.Equal(ErrorCode.InvalidHandle, (await _client.ConnectAsync(client, forged, Http)).Code);
        Assert.Equal(ErrorCode.InvalidHandle, (await _server.SendAsync(web, forged, new byte[1])).Code);
        Assert.Equal(ErrorCode.InvalidHandle, (await _server.ReceiveAsync(web, forged, new byte[1])).Code);
        Assert.Equal(ErrorCode.InvalidHandle, _server.BindUdp(web, forged, 5353).Code);
        Assert.Equal(ErrorCode.InvalidHandle, _server.BindUdp(web, forged, 0).Code);
        Assert.Equal(ErrorCode.InvalidHandle, (await _server.SendToAsync(web, forged, to, new byte[1])).Code);
        Assert.Equal(ErrorCode.InvalidHandle, (await _server.ReceiveFromAsync(web, forged)).Code);
        Assert.Equal(ErrorCode.InvalidHandle, _server.Close(web, forged).Code);

        // Sizes: backlogs outside 1..MaxBacklog, ports outside the grant, oversized datagrams, empty buffers.
        foreach (var backlog in new[] { 0, -1, SocketService.MaxBacklog + 1, int.MaxValue })
            Assert.Equal(ErrorCode.InvalidArgument, _server.Listen(web, grant, 8080, backlog).Code);
        Assert.Equal(ErrorCode.AccessDenied, _server.Listen(web, grant, 0).Code);
        Assert.Equal(ErrorCode.AccessDenied, _server.BindUdp(web, udpGrant, 65535).Code);
        var listener = _server.Listen(web, grant, 8080).Value;
        var udp = _server.BindUdp(web, udpGrant, 5353).Value;
        Assert.Equal(ErrorCode.AddressInUse, _server.Listen(web, grant, 8080).Code);
        Assert.Equal(ErrorCode.InvalidArgument, (await _server.SendToAsync(web, udp, to, new byte[70_000])).Code);
        var accept = _server.AcceptAsync(web, listener);
        var conn = (await _client.ConnectAsync(client, net, Http)).Value;
        var served = (await accept).Value;
        Assert.Equal(ErrorCode.InvalidArgument, (await _server.ReceiveAsync(web, served, Memory<byte>.Empty)).Code);

        // Wrong object types (or rights the handle does not carry).
        Assert.Equal(ErrorCode.WrongObjectType, (await _server.ReceiveAsync(web, listener, new byte[1])).Code);
        Assert.Equal(ErrorCode.WrongObjectType, (await _server.ReceiveFromAsync(web, listener)).Code);
        Assert.Equal(ErrorCode.WrongObjectType, (await _server.AcceptAsync(web, served)).Code);
        Assert.Equal(ErrorCode.WrongObjectType, (await _server.AcceptAsync(web, udp)).Code);
        Assert.Equal(ErrorCode.WrongObjectType, (await _server.SendAsync(web, udp, new byte[1])).Code);
        Assert.Equal(ErrorCode.WrongObjectType, (await _server.SendToAsync(web, served, to, new byte[1])).Code);
        Assert.Equal(ErrorCode.AccessDenied, (await _server.SendAsync(web, listener, new byte[1])).Code);
        Assert.Equal(ErrorCode.AccessDenied, (await _server.AcceptAsync(web, grant)).Code);
        Assert.Equal(ErrorCode.AccessDenied, _server.Listen(web, udpGrant, 5353).Code);
        Assert.Equal(ErrorCode.AccessDenied, _server.BindUdp(web, listener, 5354).Code);
        Assert.Equal(ErrorCode.AccessDenied, _server.BindUdp(web, served, 0).Code);

        // A huge send into a peer that does not read waits for room, and cancelling it ends it.
        using (var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300)))
            Assert.Equal(ErrorCode.Cancelled, (await _server.SendAsync(web, served, new byte[32 << 20], cts.Token).WaitAsync(Patience)).Code);

        // Races of close against pending calls: each pending call ends with Closed.
        var pendingAccept = _server.AcceptAsync(web, listener);
        var pendingReceive = _server.ReceiveAsync(web, served, new byte[8]); // the client sent nothing
        var pendingDatagram = _server.ReceiveFromAsync(web, udp);
        Assert.True(_server.Close(web, listener).IsOk);
        Assert.True(_server.Close(web, served).IsOk);
        Assert.True(_server.Close(web, udp).IsOk);
        Assert.Equal(ErrorCode.Closed, (await pendingAccept.WaitAsync(Patience)).Code);
        Assert.Equal(ErrorCode.Closed, (await pendingReceive.WaitAsync(Patience)).Code);
        Assert.Equal(ErrorCode.Closed, (await pendingDatagram.WaitAsync(Patience)).Code);

        // Closed handles are invalid afterwards, and so are stale ones whose slot was reused.
        Assert.Equal(ErrorCode.InvalidHandle, (await _server.AcceptAsync(web, listener)).Code);
        Assert.Equal(ErrorCode.InvalidHandle, (await _server.SendAsync(web, served, new byte[1])).Code);
        Assert.Equal(ErrorCode.InvalidHandle, _server.Close(web, udp).Code);
        var reused = _server.BindUdp(web, udpGrant, 5353).Value;
        Assert.NotEqual(udp, reused);
        Assert.Equal(ErrorCode.InvalidHandle, (await _server.ReceiveFromAsync(web, udp)).Code);
        Assert.True(_server.Close(web, reused).IsOk);
        Assert.True(_client.Close(client, conn).IsOk);

        // Close racing accept many times: whatever wins, nothing leaks.
        for (int i = 0; i < 20; i++)
        {
            var l = _server.Listen(web, grant, 8080).Value;
            var a = _server.AcceptAsync(web, l);
            var dial = _client.ConnectAsync(client, net, Http);
            var close = Task.Run(() => _server.Close(web, l));
            var (accepted, dialled) = (await a.WaitAsync(Patience), await dial.WaitAsync(Patience));
            Assert.True((await close).IsOk);
            if (accepted.IsOk) Assert.True(_server.Close(web, accepted.Value).IsOk);
            if (dialled.IsOk) Assert.True(_client.Close(client, dialled.Value).IsOk);
        }
        await StackTests.WaitUntil(() => _net.Right.Tcp.Connections.Count == 0 && _net.Left.Tcp.Connections.Count == 0);
        Assert.Equal(0, _server.OpenSockets + _client.OpenSockets);
        Assert.Equal(capabilities, _caps.LiveCount);
        Assert.True(_caps.VerifyInvariants().IsOk);
    }

    [Fact]
    public async Task Udp_ports_are_granted_by_range()
    {
        var dns = Spawn("dns", _tenantA);
        var grant = dns.Open("dns", Rights.Bind).Value;
        Assert.Equal(ErrorCode.AccessDenied, _server.BindUdp(dns, grant, 53).Code);
        var sock = _server.BindUdp(dns, grant, 5353).Value;
        await using var peer = _net.Left.Udp.Bind(0).Value;
        Assert.True((await peer.SendToAsync(new IpEndpoint(Ip("10.9.0.2"), 5353), "q"u8.ToArray())).IsOk);
        var d = await _server.ReceiveFromAsync(dns, sock).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(d.IsOk);
        Assert.True((await _server.SendToAsync(dns, sock, d.Value.From, "a"u8.ToArray())).IsOk);
        Assert.Equal("a"u8.ToArray(), (await peer.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(5))).Value.Data);

        // A client gets an ephemeral UDP port through its outbound-network capability, not through a port grant.
        var resolver = Spawn("resolver", _tenantB);
        var net = resolver.Open("net", Rights.Connect).Value;
        Assert.Equal(ErrorCode.AccessDenied, _client.BindUdp(dns, grant, 0).Code); // a port grant is not outbound access
        var mine = _client.BindUdp(resolver, net, 0).Value;
        Assert.True((await _client.SendToAsync(resolver, mine, new IpEndpoint(Ip("10.9.0.2"), 5353), "q2"u8.ToArray())).IsOk);
        var q2 = await _server.ReceiveFromAsync(dns, sock).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("q2"u8.ToArray(), q2.Value.Data);
        Assert.InRange(q2.Value.From.Port, 49152, 65535);
    }

    [Fact]
    public async Task Connections_are_capabilities_so_the_tenant_capability_quota_bounds_them()
    {
        var quotas = new Photon.Kernel.Quotas.TenantQuotas();
        quotas.Attach(_caps, _mm, _pm, new Photon.Kernel.Ipc.IpcManager(_caps, _ns, Timers), _ns);
        var web = Spawn("web", _tenantA);
        var listener = _server.Listen(web, web.Open("http", Rights.Listen).Value, 8080).Value;
        var serving = Task.Run(async () => { while ((await _server.AcceptAsync(web, listener)).IsOk) { } });
        var client = Spawn("client", _tenantB);
        var net = client.Open("net", Rights.Connect).Value;
        int used = quotas.Usage("/tenant-b").Capabilities;
        Assert.True(quotas.SetLimits("/tenant-b", new Photon.Kernel.Quotas.QuotaLimits(Capabilities: used + 3)).IsOk);
        for (int i = 0; i < 3; i++)
            Assert.True((await _client.ConnectAsync(client, net, new IpEndpoint(Ip("10.9.0.2"), 8080))).IsOk);
        Assert.Equal(ErrorCode.QuotaExceeded, (await _client.ConnectAsync(client, net, new IpEndpoint(Ip("10.9.0.2"), 8080))).Code);
    }
}
