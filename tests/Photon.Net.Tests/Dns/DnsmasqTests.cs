using Photon.Kernel.Capabilities;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Net.Dns;
using Photon.Net.Sockets;
using Photon.Net.Syscalls;
using Xunit.Abstractions;

namespace Photon.Net.Tests.Dns;

/// <summary>
/// The stub resolver against a real <c>dnsmasq</c> in the Linux peer's network namespace, reached over the TAP device
/// the other real-peer tests use: names from a hosts file, a CNAME, "no such name" for the local domain, and an answer
/// too large for 512 bytes of UDP, which dnsmasq truncates (TC) and the resolver fetches again over TCP, and an AAAA
/// record beside an A one for one name; hosts-file
/// answers carry a 60 s TTL (`--local-ttl`; dnsmasq's default of 0 must not be cached). Needs root and
/// dnsmasq (test.sh installs dnsmasq-base); skipped loudly otherwise.
/// </summary>
[Collection("linux-peer")]
public sealed class DnsmasqTests(LinuxPeer peer, ITestOutputHelper output) : IAsyncLifetime
{
    private System.Diagnostics.Process? _dnsmasq;
    private string? _dir;
    private string? _skip;

    public async Task InitializeAsync()
    {
        if (peer.SkipReason is { } why) { _skip = why; return; }
        if (HostShell.Sh("command -v dnsmasq").Code != 0) { _skip = "dnsmasq is not installed (apt-get install dnsmasq-base)"; return; }
        _dir = Directory.CreateTempSubdirectory("photon-dnsmasq-").FullName;
        // dual.photon.test has an A and an AAAA record: the resolver asks for each type on its own.
        var hosts = new List<string> { "10.77.0.1 peer.photon.test", "10.77.0.9 dual.photon.test", "fd00:77::9 dual.photon.test" };
        hosts.AddRange(Enumerable.Range(1, 60).Select(i => $"10.77.1.{i} big.photon.test"));
        await File.WriteAllLinesAsync(Path.Combine(_dir, "hosts"), hosts);
        _dnsmasq = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("ip",
        [
            "netns", "exec", peer.Ns, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
            $"--addn-hosts={_dir}/hosts", "--local=/photon.test/", "--cname=www.photon.test,peer.photon.test",
            "--local-ttl=60", "--listen-address=10.77.0.1", "--bind-interfaces", "--port=53", "--user=root", $"--pid-file={_dir}/pid", "--log-facility=-",
        ]) { RedirectStandardError = true, RedirectStandardOutput = true });
    }

    public async Task DisposeAsync()
    {
        if (_dnsmasq is { HasExited: false } p)
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
        }
        if (_dir is not null) Directory.Delete(_dir, recursive: true);
    }

    private bool Skipped()
    {
        if (_skip is null) return false;
        output.WriteLine($"SKIPPED LOUDLY: dnsmasq test not run: {_skip}");
        Console.Error.WriteLine($"SKIPPED LOUDLY: dnsmasq test not run: {_skip}");
        return true;
    }

    private DnsResolver Resolver() =>
        DnsResolver.Create(peer.Stack, [new IpEndpoint(LinuxPeer.Linux, 53)], new ResolverOptions { Timeout = TimeSpan.FromSeconds(1), Attempts = 3 }).Value;

    /// <summary>dnsmasq needs a moment to bind; the first lookup retries until it answers (bounded).</summary>
    private static async Task<Result<DnsLookup>> FirstLookupAsync(DnsResolver resolver, string host)
    {
        Result<DnsLookup> r = default;
        for (int i = 0; i < 20 && !(r = await resolver.ResolveAsync(host, DnsType.A)).IsOk && r.Code == ErrorCode.TimedOut; i++) { }
        return r;
    }

    [Fact]
    public async Task Photon_resolves_names_CNAMEs_and_missing_names_from_dnsmasq_and_falls_back_to_TCP_for_a_large_answer()
    {
        if (Skipped()) return;
        var resolver = Resolver();

        var peerName = await FirstLookupAsync(resolver, "peer.photon.test");
        Assert.True(peerName.IsOk, $"{peerName} (dnsmasq: {(_dnsmasq!.HasExited ? _dnsmasq.StandardError.ReadToEnd() : "running")})");
        Assert.Equal(LinuxPeer.Linux, Ipv4Address.Read(peerName.Value.Addresses.Single()));

        var www = await resolver.ResolveAsync("www.photon.test", DnsType.A);
        Assert.True(www.IsOk, www.ToString());
        Assert.Equal(["www.photon.test", "peer.photon.test"], www.Value.Chain);
        Assert.Equal(LinuxPeer.Linux, Ipv4Address.Read(www.Value.Addresses.Single()));

        Assert.Equal(ErrorCode.NotFound, (await resolver.ResolveAsync("nothing.photon.test", DnsType.A)).Code);

        // AAAA: the 16-byte address, and the same name's A record apart from it; a name with only an A record has no
        // AAAA (NotFound, not the A address).
        var v6 = await resolver.ResolveAsync("dual.photon.test", DnsType.Aaaa);
        Assert.True(v6.IsOk, v6.ToString());
        Assert.Equal(System.Net.IPAddress.Parse("fd00:77::9").GetAddressBytes(), v6.Value.Addresses.Single());
        var v4 = await resolver.ResolveAsync("dual.photon.test", DnsType.A);
        Assert.True(v4.IsOk, v4.ToString());
        Assert.Equal("10.77.0.9", Ipv4Address.Read(v4.Value.Addresses.Single()).ToString());
        Assert.Equal(ErrorCode.NotFound, (await resolver.ResolveAsync("peer.photon.test", DnsType.Aaaa)).Code);

        // 60 A records do not fit in 512 bytes: dnsmasq sets TC over UDP and answers in full over TCP.
        var big = await resolver.ResolveAsync("big.photon.test", DnsType.A);
        Assert.True(big.IsOk, big.ToString());
        Assert.Equal(1, resolver.TcpFallbacks);
        Assert.Equal(resolver.Options.MaxAddresses, big.Value.Addresses.Count);
        Assert.All(big.Value.Addresses, a => Assert.StartsWith("10.77.1.", Ipv4Address.Read(a).ToString()));

        long queries = resolver.Queries;
        Assert.True((await resolver.ResolveAsync("www.photon.test", DnsType.A)).Value.FromCache);
        Assert.Equal(queries, resolver.Queries);
    }

    [Fact]
    public async Task A_process_connects_by_name_through_syscalls_to_nc_in_the_namespace()
    {
        if (Skipped()) return;
        using var phys = new PhysicalMemory(4 * 1024 * 1024);
        var caps = new CapabilityManager();
        var ns = new NamespaceManager(caps);
        var pm = new ProcessManager(caps, ns, new MemoryManager(phys, caps));
        var sockets = new SocketService(peer.Stack, caps);
        SocketSyscalls.Register(caps, sockets).Unwrap();
        try
        {
            var appNs = ns.CreateChild(ns.RootCapability, "app").Value;
            ns.Bind(appNs, "dns", caps.Create(new ResolverObject(Resolver()), Rights.Read | Rights.Delegate, Principal.Kernel).Value, Rights.Read).Unwrap();
            ns.Bind(appNs, "outbound", sockets.GrantNetworkAccess(Principal.Kernel).Value, Rights.Connect).Unwrap();
            var app = pm.Spawn("app", appNs).Value.Process;
            var dns = app.Open("dns", Rights.Read).Value;
            var net = app.Open("outbound", Rights.Connect).Value;
            Result<DnsLookup> ready = default;
            for (int i = 0; i < 20 && !(ready = await ResolverSyscalls.ResolveAsync(app, dns, "peer.photon.test")).IsOk; i++) { }
            Assert.True(ready.IsOk, ready.ToString());

            var nc = HostShell.ShAsync(peer.InNs("timeout 10 nc -l -p 9053"), 15_000);
            Result<Handle> c = default;
            for (int i = 0; i < 50 && !(c = await SocketSyscalls.ConnectAsync(app, net, dns, "www.photon.test", 9053)).IsOk; i++) await Task.Delay(100);
            Assert.True(c.IsOk, c.ToString());
            Assert.Equal(new IpEndpoint(LinuxPeer.Linux, 9053), SocketSyscalls.Endpoints(app, c.Value).Value.Remote);
            Assert.True((await SocketSyscalls.SendAsync(app, c.Value, "hello by name\n"u8.ToArray())).IsOk);
            SocketSyscalls.Close(app, c.Value);
            var got = await nc;
            Assert.Contains("hello by name", got.Output);
        }
        finally { SocketSyscalls.Unregister(caps); }
    }
}
