using System.Collections.Concurrent;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Diagnostics;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Ipc;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Wasmtime;

namespace Photon.Sandbox;

/// <summary>
/// Runs untrusted WebAssembly modules with Wasmtime, one Photon process and one child namespace per instance. A guest
/// reaches the kernel only through <see cref="HostImports"/>, and only through handles in its own process's table.
/// Fuel bounds CPU per call, a store limiter bounds memory, epoch interruption lets Stop/Kill end a running call, and
/// per-tenant quotas bound instance count, total guest memory and compiled code. Setting an instance up is
/// transactional: any failure gives back everything taken so far. A guest that traps or runs out of fuel is killed and
/// reported; other instances are unaffected.
/// </summary>
public sealed class WasmSandbox : IDisposable
{
    public const int MaxModuleTextChars = 1_000_000;
    public const int MaxGrants = 1024;

    private readonly Engine _engine;
    private readonly Lock _engineLock = new();
    private readonly CapabilityManager _caps;
    private readonly NamespaceManager _namespaces;
    private readonly ProcessManager _processes;
    private readonly IpcManager _ipc;

    // Every host function is a syscall made as the guest's process: the checks live there, once.
    private readonly Photon.Kernel.Syscalls.SyscallTable _sys;
    private readonly Func<TimeSpan> _now;
    private readonly KernelLog? _log;
    private readonly VirtualFileSystem? _vfs;
    private readonly ConcurrentDictionary<string, TenantUsage> _tenants = new();
    private readonly ConcurrentDictionary<WasmInstance, byte> _live = new();
    private readonly Lazy<ModuleCache> _cache;
    private volatile bool _disposed;
    private bool _engineDisposed;
    private int _nextId;

    public WasmSandbox(CapabilityManager caps, NamespaceManager namespaces, ProcessManager processes, MemoryManager memory, IpcManager ipc,
        Func<TimeSpan> monotonicNow, KernelLog? log = null, VirtualFileSystem? vfs = null)
    {
        _ = memory; // guests reach memory only through regions granted to them, checked by their process
        _vfs = vfs;
        _engine = new Engine(new Config().WithFuelConsumption(true).WithEpochInterruption(true).WithReferenceTypes(false));
        _caps = caps;
        _namespaces = namespaces;
        _processes = processes;
        _ipc = ipc;
        _sys = new Photon.Kernel.Syscalls.SyscallTable(processes, ipc, vfs);
        _now = monotonicNow;
        _log = log;
        _cache = new Lazy<ModuleCache>(() => new ModuleCache(_engine, ModuleCacheLimit), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public TenantQuota DefaultQuota { get; init; } = new();

    /// <summary>The wall clock WASI's realtime clock reads (the kernel's, when the sandbox is a boot component).</summary>
    public Func<DateTimeOffset> WallClock { get; init; } = () => DateTimeOffset.UtcNow;

    /// <summary>How many compiled modules the cache keeps (modules pinned by live instances are kept regardless).</summary>
    public int ModuleCacheLimit { get; init; } = 32;

    public IReadOnlyDictionary<string, TenantUsage> Tenants => _tenants;

    /// <summary>Instances that have not yet given back their resources.</summary>
    public int LiveInstances => _live.Count;

    /// <summary>Compiled modules the cache holds now.</summary>
    public int CachedModules => _cache.IsValueCreated ? _cache.Value.Count : 0;

    /// <summary>Modules compiled since the sandbox started (every tenant; hits of the cache are not compiles).</summary>
    public long ModuleCompilations => _cache.IsValueCreated ? _cache.Value.Compilations : 0;

    private ModuleCache Cache => _cache.Value;

    /// <summary>A guest shipped with Photon (WAT text compiled at run time).</summary>
    public static string Guest(string name)
    {
        using var s = typeof(WasmSandbox).Assembly.GetManifestResourceStream($"Photon.Sandbox.Guests.{name}.wat")
            ?? throw new KernelException(ErrorCode.NotFound, $"no guest module '{name}'");
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    }

    /// <summary>
    /// Instantiates a guest for the tenant whose namespace <paramref name="tenantNamespace"/> names (needs Create):
    /// makes /&lt;tenant&gt;/wasm-&lt;name&gt;-&lt;n&gt;, binds the grants there, spawns the instance's process in it.
    /// Any failure — bad limits or module, a grant that cannot be bound, a quota, a link error, a trapping start
    /// function — returns an error and leaves no process, namespace, capability or quota usage behind.
    /// </summary>
    public Result<WasmInstance> Instantiate(CapabilityToken tenantNamespace, string name, string wat, IReadOnlyList<SandboxGrant> grants,
        SandboxLimits? limits = null, Principal actor = default)
    {
        if (wat is null) return Errors.Of(ErrorCode.InvalidArgument, "no module text");
        if (wat.Length > MaxModuleTextChars) return Errors.Of(ErrorCode.InvalidArgument, "module text too large");
        return Instantiate(tenantNamespace, name, grants, limits, actor, null,
            (usage, out fresh) => Cache.Acquire(usage, name, wat, out fresh));
    }

    /// <summary>Largest binary module accepted (what a C program compiled to wasm32-wasi weighs, with room).</summary>
    public const int MaxModuleBytes = 32 * 1024 * 1024;

    /// <summary>
    /// Instantiates a WASI command (a binary module, e.g. C built with <c>clang --target=wasm32-wasi</c>) as
    /// <see cref="Instantiate(CapabilityToken, string, string, IReadOnlyList{SandboxGrant}, SandboxLimits?, Principal)"/>
    /// does, with the <c>wasi_snapshot_preview1</c> imports (<see cref="Wasi.WasiImports"/>) beside Photon's own:
    /// its preopens are mounts among <paramref name="grants"/>. Run it with <see cref="WasmInstance.RunCommand"/>.
    /// </summary>
    public Result<WasmInstance> InstantiateWasi(CapabilityToken tenantNamespace, string name, byte[] wasm, IReadOnlyList<SandboxGrant> grants,
        Wasi.WasiOptions options, SandboxLimits? limits = null, Principal actor = default)
    {
        if (wasm is null) return Errors.Of(ErrorCode.InvalidArgument, "no module");
        if (wasm.Length > MaxModuleBytes) return Errors.Of(ErrorCode.InvalidArgument, $"module larger than {MaxModuleBytes} bytes");
        if (options is null) return Errors.Of(ErrorCode.InvalidArgument, "no WASI options");
        var ov = options.Validate();
        if (!ov.IsOk) return ov.Error;
        return Instantiate(tenantNamespace, name, grants, limits, actor, options,
            (usage, out fresh) => Cache.AcquireBinary(usage, name, wasm, out fresh));
    }

    private delegate Result<ModuleCache.Entry> AcquireModule(TenantUsage usage, out bool fresh);

    private Result<WasmInstance> Instantiate(CapabilityToken tenantNamespace, string name, IReadOnlyList<SandboxGrant> grants,
        SandboxLimits? limits, Principal actor, Wasi.WasiOptions? wasi, AcquireModule acquire)
    {
        // Decode: every check runs before anything is reserved or created.
        limits ??= new SandboxLimits();
        var valid = Validate(name, grants, limits);
        if (!valid.IsOk) return valid.Error;
        var tenantNs = _caps.Check<Namespace>(tenantNamespace, Rights.Create, actor);
        if (!tenantNs.IsOk) return tenantNs.Error;
        var nsName = $"wasm-{name}-{Interlocked.Increment(ref _nextId)}";
        if (!NamespacePath.ValidateName(nsName).IsOk) return Errors.Of(ErrorCode.InvalidName, $"'{name}' is too long for an instance name");
        var tenant = TenantOf(tenantNs.Value.Path);
        var usage = _tenants.GetOrAdd(tenant, t => new TenantUsage(t, DefaultQuota));

        // Invoke: each step registers its undo, so a failure anywhere gives everything back.
        var undo = new Rollback();
        try
        {
            var reserved = usage.TryReserve(limits.MaxMemoryBytes);
            if (!reserved.IsOk) return reserved.Error;
            undo.Add(() => usage.Release(limits.MaxMemoryBytes));

            var module = acquire(usage, out var fresh);
            if (!module.IsOk) return undo.Fail(module.Error);
            undo.Add(() => Cache.Release(module.Value, evictIfIdle: fresh));

            var ns = _namespaces.CreateChild(tenantNamespace, nsName, actor);
            if (!ns.IsOk) return undo.Fail(ns.Error);
            undo.Add(() => DestroyNamespace(tenantNamespace, nsName, ns.Value));

            foreach (var g in grants)
            {
                // Bindings live in the instance's namespace and die with it.
                var b = _namespaces.Bind(ns.Value, g.Name, g.Capability, g.Rights, actor);
                if (!b.IsOk) return undo.Fail(b.Error);
            }

            var spawned = _processes.Spawn(nsName, ns.Value, Rights.Read | Rights.Enumerate, actor);
            if (!spawned.IsOk) return undo.Fail(spawned.Error);
            var (process, control) = spawned.Value;
            // DestroyAsync revokes everything before its first await; what remains is waiting for tasks (a guest has none).
            undo.Add(() => _ = _processes.DestroyAsync(control));

            var instance = new WasmInstance(this, name, process, control,
                new InstanceResources(tenantNamespace, nsName, ns.Value, usage, limits, module.Value));
            undo.Add(instance.DisposeStore);
            try
            {
                var store = instance.CreateStore(_engine);
                using var linker = HostImports.Build(_engine, store, instance, _sys, _now);
                if (wasi is not null)
                {
                    var cx = new Wasi.WasiContext(instance, _sys, wasi, _now, WallClock);
                    var opened = cx.Open();
                    if (!opened.IsOk) return undo.Fail(opened.Error);
                    Wasi.WasiImports.Define(linker, cx);
                }
                instance.Start(module.Value.Module, linker);
            }
            catch (WasmtimeException e) // link errors, and traps (TrapException) in the start function
            {
                var fault = new KernelError(ErrorCode.Faulted, $"instantiation failed: {FirstLine(e.Message)}");
                Report(instance, fault);
                return undo.Fail(fault);
            }
            _live[instance] = 0;
            undo.Commit();
            if (_disposed) { instance.Stop(); return Errors.Of(ErrorCode.Closed, "the sandbox is disposed"); } // raced with Dispose
            _log?.Info("sandbox", $"{tenant}: started {name} as {process.Principal}");
            return instance;
        }
        catch
        {
            // A bug, not bad input: still give everything back before it propagates.
            undo.Run();
            throw;
        }
    }

    private Result Validate(string name, IReadOnlyList<SandboxGrant> grants, SandboxLimits limits)
    {
        if (_disposed) return Result.Fail(ErrorCode.Closed, "the sandbox is disposed");
        var v = NamespacePath.ValidateName(name);
        if (!v.IsOk) return v;
        if (grants is null) return Result.Fail(ErrorCode.InvalidArgument, "no grant list");
        if (grants.Count > MaxGrants) return Result.Fail(ErrorCode.InvalidArgument, $"more than {MaxGrants} grants");
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var g in grants)
        {
            if (g is null) return Result.Fail(ErrorCode.InvalidArgument, "null grant");
            var gv = NamespacePath.ValidateName(g.Name);
            if (!gv.IsOk) return gv;
            if (!names.Add(g.Name)) return Result.Fail(ErrorCode.InvalidArgument, $"'{g.Name}' is granted twice");
        }
        var lv = limits.Validate();
        if (!lv.IsOk) return lv;
        var qv = DefaultQuota.Validate();
        if (!qv.IsOk) return Result.Fail(ErrorCode.InvalidArgument, $"the sandbox's default quota is invalid: {qv.Error.Message}");
        if (ModuleCacheLimit < 0) return Result.Fail(ErrorCode.InvalidArgument, $"the sandbox's module cache limit {ModuleCacheLimit} is negative");
        return Result.Ok;
    }

    /// <summary>Gives back what a stopped or killed instance held (its store is already gone).</summary>
    internal Task Teardown(WasmInstance instance)
    {
        var r = instance.Resources;
        var destroyed = _processes.DestroyAsync(instance.Control);
        DestroyNamespace(r.Tenant, r.NamespaceName, r.Namespace);
        r.Usage.Release(r.Limits.MaxMemoryBytes);
        Cache.Release(r.Module);
        _live.TryRemove(instance, out _);
        return destroyed;
    }

    private void DestroyNamespace(CapabilityToken tenant, string name, CapabilityToken ns)
    {
        // Destroying a namespace leaves its (dead) name in the parent; take the name out too when the capability the
        // instance was created through allows it, so nothing of the instance stays visible.
        if (_caps.Inspect(tenant) is { IsOk: true } info && info.Value.Rights.HasFlag(Rights.Bind)) _namespaces.Unbind(tenant, name);
        _namespaces.Destroy(ns);
    }

    /// <summary>Ends every running call at its next epoch check; calls of instances that were not stopped carry on.</summary>
    internal void Interrupt()
    {
        lock (_engineLock) if (!_engineDisposed) _engine.IncrementEpoch();
    }

    internal void Report(WasmInstance instance, KernelError fault)
    {
        // A killed guest is a security-relevant event: it goes on the audit record as a denial.
        _caps.RecordDenied(instance.Process.Principal, CapabilityToken.None, Rights.Execute, fault);
        _log?.Warn("sandbox", $"killed {instance.Process.Principal}: {fault}");
    }

    private static string TenantOf(string path)
    {
        var first = path.TrimStart('/').Split('/')[0];
        return "/" + first;
    }

    internal static string FirstLine(string s) => s.Split('\n')[0].Trim();

    /// <summary>How long <see cref="Dispose"/> waits for interrupted calls to unwind.</summary>
    public TimeSpan DisposeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Stops every instance, waits for their calls to unwind, then frees the compiled code and the engine.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        var live = _live.Keys.ToArray();
        foreach (var i in live) i.Stop();
        // Never free under a running guest: a call stuck in a blocking host function past the timeout keeps its store
        // (Wasmtime's stores hold their own references to the engine and module code).
        Task.WhenAll(live.Select(i => i.Exited)).Wait(DisposeTimeout);
        if (_cache.IsValueCreated) _cache.Value.Dispose();
        lock (_engineLock)
        {
            _engineDisposed = true;
            _engine.Dispose();
        }
    }
}
