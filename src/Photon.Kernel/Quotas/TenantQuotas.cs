using Photon.Kernel.Capabilities;

namespace Photon.Kernel.Quotas;

/// <summary>Limits for one tenant; null means unlimited.</summary>
public sealed record QuotaLimits(long? MemoryBytes = null, int? Tasks = null, int? Capabilities = null, int? IpcQueueDepth = null);

/// <summary>What a tenant uses now.</summary>
public sealed record QuotaUsage(string Tenant, long MemoryBytes, int Tasks, int Capabilities);

/// <summary>
/// Per-tenant quotas. A tenant is a top-level namespace (/tenant-a): everything held or run by principals in its
/// subtree counts against it. Plugs into the memory manager, the capability manager, the process manager (tasks) and
/// IPC (queue depth); exceeding a limit is <see cref="ErrorCode.QuotaExceeded"/> and changes nothing; freeing,
/// revoking and finishing give the usage back.
/// </summary>
public sealed class TenantQuotas
{
    private sealed class Account
    {
        public QuotaLimits Limits = new();
        public long MemoryBytes; // region pages and queued IPC messages
        public int Tasks;
        public int Capabilities;
    }

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Account> _accounts = new(StringComparer.Ordinal);

    /// <summary>Sets (or replaces) a tenant's limits. Usage already counted is kept.</summary>
    public Result SetLimits(string tenantPath, QuotaLimits limits)
    {
        var t = Namespaces.NamespacePath.Split(tenantPath);
        if (!t.IsOk) return t.Error;
        if (t.Value.Length != 1) return Result.Fail(ErrorCode.InvalidArgument, "quotas apply to top-level tenant namespaces like /tenant-a");
        lock (_lock) Get("/" + t.Value[0]).Limits = limits;
        return Result.Ok;
    }

    public QuotaUsage Usage(string tenant)
    {
        lock (_lock)
        {
            var a = Get(tenant);
            return new QuotaUsage(tenant, a.MemoryBytes, a.Tasks, a.Capabilities);
        }
    }

    /// <summary>What a tenant uses now together with its limits (one consistent reading).</summary>
    public (QuotaUsage Usage, QuotaLimits Limits) UsageAndLimits(string tenant)
    {
        lock (_lock)
        {
            var a = Get(tenant);
            return (new QuotaUsage(tenant, a.MemoryBytes, a.Tasks, a.Capabilities), a.Limits);
        }
    }

    /// <summary>Every tenant that has limits or has been charged, in name order.</summary>
    public IReadOnlyList<string> Tenants
    {
        get { lock (_lock) return _accounts.Keys.Order(StringComparer.Ordinal).ToArray(); }
    }

    /// <summary>The tenant's limits (all null when none were set).</summary>
    public QuotaLimits LimitsOf(string tenant)
    {
        lock (_lock) return _accounts.TryGetValue(tenant, out var a) ? a.Limits : new QuotaLimits();
    }

    /// <summary>Wires the quotas into the kernel's managers.</summary>
    internal void Attach(CapabilityManager caps, Memory.MemoryManager memory, Processes.ProcessManager processes, Ipc.IpcManager ipc,
        Namespaces.NamespaceManager namespaces)
    {
        namespaces.MemoryQuota = ChargeMemoryBytes; // alias bindings
        memory.Quota = ChargeMemoryPages;
        caps.Quota = ChargeCapability;
        processes.TaskQuota = ChargeTask;
        ipc.DepthQuota = CheckDepth;
        ipc.MemoryQuota = ChargeMemoryBytes;
    }

    internal Result ChargeMemoryPages(Principal p, long pages) => ChargeMemoryBytes(p, checked(pages * Memory.PhysicalMemory.PageSize));

    /// <summary>Kernel memory a tenant holds: its regions and the IPC messages it has queued but not yet delivered.</summary>
    internal Result ChargeMemoryBytes(Principal p, long bytes) => Charge(p, a => ref a.MemoryBytes, bytes, a => a.Limits.MemoryBytes, "bytes of memory");

    internal Result ChargeCapability(Principal p, int delta) => Charge(p, delta, a => ref a.Capabilities, a => a.Limits.Capabilities, "capabilities");

    internal Result ChargeTask(Principal p, int delta) => Charge(p, delta, a => ref a.Tasks, a => a.Limits.Tasks, "tasks");

    internal Result CheckDepth(Principal p, int depth)
    {
        var tenant = TenantOf(p);
        if (tenant is null) return Result.Ok;
        lock (_lock)
        {
            var max = Get(tenant).Limits.IpcQueueDepth;
            return max is { } m && depth > m
                ? Result.Fail(ErrorCode.QuotaExceeded, $"{tenant} may use IPC queues of depth {m}, asked for {depth}")
                : Result.Ok;
        }
    }

    private delegate ref long LongField(Account a);
    private delegate ref int IntField(Account a);

    private Result Charge(Principal p, LongField field, long delta, Func<Account, long?> limit, string what)
    {
        var tenant = TenantOf(p);
        if (tenant is null) return Result.Ok; // the kernel and root-level principals are not tenants
        lock (_lock)
        {
            var a = Get(tenant);
            ref long used = ref field(a);
            if (delta > 0 && limit(a) is { } max && used + delta > max)
                return Result.Fail(ErrorCode.QuotaExceeded, $"{tenant} would use {used + delta} {what} (quota {max})");
            used = Math.Max(0, used + delta);
            return Result.Ok;
        }
    }

    private Result Charge(Principal p, int delta, IntField field, Func<Account, int?> limit, string what)
    {
        var tenant = TenantOf(p);
        if (tenant is null) return Result.Ok;
        lock (_lock)
        {
            var a = Get(tenant);
            ref int used = ref field(a);
            if (delta > 0 && limit(a) is { } max && used + delta > max)
                return Result.Fail(ErrorCode.QuotaExceeded, $"{tenant} would use {used + delta} {what} (quota {max})");
            used = Math.Max(0, used + delta);
            return Result.Ok;
        }
    }

    private Account Get(string tenant)
    {
        if (!_accounts.TryGetValue(tenant, out var a)) _accounts[tenant] = a = new Account();
        return a;
    }

    /// <summary>"/tenant-a/svc/db" → "/tenant-a"; principals at the root (the kernel) belong to no tenant.</summary>
    public static string? TenantOf(Principal p)
    {
        var ns = p.Namespace;
        if (string.IsNullOrEmpty(ns) || ns == "/" || ns[0] != '/') return null;
        int slash = ns.IndexOf('/', 1);
        return slash < 0 ? ns : ns[..slash];
    }
}
