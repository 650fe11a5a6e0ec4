using Photon.Kernel.Capabilities;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Net.Dns;
using Photon.Net.Sockets;
using Photon.Net.Syscalls;
using static Photon.Net.Tests.Dns.FakeDnsServer;
using static Photon.Net.Tests.TwoStacks;

namespace Photon.Net.Tests.Dns;

/// <summary>Processes reach the resolver only through a <see cref="ResolverObject"/> capability: Read looks up and lets
/// <c>ConnectAsync</c> take a host name, Manage changes the servers; a revoked or missing handle gets a typed error.</summary>
public sealed class ResolverSyscallTests : IAsyncLifetime
{
    private readonly PhysicalMemory _phys = new(8 * 1024 * 1024);
    private readonly CapabilityManager _caps = new();
    private readonly NamespaceManager _ns;
    private readonly ProcessManager _pm;
    private readonly TwoStacks _net = new();
    private readonly FakeDnsServer _server;
    private readonly CapabilityToken _app, _resolverCap;

    public ResolverSyscallTests()
    {
        _ns = new NamespaceManager(_caps);
        _pm = new ProcessManager(_caps, _ns, new MemoryManager(_phys, _caps));
        var sockets = new SocketService(_net.Left, _caps);
        SocketSyscalls.Register(_caps, sockets).Unwrap();
        _server = new FakeDnsServer(_net.Right, 53, (s, q) => Question(q.Message) == "web.example"
            ? s.Send(q, Response(q.Message, [A("web.example", "10.9.0.2")]))
            : s.Send(q, Response(q.Message, [], flags: 0x8183)));
        var resolver = DnsResolver.Create(_net.Left, [_server.Endpoint]).Value;
        _resolverCap = _caps.Create(new ResolverObject(resolver), Rights.Read | Rights.Manage | Rights.Delegate, Principal.Kernel).Value;
        _app = _ns.CreateChild(_ns.RootCapability, "app").Value;
        _ns.Bind(_app, "dns", _resolverCap, Rights.Read).Unwrap();
        _ns.Bind(_app, "outbound", sockets.GrantNetworkAccess(Principal.Kernel).Value, Rights.Connect).Unwrap();
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _net.DisposeAsync();
        _phys.Dispose();
    }

    [Fact]
    public async Task A_process_with_the_resolver_capability_connects_to_a_host_name()
    {
        var listener = _net.Right.Tcp.Listen(8080, 8).Value;
        var app = _pm.Spawn("app", _app).Value.Process;
        var dns = app.Open("dns", Rights.Read).Value;
        var net = app.Open("outbound", Rights.Connect).Value;

        var looked = await ResolverSyscalls.ResolveAsync(app, dns, "web.example");
        Assert.True(looked.IsOk, looked.ToString());
        var c = await SocketSyscalls.ConnectAsync(app, net, dns, "web.example", 8080);
        Assert.True(c.IsOk, c.ToString());
        Assert.Equal(new IpEndpoint(Ip("10.9.0.2"), 8080), SocketSyscalls.Endpoints(app, c.Value).Value.Remote);
        var accepted = await listener.AcceptAsync();
        Assert.True(accepted.IsOk);

        Assert.Equal(ErrorCode.NotFound, (await SocketSyscalls.ConnectAsync(app, net, dns, "nowhere.example", 8080)).Code);
        Assert.Equal(ErrorCode.InvalidArgument, (await SocketSyscalls.ConnectAsync(app, net, dns, "web.example", 0)).Code);
        await listener.DisposeAsync();
    }

    [Fact]
    public async Task Without_Read_or_Manage_or_with_a_revoked_handle_the_resolver_is_refused()
    {
        var app = _pm.Spawn("app", _app).Value.Process;
        var dns = app.Open("dns", Rights.Read).Value;
        var net = app.Open("outbound", Rights.Connect).Value;

        // Read only: setting the servers needs Manage; the network-access handle has no Read, so it resolves nothing.
        Assert.Equal(ErrorCode.AccessDenied, ResolverSyscalls.SetServers(app, dns, [new IpEndpoint(Ip("6.6.6.6"), 53)]).Code);
        Assert.Equal(ErrorCode.AccessDenied, (await SocketSyscalls.ConnectAsync(app, net, net, "web.example", 80)).Code);
        Assert.Equal(ErrorCode.AccessDenied, (await ResolverSyscalls.ResolveAsync(app, net, "web.example")).Code);

        _caps.RevokeDescendants(_resolverCap);
        var revoked = await ResolverSyscalls.ResolveAsync(app, dns, "web.example");
        Assert.False(revoked.IsOk);
        Assert.Empty(_server.Queries); // nothing was sent for a refused caller
    }
}
