using System.Text;
using Photon.Kernel.Boot;
using Photon.Kernel.Boot.Components;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Processes;
using Photon.Net.Syscalls;
using static Photon.Net.Tests.Frames6;
using static Photon.Net.Tests.TwoStacks;

namespace Photon.Net.Tests;

/// <summary>IPv6 through the process-facing socket syscalls of a booted kernel (its network component has fd00::1/64 and
/// 10.9.0.1/24; a peer stack on the in-memory wire has fd00::2 and 10.9.0.2): one port grant covers both families, a
/// listener takes both, endpoints come back as IPv6, and hostile arguments and stale handles get typed errors.</summary>
public sealed class Ipv6SocketSyscallTests
{
    private static readonly Ipv6Address KernelIp = Ip6("fd00::1"), PeerIp = Ip6("fd00::2");

    private sealed class WireSource(WireEnd end) : INetworkDeviceSource
    {
        public Result<INetworkDevice> Open(string name, ReadOnlySpan<byte> mac, int queues) =>
            name == end.Name ? end : Errors.Of(ErrorCode.NotFound, $"no device {name}");
    }

    private static async Task Run(Func<PhotonKernel, NetworkStack, Task> body)
    {
        var (a, b) = WireEnd.Pair();
        await using var peer = new NetworkStack(Timers, new NetworkStackOptions { TcpMinRto = TimeSpan.FromMilliseconds(50) });
        var nic = peer.AddInterface(b, Ipv4Cidr.Parse("10.9.0.2/24").Value).Value;
        peer.Start();
        peer.AddIpv6Address(nic, new Ipv6Cidr(PeerIp, 64)).Unwrap();
        var booted = await PhotonKernel.BootAsync(new KernelConfig
        {
            Platform = LinuxPlatform.Create(processors: 2) with { Network = new WireSource(a) },
            EchoLog = false,
            Components = [new TenantComponent("tenant-a"), new TenantComponent("tenant-b"),
                new NetworkComponent("wire0", Ipv4Cidr.Parse("10.9.0.1/24").Value, queues: 1) { Ipv6 = new Ipv6Cidr(KernelIp, 64) }],
        });
        Assert.True(booted.IsOk, booted.IsOk ? "" : booted.Error.ToString());
        await using var k = booted.Value;
        // Both sides past DAD (about a second each).
        await StackTests.WaitUntil(() => peer.Ipv6Addresses.All(x => x.Address.State == Ipv6AddressState.Preferred));
        for (int i = 0; i < 20 && !(await peer.Ping6Async(KernelIp, TimeSpan.FromMilliseconds(500))).IsOk; i++) { }
        await k.RunAsync(() => body(k, peer));
    }

    [Fact]
    public async Task One_grant_and_one_listener_serve_both_families_and_endpoints_come_back_as_ipv6() => await Run(async (k, peer) =>
    {
        var sys = k.Sys;
        var init = k.Init;
        var tcp = sys.Namespaces.Open(init, "/net/tcp", Rights.Delegate).Value;
        var grant = SocketSyscalls.GrantPorts(init, tcp, 8080, 8080).Value;
        var tenantA = sys.Namespaces.Open(init, "/tenant-a", Rights.All).Value;
        sys.Namespaces.Bind(init, tenantA, "http", grant, Rights.Listen).Unwrap();
        var (_, web) = sys.Processes.Spawn(init, tenantA, "web").Value;
        var listener = SocketSyscalls.Listen(web, sys.Namespaces.Open(web, "http", Rights.Listen).Value, 8080).Value;

        // tenant-b holds no grant for 8080: it cannot listen there, on either family (there is no separate v6 side).
        var tenantB = sys.Namespaces.Open(init, "/tenant-b", Rights.All).Value;
        var other = SocketSyscalls.GrantPorts(init, tcp, 9090, 9090).Value;
        sys.Namespaces.Bind(init, tenantB, "mine", other, Rights.Listen).Unwrap();
        var (_, intruder) = sys.Processes.Spawn(init, tenantB, "intruder").Value;
        Assert.Equal(ErrorCode.AccessDenied, SocketSyscalls.Listen(intruder, sys.Namespaces.Open(intruder, "mine", Rights.Listen).Value, 8080).Code);

        var v6 = peer.Tcp.ConnectAsync(new IpEndpoint(KernelIp, 8080));
        var conn6 = (await SocketSyscalls.AcceptAsync(web, listener)).Value;
        var c6 = (await v6).Value;
        var ends = SocketSyscalls.Endpoints(web, conn6).Value;
        Assert.Equal(new IpEndpoint(KernelIp, 8080), ends.Local);
        Assert.Equal(new IpEndpoint(PeerIp, c6.Local.Port), ends.Remote);
        await c6.SendAsync("over v6"u8.ToArray());
        var buf = new byte[64];
        int n = (await SocketSyscalls.ReceiveAsync(web, conn6, buf)).Value;
        Assert.Equal("over v6", Encoding.ASCII.GetString(buf, 0, n));
        Assert.True((await SocketSyscalls.SendAsync(web, conn6, "answer"u8.ToArray())).IsOk);
        n = (await c6.ReceiveAsync(buf)).Value;
        Assert.Equal("answer", Encoding.ASCII.GetString(buf, 0, n));

        var v4 = peer.Tcp.ConnectAsync(new IpEndpoint(Ip("10.9.0.1"), 8080));
        var conn4 = (await SocketSyscalls.AcceptAsync(web, listener)).Value;
        Assert.True((await v4).IsOk);
        Assert.Equal(IpFamily.V4, SocketSyscalls.Endpoints(web, conn4).Value.Remote.Address.Family);

        // Outbound over IPv6 through /net/outbound, by address and by an IPv6 literal as the host name.
        await using var peerListener = peer.Tcp.Listen(9000).Value;
        var outbound = sys.Namespaces.Open(init, "/net/outbound", Rights.Connect).Value;
        var dialed = await SocketSyscalls.ConnectAsync(init, outbound, new IpEndpoint(PeerIp, 9000));
        Assert.True(dialed.IsOk, dialed.ToString());
        Assert.Equal(new IpEndpoint(KernelIp, SocketSyscalls.Endpoints(init, dialed.Value).Value.Local.Port), SocketSyscalls.Endpoints(init, dialed.Value).Value.Local);
        var resolver = sys.Namespaces.Open(init, "/net/dns", Rights.Read).Value;
        var byName = await SocketSyscalls.ConnectAsync(init, outbound, resolver, "fd00::2", 9000);
        Assert.True(byName.IsOk, byName.ToString());
        Assert.Equal(new IpEndpoint(PeerIp, 9000), SocketSyscalls.Endpoints(init, byName.Value).Value.Remote);
    });

    [Fact]
    public async Task Udp_send_to_and_receive_from_carry_ipv6_endpoints() => await Run(async (k, peer) =>
    {
        var sys = k.Sys;
        var init = k.Init;
        var udp = sys.Namespaces.Open(init, "/net/udp", Rights.Delegate).Value;
        var grant = SocketSyscalls.GrantPorts(init, udp, 5300, 5300).Value;
        var socket = SocketSyscalls.BindUdp(init, grant, 5300).Value;
        await using var client = peer.Udp.Bind(0).Value;
        Assert.True((await client.SendToAsync(new IpEndpoint(KernelIp, 5300), "query"u8.ToArray())).IsOk);
        var got = (await SocketSyscalls.ReceiveFromAsync(init, socket).WaitAsync(TimeSpan.FromSeconds(5))).Value;
        Assert.Equal(new IpEndpoint(PeerIp, client.Port), got.From);
        Assert.Equal(new IpEndpoint(KernelIp, 5300), got.To);
        Assert.True((await SocketSyscalls.SendToAsync(init, socket, got.From, "answer"u8.ToArray())).IsOk);
        var back = await client.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("answer", Encoding.ASCII.GetString(back.Value.Data));
        Assert.Equal(new IpEndpoint(KernelIp, 5300), back.Value.From);

        // Hostile arguments: typed errors, nothing sent.
        Assert.Equal(ErrorCode.InvalidArgument, (await SocketSyscalls.SendToAsync(init, socket, new IpEndpoint(Ipv6Address.Unspecified, 53), new byte[1])).Code);
        Assert.Equal(ErrorCode.InvalidArgument, (await SocketSyscalls.SendToAsync(init, socket, new IpEndpoint(Ip6("::ffff:10.9.0.2"), 53), new byte[1])).Code);
        Assert.Equal(ErrorCode.InvalidArgument, (await SocketSyscalls.SendToAsync(init, socket, new IpEndpoint(PeerIp, 0), new byte[1])).Code);
        Assert.Equal(ErrorCode.InvalidArgument, (await SocketSyscalls.SendToAsync(init, socket, new IpEndpoint(PeerIp, 53), new byte[70_000])).Code);
        // A closed handle is stale: every call on it fails with a typed error.
        Assert.True(SocketSyscalls.Close(init, socket).IsOk);
        Assert.Equal(ErrorCode.InvalidHandle, (await SocketSyscalls.SendToAsync(init, socket, got.From, new byte[1])).Code);
        Assert.Equal(ErrorCode.InvalidHandle, (await SocketSyscalls.ReceiveFromAsync(init, socket)).Error.Code);
    });

    [Fact]
    public async Task Connect_refuses_non_unicast_ipv6_and_stale_or_forged_handles_fail_typed() => await Run(async (k, peer) =>
    {
        var sys = k.Sys;
        var init = k.Init;
        var outbound = sys.Namespaces.Open(init, "/net/outbound", Rights.Connect).Value;
        foreach (var bad in new[] { new IpEndpoint(Ipv6Address.Unspecified, 80), new IpEndpoint(Ipv6Address.AllNodes, 80),
                     new IpEndpoint(Ip6("::ffff:10.9.0.2"), 80), new IpEndpoint(PeerIp, 0) })
            Assert.Equal(ErrorCode.InvalidArgument, (await SocketSyscalls.ConnectAsync(init, outbound, bad)).Code);
        Assert.Equal(ErrorCode.InvalidHandle, (await SocketSyscalls.ConnectAsync(init, new Handle(987654), new IpEndpoint(PeerIp, 80))).Code);

        await using var peerListener = peer.Tcp.Listen(9001).Value;
        var conn = (await SocketSyscalls.ConnectAsync(init, outbound, new IpEndpoint(PeerIp, 9001))).Value;
        var accepted = (await peerListener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(5))).Value;
        // A closed connection handle is stale: calls on it fail typed, and the peer sees the connection end.
        Assert.True(SocketSyscalls.Close(init, conn).IsOk);
        Assert.Equal(ErrorCode.InvalidHandle, SocketSyscalls.Endpoints(init, conn).Code);
        Assert.Equal(ErrorCode.InvalidHandle, (await SocketSyscalls.SendAsync(init, conn, new byte[1])).Code);
        var buf = new byte[8];
        var end = await accepted.ReceiveAsync(buf).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(!end.IsOk || end.Value == 0, "the peer sees the connection end");
    });
}
