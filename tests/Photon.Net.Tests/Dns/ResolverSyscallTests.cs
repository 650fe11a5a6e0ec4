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

    /// <summary>With a global IPv6 address on the stack, a name with an AAAA and an A record is connected to over IPv6
    /// first (RFC 6724's order; getaddrinfo's AI_ADDRCONFIG asks AAAA only then), from the server's AAAA answer — and
    /// the same listener, one port for both families, accepts it.</summary>
    [Fact]
    public async Task With_a_global_ipv6_address_a_name_with_aaaa_and_a_records_is_connected_to_over_ipv6()
    {
        var v6Left = Ipv6Address.Parse("fd00:9::1").Value;
        var v6Right = Ipv6Address.Parse("fd00:9::2").Value;
        await using var server6 = new FakeDnsServer(_net.Right, 5353, (s, q) => Question(q.Message) != "dual.example"
            ? s.Send(q, Response(q.Message, [], flags: 0x8183))
            : s.Send(q, Response(q.Message, [QuestionType(q.Message) == DnsType.Aaaa
                ? Record("dual.example", DnsType.Aaaa, 300, Frames6.Bytes(v6Right))
                : A("dual.example", "10.9.0.2")])));
        var resolver = DnsResolver.Create(_net.Left, [server6.Endpoint]).Value;
        _ns.Bind(_app, "dns6", _caps.Create(new ResolverObject(resolver), Rights.Read | Rights.Delegate, Principal.Kernel).Value, Rights.Read).Unwrap();
        _net.Left.AddIpv6Address(_net.Left.Interfaces[0], new Ipv6Cidr(v6Left, 64)).Unwrap();
        _net.Right.AddIpv6Address(_net.Right.Interfaces[0], new Ipv6Cidr(v6Right, 64)).Unwrap();
        bool Preferred(NetworkStack st, Ipv6Address a) => st.Ipv6Addresses.Any(x => x.Address.Cidr.Address == a && x.Address.State == Ipv6AddressState.Preferred);
        await StackTests.WaitUntil(() => Preferred(_net.Left, v6Left) && Preferred(_net.Right, v6Right), ms: 30_000);

        var listener = _net.Right.Tcp.Listen(8081, 8).Value;
        var app = _pm.Spawn("app", _app).Value.Process;
        var dns = app.Open("dns6", Rights.Read).Value;
        var net = app.Open("outbound", Rights.Connect).Value;
        var c = await SocketSyscalls.ConnectAsync(app, net, dns, "dual.example", 8081);
        Assert.True(c.IsOk, c.ToString());
        Assert.Equal(new IpEndpoint(v6Right, 8081), SocketSyscalls.Endpoints(app, c.Value).Value.Remote);
        Assert.True((await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(30))).IsOk);
        Assert.Contains(server6.Queries, q => QuestionType(q.Message) == DnsType.Aaaa);
        await listener.DisposeAsync();
    }

    /// <summary>The type a query asks for (the two bytes after its question's name).</summary>
    private static DnsType QuestionType(byte[] query)
    {
        DnsName.Read(query, DnsMessage.HeaderLength, out int next);
        return (DnsType)(query[next] << 8 | query[next + 1]);
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
