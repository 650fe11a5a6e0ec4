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
}
