using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;

namespace Photon.Sandbox.Syscalls;

/// <summary>A handle in the caller's table granted to a guest: bound at <paramref name="Name"/> in the instance's own
/// namespace with at most <paramref name="Rights"/>.</summary>
public sealed record HandleGrant(string Name, Handle Handle, Rights Rights);

/// <summary>
/// The sandbox as a system call: a process starts a guest in a namespace it holds a handle to, granting it handles
/// from its own table. Every handle is resolved with the right it needs first; the caller is the actor.
/// </summary>
public static class SandboxSyscalls
{
    /// <summary>
    /// Instantiates a guest through the sandbox <paramref name="sandbox"/> names (the <c>/sandbox</c> binding the
    /// <see cref="SandboxComponent"/> makes; needs Execute) for the tenant whose namespace
    /// <paramref name="tenantNamespace"/> names (needs Create); each grant's handle needs Delegate.
    /// </summary>
    public static Result<WasmInstance> Instantiate(Process caller, Handle sandbox, Handle tenantNamespace, string name, string wat,
        IReadOnlyList<HandleGrant> grants, SandboxLimits? limits = null)
    {
        var s = caller.Get<SandboxObject>(sandbox, Rights.Execute);
        if (!s.IsOk) return s.Error;
        return s.Value.Sandbox.Instantiate(caller, tenantNamespace, name, wat, grants, limits);
    }

    /// <summary>
    /// Instantiates a guest for the tenant whose namespace <paramref name="tenantNamespace"/> names (needs Create);
    /// each grant's handle needs Delegate. See <see cref="WasmSandbox.Instantiate"/>.
    /// </summary>
    public static Result<WasmInstance> Instantiate(this WasmSandbox sandbox, Process caller, Handle tenantNamespace, string name, string wat,
        IReadOnlyList<HandleGrant> grants, SandboxLimits? limits = null)
    {
        var ns = caller.GetWithToken<Namespace>(tenantNamespace, Rights.Create);
        if (!ns.IsOk) return ns.Error;
        // The same checks as the WASI path (null list, null entries, count) before any handle is read.
        var resolved = Resolve(caller, grants);
        if (!resolved.IsOk) return resolved.Error;
        return sandbox.Instantiate(ns.Value.Token, name, wat, resolved.Value, limits, caller.Principal);
    }

    /// <summary>
    /// Instantiates a WASI command through the sandbox <paramref name="sandbox"/> names (needs Execute) for the tenant
    /// whose namespace <paramref name="tenantNamespace"/> names (needs Create); each grant's handle needs Delegate, and
    /// the preopens in <paramref name="options"/> name mounts among the grants. See <see cref="WasmSandbox.InstantiateWasi"/>.
    /// </summary>
    public static Result<WasmInstance> InstantiateWasi(Process caller, Handle sandbox, Handle tenantNamespace, string name, byte[] wasm,
        IReadOnlyList<HandleGrant> grants, Wasi.WasiOptions options, SandboxLimits? limits = null)
    {
        var s = caller.Get<SandboxObject>(sandbox, Rights.Execute);
        if (!s.IsOk) return s.Error;
        var ns = caller.GetWithToken<Namespace>(tenantNamespace, Rights.Create);
        if (!ns.IsOk) return ns.Error;
        var resolved = Resolve(caller, grants);
        if (!resolved.IsOk) return resolved.Error;
        return s.Value.Sandbox.InstantiateWasi(ns.Value.Token, name, wasm, resolved.Value, options, limits, caller.Principal);
    }

    private static Result<SandboxGrant[]> Resolve(Process caller, IReadOnlyList<HandleGrant> grants)
    {
        if (grants is null) return Errors.Of(ErrorCode.InvalidArgument, "no grant list");
        if (grants.Count > WasmSandbox.MaxGrants) return Errors.Of(ErrorCode.InvalidArgument, $"more than {WasmSandbox.MaxGrants} grants");
        var resolved = new SandboxGrant[grants.Count];
        for (int i = 0; i < grants.Count; i++)
        {
            if (grants[i] is null) return Errors.Of(ErrorCode.InvalidArgument, "null grant");
            var g = caller.GetWithToken<KernelObject>(grants[i].Handle, Rights.Delegate);
            if (!g.IsOk) return g.Error;
            resolved[i] = new SandboxGrant(grants[i].Name, g.Value.Token, grants[i].Rights);
        }
        return resolved;
    }
}
