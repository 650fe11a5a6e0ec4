using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Photon.Kernel.Tests.Cli;

/// <summary>
/// Issue #15, "a complete stack", through the command a user runs: `photon net up --dhcp` takes its address, route and
/// DNS server from a real dnsmasq in the Linux peer's namespace and resolves a name through it (`--resolve`);
/// `photon net up ADDR --dns IP` resolves through a server given on the command line; and the `--http` server answers
/// requests a Linux client pipelines on one connection (two requests in one write, answered in order) and curl's
/// kept-alive second request. The photon process runs as a child (its TAP and kernel are its own); dnsmasq is started
/// first with `--bind-dynamic`, so it serves the TAP as soon as photon moves it into the namespace. Needs root, ip,
/// dnsmasq, curl and nc (test.sh installs them); skipped loudly otherwise.
/// </summary>
public sealed class NetUpDhcpDnsTests : IDisposable
{
    private readonly int _id = Environment.ProcessId % 100000;
    private readonly string _dir = Directory.CreateTempSubdirectory("photon-netup-").FullName;
    private string Ns => $"photon-netup-audit15-{_id}";
    private string Tap => $"pq{_id}";
    private Process? _dnsmasq;

    private static (int Code, string Output) Run(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000)) { p.Kill(true); return (-1, $"timed out: {file} {string.Join(' ', args)}"); }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    /// <summary>A command in the peer namespace, its arguments passed as they are (no shell quoting to get wrong).</summary>
    private (int Code, string Output) InNs(params string[] args) => Run("ip", ["netns", "exec", Ns, .. args]);

    private bool CanRun(out string why)
    {
        why = "";
        if (!Environment.IsPrivilegedProcess) { why = "a TAP device and a network namespace need root"; return false; }
        foreach (var tool in new[] { "ip", "dnsmasq", "curl", "nc" })
            if (Run("sh", "-c", $"command -v {tool}").Code != 0) { why = $"{tool} is not installed"; return false; }
        return true;
    }

    /// <summary>The namespace and a dnsmasq in it serving DHCP (10.79.0.50–60, router and DNS server 10.79.0.1) and DNS
    /// (www.photon.test → 10.79.0.7) on the TAP photon will move there.</summary>
    private void StartPeer()
    {
        var ns = Run("sh", "-c", $"ip netns add {Ns} && ip -n {Ns} link set lo up");
        Assert.True(ns.Code == 0, ns.Output);
        var info = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[]
        {
            "netns", "exec", Ns, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--no-ping",
            $"--interface={Tap}", "--bind-dynamic", "--dhcp-authoritative", "--dhcp-range=10.79.0.50,10.79.0.60,255.255.255.0,2m",
            "--dhcp-option=option:router,10.79.0.1", "--dhcp-option=option:dns-server,10.79.0.1", $"--dhcp-leasefile={_dir}/leases",
            "--local=/photon.test/", "--host-record=www.photon.test,10.79.0.7", "--local-ttl=60", "--user=root",
            $"--pid-file={_dir}/pid", $"--log-facility={_dir}/log",
        }) info.ArgumentList.Add(a);
        _dnsmasq = Process.Start(info)!;
    }

    /// <summary>`photon net up ARGS` as a child process; it runs until <see cref="Stop"/> sends the shutdown signal.</summary>
    private static (Process Photon, Task<string> Stdout, Task<string> Stderr) StartPhoton(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Shell.PhotonShellProcess.PhotonDll());
        foreach (var a in args) info.ArgumentList.Add(a);
        var p = Process.Start(info)!;
        return (p, p.StandardOutput.ReadToEndAsync(), p.StandardError.ReadToEndAsync());
    }

    /// <summary>SIGTERM is the kernel's shutdown interrupt: `net up` prints its tables, stops the network (a DHCP lease
    /// is released) and exits 0.</summary>
    private static string Stop(Process photon, Task<string> stdout, Task<string> stderr)
    {
        if (!photon.HasExited) Run("kill", "-TERM", photon.Id.ToString());
        if (!photon.WaitForExit(120_000)) { photon.Kill(true); Assert.Fail("photon net up did not stop on SIGTERM"); }
        string output = stdout.Result + stderr.Result;
        Assert.True(photon.ExitCode == 0, $"exit {photon.ExitCode}: {output}");
        return output;
    }

    private static async Task<bool> WaitFor(Func<bool> condition, Process photon, int seconds = 120)
    {
        for (int i = 0; i < seconds * 5 && !photon.HasExited; i++)
        {
            if (condition()) return true;
            await Task.Delay(200);
        }
        return condition();
    }

    /// <summary>Two requests in one write on one connection (HTTP/1.1 pipelining: curl no longer pipelines), the second
    /// asking to close: two answers, in the order asked.</summary>
    private void AssertPipelinedRequestsAnswered(string address)
    {
        var pipelined = InNs("sh", "-c",
            $"printf 'GET /bulk?bytes=5 HTTP/1.1\\r\\nHost: p\\r\\n\\r\\nGET /bulk?bytes=7 HTTP/1.1\\r\\nHost: p\\r\\nConnection: close\\r\\n\\r\\n' | nc -w 30 {address} 80");
        Assert.True(pipelined.Code == 0, pipelined.Output);
        var lengths = Regex.Matches(pipelined.Output, @"HTTP/1\.1 200 OK.*?Content-Length: (\d+)", RegexOptions.Singleline).Select(m => m.Groups[1].Value).ToList();
        Assert.True(lengths is ["5", "7"], pipelined.Output);
    }

    [Fact]
    public async Task Net_up_with_dhcp_takes_a_lease_from_dnsmasq_resolves_through_its_server_and_serves_pipelined_http()
    {
        if (!CanRun(out var why)) { Console.Error.WriteLine($"SKIPPED LOUDLY: photon net up --dhcp: {why}"); return; }
        StartPeer();
        var (photon, stdout, stderr) = StartPhoton("net", "up", "--dhcp", "--tap", Tap, "--peer-ns", Ns, "--peer-addr", "10.79.0.1/24",
            "--http", "80", "--resolve", "www.photon.test", "--seconds", "600");
        try
        {
            // dnsmasq's lease file names the address it gave photon's MAC.
            string leases = Path.Combine(_dir, "leases");
            string? Leased() => File.Exists(leases) ? Regex.Match(File.ReadAllText(leases), @"10\.79\.0\.\d+") is { Success: true } m ? m.Value : null : null;
            Assert.True(await WaitFor(() => Leased() is not null, photon), $"no lease: {(File.Exists(Path.Combine(_dir, "log")) ? File.ReadAllText(Path.Combine(_dir, "log")) : "")}");
            string address = Leased()!;
            // The server is up once the lease is applied: curl twice on one connection (keep-alive).
            var twice = (Code: -1, Output: "");
            Assert.True(await WaitFor(() => (twice = InNs("curl", "-sS", "-v", "--max-time", "10", "-o", "/dev/null", "-o", "/dev/null",
                $"http://{address}/bulk?bytes=100", $"http://{address}/bulk?bytes=200")).Code == 0, photon), twice.Output);
            Assert.Contains("Re-using existing connection", twice.Output);
            AssertPipelinedRequestsAnswered(address);
            string output = Stop(photon, stdout, stderr);
            Assert.Matches($@"up {Tap} {Regex.Escape(address)}/24 ", output); // the "up" line: device, leased address
            // The lease's DNS server (dnsmasq) answered the name photon was asked to resolve.
            Assert.Contains("www.photon.test: 10.79.0.7", output);
            // Stopping the network gave the lease back (dnsmasq logs it when it has read the datagram: wait for that).
            string log = Path.Combine(_dir, "log");
            for (int i = 0; i < 150 && !File.ReadAllText(log).Contains("DHCPRELEASE"); i++) await Task.Delay(200);
            Assert.Contains("DHCPRELEASE", File.ReadAllText(log));
        }
        finally
        {
            if (!photon.HasExited) photon.Kill(true);
            photon.Dispose();
        }
    }

    [Fact]
    public async Task Net_up_with_a_static_address_resolves_through_the_dns_server_given_on_the_command_line()
    {
        if (!CanRun(out var why)) { Console.Error.WriteLine($"SKIPPED LOUDLY: photon net up --dns: {why}"); return; }
        StartPeer();
        var (photon, stdout, stderr) = StartPhoton("net", "up", "10.79.0.2/24", "--tap", Tap, "--peer-ns", Ns, "--peer-addr", "10.79.0.1/24",
            "--http", "80", "--dns", "10.79.0.1", "--resolve", "www.photon.test", "--resolve", "nothing.photon.test", "--seconds", "600");
        try
        {
            var ready = (Code: -1, Output: "");
            Assert.True(await WaitFor(() => (ready = InNs("curl", "-sS", "--max-time", "5", "http://10.79.0.2/bulk?bytes=10", "-o", "/dev/null")).Code == 0, photon), ready.Output);
            AssertPipelinedRequestsAnswered("10.79.0.2");
            string output = Stop(photon, stdout, stderr);
            Assert.Contains("www.photon.test: 10.79.0.7", output);
            Assert.Contains("nothing.photon.test: NotFound", output); // dnsmasq's NXDOMAIN for its local domain
        }
        finally
        {
            if (!photon.HasExited) photon.Kill(true);
            photon.Dispose();
        }
    }

    public void Dispose()
    {
        if (_dnsmasq is { HasExited: false } d)
        {
            d.Kill(entireProcessTree: true);
            d.WaitForExit(10_000);
        }
        _dnsmasq?.Dispose();
        Run("ip", "netns", "del", Ns);
        Directory.Delete(_dir, recursive: true);
    }
}
