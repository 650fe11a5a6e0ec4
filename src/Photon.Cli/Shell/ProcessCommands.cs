using Photon.Kernel;
using Photon.Kernel.Capabilities;

namespace Photon.Cli.Shell;

/// <summary>
/// ps, caps, spawn, kill. Listing goes through the introspection calls, which show only the shell's namespace
/// subtree; killing needs a control handle, which the shell holds only for the processes it spawned.
/// </summary>
public static class ProcessCommands
{
    public static readonly IReadOnlyList<ShellCommand> All =
    [
        new("ps", "ps", "List the processes in the shell's namespace.", Ps),
        new("caps", "caps [PID]", "List a process's capabilities (the shell's own without PID).", Caps),
        new("spawn", "spawn NAME", "Spawn an idle process in the shell's namespace; the shell keeps its control handle.", Spawn),
        new("kill", "kill PID", "Destroy a process the shell holds a control handle for (one it spawned).", Kill),
    ];

    private static Task<Result> Ps(ShellSession s, string[] args)
    {
        if (args.Length != 0) return Task.FromResult(ShellCommands.Usage("ps"));
        var list = s.Sys.Introspection.ListProcesses(s.Self);
        if (!list.IsOk) return Task.FromResult(Result.Fail(list.Error));
        s.Out.WriteLine($"{"PID",5}  {"NAME",-16} {"NAMESPACE",-24} {"HANDLES",7} {"TASKS",5}  STATE");
        foreach (var p in list.Value)
            s.Out.WriteLine($"{p.Pid,5}  {p.Name,-16} {p.Namespace,-24} {p.Handles,7} {p.Tasks,5}  {p.State}");
        return Task.FromResult(Result.Ok);
    }

    private static Task<Result> Caps(ShellSession s, string[] args)
    {
        IReadOnlyList<Photon.Kernel.Syscalls.HandleInfo> rows;
        if (args.Length == 0) rows = s.Sys.Handles.List(s.Self);
        else if (args.Length == 1 && int.TryParse(args[0], out int pid))
        {
            var r = s.Sys.Introspection.CapabilitiesOf(s.Self, pid);
            if (!r.IsOk) return Task.FromResult(Result.Fail(r.Error));
            rows = r.Value;
        }
        else return Task.FromResult(ShellCommands.Usage("caps"));
        s.Out.WriteLine($"{"HANDLE",-10} {"OBJECT",-40} {"RIGHTS",-40} DERIVATION");
        foreach (var h in rows)
            s.Out.WriteLine($"{h.Handle,-10} {$"{h.Kind}({h.Label})",-40} {h.Rights.ToShortString(),-40} {(h.Depth == 0 ? "(root)" : $"derived, depth {h.Depth}")}");
        return Task.FromResult(Result.Ok);
    }

    private static Task<Result> Spawn(ShellSession s, string[] args)
    {
        if (args.Length != 1) return Task.FromResult(ShellCommands.Usage("spawn"));
        var spawned = s.Sys.Processes.Spawn(s.Self, s.Root, args[0]);
        if (!spawned.IsOk) return Task.FromResult(Result.Fail(spawned.Error));
        var (control, child) = spawned.Value;
        // The child idles until it is killed: one task that ends when its process is destroyed.
        var idle = s.Sys.Processes.StartTask(child, async ct =>
        {
            var stopped = new TaskCompletionSource();
            await using (ct.Register(() => stopped.TrySetResult())) await stopped.Task.ConfigureAwait(true);
        }, "idle");
        if (!idle.IsOk)
        {
            _ = s.Sys.Processes.DestroyAsync(s.Self, control);
            return Task.FromResult(Result.Fail(idle.Error));
        }
        s.Children[child.Pid] = control;
        s.Out.WriteLine($"spawned {child.Principal.Name} in {child.NamespacePath} (control handle {control})");
        return Task.FromResult(Result.Ok);
    }

    private static async Task<Result> Kill(ShellSession s, string[] args)
    {
        if (args.Length != 1 || !int.TryParse(args[0], out int pid)) return ShellCommands.Usage("kill");
        if (!s.Children.TryGetValue(pid, out var control))
            return Result.Fail(ErrorCode.AccessDenied, $"the shell holds no control handle for process {pid} (it can kill only processes it spawned)");
        var r = await s.Sys.Processes.DestroyAsync(s.Self, control).ConfigureAwait(true);
        s.Children.Remove(pid);
        if (r.IsOk) s.Out.WriteLine($"killed {pid}");
        return r;
    }
}
