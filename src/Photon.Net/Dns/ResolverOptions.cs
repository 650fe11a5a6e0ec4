namespace Photon.Net.Dns;

/// <summary>
/// How the stub resolver asks: the servers in order (like resolv.conf's <c>nameserver</c> lines, at most
/// <see cref="MaxServers"/>), how long to wait for one answer, how many rounds over the servers, and the cache's bounds.
/// The defaults follow glibc's (5 s was its timeout; 2 s rounds here), with a cache small enough to be charged to the kernel.
/// </summary>
public sealed record ResolverOptions
{
    public const int MaxServers = 3;

    /// <summary>Longest wait for an answer to one query sent to one server (UDP), or for a whole TCP exchange.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Rounds over the server list before giving up with <c>TimedOut</c>.</summary>
    public int Attempts { get; init; } = 2;

    /// <summary>Names (and types) the kernel's own partition of the cache holds (lookups by the kernel and by
    /// principals outside any tenant); the least recently used goes first.</summary>
    public int CacheEntries { get; init; } = 512;

    /// <summary>Names (and types) one tenant's partition holds: a tenant's lookups fill only its own partition, so its
    /// flood evicts only its own entries. Each entry is also charged to the tenant's memory quota.</summary>
    public int CacheEntriesPerTenant { get; init; } = 128;

    /// <summary>Addresses kept per cached answer (an answer may carry thousands over TCP).</summary>
    public int MaxAddresses { get; init; } = 16;

    /// <summary>Longest a positive answer is cached, whatever TTL the server gave (RFC 8767 suggests a week at most; a
    /// day here, so a poisoned entry cannot live long).</summary>
    public TimeSpan MaxTtl { get; init; } = TimeSpan.FromDays(1);

    /// <summary>How long "no such name" and "no such record" answers are cached (RFC 2308 would take it from the SOA's
    /// minimum in the authority section, which is not parsed; a short fixed time instead).</summary>
    public TimeSpan NegativeTtl { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Queries in flight at once, across every caller: a kernel-wide backstop on sockets and ephemeral ports
    /// (sixteen tenants at their own cap together reach it); beyond it a lookup fails with <c>Busy</c>.</summary>
    public int MaxInFlight { get; init; } = 256;

    /// <summary>Queries one tenant may have in flight at once; beyond it its lookups fail with <c>QuotaExceeded</c>,
    /// whatever other tenants do. Each is also charged to the tenant's memory quota.</summary>
    public int MaxInFlightPerTenant { get; init; } = 16;

    public Result Validate()
    {
        if (Timeout <= TimeSpan.Zero || Timeout > TimeSpan.FromSeconds(30)) return Result.Fail(ErrorCode.InvalidArgument, "DNS timeout must be in (0, 30 s]");
        if (Attempts is < 1 or > 5) return Result.Fail(ErrorCode.InvalidArgument, "DNS attempts must be 1..5");
        if (CacheEntries is < 0 or > 65536) return Result.Fail(ErrorCode.InvalidArgument, "DNS cache entries must be 0..65536");
        if (MaxAddresses is < 1 or > 256) return Result.Fail(ErrorCode.InvalidArgument, "DNS addresses per answer must be 1..256");
        if (MaxInFlight is < 1 or > 4096) return Result.Fail(ErrorCode.InvalidArgument, "DNS queries in flight must be 1..4096");
        if (CacheEntriesPerTenant is < 0 or > 65536) return Result.Fail(ErrorCode.InvalidArgument, "DNS cache entries per tenant must be 0..65536");
        if (MaxInFlightPerTenant is < 1 or > 4096) return Result.Fail(ErrorCode.InvalidArgument, "DNS queries in flight per tenant must be 1..4096");
        return Result.Ok;
    }
}
