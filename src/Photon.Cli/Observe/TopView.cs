using System.Globalization;
using Photon.Kernel.Diagnostics.Monitoring;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Photon.Cli.Observe;

/// <summary>Renders a <see cref="MonitorSnapshot"/>: as Spectre tables for the live view, or as plain tab-separated
/// sections (one header line each) for scripts and tests.</summary>
internal static class TopView
{
    public static IRenderable Render(MonitorSnapshot s, DateTimeOffset at)
    {
        var rows = new List<IRenderable>
        {
            new Markup($"[bold]photon top[/] — scope [blue]{Markup.Escape(s.Scope)}[/], {at:HH:mm:ss}  (Ctrl-C to quit)"),
        };
        if (s.System is { } sys)
        {
            rows.Add(new Markup(
                $"cpus [bold]{sys.Cpus}[/]  run queues [bold]{string.Join(" ", sys.RunQueueLengths)}[/] + shared {sys.GlobalQueueLength}  " +
                $"tasks in flight [bold]{sys.TasksInFlight}[/] (spawned {sys.TasksSpawned}, steals {sys.Steals}, starved {sys.StarvationReports})  " +
                $"ipc {sys.IpcMessagesSent} sent / {sys.IpcMessagesReceived} received  " +
                $"memory {Mib(sys.MemoryTotalBytes - sys.MemoryFreeBytes)} / {Mib(sys.MemoryTotalBytes)} used  caps {sys.LiveCapabilities}  tracing {(sys.Tracing ? "[red]on[/]" : "off")}"));
        }
        var p = new Table().Title("processes").AddColumn(new TableColumn("pid").RightAligned()).AddColumn("name").AddColumn("namespace")
            .AddColumn(new TableColumn("tasks").RightAligned()).AddColumn(new TableColumn("handles").RightAligned())
            .AddColumn(new TableColumn("cpu ms").RightAligned()).AddColumn("state");
        foreach (var x in s.Processes)
            p.AddRow(x.Pid.ToString(CultureInfo.InvariantCulture), Markup.Escape(x.Name), Markup.Escape(x.Namespace), x.Tasks.ToString(CultureInfo.InvariantCulture),
                x.Handles.ToString(CultureInfo.InvariantCulture), x.CpuTime.TotalMilliseconds.ToString("F1", CultureInfo.InvariantCulture), x.State.ToString());
        rows.Add(p);
        var t = new Table().Title("tenants").AddColumn("tenant").AddColumn(new TableColumn("memory").RightAligned())
            .AddColumn(new TableColumn("tasks").RightAligned()).AddColumn(new TableColumn("capabilities").RightAligned());
        foreach (var x in s.Tenants)
            t.AddRow(Markup.Escape(x.Tenant), $"{Mib(x.MemoryBytes)} / {Limit(x.MemoryLimit, Mib)}", $"{x.Tasks} / {Limit(x.TaskLimit)}",
                $"{x.Capabilities} / {Limit(x.CapabilityLimit)}");
        rows.Add(t);
        if (s.System is { Queues.Count: > 0 } withQueues)
        {
            var q = new Table().Title("device queues").AddColumn("queue").AddColumn(new TableColumn("in flight").RightAligned())
                .AddColumn(new TableColumn("depth").RightAligned()).AddColumn(new TableColumn("submitted").RightAligned())
                .AddColumn(new TableColumn("completed").RightAligned());
            foreach (var x in withQueues.Queues)
                q.AddRow(Markup.Escape(x.Name), x.InFlight.ToString(CultureInfo.InvariantCulture), x.Depth.ToString(CultureInfo.InvariantCulture),
                    x.Submitted.ToString(CultureInfo.InvariantCulture), x.Completed.ToString(CultureInfo.InvariantCulture));
            rows.Add(q);
        }
        return new Rows(rows);
    }

    /// <summary>Plain text: sections "# scope", "# processes", "# tenants", "# system", "# queues", each followed by a
    /// tab-separated header line and rows. Names are kernel-validated ([A-Za-z0-9._-]), so no tab or newline appears.</summary>
    public static string Plain(MonitorSnapshot s)
    {
        var w = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        w.WriteLine("# scope");
        w.WriteLine(s.Scope);
        w.WriteLine("# processes");
        w.WriteLine("pid\tname\tnamespace\ttenant\ttasks\thandles\tcpu_ms\tstate");
        foreach (var x in s.Processes)
            w.WriteLine($"{x.Pid}\t{x.Name}\t{x.Namespace}\t{x.Tenant ?? "-"}\t{x.Tasks}\t{x.Handles}\t{x.CpuTime.TotalMilliseconds:F3}\t{x.State}");
        w.WriteLine("# tenants");
        w.WriteLine("tenant\tmemory_bytes\tmemory_limit\ttasks\ttask_limit\tcapabilities\tcapability_limit");
        foreach (var x in s.Tenants)
            w.WriteLine($"{x.Tenant}\t{x.MemoryBytes}\t{(object?)x.MemoryLimit ?? "-"}\t{x.Tasks}\t{(object?)x.TaskLimit ?? "-"}\t{x.Capabilities}\t{(object?)x.CapabilityLimit ?? "-"}");
        if (s.System is { } sys)
        {
            w.WriteLine("# system");
            w.WriteLine("cpus\trun_queues\tshared_queue\ttasks_spawned\ttasks_in_flight\tsteals\tstarvation_reports\tipc_sent\tipc_received\tmemory_total\tmemory_free\tcapabilities\ttracing");
            w.WriteLine($"{sys.Cpus}\t{string.Join(",", sys.RunQueueLengths)}\t{sys.GlobalQueueLength}\t{sys.TasksSpawned}\t{sys.TasksInFlight}\t{sys.Steals}\t{sys.StarvationReports}\t" +
                $"{sys.IpcMessagesSent}\t{sys.IpcMessagesReceived}\t{sys.MemoryTotalBytes}\t{sys.MemoryFreeBytes}\t{sys.LiveCapabilities}\t{(sys.Tracing ? "on" : "off")}");
            w.WriteLine("# queues");
            w.WriteLine("queue\tin_flight\tdepth\tsubmitted\tcompleted");
            foreach (var q in sys.Queues) w.WriteLine($"{q.Name}\t{q.InFlight}\t{q.Depth}\t{q.Submitted}\t{q.Completed}");
        }
        return w.ToString();
    }

    private static string Mib(long bytes) => (bytes / (1024.0 * 1024)).ToString("F1", CultureInfo.InvariantCulture) + " MiB";

    private static string Limit<T>(T? limit, Func<T, string>? format = null) where T : struct =>
        limit is { } l ? format is null ? Convert.ToString(l, CultureInfo.InvariantCulture)! : format(l) : "∞";
}
