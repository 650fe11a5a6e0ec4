using Photon.Kernel.Capabilities;
using Photon.Kernel.Diagnostics.Tracing;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Syscalls;

/// <summary>What a process may learn about one of its handles: never the token, never the object.</summary>
public sealed record HandleInfo(Handle Handle, ObjectKind Kind, string Label, Rights Rights, int Depth);

/// <summary>Handle system calls: close, duplicate with fewer rights, delegate to another process, revoke what was
/// derived, inspect.</summary>
public sealed class HandleSyscalls(CapabilityManager caps)
{
    /// <summary>Closes a handle and revokes its capability (and everything the caller derived from it).</summary>
    public Result Close(Process caller, Handle handle)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.handle.close");
        return caller.Close(handle);
    }

    /// <summary>A new handle to the same object with at most <paramref name="rights"/> (needs Delegate).</summary>
    public Result<Handle> Duplicate(Process caller, Handle handle, Rights rights)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.handle.duplicate");
        var t = caller.GetWithToken<KernelObject>(handle, Rights.Delegate);
        if (!t.IsOk) return t.Error;
        var d = caps.Derive(t.Value.Token, rights, caller.Principal, caller.Principal);
        return d.IsOk ? caller.AddHandle(d.Value) : d.Error;
    }

    /// <summary>
    /// Gives the process <paramref name="target"/> names (needs Write on that process handle) a capability derived
    /// from <paramref name="handle"/> with at most <paramref name="rights"/> (needs Delegate). Revoking the source
    /// later cuts the target off. Returns the handle number in the target's table.
    /// </summary>
    public Result<Handle> Delegate(Process caller, Handle handle, Handle target, Rights rights)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.handle.delegate");
        var p = caller.Get<Process>(target, Rights.Write);
        return p.IsOk ? DelegateTo(caller, handle, p.Value, rights) : p.Error;
    }

    /// <summary>Kernel side of <see cref="Delegate"/> once the target process is known (the kernel's own setup and
    /// tests, which hold process identities rather than process handles).</summary>
    internal Result<Handle> DelegateTo(Process caller, Handle handle, Process target, Rights rights)
    {
        var t = caller.GetWithToken<KernelObject>(handle, Rights.Delegate);
        if (!t.IsOk) return t.Error;
        if (target.State != ProcessState.Running) return Errors.Of(ErrorCode.Closed, $"{target} has exited");
        var d = caps.Derive(t.Value.Token, rights, target.Principal, caller.Principal);
        return d.IsOk ? target.AddHandle(d.Value) : d.Error;
    }

    /// <summary>Revokes everything derived from the handle's capability (delegations, duplicates, bindings).</summary>
    public Result<int> RevokeDerived(Process caller, Handle handle)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.handle.revoke_derived");
        var t = caller.GetWithToken<KernelObject>(handle, Rights.None);
        return t.IsOk ? caps.RevokeDescendants(t.Value.Token, caller.Principal) : t.Error;
    }

    public Result<HandleInfo> Inspect(Process caller, Handle handle)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.handle.inspect");
        var t = caller.TokenOf(handle);
        if (!t.IsOk) return t.Error;
        var info = caps.Inspect(t.Value);
        if (!info.IsOk) return info.Error;
        return new HandleInfo(handle, info.Value.Object.Kind, info.Value.Object.Label, info.Value.Rights, info.Value.Depth);
    }

    /// <summary>The caller's live handles (dead ones — revoked from elsewhere — are left out).</summary>
    public IReadOnlyList<HandleInfo> List(Process caller)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.handle.list");
        var rows = new List<HandleInfo>();
        foreach (var (h, _) in caller.Handles.Snapshot())
            if (Inspect(caller, h) is { IsOk: true } info) rows.Add(info.Value);
        return rows;
    }
}
