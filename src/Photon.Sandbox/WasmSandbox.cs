using System.Collections.Concurrent;
using System.Text;
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

/// <summary>CPU and memory limits of one instance.</summary>
public sealed record SandboxLimits(long FuelPerCall = 50_000_000, long MaxMemoryBytes = 4 * 1024 * 1024, int MaxTableElements = 10_000);

/// <summary>What one tenant (a top-level namespace) may use across all its instances.</summary>
public sealed record TenantQuota(int MaxInstances = 8, long MaxMemoryBytes = 32 * 1024 * 1024);

/// <summary>A capability granted to a guest: bound at <paramref name="Name"/> in the instance's own namespace.</summary>
public sealed record SandboxGrant(string Name, CapabilityToken Capability, Rights Rights);

/// <summary>
/// Runs untrusted WebAssembly modules with Wasmtime, one Photon process and one child namespace per instance. A guest
/// reaches the kernel only through the host functions in the "photon" import module, and only through handles in its
/// own process's table: it can open names bound in its namespace, read/write regions, send/receive on channels, log
/// and read the clock. Every pointer and length is checked against the guest's memory; errors come back as negative
/// <see cref="ErrorCode"/> values. Fuel bounds CPU per call, a store limiter bounds memory, and per-tenant quotas bound
/// instance count and total memory. A guest that traps or runs out of fuel is killed and reported; other instances
/// are unaffected.
/// </summary>
public sealed class WasmSandbox : IDisposable
{
    private readonly Engine _engine;
    private readonly CapabilityManager _caps;
    private readonly NamespaceManager _namespaces;
    private readonly ProcessManager _processes;
    private readonly MemoryManager _memory;
    private readonly IpcManager _ipc;
    private readonly Func<TimeSpan> _now;
    private readonly KernelLog? _log;
    private readonly VirtualFileSystem? _vfs;
    private readonly ConcurrentDictionary<string, TenantUsage> _tenants = new();
    private readonly ConcurrentDictionary<string, Module> _compiled = new();
    private int _nextId;

    public WasmSandbox(CapabilityManager caps, NamespaceManager namespaces, ProcessManager processes, MemoryManager memory, IpcManager ipc,
        Func<TimeSpan> monotonicNow, KernelLog? log = null, VirtualFileSystem? vfs = null)
    {
        _vfs = vfs;
        _engine = new Engine(new Config().WithFuelConsumption(true).WithReferenceTypes(false));
        _caps = caps;
        _namespaces = namespaces;
        _processes = processes;
        _memory = memory;
        _ipc = ipc;
        _now = monotonicNow;
        _log = log;
        _sys = new Photon.Kernel.Syscalls.SyscallTable(processes, ipc, vfs);
    }

    // Every host function is a syscall made as the guest's process: the checks live there, once.
    private readonly Photon.Kernel.Syscalls.SyscallTable _sys;

    public TenantQuota DefaultQuota { get; init; } = new();

    public IReadOnlyDictionary<string, TenantUsage> Tenants => _tenants;

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
    /// </summary>
    public Result<WasmInstance> Instantiate(CapabilityToken tenantNamespace, string name, string wat, IReadOnlyList<SandboxGrant> grants,
        SandboxLimits? limits = null, Principal actor = default)
    {
        limits ??= new SandboxLimits();
        var v = NamespacePath.ValidateName(name);
        if (!v.IsOk) return v.Error;
        if (wat.Length > 1_000_000) return Errors.Of(ErrorCode.InvalidArgument, "module text too large");
        var tenantNs = _caps.Check<Namespace>(tenantNamespace, Rights.Create, actor);
        if (!tenantNs.IsOk) return tenantNs.Error;
        var tenant = TenantOf(tenantNs.Value.Path);
        var usage = _tenants.GetOrAdd(tenant, t => new TenantUsage(t, DefaultQuota));
        var reserved = usage.TryReserve(limits.MaxMemoryBytes);
        if (!reserved.IsOk) return reserved.Error;

        Module module;
        try { module = _compiled.GetOrAdd(wat, text => Module.FromText(_engine, name, text)); }
        catch (WasmtimeException e) { usage.Release(limits.MaxMemoryBytes); return Errors.Of(ErrorCode.InvalidArgument, $"module does not compile: {FirstLine(e.Message)}"); }

        var id = Interlocked.Increment(ref _nextId);
        var nsName = $"wasm-{name}-{id}";
        var ns = _namespaces.CreateChild(tenantNamespace, nsName, actor);
        if (!ns.IsOk) { usage.Release(limits.MaxMemoryBytes); return ns.Error; }
        foreach (var g in grants)
        {
            var b = _namespaces.Bind(ns.Value, g.Name, g.Capability, g.Rights, actor);
            if (!b.IsOk) { _namespaces.Destroy(ns.Value, actor); usage.Release(limits.MaxMemoryBytes); return b.Error; }
        }
        var spawned = _processes.Spawn(nsName, ns.Value, Rights.Read | Rights.Enumerate, actor);
        if (!spawned.IsOk) { _namespaces.Destroy(ns.Value, actor); usage.Release(limits.MaxMemoryBytes); return spawned.Error; }
        var (process, control) = spawned.Value;

        var instance = new WasmInstance(this, name, process, control, ns.Value, usage, limits);
        try
        {
            instance.Start(_engine, module, BuildLinker(instance));
        }
        catch (Exception e) when (e is WasmtimeException or TrapException)
        {
            instance.Kill(new KernelError(ErrorCode.Faulted, $"instantiation failed: {FirstLine(e.Message)}"));
            return instance.Fault!.Value;
        }
        _log?.Info("sandbox", $"{tenant}: started {name} as {process.Principal}");
        return instance;
    }

    internal async Task TeardownAsync(WasmInstance instance)
    {
        await _processes.DestroyAsync(instance.Control).ConfigureAwait(false);
        _namespaces.Destroy(instance.NamespaceCapability);
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

    private Linker BuildLinker(WasmInstance inst)
    {
        var linker = new Linker(_engine);
        var p = inst.Process;
        linker.DefineFunction("photon", "log", (Caller c, int ptr, int len) =>
        {
            if (!inst.Guest(c, ptr, len, out var bytes)) return -(int)ErrorCode.OutOfRange;
            var text = Encoding.UTF8.GetString(bytes);
            inst.AddLog(text);
            return 0;
        });
        linker.DefineFunction("photon", "clock_now", () => (long)_now().TotalNanoseconds);
        linker.DefineFunction("photon", "open", (Caller c, int ptr, int len, int rights) =>
        {
            if (len > NamespacePath.MaxPathLength || !inst.Guest(c, ptr, len, out var bytes)) return -(int)ErrorCode.OutOfRange;
            if ((rights & ~(int)Rights.All) != 0) return -(int)ErrorCode.InvalidArgument;
            var h = p.Open(Encoding.UTF8.GetString(bytes), (Rights)rights);
            return h.IsOk ? h.Value.Value : -(int)h.Code;
        });
        linker.DefineFunction("photon", "region_read", (Caller c, int handle, int offset, int ptr, int len) =>
            inst.WithGuest(c, ptr, len, span => Code(_sys.Memory.Read(p, inst.Handle(handle), offset, span), len)));
        linker.DefineFunction("photon", "region_write", (Caller c, int handle, int offset, int ptr, int len) =>
            inst.WithGuest(c, ptr, len, span => Code(_sys.Memory.Write(p, inst.Handle(handle), offset, span), len)));
        linker.DefineFunction("photon", "ipc_send", (Caller c, int handle, int ptr, int len) =>
        {
            if (len > IpcManager.MaxMessageBytes || !inst.Guest(c, ptr, len, out var bytes)) return -(int)ErrorCode.OutOfRange;
            return Code(_sys.Channels.TrySend(p, inst.Handle(handle), bytes), len);
        });
        linker.DefineFunction("photon", "ipc_recv", (Caller c, int handle, int ptr, int cap) =>
        {
            if (!inst.Guest(c, ptr, cap, out _)) return -(int)ErrorCode.OutOfRange;
            var m = _sys.Channels.TryReceive(p, inst.Handle(handle));
            if (!m.IsOk) return -(int)m.Code;
            // Capabilities sent to a guest would land in its table; it cannot name them yet, so close them.
            foreach (var h in m.Value.Handles) p.Close(h);
            if (m.Value.Data.Length > cap) return -(int)ErrorCode.OutOfRange;
            return inst.WithGuest(c, ptr, m.Value.Data.Length, span => { m.Value.Data.CopyTo(span); return m.Value.Data.Length; });
        });
        // Files: a guest opens paths under the mounts bound in its namespace (a mount granted as "data" is "/data/...").
        // Host calls are synchronous; the VFS, filesystem and block paths never need a kernel CPU to complete
        // (ConfigureAwait(false) throughout), so waiting here is a blocking syscall, not a deadlock.
        linker.DefineFunction("photon", "file_open", (Caller c, int ptr, int len, int rights, int flags) =>
        {
            if (_vfs is null) return -(int)ErrorCode.NotSupported;
            if (len > 4096 || !inst.Guest(c, ptr, len, out var bytes)) return -(int)ErrorCode.OutOfRange;
            if ((rights & ~(int)(Rights.Read | Rights.Write)) != 0 || (flags & ~7) != 0) return -(int)ErrorCode.InvalidArgument;
            var h = _vfs.OpenAsync(p, Encoding.UTF8.GetString(bytes), (Rights)rights, (OpenFlags)flags).AsTask().GetAwaiter().GetResult();
            return h.IsOk ? h.Value.Value : -(int)h.Code;
        });
        linker.DefineFunction("photon", "file_read", (Caller c, int handle, int offset, int ptr, int len) =>
        {
            if (_vfs is null) return -(int)ErrorCode.NotSupported;
            if (offset < 0 || !inst.Guest(c, ptr, len, out _)) return -(int)ErrorCode.OutOfRange;
            var buffer = new byte[len];
            var n = _vfs.ReadAsync(p, inst.Handle(handle), offset, buffer).AsTask().GetAwaiter().GetResult();
            if (!n.IsOk) return -(int)n.Code;
            return inst.WithGuest(c, ptr, n.Value, span => { buffer.AsSpan(0, n.Value).CopyTo(span); return n.Value; });
        });
        linker.DefineFunction("photon", "file_write", (Caller c, int handle, int offset, int ptr, int len) =>
        {
            if (_vfs is null) return -(int)ErrorCode.NotSupported;
            if (offset < 0 || !inst.Guest(c, ptr, len, out var bytes)) return -(int)ErrorCode.OutOfRange;
            var w = _vfs.WriteAsync(p, inst.Handle(handle), offset, bytes).AsTask().GetAwaiter().GetResult();
            return w.IsOk ? len : -(int)w.Code;
        });
        linker.DefineFunction("photon", "file_close", (int handle) =>
        {
            if (_vfs is null) return -(int)ErrorCode.NotSupported;
            var r = _vfs.Close(p, inst.Handle(handle));
            return r.IsOk ? 0 : -(int)r.Code;
        });
        return linker;
    }

    private static int Code(Result r, int ok) => r.IsOk ? ok : -(int)r.Code;

    public void Dispose()
    {
        foreach (var m in _compiled.Values) m.Dispose();
        _engine.Dispose();
    }
}

/// <summary>A tenant's use of the sandbox, checked against its quota.</summary>
public sealed class TenantUsage(string tenant, TenantQuota quota)
{
    private readonly Lock _lock = new();
    public string Tenant { get; } = tenant;
    public TenantQuota Quota { get; } = quota;
    public int Instances { get; private set; }
    public long MemoryBytes { get; private set; }
    public int Killed { get; internal set; }

    internal Result TryReserve(long memory)
    {
        lock (_lock)
        {
            if (Instances + 1 > Quota.MaxInstances) return Result.Fail(ErrorCode.QuotaExceeded, $"{Tenant} already runs {Instances} instances (quota {Quota.MaxInstances})");
            if (MemoryBytes + memory > Quota.MaxMemoryBytes) return Result.Fail(ErrorCode.QuotaExceeded, $"{Tenant} would use {MemoryBytes + memory} bytes of guest memory (quota {Quota.MaxMemoryBytes})");
            Instances++;
            MemoryBytes += memory;
            return Result.Ok;
        }
    }

    internal void Release(long memory)
    {
        lock (_lock) { Instances--; MemoryBytes -= memory; }
    }
}
