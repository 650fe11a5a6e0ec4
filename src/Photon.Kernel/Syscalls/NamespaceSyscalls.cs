using Photon.Kernel.Capabilities;
using Photon.Kernel.Diagnostics.Tracing;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Syscalls;

/// <summary>
/// Namespace system calls. Lookups start from the caller's own namespace capability (or a namespace handle it holds)
/// and only walk down; what they find is derived into the caller's handle table with at most the rights asked for.
/// </summary>
public sealed class NamespaceSyscalls(NamespaceManager namespaces, CapabilityManager caps)
{
    /// <summary>Opens a name from the caller's namespace with at most <paramref name="rights"/>.</summary>
    public Result<Handle> Open(Process caller, string path, Rights rights)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.ns.open");
        return caller.Open(path, rights);
    }

    /// <summary>Opens a name relative to a namespace handle the caller holds (needs Read on it).</summary>
    public Result<Handle> OpenAt(Process caller, Handle ns, string path, Rights rights)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.ns.open_at");
        var n = caller.GetWithToken<Namespace>(ns, Rights.Read);
        return n.IsOk ? OpenFrom(caller, n.Value.Token, path, rights) : n.Error;
    }

    /// <summary>Creates a child namespace in <paramref name="parent"/> (needs Create) and returns an all-rights handle.</summary>
    public Result<Handle> CreateChild(Process caller, Handle parent, string name)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.ns.create_child");
        var n = caller.GetWithToken<Namespace>(parent, Rights.Create);
        if (!n.IsOk) return n.Error;
        var child = namespaces.CreateChild(n.Value.Token, name, caller.Principal);
        return child.IsOk ? caller.AddHandle(child.Value) : child.Error;
    }

    /// <summary>Binds a capability derived from <paramref name="target"/> (at most <paramref name="rights"/>; needs
    /// Delegate on it) under <paramref name="name"/> in <paramref name="ns"/> (needs Bind).</summary>
    public Result Bind(Process caller, Handle ns, string name, Handle target, Rights rights)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.ns.bind");
        var n = caller.GetWithToken<Namespace>(ns, Rights.Bind);
        if (!n.IsOk) return n.Error;
        var t = caller.GetWithToken<KernelObject>(target, Rights.Delegate);
        if (!t.IsOk) return t.Error;
        return namespaces.Bind(n.Value.Token, name, t.Value.Token, rights, caller.Principal).AsResult();
    }

    public Result BindAlias(Process caller, Handle ns, string name, string targetPath)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.ns.bind_alias");
        var n = caller.GetWithToken<Namespace>(ns, Rights.Bind);
        return n.IsOk ? namespaces.BindAlias(n.Value.Token, name, targetPath, caller.Principal) : n.Error;
    }

    public Result Unbind(Process caller, Handle ns, string name)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.ns.unbind");
        var n = caller.GetWithToken<Namespace>(ns, Rights.Bind);
        return n.IsOk ? namespaces.Unbind(n.Value.Token, name, caller.Principal) : n.Error;
    }

    /// <summary>Lists a namespace (the caller's own when <paramref name="ns"/> is invalid) — needs Enumerate.</summary>
    public Result<IReadOnlyList<NamespaceEntry>> List(Process caller, string path = "/", Handle ns = default)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.ns.list");
        var start = caller.NamespaceCapability;
        if (ns != Handle.Invalid)
        {
            var n = caller.GetWithToken<Namespace>(ns, Rights.Enumerate);
            if (!n.IsOk) return n.Error;
            start = n.Value.Token;
        }
        return namespaces.List(start, path, caller.Principal);
    }

    /// <summary>Destroys a namespace (needs Manage): every capability bound in it, recursively, dies.</summary>
    public Result Destroy(Process caller, Handle ns)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.ns.destroy");
        var n = caller.GetWithToken<Namespace>(ns, Rights.Manage);
        if (!n.IsOk) return n.Error;
        var r = namespaces.Destroy(n.Value.Token, caller.Principal);
        if (r.IsOk) caller.Handles.Remove(ns);
        return r;
    }

    private Result<Handle> OpenFrom(Process caller, CapabilityToken start, string path, Rights rights)
    {
        var bound = namespaces.Lookup(start, path, rights, caller.Principal);
        if (!bound.IsOk) return bound.Error;
        var mine = caps.DeriveForKernel(bound.Value, rights, caller.Principal, caller.Principal);
        return mine.IsOk ? caller.AddHandle(mine.Value) : mine.Error;
    }
}
