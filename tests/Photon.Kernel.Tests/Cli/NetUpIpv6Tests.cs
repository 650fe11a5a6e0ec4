using System.Diagnostics;
using Photon.Cli;

namespace Photon.Kernel.Tests.Cli;

/// <summary>Issue #15: `photon net up ADDR --ip6 ADDR6/64` turns IPv6 on for the kernel's interface, so Linux in the
/// peer namespace reaches it with `ping -6` on the static address and on the EUI-64 link-local one.</summary>
public sealed class NetUpIpv6Tests
{
    private static (int Code, string Output) Sh(string cmd, int timeoutMs = 60_000)
    {
        using var p = Process.Start(new ProcessStartInfo("sh", ["-c", cmd]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutMs)) { p.Kill(true); return (-1, $"timed out: {cmd}"); }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    [Fact]
    public async Task Net_up_with_ip6_answers_ping6_from_the_peer_namespace()
    {
        var probe = Photon.Kernel.Hal.Host.Net.TapDevice.Open($"p6probe{Environment.ProcessId % 1000}", [2, 0, 0, 0, 0, 7]);
        if (!probe.IsOk || Sh("command -v ping").Code != 0)
        {
            Console.Error.WriteLine($"SKIPPED LOUDLY: photon net up --ip6: needs a TAP device and ping ({(probe.IsOk ? "ping missing" : probe.Error.ToString())})");
            return;
        }
        await probe.Value.DisposeAsync();
        var ns = $"ph6up{Environment.ProcessId % 100000}";
        var tap = $"p6u{Environment.ProcessId % 100000}";
        try
        {
            var up = Task.Run(() => CliApp.RunAsync(["net", "up", "10.97.0.2/24", "--tap", tap, "--ip6", "fd00:97::2/64",
                "--peer-ns", ns, "--peer-addr", "10.97.0.1/24", "--seconds", "20"]));
            string InNs(string cmd) => $"ip netns exec {ns} sh -c '{cmd}'";
            var ready = (Code: -1, Output: "");
            for (int i = 0; i < 100 && ready.Code != 0 && !up.IsCompleted; i++)
            {
                await Task.Delay(200);
                if (Sh(InNs($"ip -6 addr show dev {tap} | grep -q fd00:97::1 || ip -6 addr add fd00:97::1/64 dev {tap} nodad")).Code != 0) continue;
                ready = Sh(InNs("ping -6 -c 1 -w 2 fd00:97::2")); // a probe, retried: up to 2 s each
            }
            Assert.True(ready.Code == 0, $"never answered ping -6: {ready.Output}");
            // NetworkComponent derives the MAC 02:50:48:61:00:02 from 10.97.0.2, so the EUI-64 link-local is fe80::50:48ff:fe61:2.
            // -w (a deadline), not -W: a reply that leaves late is waited for; strict, every request answered.
            var linkLocal = Sh(InNs($"ping -6 -c 2 -w 60 -i 0.2 fe80::50:48ff:fe61:2%{tap}"));
            Assert.True(linkLocal.Code == 0, linkLocal.Output);
            Photon.Net.Tests.PingOutput.AssertAllAnswered(linkLocal.Output, 2);
            Assert.Equal(0, await up.WaitAsync(TimeSpan.FromSeconds(60)));
        }
        finally
        {
            Sh($"ip netns del {ns}");
        }
    }
}
