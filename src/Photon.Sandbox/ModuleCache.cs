using System.Security.Cryptography;
using System.Text;
using Photon.Kernel;
using Wasmtime;

namespace Photon.Sandbox;

/// <summary>
/// Compiled modules, kept for reuse in least-recently-used order and bounded by <see cref="Limit"/> entries. Entries are
/// per tenant (keyed by tenant and SHA-256 of the text): a tenant is charged for the compiled code it caused, and cannot
/// learn from compile times which modules another tenant runs. An entry used by live instances is pinned — never
/// evicted — so the cache goes over its bound only by modules that running instances need (bounded by the instance
/// quotas) and shrinks back as they stop. Eviction refunds the tenant's compiled bytes.
/// </summary>
internal sealed class ModuleCache(Engine engine, int limit) : IDisposable
{
    internal sealed class Entry(string tenant, string hash, Module module, long bytes, TenantUsage owner)
    {
        public string Tenant { get; } = tenant;
        public string Hash { get; } = hash;
        public Module Module { get; } = module;
        public long Bytes { get; } = bytes;
        public TenantUsage Owner { get; } = owner;
        public int Pins;
        public LinkedListNode<Entry>? Node;
    }

    private readonly Lock _lock = new();
    private readonly Dictionary<(string, string), Entry> _entries = new();
    private readonly LinkedList<Entry> _lru = new(); // least recently used first
    private bool _disposed;

    public int Limit { get; } = limit;

    public int Count { get { lock (_lock) return _entries.Count; } }

    public long Evictions { get; private set; }

    private long _compilations;

    /// <summary>Modules compiled so far (cache misses that got as far as the compiler).</summary>
    public long Compilations => Interlocked.Read(ref _compilations);

    /// <summary>
    /// Finds or compiles <paramref name="wat"/> for <paramref name="tenant"/> and pins it. <paramref name="fresh"/> says
    /// the entry was made by this call, so a caller whose setup then fails can take it out again.
    /// </summary>
    public Result<Entry> Acquire(TenantUsage tenant, string name, string wat, out bool fresh) =>
        Acquire(tenant, Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(wat))), () => Module.FromText(engine, name, wat), out fresh);

    /// <summary>As <see cref="Acquire(TenantUsage, string, string, out bool)"/>, for a binary module (what compilers emit).</summary>
    public Result<Entry> AcquireBinary(TenantUsage tenant, string name, byte[] wasm, out bool fresh) =>
        // Keyed apart from text modules, so a binary and a text with equal bytes never share an entry.
        Acquire(tenant, "wasm:" + Convert.ToHexString(SHA256.HashData(wasm)), () => Module.FromBytes(engine, name, wasm), out fresh);

    private Result<Entry> Acquire(TenantUsage tenant, string hash, Func<Module> compile, out bool fresh)
    {
        fresh = false;
        var key = (tenant.Tenant, hash);
        lock (_lock)
        {
            if (_disposed) return Errors.Of(ErrorCode.Closed, "the sandbox is disposed");
            if (_entries.TryGetValue(key, out var hit)) { Pin(hit); return hit; }
            // A tenant with no room left even once its own idle entries are gone is refused before compiling: a compile
            // costs CPU and memory, and one whose result could never be kept would be charged to nobody.
            while (!tenant.CompiledFits(1) && OldestIdle(e => ReferenceEquals(e.Owner, tenant)) is { } idle) Evict(idle);
            if (!tenant.CompiledFits(1))
                return Errors.Of(ErrorCode.QuotaExceeded,
                    $"{tenant.Tenant} keeps {tenant.CompiledBytes} bytes of compiled code, all of its quota {tenant.Quota.MaxCompiledBytes}, for running instances");
        }

        // Compile outside the lock: other tenants' instances need not wait for this one's compiler.
        Interlocked.Increment(ref _compilations);
        Module module;
        long bytes;
        try
        {
            module = compile();
            // The serialized artifact is the compiled code plus metadata: what keeping the module costs.
            bytes = module.Serialize().Length;
        }
        catch (WasmtimeException e) { return Errors.Of(ErrorCode.InvalidArgument, $"module does not compile: {WasmSandbox.FirstLine(e.Message)}"); }

        lock (_lock)
        {
            if (_disposed) { module.Dispose(); return Errors.Of(ErrorCode.Closed, "the sandbox is disposed"); }
            if (_entries.TryGetValue(key, out var raced)) { module.Dispose(); Pin(raced); return raced; }
            // Make room in the tenant's own share first, from its idle entries, oldest first.
            while (!tenant.CompiledFits(bytes) && OldestIdle(e => ReferenceEquals(e.Owner, tenant)) is { } victim) Evict(victim);
            if (!tenant.CompiledFits(bytes))
            {
                module.Dispose();
                return Errors.Of(ErrorCode.QuotaExceeded,
                    $"{tenant.Tenant} would keep {tenant.CompiledBytes + bytes} bytes of compiled code (quota {tenant.Quota.MaxCompiledBytes})");
            }
            var entry = new Entry(tenant.Tenant, hash, module, bytes, tenant);
            tenant.ChargeCompiled(bytes);
            _entries[key] = entry;
            entry.Node = _lru.AddLast(entry);
            entry.Pins = 1;
            Trim();
            fresh = true;
            return entry;
        }
    }

    /// <summary>Unpins an entry; with <paramref name="evictIfIdle"/> (a failed setup that compiled it) it goes at once.</summary>
    public void Release(Entry entry, bool evictIfIdle = false)
    {
        lock (_lock)
        {
            if (entry.Pins > 0) entry.Pins--;
            if (entry.Pins == 0 && entry.Node is not null && (evictIfIdle || _disposed)) Evict(entry);
            else Trim();
        }
    }

    private void Pin(Entry e)
    {
        e.Pins++;
        _lru.Remove(e.Node!);
        _lru.AddLast(e.Node!);
    }

    private void Trim()
    {
        while (_entries.Count > Limit && OldestIdle(_ => true) is { } victim) Evict(victim);
    }

    private Entry? OldestIdle(Func<Entry, bool> match)
    {
        for (var n = _lru.First; n is not null; n = n.Next)
            if (n.Value.Pins == 0 && match(n.Value)) return n.Value;
        return null;
    }

    private void Evict(Entry e)
    {
        _entries.Remove((e.Tenant, e.Hash));
        _lru.Remove(e.Node!);
        e.Node = null;
        e.Owner.RefundCompiled(e.Bytes);
        // No instance uses it (Pins is 0), and Wasmtime instances hold their own reference to the code anyway.
        e.Module.Dispose();
        Evictions++;
    }

    /// <summary>Drops every idle entry; pinned ones go when their last instance releases them.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            while (OldestIdle(_ => true) is { } victim) Evict(victim);
        }
    }
}
