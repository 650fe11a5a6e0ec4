using Photon.Cli.Demo;
using Photon.Kernel.Boot;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Processes;
using Spectre.Console;

namespace Photon.Cli.Commands;

using Photon.Kernel.Boot;

/// <summary>
/// `photon ps`, `photon caps &lt;pid&gt;` and `photon ns tree`. The hosted kernel lives inside one `photon` invocation,
/// so these boot it, run the demo workload (leaving its tenants running) and print the resulting state.
/// </summary>
public static class StateCommands
{
    private static async Task<int> WithDemoKernel(Func<PhotonKernel, Task<int>> show)
    {
        var booted = await PhotonKernel.BootAsync(DemoSystem.Config(LinuxPlatform.Create()) with { EchoLog = false });
        if (!booted.IsOk)
        {
            AnsiConsole.MarkupLine($"[red]boot failed:[/] {Markup.Escape(booted.Error.ToString())}");
            return 1;
        }
        await using var kernel = booted.Value;
        var report = await kernel.RunAsync(() => CoreDemo.RunAsync(kernel), "demo");
        await kernel.RunAsync(() => TenantsDemo.RunAsync(kernel, report), "tenants-demo");
        if (report.Failures.Count > 0) AnsiConsole.MarkupLine($"[yellow]demo had {report.Failures.Count} unexpected outcomes; state may be partial[/]");
        return await show(kernel);
    }

    public static Task<int> PsAsync(string[] args) => WithDemoKernel(k =>
    {
        var t = new Table().Title("[bold]processes[/]").AddColumn("pid").AddColumn("name").AddColumn("namespace")
            .AddColumn(new TableColumn("handles").RightAligned()).AddColumn(new TableColumn("tasks").RightAligned()).AddColumn("state");
        foreach (var p in k.Processes.All)
            t.AddRow(p.Pid.ToString(), Markup.Escape(p.Name), Markup.Escape(p.NamespacePath), p.HandleCount.ToString(), p.LiveTasks.ToString(), p.State.ToString());
        AnsiConsole.Write(t);
        return Task.FromResult(0);
    });

    public static Task<int> CapsAsync(string[] args)
    {
        if (args.Length < 1 || !int.TryParse(args[0], out int pid))
        {
            AnsiConsole.MarkupLine("usage: photon caps <pid>   (see 'photon ps' for pids)");
            return Task.FromResult(2);
        }
        return WithDemoKernel(k =>
        {
            var p = k.Processes.Get(pid);
            if (!p.IsOk)
            {
                AnsiConsole.MarkupLine($"[red]{Markup.Escape(p.Error.ToString())}[/]");
                return Task.FromResult(1);
            }
            // What the process itself may learn about its handles (HandleInfo): never a token or an object.
            var t = new Table().Title($"[bold]capabilities of {Markup.Escape(p.Value.Principal.ToString())}[/]")
                .AddColumn("handle").AddColumn("object").AddColumn("rights").AddColumn("derivation");
            var live = k.Sys.Handles.List(p.Value);
            foreach (var h in live)
                t.AddRow(h.Handle.ToString(), Markup.Escape($"{h.Kind}({h.Label})"), h.Rights.ToShortString(),
                    h.Depth == 0 ? "(root)" : $"derived, depth {h.Depth}");
            int dead = p.Value.HandleCount - live.Count;
            if (dead > 0) t.Caption($"[grey]and {dead} handle(s) whose capability was revoked from elsewhere[/]");
            AnsiConsole.Write(t);
            return Task.FromResult(0);
        });
    }

    public static Task<int> NsAsync(string[] args)
    {
        if (args.Length < 1 || args[0] != "tree")
        {
            AnsiConsole.MarkupLine("usage: photon ns tree");
            return Task.FromResult(2);
        }
        return WithDemoKernel(k =>
        {
            var tree = new Tree("[bold]/[/]");
            var stack = new List<IHasTreeNodes> { tree };
            foreach (var (depth, name, entry) in k.Namespaces.Tree())
            {
                while (stack.Count > depth + 1) stack.RemoveAt(stack.Count - 1);
                string label = entry.AliasTarget is not null ? $"{name} -> {entry.AliasTarget}"
                    : entry.IsLive ? $"{name}  [grey]{entry.Kind} {entry.Rights.ToShortString()}[/]" : $"{name}  [red]revoked[/]";
                // Names are validated ASCII ([A-Za-z0-9._-]), so only alias targets need escaping.
                var node = stack[^1].AddNode(entry.AliasTarget is not null ? Markup.Escape(label) : label);
                if (entry.Kind == ObjectKind.Namespace) stack.Add(node);
            }
            AnsiConsole.Write(tree);
            return Task.FromResult(0);
        });
    }
}
