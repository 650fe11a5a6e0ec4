using Photon.Kernel.Boot;
using Photon.Kernel.Boot.Components;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal;
using Photon.Kernel.Hal.Host;
using Photon.Net.Dns;
using Photon.Net.Syscalls;
using static Photon.Net.Tests.Dns.FakeDnsServer;
using static Photon.Net.Tests.TwoStacks;

namespace Photon.Net.Tests.Dns;

/// <summary>A kernel booted with a <see cref="NetworkComponent"/> and DNS servers binds its resolver at /net/dns:
/// init looks names up through it and can change the servers; a tenant it was not bound for cannot reach it.</summary>
public sealed class ResolverBootTests
{
    private sealed class WireSource(WireEnd end) : INetworkDeviceSource
    {
        public Result<INetworkDevice> Open(string name, ReadOnlySpan<byte> mac, int queues) =>
            name == end.Name ? end : Errors.Of(ErrorCode.NotFound, $"no device {name}");
    }

    [Fact]
    public async Task The_resolver_is_bound_at_net_dns_for_init_and_reaches_the_configured_server()
    {
        var (a, b) = WireEnd.Pair();
        await using var peer = new NetworkStack(Timers);
        peer.AddInterface(b, Ipv4Cidr.Parse("10.9.0.2/24").Value).Unwrap();
        peer.Start();
        await using var server = new FakeDnsServer(peer, 53, (s, q) => s.Send(q, Response(q.Message, [A(Question(q.Message), "10.9.0.7")])));
        var booted = await PhotonKernel.BootAsync(new KernelConfig
        {
            Platform = LinuxPlatform.Create(processors: 2) with { Network = new WireSource(a) },
            EchoLog = false,
            Components = [new TenantComponent("tenant-a"), new NetworkComponent("wire0", Ipv4Cidr.Parse("10.9.0.1/24").Value, queues: 1, dnsServers: [Ip("10.9.0.2")])],
        });
        Assert.True(booted.IsOk, booted.IsOk ? "" : booted.Error.ToString());
        await using var k = booted.Value;
        var sys = k.Sys;
        var init = k.Init;

        await k.RunAsync(async () =>
        {
            var dns = sys.Namespaces.Open(init, "/net/dns", Rights.Read | Rights.Manage).Value;
            Assert.Equal([new IpEndpoint(Ip("10.9.0.2"), 53)], ResolverSyscalls.Servers(init, dns).Value);
            var found = await ResolverSyscalls.ResolveAsync(init, dns, "printer.example");
            Assert.True(found.IsOk, found.ToString());
            Assert.Equal(Ip("10.9.0.7"), Ipv4Address.Read(found.Value.Addresses.Single()));

            Assert.True(ResolverSyscalls.SetServers(init, dns, [new IpEndpoint(Ip("10.9.0.2"), 5353)]).IsOk);
            Assert.Equal(5353, ResolverSyscalls.Servers(init, dns).Value.Single().Port);

            var tenant = sys.Namespaces.Open(init, "/tenant-a", Rights.All).Value;
            var (_, app) = sys.Processes.Spawn(init, tenant, "app").Value;
            Assert.Equal(ErrorCode.NotFound, sys.Namespaces.Open(app, "/net/dns", Rights.Read).Code);
        });
    }
}
