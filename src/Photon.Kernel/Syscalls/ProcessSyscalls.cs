using Photon.Kernel.Capabilities;
using Photon.Kernel.Diagnostics.Tracing;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Syscalls;

/// <summary>
/// Process system calls: spawn a process in a namespace the caller holds, run tasks as the caller, destroy a process
/// through its control handle.
/// </summary>
public sealed class ProcessSyscalls(ProcessManager processes)
{
    /// <summary>
    /// Spawns a process attached to the namespace <paramref name="ns"/> names (needs Create on it). The new process's
    /// namespace capability is derived with <paramref name="namespaceRights"/> (needs Delegate and those rights), so it
    /// can never do more there than the spawner could. The caller gets a control handle (Manage to destroy, Write to
    /// give it handles, Signal, Read); the returned <see cref="Process"/> is the identity the spawner hands the code it
    /// starts in it.
    /// </summary>
    public Result<(Handle Control, Process Process)> Spawn(Process caller, Handle ns, string name,
        Rights namespaceRights = Rights.Read | Rights.Enumerate)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.proc.spawn");
        var n = caller.GetWithToken<Namespace>(ns, Rights.Create);
        if (!n.IsOk) return n.Error;
        var spawned = processes.Spawn(name, n.Value.Token, namespaceRights, caller.Principal);
        if (!spawned.IsOk) return spawned.Error;
        var h = caller.AddHandle(spawned.Value.Control);
        if (!h.IsOk)
        {
            // The control capability was revoked by AddHandle: tear the orphan down.
            _ = processes.DestroyOrphan(spawned.Value.Process);
            return h.Error;
        }
        return (h.Value, spawned.Value.Process);
    }

    /// <summary>Runs <paramref name="body"/> as one of the caller's tasks (charged to its tenant, cancelled when it is
    /// destroyed).</summary>
    public Result<Task> StartTask(Process caller, Func<CancellationToken, Task> body, string name)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.proc.start_task");
        return caller.Run(body, name);
    }

    /// <summary>Destroys the process <paramref name="control"/> names (needs Manage): cancels its tasks, revokes every
    /// capability it held, collects IPC messages nobody can receive any more, and closes the handle.</summary>
    public async Task<Result> DestroyAsync(Process caller, Handle control)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.proc.destroy");
        var p = caller.GetWithToken<Process>(control, Rights.Manage);
        if (!p.IsOk) return p.Error;
        var r = await processes.DestroyAsync(p.Value.Token, caller.Principal).ConfigureAwait(true);
        caller.Handles.Remove(control);
        return r;
    }
}
