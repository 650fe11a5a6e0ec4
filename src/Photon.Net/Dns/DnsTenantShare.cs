using Photon.Kernel.Capabilities;

namespace Photon.Net.Dns;

/// <summary>What one tenant holds in the resolver now: lookups in flight, cached entries, and the bytes charged to its
/// memory quota for both.</summary>
public sealed record DnsTenantUsage(string Tenant, int InFlight, int CachedEntries, long ChargedBytes);

/// <summary>
/// One tenant's partition of the resolver: its own LRU cache and its own count of lookups in flight, both capped, and
/// the bytes charged for them to the tenant's memory quota. A tenant's lookups read and fill only its own cache, so a
/// flood of names evicts only the flooder's entries, and no tenant can learn from the cache what another looked up.
/// Guarded by the <see cref="DnsTenantShares"/> lock.
/// </summary>
internal sealed class DnsTenantShare(string tenant, Principal chargeTo, DnsCache cache, int maxInFlight)
{
    public string Tenant { get; } = tenant;

    /// <summary>Any principal of the tenant: the quota charges by tenant, so refunds may name any of them.</summary>
    public Principal ChargeTo { get; } = chargeTo;

    public DnsCache Cache { get; } = cache;
    public int MaxInFlight { get; } = maxInFlight;
    public int InFlight { get; set; }

    /// <summary>Bytes charged for in-flight lookups and cached entries together.</summary>
    public long ChargedBytes { get; set; }

    public bool Idle => InFlight == 0 && Cache.Count == 0;

    public DnsTenantUsage Usage => new(Tenant, InFlight, Cache.Count, ChargedBytes);
}
