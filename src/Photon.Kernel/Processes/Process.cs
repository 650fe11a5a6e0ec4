using Photon.Kernel.Capabilities;
using Photon.Kernel.Namespaces;

namespace Photon.Kernel.Processes;

public enum ProcessState { Running, Exited }

/// <summary>
/// A kernel process: a namespace it lives in, a handle table of the capabilities it holds, and the kernel tasks it
/// runs. The process object is its identity: code acting as the process passes it to the syscall layer
/// (<see cref="Syscalls"/>), which resolves handles through <see cref="Get{T}"/> and takes the principal for audit and
/// quotas from here — never from an argument. Nothing public on a process hands out a token or a kernel object.
/// </summary>
public sealed class Process : KernelObject
{
    public override ObjectKind Kind => ObjectKind.Process;

    private readonly ProcessManager _manager;
    private readonly CancellationTokenSource _lifetime = new();
    private readonly List<Task> _tasks = new();

    internal Process(ProcessManager manager, int pid, string name, Namespace ns, CapabilityToken namespaceCap)
        : base($"{name}[{pid}]")
    {
        _manager = manager;
        Pid = pid;
        Name = name;
        Namespace = ns;
        NamespaceCapability = namespaceCap;
        Principal = new Principal($"{name}[{pid}]", ns.Path);
    }

    public int Pid { get; }
    public string Name { get; }

    /// <summary>Path of the namespace the process lives in (for reports; lookups go through its capability).</summary>
    public string NamespacePath => Namespace.Path;

    public Principal Principal { get; }
    public ProcessState State { get; internal set; }

    /// <summary>Number of handles the process holds.</summary>
    public int HandleCount => Handles.Count;

    internal Namespace Namespace { get; }
    internal HandleTable Handles { get; } = new();

    /// <summary>Cancelled when the process is destroyed; every task the process runs observes it.</summary>
    public CancellationToken Lifetime => _lifetime.Token;

    /// <summary>The process's own capability to its namespace (what all its lookups start from).</summary>
    internal CapabilityToken NamespaceCapability { get; }

    internal ProcessManager Manager => _manager;

    /// <summary>CPU time its tasks used (the scheduler charges each work item).</summary>
    internal Diagnostics.Monitoring.CpuAccount Cpu { get; } = new();
    private CapabilityManager Caps => _manager.Capabilities;

    /// <summary>
    /// The one capability check of the syscall layer: the handle must be in this process's table, its capability live,
    /// carrying <paramref name="rights"/>, and naming a <typeparamref name="T"/>. Denials are audited with this
    /// process as the actor.
    /// </summary>
    internal Result<T> Get<T>(Handle handle, Rights rights) where T : KernelObject
    {
        var r = GetWithToken<T>(handle, rights);
        return r.IsOk ? r.Value.Object : r.Error;
    }

    /// <summary>
    /// <see cref="Get{T}"/>'s lock-free success path, untyped and without a <see cref="Result{T}"/> (the IPC calls'
    /// per-message handle check): the handle table's and the capability table's lock-free reads, nothing else. False
    /// for anything else — a bad, stale, revoked or under-privileged handle, a writer at work, tracing on (the traced
    /// path records the check) — and the caller then takes <see cref="Get{T}"/>, which names the error and audits it.
    /// </summary>
    internal bool TryGetFast(Handle handle, Rights rights, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out KernelObject? obj)
    {
        obj = null;
        return !Diagnostics.Tracing.KernelTrace.Enabled && Handles.TryGetFast(handle, out var token) && Caps.TryCheckFast(token, rights, out obj);
    }

    /// <summary>Like <see cref="Get{T}"/> but also yields the token (for kernel services that derive from it).</summary>
    internal Result<(T Object, CapabilityToken Token)> GetWithToken<T>(Handle handle, Rights rights) where T : KernelObject
    {
        var t = Handles.Get(handle);
        if (Diagnostics.Tracing.KernelTrace.Enabled) Diagnostics.Tracing.SyscallTrace.HandleCheck(this, handle, typeof(T), t.IsOk);
        if (!t.IsOk) return t.Error;
        var o = Caps.Check<T>(t.Value, rights, Principal);
        return o.IsOk ? (o.Value, t.Value) : Gone(handle, o.Error);
    }

    /// <summary>A handle moved or closed by another thread between reading it and checking its capability reports
    /// InvalidHandle (what a moment later would show), not the revocation the move or close caused.</summary>
    private KernelError Gone(Handle handle, KernelError error) =>
        error.Code is ErrorCode.Revoked or ErrorCode.StaleCapability && !Handles.Get(handle).IsOk
            ? new KernelError(ErrorCode.InvalidHandle, $"{handle} is not a valid handle (it was moved or closed)")
            : error;

    /// <summary>Opens a name from the process's namespace into its handle table with at most <paramref name="rights"/>.</summary>
    internal Result<Handle> Open(string path, Rights rights)
    {
        if (State != ProcessState.Running) return Errors.Of(ErrorCode.Closed, $"{this} has exited");
        var bound = _manager.Namespaces.Lookup(NamespaceCapability, path, rights, Principal);
        if (!bound.IsOk) return bound.Error;
        var mine = Caps.DeriveForKernel(bound.Value, rights, Principal, Principal);
        return mine.IsOk ? AddHandle(mine.Value) : mine.Error;
    }

    /// <summary>The capability behind a handle — kernel-internal only: tokens never reach process code.</summary>
    internal Result<CapabilityToken> TokenOf(Handle handle) => Handles.Get(handle);

    /// <summary>Puts a capability the kernel gives the process into its handle table (revoked if the table is full).</summary>
    internal Result<Handle> AddHandle(CapabilityToken token)
    {
        if (State != ProcessState.Running)
        {
            Caps.Revoke(token, Principal);
            return Errors.Of(ErrorCode.Closed, $"{this} has exited");
        }
        var h = Handles.Add(token);
        if (!h.IsOk) Caps.Revoke(token, Principal);
        return h;
    }

    /// <summary>Closes a handle and revokes the capability it held (and anything the process derived from it).</summary>
    internal Result Close(Handle handle)
    {
        var t = Handles.Remove(handle);
        if (!t.IsOk) return t.Error;
        var r = Caps.Revoke(t.Value, Principal);
        // Already revoked from elsewhere: closing is still fine.
        return r.IsOk || r.Code is ErrorCode.Revoked or ErrorCode.StaleCapability ? Result.Ok : r.AsResult();
    }

    // ---- tasks ----

    /// <summary>Runs <paramref name="body"/> as one of the process's tasks (on the kernel scheduler when one is
    /// attached); the token passed in is cancelled when the process is destroyed. Charged to the process's tenant.</summary>
    internal Result<Task> Run(Func<CancellationToken, Task> body, string name)
    {
        if (State != ProcessState.Running) return Errors.Of(ErrorCode.Closed, $"{this} has exited");
        if (_manager.TaskQuota is { } quota)
        {
            var q = quota(Principal, 1);
            if (!q.IsOk) return q.Error;
        }
        var task = _manager.StartTask(this, async () =>
        {
            if (Scheduling.KernelTask.Current is { } running) running.CpuAccount = Cpu;
            try { await body(_lifetime.Token).ConfigureAwait(true); }
            finally { _manager.TaskQuota?.Invoke(Principal, -1); }
        }, $"{Principal.Name}/{name}");
        lock (_tasks)
        {
            _tasks.RemoveAll(t => t.IsCompleted);
            _tasks.Add(task);
        }
        return task;
    }

    public int LiveTasks { get { lock (_tasks) return _tasks.Count(t => !t.IsCompleted); } }

    internal Task[] CancelTasks()
    {
        _lifetime.Cancel();
        lock (_tasks) return _tasks.ToArray();
    }

    public override string ToString() => Principal.Name;
}
