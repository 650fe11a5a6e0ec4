using System.Text;
using Photon.Kernel.Boot;
using Photon.Kernel.Boot.Components;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal;
using Photon.Kernel.Hal.Host;
using Photon.Net.Syscalls;
using static Photon.Net.Tests.TwoStacks;

namespace Photon.Net.Tests;

using Photon.Kernel.Boot;

/// <summary>A kernel booted with a <see cref="NetworkComponent"/> over an in-memory wire: processes reach the network
/// only through capabilities under /net and the socket syscalls; a peer stack on the wire's other end is the client.</summary>
public sealed class NetworkComponentTests
{
    private sealed class WireSource(WireEnd end) : INetworkDeviceSource
    {
        public Result<INetworkDevice> Open(string name, ReadOnlySpan<byte> mac, int queues)
        {
            if (name != end.Name) return Errors.Of(ErrorCode.NotFound, $"no device {name}");
            return end;
        }
    }

    [Fact]
    public async Task The_network_comes_up_at_boot_and_processes_listen_through_grants_carved_from_net_tcp()
    {
        var (a, b) = WireEnd.Pair();
        await using var peer = new NetworkStack(Timers, new NetworkStackOptions { TcpMinRto = TimeSpan.FromMilliseconds(50) });
        peer.AddInterface(b, Ipv4Cidr.Parse("10.9.0.2/24").Value).Unwrap();
        peer.Start();
        var booted = await PhotonKernel.BootAsync(new KernelConfig
        {
            Platform = LinuxPlatform.Create(processors: 2) with { Network = new WireSource(a) },
            EchoLog = false,
            Components = [new TenantComponent("tenant-a"), new TenantComponent("tenant-b"), new NetworkComponent("wire0", Ipv4Cidr.Parse("10.9.0.1/24").Value, queues: 1)],
        });
        Assert.True(booted.IsOk, booted.IsOk ? "" : booted.Error.ToString());
        var k = booted.Value;
        Assert.Equal("network wire0", k.BootSteps[^1].Name);
        var sys = k.Sys;
        var init = k.Init;

        await k.RunAsync(async () =>
        {
            var tcp = sys.Namespaces.Open(init, "/net/tcp", Rights.Delegate).Value;
            Assert.Equal(ErrorCode.AccessDenied, SocketSyscalls.GrantPorts(init, tcp, 0, 10).Code);
            var grant = SocketSyscalls.GrantPorts(init, tcp, 8080, 8080).Value;
            var tenantA = sys.Namespaces.Open(init, "/tenant-a", Rights.All).Value;
            sys.Namespaces.Bind(init, tenantA, "http", grant, Rights.Listen).Unwrap();
            var (_, web) = sys.Processes.Spawn(init, tenantA, "web").Value;
            var mine = sys.Namespaces.Open(web, "http", Rights.Listen).Value;
            Assert.Equal(ErrorCode.AccessDenied, SocketSyscalls.Listen(web, mine, 8081).Code);
            var listener = SocketSyscalls.Listen(web, mine, 8080).Value;

            var tenantB = sys.Namespaces.Open(init, "/tenant-b", Rights.All).Value;
            var (_, other) = sys.Processes.Spawn(init, tenantB, "other").Value;
            Assert.Equal(ErrorCode.NotFound, sys.Namespaces.Open(other, "/net/tcp", Rights.Listen).Code);

            var client = peer.Tcp.ConnectAsync(new IpEndpoint(Ip("10.9.0.1"), 8080));
            var conn = (await SocketSyscalls.AcceptAsync(web, listener)).Value;
            var c = (await client).Value;
            await c.SendAsync("hello over the wire"u8.ToArray());
            var buf = new byte[64];
            int n = (await SocketSyscalls.ReceiveAsync(web, conn, buf)).Value;
            Assert.Equal("hello over the wire", Encoding.ASCII.GetString(buf, 0, n));

            var outbound = sys.Namespaces.Open(init, "/net/outbound", Rights.Connect).Value;
            Assert.True((await SocketSyscalls.PingAsync(init, outbound, Ip("10.9.0.2"), TimeSpan.FromSeconds(5))).IsOk);
            var tables = SocketSyscalls.Tables(init, outbound).Value;
            Assert.Contains(tables.Sockets, r => r[0] == "tcp" && r[3] == "LISTEN");
        });

        await k.DisposeAsync();
        // The component is gone with the kernel: no socket service answers for it any more.
        var again = await PhotonKernel.BootAsync(new KernelConfig { Platform = LinuxPlatform.Create(processors: 2), EchoLog = false });
        await using var plain = again.Value;
        var none = plain.Sys.Namespaces.Open(plain.Init, "/", Rights.Read).Value;
        Assert.Equal(ErrorCode.NotSupported, SocketSyscalls.Listen(plain.Init, none, 80).Code);
    }

    [Fact]
    public async Task The_nic_rings_are_on_the_monitor_with_their_depth_and_leave_it_when_the_network_stops()
    {
        var (a, b) = WireEnd.Pair();
        await using var peer = new NetworkStack(Timers, new NetworkStackOptions { TcpMinRto = TimeSpan.FromMilliseconds(50) });
        peer.AddInterface(b, Ipv4Cidr.Parse("10.9.0.2/24").Value).Unwrap();
        peer.Start();
        var network = new NetworkComponent("wire0", Ipv4Cidr.Parse("10.9.0.1/24").Value, queues: 1);
        var booted = await PhotonKernel.BootAsync(new KernelConfig
        {
            Platform = LinuxPlatform.Create(processors: 2) with { Network = new WireSource(a) },
            EchoLog = false,
            Components = [network],
        });
        Assert.True(booted.IsOk, booted.IsOk ? "" : booted.Error.ToString());
        await using var k = booted.Value;
        await k.RunAsync(async () =>
        {
            var outbound = k.Sys.Namespaces.Open(k.Init, "/net/outbound", Rights.Connect).Value;
            for (int i = 0; i < 3; i++)
                Assert.True((await SocketSyscalls.PingAsync(k.Init, outbound, Ip("10.9.0.2"), TimeSpan.FromSeconds(5))).IsOk);
        });
        var queues = k.Sys.Monitor!.Snapshot(k.Init, k.InitMonitor).Value.System!.Queues.ToDictionary(q => q.Name);
        var tx = queues["wire0.tx0"];
        var rx = queues["wire0.rx0"];
        Assert.Equal(256, tx.Depth);
        Assert.True(tx.Submitted >= 3, $"tx submitted {tx.Submitted}"); // three echo requests (and ARP) went out through the ring
        Assert.True(rx.InFlight > 0, "receive buffers are posted on the rx ring"); // the stack keeps buffers posted for the device
        Assert.True(rx.Completed >= 3, $"rx completed {rx.Completed}");
        // A tenant without the monitor capability sees no rings at all.
        var tenantView = k.Sys.Monitor.Snapshot(k.Init).Value;
        Assert.Null(tenantView.System);

        await network.StopAsync();
        Assert.DoesNotContain(k.Sys.Monitor.Snapshot(k.Init, k.InitMonitor).Value.System!.Queues, q => q.Name.StartsWith("wire0.", StringComparison.Ordinal));
    }
}
