using System.Diagnostics.CodeAnalysis;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Diagnostics.Tracing;
using Photon.Kernel.Modules;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Syscalls;

/// <summary>What a loader learns about a module it loaded: never the module object or a token.</summary>
public sealed record ModuleInfo(string Name, int? Pid, IReadOnlyList<ModuleCapabilityRequest> Grants);

/// <summary>
/// Module system calls: load a module with the manifest's capabilities looked up in a namespace the caller holds (so a
/// module never gets more than its loader could hand on), and unload it through the control handle the load returned.
/// </summary>
public sealed class ModuleSyscalls(ModuleLoader loader, CapabilityManager caps)
{
    /// <summary>Rights of the control handle a load gives the caller: Manage to unload, Read, Delegate.</summary>
    public const Rights ControlRights = Rights.Manage | Rights.Read | Rights.Delegate;

    /// <summary>
    /// Loads the native (trusted) module at <paramref name="location"/>: needs Manage on the module loader
    /// (<paramref name="moduleLoader"/>, a handle only the kernel's init and administrators it chose hold). The paths
    /// its manifest asks for are looked up in the namespace <paramref name="ns"/> names (needs Read), as the caller.
    /// Returns a control handle (see <see cref="ControlRights"/>).
    /// </summary>
    [RequiresUnreferencedCode("Module assemblies are loaded and activated by reflection.")]
    public async Task<Result<(Handle Control, ModuleInfo Module)>> LoadAsync(Process caller, Handle moduleLoader, Handle ns, string location,
        ModuleLoadOptions? options = null, CancellationToken ct = default)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.module.load");
        var authority = caller.GetWithToken<ModuleLoader>(moduleLoader, Rights.Manage);
        if (!authority.IsOk) return authority.Error;
        var n = caller.GetWithToken<Namespace>(ns, Rights.Read);
        if (!n.IsOk) return n.Error;
        if (caller.State != ProcessState.Running) return Errors.Of(ErrorCode.Closed, $"{caller} has exited");
        var loaded = await authority.Value.Object.LoadAsync(authority.Value.Token, location, n.Value.Token, caller.Principal, options, ct).ConfigureAwait(true);
        if (!loaded.IsOk) return loaded.Error;
        var (module, control) = loaded.Value;
        // The caller's handle is derived from the control capability, so if it cannot be issued (table full, caller
        // gone) the kernel still holds a live control to unload the module with instead of leaving it orphaned.
        var mine = caps.Derive(control, ControlRights, caller.Principal, caller.Principal);
        Result<Handle> h = mine.IsOk ? caller.AddHandle(mine.Value) : mine.Error;
        if (!h.IsOk)
        {
            await loader.UnloadAsync(control, caller.Principal, CancellationToken.None).ConfigureAwait(true);
            return h.Error;
        }
        return (h.Value, new ModuleInfo(module.Name, module.Pid, module.Grants));
    }

    /// <summary>Stops and unloads the module <paramref name="control"/> names (needs Manage) and closes the handle.</summary>
    public async Task<Result> UnloadAsync(Process caller, Handle control, CancellationToken ct = default)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.module.unload");
        var m = caller.GetWithToken<LoadedModule>(control, Rights.Manage);
        if (!m.IsOk) return m.Error;
        var r = await loader.UnloadAsync(m.Value.Token, caller.Principal, ct).ConfigureAwait(true);
        // Past its Busy check (a module not running), unloading revokes the control's whole tree, this handle's too.
        if (r.Code != ErrorCode.Busy) caller.Handles.Remove(control);
        return r;
    }
}
