using System.Diagnostics;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Hal.Host.Net;
using Xunit.Abstractions;

namespace Photon.Net.Tests;

/// <summary>
/// Photon against a real Linux network stack: a TAP device Photon owns is moved into a network namespace the test
/// creates (10.77.0.1 on the Linux side, 10.77.0.2 for Photon), then Linux's ping and Photon's ping cross it.
/// If TAP devices or namespaces can't be created here the test says so loudly and checks nothing else (the two-stack
/// wire tests still run).
/// </summary>
public sealed class LinuxPeerTests(ITestOutputHelper output)
{
    private static (int Code, string Output) Sh(string cmd)
    {
        using var p = Process.Start(new ProcessStartInfo("sh", ["-c", cmd]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var text = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, text);
    }

    [Fact]
    public async Task Linux_ping_gets_replies_from_Photon_and_Photon_pings_Linux()
    {
        var id = Random.Shared.Next(10000, 99999);
        var ns = $"photon-test-{id}";
        var tap = $"ptap{id}";
        var opened = TapDevice.Open(tap, [2, 0x50, 0x48, 0, 0, 2]);
        if (!opened.IsOk || Sh($"ip netns add {ns}").Code != 0)
        {
            output.WriteLine($"SKIPPED LOUDLY: cannot create a TAP device or network namespace here ({opened.Error}); real-peer test not run.");
            if (opened.IsOk) await opened.Value.DisposeAsync();
            return;
        }
        await using var device = opened.Value;
        try
        {
            var setup = Sh($"ip link set {tap} netns {ns} && ip -n {ns} addr add 10.77.0.1/24 dev {tap} && ip -n {ns} link set {tap} up && ip -n {ns} link set lo up");
            Assert.True(setup.Code == 0, setup.Output);
            var timers = new HostTimers(new HostClock());
            await using var nic = new EthernetInterface(device, Ipv4Address.Parse("10.77.0.2").Value, 24, timers);
            nic.Start();

            var ping = Sh($"ip netns exec {ns} ping -c 3 -W 2 -i 0.2 10.77.0.2");
            output.WriteLine(ping.Output);
            Assert.True(ping.Code == 0, ping.Output);
            Assert.Contains("3 received", ping.Output);
            Assert.True(nic.EchoRepliesSent >= 3);

            var rtt = await nic.PingAsync(Ipv4Address.Parse("10.77.0.1").Value, TimeSpan.FromSeconds(3));
            Assert.True(rtt.IsOk, rtt.ToString());
            Assert.Contains(nic.ArpCache, e => e.Address.ToString() == "10.77.0.1");
        }
        finally
        {
            Sh($"ip netns del {ns}");
        }
    }
}
