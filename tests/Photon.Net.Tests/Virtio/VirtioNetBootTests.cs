using System.Text;
using Photon.Kernel.Boot;
using Photon.Kernel.Boot.Components;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Net;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Tests.Support.Pci;
using Photon.Net.Syscalls;
using static Photon.Net.Tests.TwoStacks;

namespace Photon.Net.Tests.Virtio;

using Photon.Kernel.Boot;

/// <summary>The wiring the VM boot needs, shown on the device models: the platform's network devices come from the
/// PCI bus (<see cref="VirtioNetSource"/>), the unchanged <see cref="NetworkComponent"/> brings the NIC driver and
/// the stack up on the virtio-net NIC, and a process serves TCP to a peer on the other end of the cable.</summary>
public sealed class VirtioNetBootTests
{
    [Fact]
    public async Task A_kernel_booted_with_its_network_on_a_pci_virtio_nic_serves_tcp_to_a_peer_and_pings_it()
    {
        var photon = new VirtioNetModel([0x52, 0x54, 0, 0, 0, 1], pairs: 2, address: "0000:00:04.0");
        var wire = new VirtioNetModel([0x52, 0x54, 0, 0, 0, 2], pairs: 1, address: "0000:00:05.0");
        photon.Transmitted = wire.Inject;
        wire.Transmitted = photon.Inject;
        var peerNic = (await VirtioNetDevice.OpenAsync(wire.Function, Timers)).Value;
        await using var peer = new NetworkStack(Timers, new NetworkStackOptions { TcpMinRto = TimeSpan.FromMilliseconds(50) });
        peer.AddInterface(peerNic, Ipv4Cidr.Parse("10.9.0.2/24").Value).Unwrap();
        peer.Start();

        var platform = LinuxPlatform.Create(processors: 2);
        var bus = new FakePciBus(photon.Function);
        var booted = await PhotonKernel.BootAsync(new KernelConfig
        {
            Platform = platform with { Pci = bus, Network = new VirtioNetSource(bus, Timers) },
            EchoLog = false,
            Components = [new TenantComponent("tenant-a"), new NetworkComponent("virtio-net", Ipv4Cidr.Parse("10.9.0.1/24").Value, queues: 2)],
        });
        Assert.True(booted.IsOk, booted.IsOk ? "" : booted.Error.ToString());
        await using var k = booted.Value;
        Assert.Equal("network virtio-net", k.BootSteps[^1].Name);
        Assert.Equal(2, photon.ActivePairs);
        var sys = k.Sys;
        var init = k.Init;
        await k.RunAsync(async () =>
        {
            var tcp = sys.Namespaces.Open(init, "/net/tcp", Rights.Delegate).Value;
            var grant = SocketSyscalls.GrantPorts(init, tcp, 8080, 8080).Value;
            var tenantA = sys.Namespaces.Open(init, "/tenant-a", Rights.All).Value;
            sys.Namespaces.Bind(init, tenantA, "http", grant, Rights.Listen).Unwrap();
            var (_, web) = sys.Processes.Spawn(init, tenantA, "web").Value;
            var listener = SocketSyscalls.Listen(web, sys.Namespaces.Open(web, "http", Rights.Listen).Value, 8080).Value;
            var client = peer.Tcp.ConnectAsync(new IpEndpoint(Ip("10.9.0.1"), 8080));
            var conn = (await SocketSyscalls.AcceptAsync(web, listener)).Value;
            var c = (await client).Value;
            await c.SendAsync("hello over virtio-net"u8.ToArray());
            var buf = new byte[64];
            int n = (await SocketSyscalls.ReceiveAsync(web, conn, buf)).Value;
            Assert.Equal("hello over virtio-net", Encoding.ASCII.GetString(buf, 0, n));
            var outbound = sys.Namespaces.Open(init, "/net/outbound", Rights.Connect).Value;
            Assert.True((await SocketSyscalls.PingAsync(init, outbound, Ip("10.9.0.2"), TimeSpan.FromSeconds(5))).IsOk);
        }).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, photon.DmaFaults + wire.DmaFaults);
    }
}
