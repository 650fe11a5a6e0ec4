using System.Globalization;
using Photon.Cli;
using Photon.Cli.Commands;
using Photon.Kernel.Tests.Diagnostics;

namespace Photon.Kernel.Tests.Cli;

/// <summary>`photon top --once` and `photon trace` as a script uses them.</summary>
[Collection(KernelTraceCollection.Name)]
public sealed class ObserveCommandTests
{
    /// <summary>Splits plain top output into its "# name" sections, each a list of rows (header first) of tab-separated fields.</summary>
    private static Dictionary<string, List<string[]>> Sections(string text)
    {
        var sections = new Dictionary<string, List<string[]>>();
        List<string[]>? current = null;
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith("# ", StringComparison.Ordinal)) sections[line[2..]] = current = new List<string[]>();
            else current!.Add(line.Split('\t'));
        }
        return sections;
    }

    private static IEnumerable<Dictionary<string, string>> Rows(List<string[]> section) =>
        section.Skip(1).Select(r => section[0].Zip(r).ToDictionary(p => p.First, p => p.Second));

    [Fact]
    public async Task Top_once_prints_processes_with_cpu_time_tenants_with_quota_use_and_device_queues()
    {
        var output = new StringWriter();
        Assert.Equal(0, await TopCommand.RunAsync(["--once", "--plain"], output));
        var s = Sections(output.ToString());
        Assert.Equal("/", s["scope"][0][0]);
        var processes = Rows(s["processes"]).ToList();
        Assert.Contains(processes, p => p["name"] == "init" && p["namespace"] == "/");
        var loads = processes.Where(p => p["name"] == "load").ToList();
        Assert.Equal(2, loads.Count); // one per tenant
        Assert.Contains(loads, p => p["tenant"] == "/tenant-a");
        Assert.All(loads, p => Assert.True(int.Parse(p["tasks"], CultureInfo.InvariantCulture) >= 1));
        Assert.Contains(loads, p => double.Parse(p["cpu_ms"], CultureInfo.InvariantCulture) > 0);
        var tenants = Rows(s["tenants"]).ToDictionary(t => t["tenant"]);
        Assert.True(long.Parse(tenants["/tenant-a"]["memory_bytes"], CultureInfo.InvariantCulture) >= 256 * 1024); // the load's region
        Assert.Equal("16777216", tenants["/tenant-a"]["memory_limit"]);
        var system = Rows(s["system"]).Single();
        Assert.True(long.Parse(system["ipc_sent"], CultureInfo.InvariantCulture) > 0);
        Assert.Contains(Rows(s["queues"]), q => q["queue"].StartsWith("nvme0.q", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Top_as_a_tenant_shows_only_that_tenant()
    {
        var output = new StringWriter();
        Assert.Equal(0, await TopCommand.RunAsync(["--once", "--plain", "--tenant", "/tenant-b"], output));
        var s = Sections(output.ToString());
        Assert.Equal("/tenant-b", s["scope"][0][0]);
        var processes = Rows(s["processes"]).ToList();
        Assert.Contains(processes, p => p["name"] == "top");
        Assert.All(processes, p => Assert.StartsWith("/tenant-b", p["namespace"], StringComparison.Ordinal));
        Assert.Equal(["/tenant-b"], Rows(s["tenants"]).Select(t => t["tenant"]));
        Assert.False(s.ContainsKey("system")); // no monitor capability, no kernel-wide figures
    }

    [Fact]
    public async Task Top_and_trace_reject_bad_arguments()
    {
        Assert.Equal(2, await CliApp.RunAsync(["top", "--interval", "5"]));
        Assert.Equal(2, await CliApp.RunAsync(["top", "--tenant", "relative"]));
        Assert.Equal(2, await CliApp.RunAsync(["trace", "--buffer", "1"]));
        Assert.Equal(2, await CliApp.RunAsync(["trace", "-o"]));
        Assert.Equal(2, await CliApp.RunAsync(["trace", "--seconds", "-1"]));
    }

    [Fact]
    public async Task Trace_writes_a_Chrome_trace_of_the_demo_with_scheduler_ipc_block_capability_and_syscall_events()
    {
        using var guard = new TraceGuard();
        var file = Path.Combine(Path.GetTempPath(), $"photon-trace-{Guid.NewGuid():N}.json");
        try
        {
            Assert.Equal(0, await CliApp.RunAsync(["trace", "-o", file]));
            var events = ChromeTraceJson.Validate(await File.ReadAllBytesAsync(file));
            var categories = events.Where(e => e.GetProperty("ph").GetString() != "M").Select(e => e.GetProperty("cat").GetString()).ToHashSet();
            Assert.Superset(new HashSet<string?> { "sched", "ipc", "blockio", "cap", "syscall" }, categories);
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public void Top_with_net_shows_the_NIC_rings_beside_the_block_queues_while_a_Linux_peer_pings()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            Console.Error.WriteLine("SKIPPED LOUDLY: top --net not run: a TAP device and a network namespace need root");
            return;
        }
        // A child process: the demo's TAP device and peer namespace are named after the photon process, and in-process
        // `photon boot` tests of this assembly would otherwise race for the same names.
        var info = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Shell.PhotonShellProcess.PhotonDll(), "top", "--once", "--plain", "--net" }) info.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(300_000)) { p.Kill(true); Assert.Fail("photon top --net did not finish"); }
        Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}: {stdout.Result}{stderr.Result}");
        var queues = Rows(Sections(stdout.Result)["queues"]).ToDictionary(q => q["queue"]);
        Assert.Contains(queues.Keys, q => q.StartsWith("nvme0.q", StringComparison.Ordinal));
        var tap = $"pb{p.Id % 100000}";
        List<Dictionary<string, string>> Rings(string kind) =>
            queues.Where(q => q.Key.StartsWith($"{tap}.{kind}", StringComparison.Ordinal)).Select(q => q.Value).ToList();
        var tx = Rings("tx");
        var rx = Rings("rx");
        Assert.Equal(2, tx.Count); // the demo NIC has two queues each way
        Assert.Equal(2, rx.Count);
        Assert.All(tx, q => Assert.Equal("256", q["depth"]));
        // Echo replies went out through the tx ring their flow hashes to.
        Assert.True(tx.Sum(q => long.Parse(q["submitted"], CultureInfo.InvariantCulture)) > 0, "echo replies went out through a tx ring");
        Assert.Contains(rx, q => long.Parse(q["completed"], CultureInfo.InvariantCulture) > 0); // Linux's pings came in
        Assert.All(rx, q => Assert.True(int.Parse(q["in_flight"], CultureInfo.InvariantCulture) > 0)); // buffers posted for the device
        // The peer namespace went with the process.
        var netns = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("ip", "netns list") { RedirectStandardOutput = true })!;
        var list = netns.StandardOutput.ReadToEnd();
        netns.WaitForExit();
        Assert.DoesNotContain($"photon-boot-{p.Id}", list);
    }

    [Fact]
    public void Trace_with_net_records_NIC_frames_from_a_Linux_peer()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            Console.Error.WriteLine("SKIPPED LOUDLY: trace --net not run: a TAP device and a network namespace need root");
            return;
        }
        var file = Path.Combine(Path.GetTempPath(), $"photon-trace-net-{Guid.NewGuid():N}.json");
        try
        {
            var info = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { Shell.PhotonShellProcess.PhotonDll(), "trace", "--net", "--seconds", "2", "-o", file }) info.ArgumentList.Add(a);
            using var p = System.Diagnostics.Process.Start(info)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(300_000)) { p.Kill(true); Assert.Fail("photon trace --net did not finish"); }
            Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}: {stdout.Result}{stderr.Result}");
            var events = ChromeTraceJson.Validate(File.ReadAllBytes(file));
            var names = events.Where(e => e.TryGetProperty("cat", out var c) && c.GetString() == "nic").Select(e => e.GetProperty("name").GetString()).ToHashSet();
            Assert.Superset(new HashSet<string?> { "nic.tx", "nic.rx" }, names); // Linux's echo requests in, Photon's replies out
        }
        finally { File.Delete(file); }
    }
}
