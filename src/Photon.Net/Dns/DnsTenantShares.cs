using Photon.Kernel.Capabilities;
using Photon.Kernel.Quotas;

namespace Photon.Net.Dns;

/// <summary>
/// The resolver's per-tenant bookkeeping (Photon's rule: what a tenant makes the kernel hold is bounded per tenant and
/// charged to it). Every caller's principal maps to its tenant's <see cref="DnsTenantShare"/>; principals outside any
/// tenant (the kernel, init at the root) share the kernel's partition, which is bounded but charged to no one. A lookup
/// sent to a server holds a slot — at most <see cref="ResolverOptions.MaxInFlightPerTenant"/> per tenant, charged
/// <see cref="QueryBytes"/> — and its answer goes into the tenant's own cache of at most
/// <see cref="ResolverOptions.CacheEntriesPerTenant"/> entries, each charged its <see cref="DnsCacheEntry.Bytes"/>.
/// When the tenant's memory quota cannot take a new entry or lookup, the tenant's own oldest entries make room; if it
/// still cannot, a lookup is refused (<see cref="ErrorCode.QuotaExceeded"/>) and an answer is returned but not cached. A partition that holds nothing is dropped, refunded to the byte.
/// </summary>
internal sealed class DnsTenantShares(ResolverOptions options, TenantQuotas? quotas, Func<TimeSpan> now)
{
    /// <summary>What one lookup in flight holds: a UDP socket with its bounded receive queue, the query and the task.</summary>
    public const long QueryBytes = 4096;

    private const string KernelPartition = "";
    private readonly Lock _lock = new();
    private readonly Dictionary<string, DnsTenantShare> _shares = new(StringComparer.Ordinal);
    private int _inFlight;

    /// <summary>Lookups in flight across every partition (the kernel-wide backstop is <see cref="ResolverOptions.MaxInFlight"/>).</summary>
    public int InFlight { get { lock (_lock) return _inFlight; } }

    public int CachedEntries { get { lock (_lock) return _shares.Values.Sum(s => s.Cache.Count); } }

    /// <summary>The tenant's usage ("/tenant-a"; "" for the kernel's partition); zeros when it holds nothing.</summary>
    public DnsTenantUsage UsageOf(string tenant)
    {
        lock (_lock) return _shares.TryGetValue(tenant, out var s) ? s.Usage : new DnsTenantUsage(tenant, 0, 0, 0);
    }

    /// <summary>The cached answer for the caller's tenant, if live.</summary>
    public DnsCacheEntry? Get(Principal caller, string host, DnsType type)
    {
        lock (_lock)
        {
            if (!_shares.TryGetValue(PartitionOf(caller), out var share)) return null;
            long before = share.Cache.Bytes;
            var hit = share.Cache.Get(host, type);
            Refund(share, before - share.Cache.Bytes); // an expired entry was dropped
            return hit;
        }
    }

    /// <summary>Takes a lookup slot for the caller's tenant: <see cref="ErrorCode.QuotaExceeded"/> at the tenant's cap or
    /// when its memory quota cannot take <see cref="QueryBytes"/>, <see cref="ErrorCode.Busy"/> at the kernel-wide cap.
    /// Each slot taken must be given back once with <see cref="Release"/>.</summary>
    public Result<DnsTenantShare> Acquire(Principal caller)
    {
        lock (_lock)
        {
            var share = ShareOf(caller);
            Result<DnsTenantShare> refused;
            if (_inFlight >= options.MaxInFlight)
                refused = Errors.Of(ErrorCode.Busy, $"{options.MaxInFlight} DNS lookups already in flight");
            else if (share.InFlight >= share.MaxInFlight)
                refused = Errors.Of(ErrorCode.QuotaExceeded, $"{Name(share)} already has {share.MaxInFlight} DNS lookups in flight");
            else if (ChargeMakingRoom(share, QueryBytes) is { IsOk: false } charge)
                refused = Errors.Of(ErrorCode.QuotaExceeded, $"DNS lookup refused: {charge.Error.Message}");
            else
            {
                share.InFlight++;
                _inFlight++;
                return share;
            }
            DropIfIdle(share);
            return refused;
        }
    }

    public void Release(DnsTenantShare share)
    {
        lock (_lock)
        {
            share.InFlight--;
            _inFlight--;
            Refund(share, QueryBytes);
            DropIfIdle(share);
        }
    }

    public void PutPositive(DnsTenantShare share, string host, DnsType type, IReadOnlyList<byte[]> addresses, IReadOnlyList<string> chain, TimeSpan ttl) =>
        Put(share, DnsCacheEntry.SizeOf(host, addresses, chain, null), c => c.PutPositive(host, type, addresses, chain, ttl));

    public void PutNegative(DnsTenantShare share, string host, DnsType type, ErrorCode code, string reason, TimeSpan ttl) =>
        Put(share, DnsCacheEntry.SizeOf(host, [], [], reason), c => c.PutNegative(host, type, code, reason, ttl));

    /// <summary>Charges the entry first (making room among the tenant's own entries if its quota is short), then stores
    /// it and refunds whatever the store evicted or replaced. The share is still held by an in-flight slot here.</summary>
    private void Put(DnsTenantShare share, long entryBytes, Action<DnsCache> put)
    {
        lock (_lock)
        {
            if (!ChargeMakingRoom(share, entryBytes).IsOk) return; // the quota cannot take even one entry: answer uncached
            long held = share.Cache.Bytes + entryBytes;
            put(share.Cache);
            Refund(share, held - share.Cache.Bytes); // evicted, replaced, or (TTL 0, capacity 0) not stored
        }
    }

    public void Clear()
    {
        lock (_lock)
        {
            foreach (var share in _shares.Values.ToArray())
            {
                Refund(share, share.Cache.Bytes);
                share.Cache.Clear();
                DropIfIdle(share);
            }
        }
    }

    private static string Name(DnsTenantShare share) => share.Tenant.Length == 0 ? "the kernel" : share.Tenant;

    private static string PartitionOf(Principal caller) => TenantQuotas.TenantOf(caller) ?? KernelPartition;

    private DnsTenantShare ShareOf(Principal caller)
    {
        var tenant = PartitionOf(caller);
        if (_shares.TryGetValue(tenant, out var share)) return share;
        bool kernel = tenant.Length == 0;
        var cache = new DnsCache(kernel ? options.CacheEntries : options.CacheEntriesPerTenant, options.MaxTtl, now);
        share = new DnsTenantShare(tenant, caller, cache, kernel ? options.MaxInFlight : options.MaxInFlightPerTenant);
        _shares[tenant] = share;
        return share;
    }

    private Result Charge(DnsTenantShare share, long bytes)
    {
        var r = quotas?.ChargeMemoryBytes(share.ChargeTo, bytes) ?? Result.Ok;
        if (r.IsOk) share.ChargedBytes += bytes;
        return r;
    }

    /// <summary>Charges <paramref name="bytes"/>, dropping the tenant's own oldest cache entries while its quota is
    /// short: a tenant's cache gives way to its lookups and newer answers, never to another tenant's.</summary>
    private Result ChargeMakingRoom(DnsTenantShare share, long bytes)
    {
        while (true)
        {
            var charged = Charge(share, bytes);
            if (charged.IsOk) return charged;
            long before = share.Cache.Bytes;
            if (!share.Cache.EvictOldest()) return charged;
            Refund(share, before - share.Cache.Bytes);
        }
    }

    private void Refund(DnsTenantShare share, long bytes)
    {
        if (bytes <= 0) return;
        quotas?.ChargeMemoryBytes(share.ChargeTo, -bytes);
        share.ChargedBytes -= bytes;
    }

    private void DropIfIdle(DnsTenantShare share)
    {
        if (share.Idle) _shares.Remove(share.Tenant);
    }
}
