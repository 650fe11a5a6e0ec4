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
        Assert.Equal(ErrorCode.Closed, (await _server.AcceptAsync(web, listener)).Code);
        Assert.Equal(ErrorCode.ConnectionRefused, (await _client.ConnectAsync(client, net, new IpEndpoint(Ip("10.9.0.2"), 8080))).Code);
        Assert.True((await _client.SendAsync(client, conn, new byte[1])).IsOk); // the accepted connection is unaffected
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
        quotas.Attach(_caps, _mm, _pm, new Photon.Kernel.Ipc.IpcManager(_caps, _ns, Timers));
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
