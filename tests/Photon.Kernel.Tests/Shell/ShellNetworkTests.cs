using System.Text.RegularExpressions;
using Xunit.Abstractions;
using Photon.Kernel.Tests.Sandbox.Wasi;

namespace Photon.Kernel.Tests.Shell;

/// <summary>
/// `photon shell --net` as root: the kernel brings up its NIC on a TAP device and Linux's end goes into a fresh network
/// namespace (as in `photon boot`), so ping, ip and netstat run against a real peer. Needs root; skipped loudly otherwise.
/// </summary>
public class ShellNetworkTests(ITestOutputHelper output)
{
    private bool Skipped()
    {
        if (Environment.IsPrivilegedProcess) return false;
        output.WriteLine("SKIPPED LOUDLY: shell network test not run: a TAP device and a network namespace need root");
        Console.Error.WriteLine("SKIPPED LOUDLY: shell network test not run: a TAP device and a network namespace need root");
        return true;
    }

    [Fact]
    public void A_root_shell_with_net_pings_its_Linux_peer_shows_the_live_stack_and_removes_the_peer_afterwards()
    {
        if (Skipped()) return;
        var r = PhotonShellProcess.Run("ping 10.66.0.1 2\nip addr\nip route\nnetstat\nping 10.66.0.77 1\n", "--net");
        var all = r.Stdout + r.Stderr;
        Assert.Contains("reply from 10.66.0.1: seq=0", r.Stdout);
        Assert.Contains("2 sent, 2 answered", r.Stdout);
        Assert.Contains("10.66.0.2/24", r.Stdout);                              // ip addr: the stack's address
        Assert.Matches(@"10\.66\.0\.0/24\s+on-link", r.Stdout);                  // ip route: the connected route
        Assert.Matches(@"(?m)^10\.66\.0\.1\s+[0-9a-f]{2}(:[0-9a-f]{2}){5}", r.Stdout); // netstat: the peer learned by ARP
        // An address nobody answers for: the only failed command, so the run's exit code says so.
        Assert.Contains("no reply from 10.66.0.77", r.Stdout);
        Assert.Single(Regex.Matches(r.Stdout, "error: "));
        Assert.True(r.Code == 1, all);

        // The peer namespace the shell announced is gone once it exits.
        var ns = Regex.Match(r.Stderr, @"in netns (\S+)");
        Assert.True(ns.Success, all);
        var (_, list) = WasiExamples.Run("ip", ["netns", "list"]);
        Assert.DoesNotContain(ns.Groups[1].Value, list);
    }

    [Fact]
    public void A_tenant_shell_with_net_has_no_network_in_its_namespace()
    {
        if (Skipped()) return;
        var r = PhotonShellProcess.Run("", "--tenant", "/tenant-b", "--net", "-c", "ip addr");
        Assert.Equal(1, r.Code);
        Assert.Contains("error: NotFound", r.Stdout);
        Assert.DoesNotContain("10.66.0.2", r.Stdout);
    }
}
