using System.Security.Cryptography;
using Photon.Kernel.Capabilities;
using Photon.Net.Services;
using Photon.Kernel.Drivers.Net;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Hal.Host.Net;
using Xunit.Abstractions;
using static Photon.Net.Tests.Frames6;

namespace Photon.Net.Tests;

/// <summary>
/// A TAP device driven by Photon's NIC driver, owned by a Photon stack with IPv6 on (its EUI-64 link-local address and
/// fd00:77::2/64), the other end in a fresh network namespace where Linux has fd00:77::1/64. Root only; skipped loudly
/// otherwise.
/// </summary>
public sealed class Ipv6LinuxPeer : IAsyncLifetime
{
    public readonly string Ns = $"photon6-{Random.Shared.Next(10000, 99999)}";
    public string Tap => "p6" + Ns[8..];
    public NetworkStack Stack { get; private set; } = null!;
    public NetInterface Nic { get; private set; } = null!;
    public string? SkipReason { get; private set; }
    public static readonly byte[] PhotonMac = [2, 0x50, 0x48, 0, 0, 6];
    public static readonly Ipv6Address Linux = Ip6("fd00:77::1"), Photon = Ip6("fd00:77::2");
    public static Ipv6Address PhotonLinkLocal => Ipv6Address.LinkLocal(PhotonMac);

    public async Task InitializeAsync()
    {
        foreach (var tool in new[] { "ip", "ping", "python3" })
            if (HostShell.Sh($"command -v {tool}").Code != 0) { SkipReason = $"{tool} is not installed"; return; }
        var opened = TapDevice.Open(Tap, PhotonMac, queues: 1);
        if (!opened.IsOk) { SkipReason = $"cannot create TAP device: {opened.Error}"; return; }
        // Linux skips DAD (accept_dad 0, nodad) so the test does not wait for it; Photon does its own.
        var setup = HostShell.Sh($"ip netns add {Ns} && ip link set {Tap} netns {Ns} " +
                                 $"&& ip netns exec {Ns} sysctl -qw net.ipv6.conf.{Tap}.accept_dad=0 net.ipv6.conf.{Tap}.disable_ipv6=0 " +
                                 $"&& ip -n {Ns} -6 addr add {Linux}/64 dev {Tap} nodad && ip -n {Ns} link set {Tap} up && ip -n {Ns} link set lo up");
        if (setup.Code != 0)
        {
            await opened.Value.DisposeAsync();
            SkipReason = $"cannot create a network namespace with IPv6: {setup.Output}";
            return;
        }
        Stack = new NetworkStack(new HostTimers(new HostClock()), new NetworkStackOptions { Ipv6RetransTimer = TimeSpan.FromMilliseconds(200) });
        var driver = NicDriver.Start(opened.Value, new CapabilityManager());
        if (!driver.IsOk) { await opened.Value.DisposeAsync(); SkipReason = $"NIC driver failed to start: {driver.Error}"; return; }
        Nic = Stack.AddInterface(driver.Value.Driver, Ipv4Cidr.Parse("10.78.0.2/24").Value).Value;
        Stack.Start();
        Stack.AddIpv6Address(Nic, new Ipv6Cidr(Photon, 64)).Unwrap();
        await StackTests.WaitUntil(() => Ipv6StackTests.Locked(Stack, () => Nic.Ipv6.Addresses.All(a => a.State == Ipv6AddressState.Preferred)));
    }

    public string InNs(string cmd) => $"ip netns exec {Ns} sh -c '{cmd}'";

    public async Task DisposeAsync()
    {
        if (SkipReason is not null) return;
        await Stack.DisposeAsync();
        await Nic.Device.DisposeAsync();
        HostShell.Sh($"ip netns del {Ns}");
    }
}

[CollectionDefinition("linux-peer-ipv6")]
public sealed class Ipv6LinuxPeerCollection : ICollectionFixture<Ipv6LinuxPeer>;

/// <summary>Photon's IPv6 against Linux's: ping -6 both ways (link-local, global, fragmented), Linux's neighbour
/// discovery resolving Photon, SLAAC from a router advertisement Linux sends, UDP with nc -6 -u, and TCP: curl -6
/// against Photon's HTTP server, nc -6 to a Photon listener and Photon connecting out to nc -6 -l.</summary>
[Collection("linux-peer-ipv6")]
public sealed class Ipv6LinuxPeerTests(Ipv6LinuxPeer peer, ITestOutputHelper output)
{
    private bool Skipped()
    {
        if (peer.SkipReason is null) return false;
        output.WriteLine($"SKIPPED LOUDLY: IPv6 real-peer test not run: {peer.SkipReason}");
        Console.Error.WriteLine($"SKIPPED LOUDLY: IPv6 real-peer network test not run: {peer.SkipReason}");
        return true;
    }

    private (int Code, string Output) Sh(string cmd)
    {
        var r = HostShell.Sh(peer.InNs(cmd));
        output.WriteLine($"$ {cmd}\n{r.Output}");
        return r;
    }

    [Fact]
    public void Linux_ping6_gets_replies_from_Photon_on_link_local_global_and_fragmented()
    {
        if (Skipped()) return;
        // -w (a deadline), not -W: with -W, once a reply has come iputils' ping waits only two round trips after its
        // last request, so a reply that left late (the first exchange also resolves both neighbour caches and runs
        // Photon's ICMPv6 path cold) counted as lost. Strict: every request answered.
        var global = Sh($"ping -6 -c 3 -w 60 -i 0.2 {Ipv6LinuxPeer.Photon}");
        Assert.True(global.Code == 0, global.Output);
        PingOutput.AssertAllAnswered(global.Output, 3);
        var linkLocal = Sh($"ping -6 -c 2 -w 60 -i 0.2 {Ipv6LinuxPeer.PhotonLinkLocal}%{peer.Tap}");
        Assert.True(linkLocal.Code == 0, linkLocal.Output);
        PingOutput.AssertAllAnswered(linkLocal.Output, 2);
        var big = Sh($"ping -6 -c 2 -w 60 -i 0.2 -s 4000 {Ipv6LinuxPeer.Photon}"); // Linux fragments, Photon reassembles and fragments
        Assert.True(big.Code == 0, big.Output);
        PingOutput.AssertAllAnswered(big.Output, 2);
        // Linux resolved Photon by neighbour discovery: Photon's advertisement carried the right link-layer address.
        var neigh = Sh($"ip -6 neigh show {Ipv6LinuxPeer.Photon} dev {peer.Tap}");
        Assert.Contains("lladdr 02:50:48:00:00:06", neigh.Output);
    }

    [Fact]
    public async Task Photon_pings_Linux_on_its_global_and_link_local_addresses()
    {
        if (Skipped()) return;
        var rtt = await peer.Stack.Ping6Async(Ipv6LinuxPeer.Linux, TimeSpan.FromSeconds(3));
        Assert.True(rtt.IsOk, rtt.ToString());
        var shown = Sh($"ip -6 -o addr show dev {peer.Tap} scope link");
        var text = shown.Output.Split("inet6 ")[1].Split('/')[0];
        var linuxLinkLocal = Ip6(text);
        rtt = await peer.Stack.Ping6Async(linuxLinkLocal, TimeSpan.FromSeconds(3), payloadSize: 3000);
        Assert.True(rtt.IsOk, rtt.ToString());
        // Photon's neighbour cache holds Linux's real MAC (learnt from Linux's solicitation or advertisement).
        var linuxMac = Sh($"cat /sys/class/net/{peer.Tap}/address").Output.Trim();
        var entry = peer.Stack.Ipv6Neighbours.Single(e => e.Address == linuxLinkLocal);
        Assert.Equal(linuxMac, entry.Mac);
        Assert.NotEqual(NeighbourState.Incomplete, entry.State);
    }

    /// <summary>Linux sends a router advertisement from its link-local address through its own ICMPv6 socket (the
    /// kernel fills the checksum); Photon autoconfigures fd00:88::/64 and Linux reaches the new address.</summary>
    [Fact]
    public async Task A_router_advertisement_from_Linux_gives_Photon_a_slaac_address_Linux_can_ping()
    {
        if (Skipped()) return;
        Assert.Equal(0, Sh($"ip -6 addr add fd00:88::1/64 dev {peer.Tap} nodad").Code);
        var script = "import socket,struct;" +
                     "s=socket.socket(socket.AF_INET6,socket.SOCK_RAW,socket.IPPROTO_ICMPV6);" +
                     "s.setsockopt(socket.IPPROTO_IPV6,socket.IPV6_MULTICAST_HOPS,255);" +
                     $"s.setsockopt(socket.SOL_SOCKET,socket.SO_BINDTODEVICE,b\"{peer.Tap}\");" +
                     "ra=bytes([134,0,0,0,64,0])+struct.pack(\">HII\",600,0,0)+bytes([3,4,64,0xC0])+struct.pack(\">II\",3600,1800)+bytes(4)+socket.inet_pton(socket.AF_INET6,\"fd00:88::\");" +
                     $"s.sendto(ra,(\"ff02::1\",0,0,socket.if_nametoindex(\"{peer.Tap}\")))";
        var sent = Sh($"python3 -c \"{script.Replace("\"", "\\\"")}\"");
        Assert.True(sent.Code == 0, sent.Output);
        var slaac = new Ipv6Address(Ip6("fd00:88::").High, Ipv6Address.InterfaceId(Ipv6LinuxPeer.PhotonMac));
        await StackTests.WaitUntil(() => Ipv6StackTests.Locked(peer.Stack,
            () => peer.Nic.Ipv6.Addresses.Any(a => a.Cidr.Address == slaac && a.State == Ipv6AddressState.Preferred)));
        Assert.Contains(Ipv6StackTests.Locked(peer.Stack, () => peer.Nic.Ipv6.DefaultRouters), r => r.IsLinkLocal);
        var ping = Sh($"ping -6 -c 2 -w 60 -i 0.2 {slaac}");
        Assert.True(ping.Code == 0, ping.Output);
        PingOutput.AssertAllAnswered(ping.Output, 2);
    }

    [Fact]
    public async Task Linux_nc6_exchanges_udp_datagrams_with_a_Photon_socket()
    {
        if (Skipped()) return;
        await using var socket = peer.Stack.Udp.Bind(7006).Value;
        var nc = HostShell.ShAsync(peer.InNs($"printf hello-photon | timeout 5 nc -6 -u -w 3 {Ipv6LinuxPeer.Photon} 7006"));
        var got = await socket.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(got.IsOk, got.ToString());
        Assert.Equal("hello-photon", System.Text.Encoding.ASCII.GetString(got.Value.Data));
        Assert.Equal(Ipv6LinuxPeer.Linux, got.Value.From.Address);
        Assert.True((await socket.SendToAsync(got.Value.From, "hello-linux"u8.ToArray())).IsOk);
        var output6 = (await nc).Output;
        output.WriteLine(output6);
        Assert.Contains("hello-linux", output6);
    }

    [Fact]
    public async Task Linux_curl6_fetches_a_page_and_a_file_from_an_http_service_on_Photon_over_ipv6()
    {
        if (Skipped()) return;
        var blob = RandomNumberGenerator.GetBytes(1 << 20);
        // The server is a process serving through socket syscalls, on a port grant bound into its namespace — the same
        // grant and listener serve IPv4 too.
        using var httpd = new HttpdOnStack(peer.Stack, 80, path => path switch
        {
            "/" => HttpResponse.Text(200, "hello over ipv6\n"),
            "/blob" => new HttpResponse(200, "application/octet-stream", blob),
            _ => HttpResponse.Text(404, "no such page\n"),
        });
        var page = await HostShell.ShAsync(peer.InNs($"curl -6 -sS --max-time 20 http://[{Ipv6LinuxPeer.Photon}]:80/"));
        output.WriteLine(page.Output);
        Assert.True(page.Code == 0, page.Output);
        Assert.Equal("hello over ipv6\n", page.Output);
        var file = await HostShell.ShAsync(peer.InNs($"curl -6 -sS --max-time 60 http://[{Ipv6LinuxPeer.Photon}]:80/blob | sha256sum"));
        Assert.True(file.Code == 0, file.Output);
        Assert.StartsWith(Convert.ToHexString(SHA256.HashData(blob)).ToLowerInvariant(), file.Output);
    }

    [Fact]
    public async Task Linux_nc6_talks_tcp_to_a_Photon_listener_and_Photon_connects_out_to_nc6()
    {
        if (Skipped()) return;
        await using var listener = peer.Stack.Tcp.Listen(7007).Value;
        var accept = listener.AcceptAsync();
        var nc = HostShell.ShAsync(peer.InNs($"printf hello-photon-tcp | timeout 10 nc -6 -N {Ipv6LinuxPeer.Photon} 7007"));
        var conn = await accept.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(conn.IsOk, conn.ToString());
        Assert.Equal(new IpEndpoint(Ipv6LinuxPeer.Linux, conn.Value.Remote.Port), conn.Value.Remote);
        var buf = new byte[64];
        int read = 0;
        while (true)
        {
            var n = await conn.Value.ReceiveAsync(buf.AsMemory(read)).WaitAsync(TimeSpan.FromSeconds(10));
            Assert.True(n.IsOk, n.ToString());
            if (n.Value == 0) break;
            read += n.Value;
        }
        Assert.Equal("hello-photon-tcp", System.Text.Encoding.ASCII.GetString(buf, 0, read));
        await conn.Value.CloseAsync();
        output.WriteLine((await nc).Output);

        // Photon connecting out: nc -6 -l in the namespace prints what it receives.
        var server = HostShell.ShAsync(peer.InNs("timeout 20 nc -6 -l -p 7008 < /dev/null"), 30_000);
        Photon.Kernel.Result<Tcp.TcpConnection> dialed = default;
        for (int i = 0; i < 50; i++) // until nc is listening
        {
            dialed = await peer.Stack.Tcp.ConnectAsync(new IpEndpoint(Ipv6LinuxPeer.Linux, 7008));
            if (dialed.IsOk || dialed.Code != ErrorCode.ConnectionRefused) break;
            await Task.Delay(100);
        }
        Assert.True(dialed.IsOk, dialed.ToString());
        var data = new byte[300_000];
        new Random(7).NextBytes(data);
        Assert.True((await dialed.Value.SendAsync(data)).IsOk);
        Assert.True((await dialed.Value.SendAsync("|end-from-photon"u8.ToArray())).IsOk);
        await dialed.Value.CloseAsync();
        var got = await server;
        Assert.EndsWith("|end-from-photon", got.Output);
    }
}
