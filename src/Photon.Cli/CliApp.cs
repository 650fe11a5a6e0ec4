using Photon.Cli.Commands;
using Spectre.Console;

namespace Photon.Cli;

/// <summary>The `photon` command: dispatches to subcommands; every subcommand returns a process exit code.</summary>
public static class CliApp
{
    private sealed record Command(string Name, string Usage, string Summary, Func<string[], Task<int>> Run);

    private static readonly Command[] Commands =
    [
        new("boot", BootCommand.Usage, "Boot the kernel and run the demo workload across every subsystem, then print a report. The audit log is HMAC-keyed (key created 0600 beside it unless --audit-key) and anchored against rollback.", BootCommand.RunAsync),
        new("audit", AuditCommand.Usage, "Verify an audit log (exit 0 intact under --key; 3 no damage found but unauthenticated, no --key; 1 damaged, forged or rolled back behind --anchor; 2 usage), or query it by namespace, time, action and subject.", AuditCommand.RunAsync),
        new("ps", "photon ps", "Boot, run the demo, and list the processes it leaves running.", StateCommands.PsAsync),
        new("caps", "photon caps <pid>", "Boot, run the demo, and list one process's capabilities (handle, object, rights, derivation).", StateCommands.CapsAsync),
        new("fs", "photon fs <ls|cat|cp|mkdir|rm|ln|readlink|info> <image> ...", "Inspect and change FAT/ext4 disk images with Photon's drivers (type auto-detected); ln -s and readlink on ext4.", FsCommand.RunAsync),
        new("net", NetCommand.Usage, "Run Photon's TCP/IP stack on a Linux TAP device: 'demo' shows ping/curl/nc against Linux in a netns; 'up' brings an interface up and prints routes, ARP cache and connections.", NetCommand.RunAsync),
        new("vm", VmCommand.Usage, "Boot Photon as the only program of a QEMU virtual machine (TCG) and drive real emulated PCI devices through VFIO: the NVMe driver mounts ext4 from the VM's NVMe disk, writes a file, shuts down; the image is checked with e2fsck afterwards. 'vm guest' is what runs inside.", VmCommand.RunAsync),
        new("run", RunCommand.Usage, "Boot a fresh kernel and run one WASI program (C built with clang --target=wasm32-wasi) in a tenant; each --grant is a FAT/ext4 image mounted by the kernel's config and preopened for the guest with ro or rw rights. Exits with the program's exit code (125: Photon could not run it; 134: the guest trapped or was killed).", RunCommand.RunAsync),
        new("trace", TraceCommand.Usage, "Boot the demo system, record the kernel's scheduler, IPC, block/NIC queue, capability and syscall events while the demo runs (with --seconds N, also N seconds of tenant load), and write a Chrome/Perfetto trace (open in ui.perfetto.dev or chrome://tracing).", TraceCommand.RunAsync),
        new("top", TopCommand.Usage, "Boot the demo system with a load in each tenant and show processes, tasks, CPU time per process, queue depths, memory and quota use per tenant, refreshing; --once prints one snapshot (plain text when stdout is not a terminal); --tenant shows what a process of that tenant may see.", TopCommand.RunAsync),
        new("shell", PhotonShellCommand.Usage, "Boot the kernel (the demo's tenants and devices, or --config FILE) and open an interactive shell running as a process in the root namespace or in --tenant's: ls/cat/cp/mkdir/rm, ns, ps, caps, spawn, kill, run, mount, ip, ping, netstat, audit, quota. -c or a redirected stdin runs commands without line editing.", PhotonShellCommand.RunAsync),
        new("ns", "photon ns tree", "Boot, run the demo, and show the namespace tree with what each name is bound to.", StateCommands.NsAsync),
    ];

    /// <summary>Each command's name and usage, as `photon --help` prints them (docs/cli.md must cover every one).</summary>
    public static IReadOnlyList<(string Name, string Usage)> Reference => Commands.Select(c => (c.Name, c.Usage)).ToList();

    public static async Task<int> RunAsync(string[] args)
    {
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 160;
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            PrintHelp();
            return args.Length == 0 ? 1 : 0;
        }
        var cmd = Commands.FirstOrDefault(c => c.Name == args[0]);
        if (cmd is null)
        {
            AnsiConsole.MarkupLine($"[red]unknown command[/] '{Markup.Escape(args[0])}'");
            PrintHelp();
            return 2;
        }
        if (args.Skip(1).Any(a => a is "-h" or "--help"))
        {
            AnsiConsole.MarkupLine($"[bold]{Markup.Escape(cmd.Usage)}[/]\n  {Markup.Escape(cmd.Summary)}");
            return 0;
        }
        try
        {
            return await cmd.Run(args[1..]);
        }
        catch (Photon.Kernel.KernelException e)
        {
            AnsiConsole.MarkupLine($"[red]error[/] {Markup.Escape(e.Message)}");
            return 1;
        }
    }

    private static void PrintHelp()
    {
        AnsiConsole.MarkupLine("[bold]photon[/] — the Photon kernel, hosted on Linux\n");
        AnsiConsole.MarkupLine("Usage: photon <command> [[options]]\n");
        var table = new Table().Border(TableBorder.None).HideHeaders().AddColumn("cmd").AddColumn("what");
        foreach (var c in Commands) table.AddRow($"[bold]{Markup.Escape(c.Usage)}[/]", Markup.Escape(c.Summary));
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine("\nRun 'photon <command> --help' for one command.");
    }
}
