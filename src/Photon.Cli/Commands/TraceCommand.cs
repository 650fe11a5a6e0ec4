using Photon.Cli.Observe;
using Photon.Kernel.Diagnostics.Tracing;
using Spectre.Console;

namespace Photon.Cli.Commands;

/// <summary>
/// `photon trace`: boots the demo system, starts the kernel trace session through init's trace syscall, runs the demo
/// workload (and, with --seconds, the `top` tenant load for that long), stops the session and writes a Chrome/Perfetto
/// trace. With --net (root) the demo's NIC comes up with a Linux peer pinging it, so its frames are in the trace.
/// </summary>
public static class TraceCommand
{
    public const string Usage = "photon trace [-o FILE] [--buffer RECORDS] [--seconds N] [--net]";

    public static async Task<int> RunAsync(string[] args)
    {
        string output = "trace.json";
        int buffer = KernelTrace.DefaultRecordsPerThread;
        double seconds = 0;
        bool network = false;
        for (int i = 0; i < args.Length; i++)
        {
            string? Next() => i + 1 < args.Length ? args[++i] : null;
            switch (args[i])
            {
                case "-o" or "--output" when Next() is { } o: output = o; break;
                case "--buffer" when int.TryParse(Next(), out int b) && b is >= KernelTrace.MinRecordsPerThread and <= KernelTrace.MaxRecordsPerThread:
                    buffer = b; break;
                case "--seconds" when double.TryParse(Next(), System.Globalization.CultureInfo.InvariantCulture, out double s) && s is >= 0 and <= 3600:
                    seconds = s; break;
                case "--net": network = true; break;
                default:
                    AnsiConsole.MarkupLine($"usage: {Markup.Escape(Usage)}\n  --buffer: records per thread ring, {KernelTrace.MinRecordsPerThread}..{KernelTrace.MaxRecordsPerThread} (default {KernelTrace.DefaultRecordsPerThread})\n  --seconds: also run the tenant load for N seconds (0..3600)\n  --net: also bring up the demo's TAP NIC (root) with a Linux peer pinging it, so NIC events are traced");
                    return 2;
            }
        }

        var booted = await ObservedKernel.BootAsync(network);
        if (!booted.IsOk)
        {
            AnsiConsole.MarkupLine($"[red]boot failed:[/] {Markup.Escape(booted.Error.ToString())}");
            return 1;
        }
        await using var observed = booted.Value;
        var k = observed.Kernel;
        var started = k.Sys.Trace.Start(k.Init, k.InitTrace, buffer);
        if (!started.IsOk)
        {
            AnsiConsole.MarkupLine($"[red]cannot start tracing:[/] {Markup.Escape(started.Error.ToString())}");
            return 1;
        }
        IReadOnlyList<string> failures;
        try
        {
            failures = await observed.RunDemoAsync();
            if (seconds > 0)
            {
                using var stop = new CancellationTokenSource();
                foreach (var tenant in new[] { "/tenant-a", "/tenant-b" })
                    await k.RunAsync(() => TenantLoad.StartAsync(k, tenant, stop.Token), "load-start");
                await Task.Delay(TimeSpan.FromSeconds(seconds));
                stop.Cancel();
            }
        }
        finally
        {
            var capture = k.Sys.Trace.Stop(k.Init, k.InitTrace);
            if (capture.IsOk)
            {
                await using (var file = File.Create(output)) ChromeTraceWriter.Write(file, capture.Value);
                Summarize(capture.Value, output);
            }
            else AnsiConsole.MarkupLine($"[red]cannot stop tracing:[/] {Markup.Escape(capture.Error.ToString())}");
        }
        if (failures.Count > 0) AnsiConsole.MarkupLine($"[yellow]the demo had {failures.Count} unexpected outcomes[/]");
        return failures.Count == 0 ? 0 : 1;
    }

    private static void Summarize(TraceCapture capture, string output)
    {
        var counts = capture.CountByCategory();
        var t = new Table().Title("[bold]trace[/]").AddColumn("category").AddColumn(new TableColumn("events").RightAligned());
        foreach (var c in Enum.GetValues<TraceCategory>())
            t.AddRow(TracePoints.NameOf(c), counts.GetValueOrDefault(c).ToString());
        t.Caption($"{capture.Recorded} events on {capture.Threads.Count(x => x.Records.Count > 0)} threads, {capture.Dropped} dropped (ring full)");
        AnsiConsole.Write(t);
        AnsiConsole.MarkupLine($"wrote {Markup.Escape(output)} — open it in https://ui.perfetto.dev (Open trace file) or chrome://tracing (Load)");
    }
}
