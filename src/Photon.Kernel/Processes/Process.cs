using Photon.Kernel.Capabilities;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;

namespace Photon.Kernel.Processes;

public enum ProcessState { Running, Exited }

/// <summary>
/// A kernel process: a namespace it lives in, a handle table of the capabilities it holds, and the kernel tasks it
/// runs. Its syscall-like methods take handles, check rights through the capability manager, and return typed
/// results; nothing here throws for bad input.
/// </summary>
public sealed class Process : KernelObject
{
    private readonly ProcessManager _manager;
    private readonly CancellationTokenSource _lifetime = new();
    private readonly List<Task> _tasks = new();

    internal Process(ProcessManager manager, int pid, string name, Namespace ns, CapabilityToken namespaceCap)
        : base(ObjectKind.Process, $"{name}[{pid}]")
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
    public Namespace Namespace { get; }
    public Principal Principal { get; }
    public ProcessState State { get; internal set; }
    public HandleTable Handles { get; } = new();

    /// <summary>Cancelled when the process is destroyed; every task the process runs observes it.</summary>
    public CancellationToken Lifetime => _lifetime.Token;

    /// <summary>The process's own capability to its namespace (what all its lookups start from).</summary>
    internal CapabilityToken NamespaceCapability { get; }

    private CapabilityManager Caps => _manager.Capabilities;

    /// <summary>Opens a name from the process's namespace into its handle table with at most <paramref name="rights"/>.</summary>
    public Result<Handle> Open(string path, Rights rights)
    {
        if (State != ProcessState.Running) return Errors.Of(ErrorCode.Closed, $"{this} has exited");
        var bound = _manager.Namespaces.Lookup(NamespaceCapability, path, rights, Principal);
        if (!bound.IsOk) return bound.Error;
        var mine = Caps.DeriveForKernel(bound.Value, rights, Principal, Principal);
        return mine.IsOk ? AddHandle(mine.Value) : mine.Error;
    }

    /// <summary>Checks a handle for <paramref name="rights"/> and returns the object it names.</summary>
    public Result<T> Check<T>(Handle handle, Rights rights) where T : KernelObject
    {
        var t = Handles.Get(handle);
        if (!t.IsOk) return t.Error;
        return Caps.Check<T>(t.Value, rights, Principal);
    }

    /// <summary>The capability behind a handle (for passing to kernel services that take tokens).</summary>
    public Result<CapabilityToken> TokenOf(Handle handle) => Handles.Get(handle);

    /// <summary>Puts a capability the process has been given into its handle table.</summary>
    public Result<Handle> AddHandle(CapabilityToken token)
    {
        if (State != ProcessState.Running) return Errors.Of(ErrorCode.Closed, $"{this} has exited");
        var h = Handles.Add(token);
        if (!h.IsOk) Caps.Revoke(token, Principal);
        return h;
    }

    /// <summary>Closes a handle and revokes the capability it held (and anything the process derived from it).</summary>
    public Result Close(Handle handle)
    {
        var t = Handles.Remove(handle);
        if (!t.IsOk) return t.Error;
        var r = Caps.Revoke(t.Value, Principal);
        // Already revoked from elsewhere: closing is still fine.
        return r.IsOk || r.Code is ErrorCode.Revoked or ErrorCode.StaleCapability ? Result.Ok : r.AsResult();
    }

    /// <summary>Derives a new handle with fewer (or equal) rights (needs Delegate).</summary>
    public Result<Handle> Duplicate(Handle handle, Rights rights)
    {
        var t = Handles.Get(handle);
        if (!t.IsOk) return t.Error;
        var d = Caps.Derive(t.Value, rights, Principal, Principal);
        return d.IsOk ? AddHandle(d.Value) : d.Error;
    }

    /// <summary>Delegates a capability to another process: a derived capability with at most <paramref name="rights"/>
    /// lands in the target's handle table (needs Delegate). Revoking the source later cuts the target off.</summary>
    public Result<Handle> Delegate(Handle handle, Process target, Rights rights)
    {
        var t = Handles.Get(handle);
        if (!t.IsOk) return t.Error;
        if (target.State != ProcessState.Running) return Errors.Of(ErrorCode.Closed, $"{target} has exited");
        var d = Caps.Derive(t.Value, rights, target.Principal, Principal);
        return d.IsOk ? target.AddHandle(d.Value) : d.Error;
    }

    /// <summary>Revokes everything that was derived from the handle's capability (delegations, duplicates).</summary>
    public Result<int> RevokeDerived(Handle handle)
    {
        var t = Handles.Get(handle);
        if (!t.IsOk) return t.Error;
        return Caps.RevokeDescendants(t.Value, Principal);
    }

    /// <summary>Binds the handle's capability (at most <paramref name="rights"/>) under a name in a namespace the
    /// process holds a handle to (needs Bind on the namespace, Delegate on the capability).</summary>
    public Result Bind(Handle namespaceHandle, string name, Handle handle, Rights rights)
    {
        var ns = Handles.Get(namespaceHandle);
        if (!ns.IsOk) return ns.Error;
        var t = Handles.Get(handle);
        if (!t.IsOk) return t.Error;
        return _manager.Namespaces.Bind(ns.Value, name, t.Value, rights, Principal).AsResult();
    }

    // ---- memory ----

    public Result<Handle> AllocateMemory(long bytes)
    {
        if (State != ProcessState.Running) return Errors.Of(ErrorCode.Closed, $"{this} has exited");
        var r = _manager.Memory.Allocate(bytes, Principal, $"mem@{Principal.Name}");
        return r.IsOk ? AddHandle(r.Value) : r.Error;
    }

    public Result ReadMemory(Handle region, long offset, Span<byte> destination)
    {
        var t = Handles.Get(region);
        return t.IsOk ? _manager.Memory.Read(t.Value, offset, destination, Principal) : t.Error;
    }

    public Result WriteMemory(Handle region, long offset, ReadOnlySpan<byte> source)
    {
        var t = Handles.Get(region);
        return t.IsOk ? _manager.Memory.Write(t.Value, offset, source, Principal) : t.Error;
    }

    public Result<RegionMapping> MapMemory(Handle region)
    {
        var t = Handles.Get(region);
        return t.IsOk ? _manager.Memory.Map(t.Value, Principal) : t.Error;
    }

    public Result FreeMemory(Handle region)
    {
        var t = Handles.Get(region);
        if (!t.IsOk) return t.Error;
        var r = _manager.Memory.Free(t.Value, Principal);
        if (r.IsOk) Handles.Remove(region);
        return r;
    }

    // ---- tasks ----

    /// <summary>Runs <paramref name="body"/> as one of the process's tasks (on the kernel scheduler when one is
    /// attached); the token passed in is cancelled when the process is destroyed.</summary>
    public Result<Task> Run(Func<CancellationToken, Task> body, string name)
    {
        if (State != ProcessState.Running) return Errors.Of(ErrorCode.Closed, $"{this} has exited");
        if (_manager.TaskQuota is { } quota)
        {
            var q = quota(Principal, 1);
            if (!q.IsOk) return q.Error;
        }
        var task = _manager.StartTask(this, async () =>
        {
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
