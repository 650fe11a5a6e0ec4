using Photon.Kernel.Capabilities;
using Photon.Kernel.Quotas;
using Photon.Kernel.Scheduling;

namespace Photon.Net.Dns;

/// <summary>A finished lookup: the addresses (4 bytes for A, 16 for AAAA), the CNAME chain from the asked name, and
/// whether the cache answered.</summary>
public sealed record DnsLookup(string Host, DnsType Type, IReadOnlyList<byte[]> Addresses, IReadOnlyList<string> Chain, bool FromCache);

/// <summary>
/// The kernel's DNS stub resolver (RFC 1034 §5.3.1), over the stack's own UDP and TCP. A lookup is answered from the
/// <see cref="DnsCache"/> while its TTL lasts (negative answers too); otherwise it asks the servers in order, each for
/// <see cref="ResolverOptions.Timeout"/>, for <see cref="ResolverOptions.Attempts"/> rounds, and goes to the next server
/// on a timeout, a server failure (SERVFAIL, REFUSED) or a malformed answer; a truncated UDP answer (TC) is asked again
/// of the same server over TCP. "No such name" and "no such record" are answers, cached and returned as
/// <see cref="ErrorCode.NotFound"/> without asking further servers. Anti-spoofing lives in <see cref="DnsExchange"/>.
/// Processes reach it only through a <see cref="ResolverObject"/> capability (<c>/net/dns</c>). Every lookup is made for a
/// principal — the calling process's, taken by the syscall layer — and its cache and in-flight slots are that principal's
/// tenant's (<see cref="DnsTenantShares"/>): capped per tenant and charged to the tenant's memory quota.
/// </summary>
public sealed class DnsResolver
{
    private readonly NetworkStack _stack;
    private readonly IKernelTimers _timers;
    private readonly DnsExchange _exchange;
    private readonly DnsTenantShares _shares;
    private readonly DnsExchangeStats _stats = new();
    private readonly object _lock = new();
    private IReadOnlyList<IpEndpoint> _servers;
    private long _queries, _cacheHits, _tcpFallbacks;

    private DnsResolver(NetworkStack stack, ResolverOptions options, IReadOnlyList<IpEndpoint> servers, TenantQuotas? quotas)
    {
        _stack = stack;
        _timers = stack.Timers;
        Options = options;
        _servers = servers;
        _exchange = new DnsExchange(stack, _timers);
        _shares = new DnsTenantShares(options, quotas, () => _timers.Now);
    }

    /// <summary>A resolver over <paramref name="servers"/>; with <paramref name="quotas"/> (the kernel's) each tenant's
    /// lookups and cache entries are charged to its memory quota.</summary>
    public static Result<DnsResolver> Create(NetworkStack stack, IReadOnlyList<IpEndpoint> servers, ResolverOptions? options = null, TenantQuotas? quotas = null)
    {
        options ??= new ResolverOptions();
        var valid = options.Validate();
        if (!valid.IsOk) return valid.Error;
        var s = CheckServers(servers);
        if (!s.IsOk) return s.Error;
        return new DnsResolver(stack, options, servers.ToArray(), quotas);
    }

    public ResolverOptions Options { get; }
    public IReadOnlyList<IpEndpoint> Servers { get { lock (_lock) return _servers; } }

    /// <summary>Queries sent (each UDP or TCP attempt), lookups the cache answered, TC answers asked again over TCP,
    /// and datagrams ignored as not the answer (wrong address, port or ID, or malformed).</summary>
    public long Queries => Interlocked.Read(ref _queries);
    public long CacheHits => Interlocked.Read(ref _cacheHits);
    public long TcpFallbacks => Interlocked.Read(ref _tcpFallbacks);
    public long Ignored => Interlocked.Read(ref _stats.Ignored);
    public int CachedEntries => _shares.CachedEntries;

    /// <summary>Lookups waiting on a server now, across every tenant.</summary>
    public int InFlight => _shares.InFlight;

    /// <summary>What <paramref name="tenant"/> ("/tenant-a"; "" for the kernel's own partition) holds in the resolver.</summary>
    public DnsTenantUsage UsageOf(string tenant) => _shares.UsageOf(tenant);

    /// <summary>Replaces the server list (a DHCP lease or an administrator); the cache is kept.</summary>
    public Result SetServers(IReadOnlyList<IpEndpoint> servers)
    {
        var s = CheckServers(servers);
        if (!s.IsOk) return s;
        lock (_lock) _servers = servers.ToArray();
        return Result.Ok;
    }

    public void FlushCache() => _shares.Clear();

    private static Result CheckServers(IReadOnlyList<IpEndpoint> servers)
    {
        if (servers.Count > ResolverOptions.MaxServers) return Result.Fail(ErrorCode.InvalidArgument, $"at most {ResolverOptions.MaxServers} DNS servers");
        if (servers.Any(s => s.Port == 0 || s.Address == Ipv4Address.Any || s.Address == Ipv4Address.Broadcast))
            return Result.Fail(ErrorCode.InvalidArgument, "a DNS server needs a unicast address and a port");
        return Result.Ok;
    }

    /// <summary>The IPv4 addresses of <paramref name="host"/> (an address literal is its own answer), for the kernel.</summary>
    public Task<Result<IReadOnlyList<Ipv4Address>>> ResolveIpv4Async(string host, CancellationToken ct = default) =>
        ResolveIpv4Async(Principal.Kernel, host, ct);

    /// <summary>A lookup for the kernel itself (its own partition of the cache and slots).</summary>
    public Task<Result<DnsLookup>> ResolveAsync(string host, DnsType type, CancellationToken ct = default) =>
        ResolveAsync(Principal.Kernel, host, type, ct);

    /// <summary>The IPv4 addresses of <paramref name="host"/> for <paramref name="requester"/> (the syscall layer passes
    /// the calling process's principal; it is never a process's argument).</summary>
    internal async Task<Result<IReadOnlyList<Ipv4Address>>> ResolveIpv4Async(Principal requester, string host, CancellationToken ct)
    {
        if (Ipv4Address.Parse(host) is { IsOk: true } literal) return new[] { literal.Value };
        var r = await ResolveAsync(requester, host, DnsType.A, ct).ConfigureAwait(false);
        if (!r.IsOk) return r.Error;
        return r.Value.Addresses.Select(a => new Ipv4Address((uint)(a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3]))).ToArray();
    }

    /// <summary>The addresses to try for <paramref name="host"/>, IPv6 first (RFC 6724 prefers it) then IPv4. AAAA is
    /// asked only while the stack has a global IPv6 address to connect from (getaddrinfo's AI_ADDRCONFIG), so an
    /// IPv4-only host costs one query as before; a failed AAAA lookup falls back to A.</summary>
    internal async Task<Result<IReadOnlyList<IpAddress>>> ResolveAddressesAsync(Principal requester, string host, CancellationToken ct)
    {
        if (IpAddress.Parse(host) is { IsOk: true } literal) return new[] { literal.Value };
        var found = new List<IpAddress>();
        if (_stack.HasGlobalIpv6Address)
        {
            var v6 = await ResolveAsync(requester, host, DnsType.Aaaa, ct).ConfigureAwait(false);
            if (v6.IsOk) found.AddRange(v6.Value.Addresses.Where(a => a.Length == Ipv6Address.Length).Select(a => (IpAddress)Ipv6Address.Read(a)));
        }
        var v4 = await ResolveIpv4Async(requester, host, ct).ConfigureAwait(false);
        if (v4.IsOk) found.AddRange(v4.Value.Select(a => (IpAddress)a));
        else if (found.Count == 0) return v4.Error;
        return found;
    }

    /// <summary>Looks <paramref name="host"/> up for <paramref name="requester"/>: from its tenant's cache, or from the
    /// servers holding one of its tenant's slots (<see cref="ErrorCode.QuotaExceeded"/> when the tenant has none left).</summary>
    internal async Task<Result<DnsLookup>> ResolveAsync(Principal requester, string host, DnsType type, CancellationToken ct)
    {
        if (type is not (DnsType.A or DnsType.Aaaa)) return Errors.Of(ErrorCode.NotSupported, $"lookups of type {type}");
        var name = DnsName.Write(host, new List<byte>(64)); // reject a bad name before touching the cache or the wire
        if (!name.IsOk) return name.Error;
        if (_shares.Get(requester, host, type) is { } hit)
        {
            Interlocked.Increment(ref _cacheHits);
            if (hit.Negative != ErrorCode.None) return Errors.Of(hit.Negative, hit.NegativeReason ?? host);
            return new DnsLookup(host, type, hit.Addresses, hit.Chain, FromCache: true);
        }
        var servers = Servers;
        if (servers.Count == 0) return Errors.Of(ErrorCode.Unreachable, "no DNS servers are configured");
        var slot = _shares.Acquire(requester);
        if (!slot.IsOk) return slot.Error;
        try { return await AskServersAsync(slot.Value, host, type, servers, ct).ConfigureAwait(false); }
        finally { _shares.Release(slot.Value); }
    }

    private async Task<Result<DnsLookup>> AskServersAsync(DnsTenantShare share, string host, DnsType type, IReadOnlyList<IpEndpoint> servers, CancellationToken ct)
    {
        KernelError last = Errors.Of(ErrorCode.TimedOut, $"{host}: no DNS server answered");
        for (int round = 0; round < Options.Attempts; round++)
        {
            foreach (var server in servers)
            {
                Interlocked.Increment(ref _queries);
                var answer = await _exchange.OverUdpAsync(server, host, type, Options.Timeout, _stats, ct).ConfigureAwait(false);
                if (answer.IsOk && answer.Value.Truncated)
                {
                    Interlocked.Increment(ref _tcpFallbacks);
                    Interlocked.Increment(ref _queries);
                    answer = await _exchange.OverTcpAsync(server, host, type, Options.Timeout, ct).ConfigureAwait(false);
                }
                if (answer.IsOk) return Accept(share, host, type, answer.Value);
                if (answer.Code == ErrorCode.NotFound) return Refuse(share, host, type, answer.Error);
                if (answer.Code == ErrorCode.Cancelled || ct.IsCancellationRequested) return answer.Error;
                last = Errors.Of(answer.Code, $"{host}: {server}: {answer.Error.Message}");
            }
        }
        return last;
    }

    private Result<DnsLookup> Accept(DnsTenantShare share, string host, DnsType type, DnsAnswer answer)
    {
        if (answer.Addresses.Count == 0)
            return Refuse(share, host, type, Errors.Of(ErrorCode.NotFound, $"{host}: no {type} record"));
        var addresses = answer.Addresses.Take(Options.MaxAddresses).ToArray();
        _shares.PutPositive(share, host, type, addresses, answer.Chain, TimeSpan.FromSeconds(answer.Ttl));
        return new DnsLookup(host, type, addresses, answer.Chain, FromCache: false);
    }

    private Result<DnsLookup> Refuse(DnsTenantShare share, string host, DnsType type, KernelError error)
    {
        _shares.PutNegative(share, host, type, error.Code, error.Message, Options.NegativeTtl);
        return error;
    }
}
