using System.Collections.Concurrent;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;

namespace Photon.Kernel.Processes;

/// <summary>Creates and destroys processes. Destroying a process cancels its tasks, revokes every capability in its
/// handle table (which reclaims memory regions it owned) and frees its pid.</summary>
public sealed class ProcessManager
{
    private readonly ConcurrentDictionary<int, Process> _processes = new();
    private int _nextPid;

    public ProcessManager(CapabilityManager capabilities, NamespaceManager namespaces, MemoryManager memory,
        Func<Func<Task>, string, Task>? taskStarter = null)
    {
        Capabilities = capabilities;
        Namespaces = namespaces;
        Memory = memory;
        // Until a scheduler is attached tasks start inline (their continuations follow the caller's context).
        TaskStarter = taskStarter ?? ((body, _) => body());
    }

    public CapabilityManager Capabilities { get; }
    public NamespaceManager Namespaces { get; }
    public MemoryManager Memory { get; }

    /// <summary>How process tasks are started: the kernel points this at its scheduler.</summary>
    internal Func<Func<Task>, string, Task> TaskStarter { get; set; }

    /// <summary>Optional quota hook: charge (+1) or refund (-1) one running task to a principal.</summary>
    internal Func<Principal, int, Result>? TaskQuota { get; set; }

    /// <summary>Kernel timers used to bound how long teardown waits for a process's tasks.</summary>
    public Scheduling.IKernelTimers? Timers { get; set; }

    public TimeSpan TeardownTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public IReadOnlyCollection<Process> All => _processes.Values.OrderBy(p => p.Pid).ToArray();

    public Result<Process> Get(int pid) =>
        _processes.TryGetValue(pid, out var p) ? p : Errors.Of(ErrorCode.NotFound, $"no process {pid}");

    /// <summary>
    /// Spawns a process attached to the namespace <paramref name="namespaceCap"/> names. The process receives a
    /// capability derived from it with <paramref name="namespaceRights"/> (by default read-only lookup), so it can never
    /// do more in its namespace than the spawner allowed.
    /// </summary>
    internal Result<(Process Process, CapabilityToken Control)> Spawn(string name, CapabilityToken namespaceCap,
        Rights namespaceRights = Rights.Read | Rights.Enumerate, Principal actor = default)
    {
        var v = NamespacePath.ValidateName(name);
        if (!v.IsOk) return v.Error;
        var ns = Capabilities.Check<Namespace>(namespaceCap, Rights.Create, actor);
        if (!ns.IsOk) return ns.Error;
        int pid = Interlocked.Increment(ref _nextPid);
        var holder = new Principal($"{name}[{pid}]", ns.Value.Path);
        var nsForProcess = Capabilities.Derive(namespaceCap, namespaceRights, holder, actor);
        if (!nsForProcess.IsOk) return nsForProcess.Error;
        var process = new Process(this, pid, name, ns.Value, nsForProcess.Value);
        // The spawner's control capability (Manage to destroy, Signal, Delegate to hand control on).
        var control = Capabilities.Create(process, ControlRights, actor.Name is null ? Principal.Kernel : actor);
        if (!control.IsOk) { Capabilities.Revoke(nsForProcess.Value); return control.Error; }
        _processes[pid] = process;
        return (process, control.Value);
    }

    /// <summary>Rights of the spawner's control capability: Manage to destroy, Write to give the process handles,
    /// Signal, Read to inspect, Delegate to hand control on.</summary>
    public const Rights ControlRights = Rights.Manage | Rights.Write | Rights.Signal | Rights.Read | Rights.Delegate;

    /// <summary>Run after every teardown (the IPC manager collects message cycles the process left unreachable).</summary>
    public event Action? ProcessDestroyed;

    /// <summary>Tears down a process whose control capability never reached anyone (its spawn could not finish).</summary>
    internal async Task DestroyOrphan(Process process)
    {
        if (!_processes.TryRemove(process.Pid, out _)) return;
        await TeardownAsync(process, Principal.Kernel).ConfigureAwait(true);
    }

    /// <summary>Destroys the process the control capability names (needs <see cref="Rights.Manage"/>).</summary>
    internal async Task<Result> DestroyAsync(CapabilityToken control, Principal actor = default)
    {
        var p = Capabilities.Check<Process>(control, Rights.Manage, actor);
        if (!p.IsOk) return p.Error;
        var process = p.Value;
        if (!_processes.TryRemove(process.Pid, out _)) return Result.Fail(ErrorCode.NotFound, $"{process} already destroyed");
        Capabilities.RevokeFromRoot(control, actor);
        return await TeardownAsync(process, actor).ConfigureAwait(true);
    }

    private async Task<Result> TeardownAsync(Process process, Principal actor)
    {
        process.State = ProcessState.Exited;
        var tasks = process.CancelTasks();
        foreach (var t in process.Handles.Drain()) Capabilities.Revoke(t, actor);
        Capabilities.Revoke(process.NamespaceCapability, actor);
        ProcessDestroyed?.Invoke();
        // Wait for the process's tasks to observe cancellation; their failures are theirs, not the caller's.
        var all = Task.WhenAll(tasks);
        if (Timers is { } timers)
        {
            using var cts = new CancellationTokenSource();
            var timeout = timers.Delay(TeardownTimeout, cts.Token);
            var first = await Task.WhenAny(all, timeout).ConfigureAwait(true);
            cts.Cancel();
            if (first != all) return Result.Fail(ErrorCode.TimedOut, $"{process} has tasks that ignore cancellation");
        }
        try { await all.ConfigureAwait(true); }
        catch (Exception) { /* task faults/cancellations are expected during teardown */ }
        return Result.Ok;
    }

    internal Task StartTask(Process process, Func<Task> body, string name) => TaskStarter(body, name);
}
