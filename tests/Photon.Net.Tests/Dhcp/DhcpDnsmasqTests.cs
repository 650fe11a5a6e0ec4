using Photon.Kernel.Hal.Host;
using Photon.Kernel.Hal.Host.Net;
using Photon.Net.Dhcp;
using Photon.Net.Dns;
using Xunit.Abstractions;

namespace Photon.Net.Tests.Dhcp;

/// <summary>
/// The DHCPv4 client against a real <c>dnsmasq --dhcp-range</c> in a network namespace of its own, over a TAP device
/// whose Photon end starts with no address: the lease configures address, prefix, default route and the resolver's DNS
/// server (then used to resolve a name from the same dnsmasq), Linux and Photon ping each other on the leased address,
/// dnsmasq records the lease, and a unicast renewal is acknowledged; an address a Linux host already holds is declined
/// after the ARP probe and another one taken, and a release empties dnsmasq's lease. Needs root, ip and dnsmasq; skipped
/// loudly otherwise.
/// </summary>
public sealed class DhcpDnsmasqTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _ns = $"photon-dhcp-{Random.Shared.Next(10000, 99999)}";
    private string Tap => "pd" + _ns[12..];
    private static readonly byte[] Mac = [2, 0x50, 0x48, 0, 0, 0x32];
    private static readonly Ipv4Address Linux = Ipv4Address.Parse("10.78.0.1").Value;
    private const string Reserved = "10.78.0.55";
    private NetworkStack? _stack;
    private NetInterface? _nic;
    private System.Diagnostics.Process? _dnsmasq;
    private string? _dir, _skip;

    public async Task InitializeAsync()
    {
        foreach (var tool in new[] { "ip", "ping", "dnsmasq" })
            if (HostShell.Sh($"command -v {tool}").Code != 0) { _skip = $"{tool} is not installed"; return; }
        var tap = TapDevice.Open(Tap, Mac);
        if (!tap.IsOk) { _skip = $"cannot create TAP device: {tap.Error}"; return; }
        var setup = HostShell.Sh($"ip netns add {_ns} && ip link set {Tap} netns {_ns} && ip -n {_ns} addr add 10.78.0.1/24 dev {Tap} " +
                                 $"&& ip -n {_ns} link set {Tap} up && ip -n {_ns} link set lo up");
        if (setup.Code != 0) { await tap.Value.DisposeAsync(); _skip = $"cannot create a network namespace: {setup.Output}"; return; }
        _dir = Directory.CreateTempSubdirectory("photon-dhcp-").FullName;
        _dnsmasq = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("ip",
        [
            "netns", "exec", _ns, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--no-ping",
            $"--interface={Tap}", "--bind-interfaces", "--dhcp-authoritative", "--dhcp-range=10.78.0.50,10.78.0.60,255.255.255.0,2m",
            "--dhcp-option=option:router,10.78.0.1", "--dhcp-option=option:dns-server,10.78.0.1", $"--dhcp-leasefile={_dir}/leases",
            "--host-record=gw.photon.test,10.78.0.1", "--local-ttl=60", "--user=root", $"--pid-file={_dir}/pid", $"--log-facility={_dir}/log",
            // Our MAC's first address is fixed, so the conflict test knows which one to occupy.
            $"--dhcp-host={string.Join(':', Mac.Select(b => b.ToString("x2")))},{Reserved}",
        ]) { RedirectStandardError = true, RedirectStandardOutput = true });
        _stack = new NetworkStack(new HostTimers(new HostClock()));
        _nic = _stack.AddUnconfiguredInterface(tap.Value).Value;
        _stack.Start();
    }

    public async Task DisposeAsync()
    {
        if (_dnsmasq is { HasExited: false } p)
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
        }
        if (_stack is not null) await _stack.DisposeAsync();
        if (_nic is not null) await _nic.Device.DisposeAsync();
        if (_skip is null) HostShell.Sh($"ip netns del {_ns}");
        if (_dir is not null) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task A_lease_from_dnsmasq_configures_address_route_and_DNS_and_is_renewed()
    {
        if (_skip is not null)
        {
            output.WriteLine($"SKIPPED LOUDLY: DHCP test not run: {_skip}");
            Console.Error.WriteLine($"SKIPPED LOUDLY: DHCP test not run: {_skip}");
            return;
        }
        var stack = _stack!;
        var resolver = DnsResolver.Create(stack, []).Value;
        var client = new DhcpClient(stack, _nic!, resolver);

        var lease = await client.AcquireAsync();

        Assert.True(lease.IsOk, $"{lease} (dnsmasq: {(_dnsmasq!.HasExited ? _dnsmasq.StandardError.ReadToEnd() : "running")})");
        var address = lease.Value.Address;
        Assert.InRange(address.Address.Value, Ipv4Address.Parse("10.78.0.50").Value.Value, Ipv4Address.Parse("10.78.0.60").Value.Value);
        Assert.Equal(24, address.PrefixLength);
        Assert.Equal(address, _nic!.Cidr);
        Assert.Contains(stack.Routes.Routes, r => r.IsDefault && r.Gateway == Linux);
        Assert.Equal([new IpEndpoint(Linux, 53)], resolver.Servers);
        Assert.Equal(TimeSpan.FromMinutes(2), lease.Value.Ack.LeaseTime);

        var ping = await HostShell.ShAsync($"ip netns exec {_ns} ping -c 2 -w 60 -i 0.2 {address.Address}");
        Assert.True(ping.Code == 0, ping.Output);
        PingOutput.AssertAllAnswered(ping.Output, 2);
        Assert.True((await stack.PingAsync(Linux, TimeSpan.FromSeconds(3))).IsOk);
        Assert.Contains("02:50:48:00:00:32", await File.ReadAllTextAsync(Path.Combine(_dir!, "leases")));

        // The DNS server came with the lease: the same dnsmasq answers.
        var gw = await resolver.ResolveIpv4Async("gw.photon.test");
        Assert.True(gw.IsOk, gw.ToString());
        Assert.Equal(Linux, gw.Value.Single());

        var renewed = await client.RenewAsync();
        Assert.True(renewed.IsOk, renewed.ToString());
        Assert.Equal(address, renewed.Value.Address);
        Assert.True(renewed.Value.Acquired >= lease.Value.Acquired);
    }

    private string Log => File.Exists(Path.Combine(_dir!, "log")) ? File.ReadAllText(Path.Combine(_dir!, "log")) : "";

    [Fact]
    public async Task An_address_a_Linux_host_holds_is_declined_to_dnsmasq_another_is_taken_and_the_release_ends_the_lease()
    {
        if (_skip is not null)
        {
            output.WriteLine($"SKIPPED LOUDLY: DHCP conflict test not run: {_skip}");
            Console.Error.WriteLine($"SKIPPED LOUDLY: DHCP conflict test not run: {_skip}");
            return;
        }
        // The Linux end already uses the address dnsmasq will hand out first; Linux answers the ARP probe for it.
        var occupy = HostShell.Sh($"ip -n {_ns} addr add {Reserved}/32 dev {Tap}");
        Assert.True(occupy.Code == 0, occupy.Output);
        var client = new DhcpClient(_stack!, _nic!, options: new DhcpClientOptions { AfterDecline = TimeSpan.FromMilliseconds(500) });

        var lease = await client.AcquireAsync();

        Assert.True(lease.IsOk, $"{lease} (dnsmasq log: {Log})");
        Assert.Equal(1, client.Declines);
        Assert.Contains($"DHCPDECLINE({Tap}) {Reserved}", Log);
        var address = lease.Value.Address.Address;
        Assert.NotEqual(Ipv4Address.Parse(Reserved).Value, address);
        var ping = await HostShell.ShAsync($"ip netns exec {_ns} ping -c 1 -w 60 {address}");
        Assert.True(ping.Code == 0, ping.Output);
        PingOutput.AssertAllAnswered(ping.Output, 1);
        var leases = Path.Combine(_dir!, "leases");
        Assert.Contains(address.ToString(), await File.ReadAllTextAsync(leases));

        Assert.True((await client.ReleaseAsync()).IsOk);

        for (int i = 0; i < 100 && (await File.ReadAllTextAsync(leases)).Contains(address.ToString()); i++) await Task.Delay(50);
        Assert.DoesNotContain(address.ToString(), await File.ReadAllTextAsync(leases));
        Assert.Contains($"DHCPRELEASE({Tap}) {address}", Log);
        Assert.False(_nic!.IsConfigured);
    }
}
