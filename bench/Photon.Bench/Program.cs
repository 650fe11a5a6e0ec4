using Photon.Bench;
using Spectre.Console;

// Runs every benchmark group (or those named on the command line) and prints Photon's figure next to a baseline
// measured in the same run, with the ratio (>1 = Photon better).
var groups = new (string Name, Func<IEnumerable<BenchResult>> Run)[]
{
    ("core", CoreBenchmarks.Run),
    ("scheduler", SchedulerBenchmarks.Run),
    ("storage", StorageBenchmarks.Run),
    ("userspace", UserspaceBenchmarks.Run),
    ("network", NetworkBenchmarks.Run),
    ("scale", ScaleBenchmarks.Run),
    ("taskmemory", ScaleBenchmarks.MemoryPerTask), // the scale group's memory-per-task rows alone, named to run
    ("scaletcp", ConcurrencyScaleBenchmarks.Tcp), // the scale group's concurrent-connection rows alone, named to run
    ("scaleipc", ConcurrencyScaleBenchmarks.Ipc), // the scale group's many-channel rows alone, named to run
    ("costs", CostBenchmarks.Run),
    ("ipccosts", CostBenchmarks.RunIpc), // the costs group's IPC rows alone, named to run
    ("ipcprofile", IpcProfileLoops.Run), // one IPC workload alone for perf record (PHOTON_PROFILE_LOOP), named to run
    ("profile", ProfileLoops.Run), // one costs workload alone for perf record (PHOTON_PROFILE_LOOP), named to run
    ("tracing", TracingBenchmarks.Run),
    ("synflood", SynFloodBenchmark.Run),
    // Long (a minute or more under loss): run only when named.
    ("netloss", NetworkLossBenchmarks.Run),
    ("http", HttpBenchmarks.Run),
};
var selected = args.Length == 0 ? groups.Where(g => g.Name is not ("netloss" or "http" or "taskmemory" or "scaletcp" or "scaleipc" or "ipccosts" or "ipcprofile" or "profile")).ToArray() : groups.Where(g => args.Contains(g.Name)).ToArray();
if (selected.Length == 0)
{
    Console.Error.WriteLine($"unknown group; choose from: {string.Join(", ", groups.Select(g => g.Name))}");
    return 2;
}

if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 160;
var table = new Table().Title("[bold]Photon benchmarks[/]")
    .AddColumn("group").AddColumn("benchmark").AddColumn(new TableColumn("Photon").RightAligned())
    .AddColumn("baseline").AddColumn(new TableColumn("baseline value").RightAligned()).AddColumn("unit")
    .AddColumn(new TableColumn("ratio (>1 better)").RightAligned());
foreach (var (name, run) in selected)
{
    foreach (var r in run())
    {
        Console.Error.WriteLine($"{name}: {r.Name}: {r.Photon:G4} vs {r.BaselineName} {r.Baseline:G4} {r.Unit}");
        table.AddRow(name, Markup.Escape(r.Name), $"{r.Photon:G4}", Markup.Escape(r.BaselineName), $"{r.Baseline:G4}", r.Unit, $"{r.Ratio:F2}x");
    }
}
AnsiConsole.Write(table);
return 0;
