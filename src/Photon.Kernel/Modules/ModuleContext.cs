using Photon.Kernel.Capabilities;
using Photon.Kernel.Diagnostics;
using Photon.Kernel.Processes;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Modules;

/// <summary>
/// What the kernel hands a module: its own process (principal, handle table, memory), a handle to its own namespace
/// (/modules/&lt;name&gt;), handles to exactly the capabilities its manifest asked for, kernel timers and the log.
/// Everything the module holds through these lives in its process's handle table, so unloading (which destroys the
/// process) revokes all of it.
/// This is least-privilege bookkeeping for trusted code, not a boundary: a native module is kernel code running in the
/// kernel's host process, and reflection (on <see cref="Process"/>, say), P/Invoke or file I/O reach everything the
/// kernel can. The grants make what a correct module uses explicit and revocable; they do not stop a hostile one.
/// Untrusted code belongs in the WebAssembly sandbox.
/// </summary>
public sealed class ModuleContext
{
    private readonly IReadOnlyDictionary<string, Handle> _grants;
    private readonly KernelLog? _log;

    internal ModuleContext(string name, Process process, Handle ns, IReadOnlyDictionary<string, Handle> grants,
        IReadOnlyDictionary<string, string> arguments, IKernelTimers timers, KernelLog? log)
    {
        ModuleName = name;
        Process = process;
        Namespace = ns;
        _grants = grants;
        Arguments = arguments;
        Timers = timers;
        _log = log;
    }

    public string ModuleName { get; }

    /// <summary>The module's process: its principal, handle table and memory allocations.</summary>
    public Process Process { get; }

    public Principal Principal => Process.Principal;

    /// <summary>The system calls the module makes as its process (the same table processes and Wasm guests use).</summary>
    public Syscalls.SyscallTable Sys { get; internal init; } = null!;

    /// <summary>Handle (in <see cref="Process"/>) to the module's own namespace, with Read, Enumerate and Bind: the
    /// module may publish names there (e.g. services it offers).</summary>
    public Handle Namespace { get; }

    /// <summary>The granted capabilities by local name (the manifest's <c>As</c>), each a handle in <see cref="Process"/>
    /// with exactly the requested rights.</summary>
    public IReadOnlyDictionary<string, Handle> Grants => _grants;

    /// <summary>Load-time arguments given by whoever loaded the module.</summary>
    public IReadOnlyDictionary<string, string> Arguments { get; }

    public IKernelTimers Timers { get; }

    /// <summary>Cancelled when the module's process is destroyed (unload or fault).</summary>
    public CancellationToken Lifetime => Process.Lifetime;

    /// <summary>The handle of a granted capability, or NotFound when the manifest did not ask for it.</summary>
    public Result<Handle> Grant(string localName) =>
        _grants.TryGetValue(localName, out var h) ? h : Errors.Of(ErrorCode.NotFound, $"module '{ModuleName}' was not granted '{localName}'");

    /// <summary>The object behind a granted capability, checked for <paramref name="rights"/>.</summary>
    public Result<T> Use<T>(string localName, Rights rights) where T : KernelObject
    {
        var h = Grant(localName);
        return h.IsOk ? Process.Get<T>(h.Value, rights) : h.Error;
    }

    /// <summary>The token behind a granted capability (for kernel services that take tokens).</summary>
    public Result<CapabilityToken> TokenOf(string localName)
    {
        var h = Grant(localName);
        return h.IsOk ? Process.TokenOf(h.Value) : h.Error;
    }

    /// <summary>Takes ownership of a capability a kernel service issued to the module (e.g. a registration): it goes
    /// into the module's handle table and is revoked when the module unloads.</summary>
    public Result<Handle> Adopt(CapabilityToken token)
    {
        var h = Process.AddHandle(token);
        if (!h.IsOk) return h;
        // An export (a registered driver) runs this module's code when called: unload waits for those calls.
        if (Process.Get<KernelObject>(h.Value, Rights.None) is { IsOk: true, Value: IModuleExport export })
            lock (_exports) _exports.Add(export.Calls);
        return h;
    }

    /// <summary>The rundowns of what the module exported (adopted <see cref="IModuleExport"/> objects).</summary>
    internal CallRundown[] Exports
    {
        get { lock (_exports) return _exports.ToArray(); }
    }

    private readonly List<CallRundown> _exports = new();

    public void LogInfo(string message) => _log?.Info($"module:{ModuleName}", message);
    public void LogWarn(string message) => _log?.Warn($"module:{ModuleName}", message);
}
