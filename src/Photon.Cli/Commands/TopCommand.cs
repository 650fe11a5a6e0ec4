using Photon.Cli.Observe;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Diagnostics.Monitoring;
using Photon.Kernel.Processes;
using Spectre.Console;

namespace Photon.Cli.Commands;

/// <summary>
/// `photon top`: boots the demo system, runs the demo, starts a load in each tenant and shows what the kernel's
/// monitor syscall lets the viewer see, refreshing. The viewer is init (everything, with the kernel-wide figures from
/// /kernel/monitor) or, with --tenant, a process spawned in that tenant (its own processes and quota only).
/// </summary>
public static class TopCommand
{
    public const string Usage = "photon top [--once] [--plain] [--tenant /NAME] [--interval MS] [--seconds N] [--net]";

    public static async Task<int> RunAsync(string[] args) => await RunAsync(args, Console.Out);

    /// <summary>Runs the command writing plain output (--once/--plain or a redirected stdout) to <paramref name="plainOut"/>.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter plainOut)
    {
        bool once = false, plain = Console.IsOutputRedirected, network = false;
        string? tenant = null;
        int interval = 1000;
        double seconds = double.PositiveInfinity;
        for (int i = 0; i < args.Length; i++)
        {
            string? Next() => i + 1 < args.Length ? args[++i] : null;
            switch (args[i])
            {
                case "--once": once = true; break;
                case "--plain": plain = true; break;
                case "--net": network = true; break;
                case "--tenant" when Next() is { Length: > 1 } t && t[0] == '/': tenant = t; break;
                case "--interval" when int.TryParse(Next(), out int ms) && ms is >= 100 and <= 60_000: interval = ms; break;
                case "--seconds" when double.TryParse(Next(), System.Globalization.CultureInfo.InvariantCulture, out double s) && s is > 0 and <= 86_400:
                    seconds = s; break;
                default:
                    AnsiConsole.MarkupLine($"usage: {Markup.Escape(Usage)}\n  --interval: refresh period, 100..60000 ms (default 1000)\n  --seconds: stop after N seconds (default: Ctrl-C)\n  --net: also bring up the demo's TAP NIC (root) with a Linux peer pinging it, to watch its rings");
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
        var failures = await observed.RunDemoAsync();
        using var stop = new CancellationTokenSource();
        foreach (var t in new[] { "/tenant-a", "/tenant-b" })
        {
            var load = await k.RunAsync(() => TenantLoad.StartAsync(k, t, stop.Token), "load-start");
            if (!load.IsOk) failures = [.. failures, $"load in {t}: {load.Error}"];
        }

        // The viewer: init with the monitor handle, or a process of the tenant (which holds no monitor handle).
        Process viewer = k.Init;
        Handle? monitor = k.InitMonitor;
        if (tenant is not null)
        {
            var ns = k.Sys.Namespaces.Open(k.Init, tenant, Rights.Create | Rights.Delegate | Rights.Read | Rights.Enumerate);
            var spawned = ns.IsOk ? k.Sys.Processes.Spawn(k.Init, ns.Value, "top") : ns.Error;
            if (!spawned.IsOk)
            {
                AnsiConsole.MarkupLine($"[red]cannot view as {Markup.Escape(tenant)}:[/] {Markup.Escape(spawned.Error.ToString())}");
                stop.Cancel();
                return 1;
            }
            viewer = spawned.Value.Process;
            monitor = null;
        }
        Result<MonitorSnapshot> Read() => monitor is { } m ? k.Sys.Monitor!.Snapshot(viewer, m) : k.Sys.Monitor!.Snapshot(viewer);

        if (once)
        {
            // Let the load run a moment so the figures are not all zero.
            await Task.Delay(Math.Min(interval, 500));
            var s = Read();
            stop.Cancel();
            if (!s.IsOk)
            {
                AnsiConsole.MarkupLine($"[red]{Markup.Escape(s.Error.ToString())}[/]");
                return 1;
            }
            if (plain) await plainOut.WriteAsync(TopView.Plain(s.Value));
            else AnsiConsole.Write(TopView.Render(s.Value, DateTimeOffset.Now));
            return failures.Count == 0 ? 0 : 1;
        }

        using var quit = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; quit.Cancel(); };
        Console.CancelKeyPress += onCancel;
        if (!double.IsPositiveInfinity(seconds)) quit.CancelAfter(TimeSpan.FromSeconds(seconds));
        try
        {
            if (plain)
            {
                while (!quit.IsCancellationRequested)
                {
                    if (Read() is { IsOk: true } s) await plainOut.WriteAsync(TopView.Plain(s.Value) + "\n");
                    try { await Task.Delay(interval, quit.Token); } catch (OperationCanceledException) { }
                }
            }
            else
            {
                await AnsiConsole.Live(new Markup("booting…")).StartAsync(async ctx =>
                {
                    while (!quit.IsCancellationRequested)
                    {
                        if (Read() is { IsOk: true } s) ctx.UpdateTarget(TopView.Render(s.Value, DateTimeOffset.Now));
                        try { await Task.Delay(interval, quit.Token); } catch (OperationCanceledException) { }
                    }
                });
            }
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
            stop.Cancel();
        }
        return failures.Count == 0 ? 0 : 1;
    }
}
