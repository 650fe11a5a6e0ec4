using Photon.Kernel.Audit;
using Photon.Kernel.Boot;
using Spectre.Console;

namespace Photon.Cli.Demo;

using Photon.Kernel.Boot;

/// <summary>What the demo saw: each step with what was expected and what happened.</summary>
public sealed class DemoReport
{
    public List<(string Section, string Step, string Outcome, bool AsExpected)> Steps { get; } = new();
    public List<string> Failures { get; } = new();

    public void Expect(string section, string step, bool ok, string outcome)
    {
        Steps.Add((section, step, outcome, ok));
        if (!ok) Failures.Add($"{section}: {step}: {outcome}");
    }

    public void ExpectOk(string section, string step, Photon.Kernel.Result r, string? detail = null) =>
        Expect(section, step, r.IsOk, r.IsOk ? detail ?? "ok" : r.Error.ToString());

    public void ExpectError(string section, string step, Photon.Kernel.Result r, Photon.Kernel.ErrorCode code) =>
        Expect(section, step, r.Code == code, r.IsOk ? "unexpectedly succeeded" : $"denied: {r.Error}");

    public static void Render(PhotonKernel kernel, DemoReport report)
    {
        AnsiConsole.WriteLine();
        var boot = new Table().Title("[bold]Boot[/]").AddColumn("step").AddColumn("detail").AddColumn(new TableColumn("ms").RightAligned());
        foreach (var s in kernel.BootSteps) boot.AddRow(s.Name, Markup.Escape(s.Detail), $"{s.Elapsed.TotalMilliseconds:F2}");
        AnsiConsole.Write(boot);

        foreach (var section in report.Steps.GroupBy(s => s.Section))
        {
            var t = new Table().Title($"[bold]{Markup.Escape(section.Key)}[/]").AddColumn("").AddColumn("step").AddColumn("outcome");
            foreach (var s in section)
                t.AddRow(s.AsExpected ? "[green]✓[/]" : "[red]✗[/]", Markup.Escape(s.Step), Markup.Escape(s.Outcome));
            AnsiConsole.Write(t);
        }

        var stats = new Table().Title("[bold]Kernel state[/]").AddColumn("subsystem").AddColumn("figure");
        stats.AddRow("memory", $"{kernel.Memory.UsedBytes / 1024} KiB in {kernel.Memory.LiveRegions} regions, {kernel.Physical.FreeFrames}/{kernel.Physical.TotalFrames} frames free");
        stats.AddRow("capabilities", $"{kernel.Capabilities.LiveCount} live");
        stats.AddRow("processes", Markup.Escape(string.Join(", ", kernel.Processes.All.Select(p => p.Principal.ToString())) is { Length: > 0 } ps ? ps : "none"));
        var sched = kernel.Scheduler.Stats;
        stats.AddRow("scheduler", $"{sched.Workers} workers: {sched.Spawned} tasks spawned, {sched.Completed} completed, {sched.Canceled} cancelled, " +
            $"{sched.Faulted} faulted, {sched.InFlight} in flight, {sched.ItemsExecuted} work items, {sched.Steals} steals, {sched.StarvationReports} starvation reports");
        {
            var counts = kernel.RecentAudit.Snapshot().GroupBy(e => e.Action).OrderBy(g => g.Key).Select(g => $"{g.Key}={g.Count()}");
            stats.AddRow("audit", Markup.Escape(string.Join(" ", counts)) +
                (kernel.AuditLog is { } log ? $" — {log.Recorded} records in the hash-chained log" : ""));
        }
        AnsiConsole.Write(stats);

        if (report.Failures.Count == 0)
            AnsiConsole.MarkupLine($"[green]demo complete:[/] {report.Steps.Count} steps behaved as expected");
        else
        {
            AnsiConsole.MarkupLine($"[red]demo found {report.Failures.Count} unexpected outcomes:[/]");
            foreach (var f in report.Failures) AnsiConsole.MarkupLine($"  [red]{Markup.Escape(f)}[/]");
        }
    }
}
