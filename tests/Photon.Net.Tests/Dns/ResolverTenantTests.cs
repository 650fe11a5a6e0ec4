using Photon.Kernel.Capabilities;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Quotas;
using Photon.Net.Dns;
using Photon.Net.Sockets;
using Photon.Net.Syscalls;
using static Photon.Net.Tests.Dns.FakeDnsServer;

namespace Photon.Net.Tests.Dns;

/// <summary>
/// Issue #15, the resolver under a hostile tenant: tenant A floods unique names and slow queries through the syscall
/// layer; tenant B's lookups still resolve and its cached entries survive, A's use shows in its quota and is refused
/// with <see cref="ErrorCode.QuotaExceeded"/> at its caps, and a process killed mid-query gives its slots back.
/// </summary>
public sealed class ResolverTenantTests : IAsyncLifetime
{
    private readonly PhysicalMemory _phys = new(8 * 1024 * 1024);
    private readonly CapabilityManager _caps = new();
    private readonly NamespaceManager _ns;
    private readonly ProcessManager _pm;
    private readonly TenantQuotas _quotas = new();
    private readonly TwoStacks _net = new();
    private readonly FakeDnsServer _server;
    private readonly CapabilityToken _tenantA, _tenantB;
    private DnsResolver _resolver = null!;

    public ResolverTenantTests()
    {
        _ns = new NamespaceManager(_caps);
        _pm = new ProcessManager(_caps, _ns, new MemoryManager(_phys, _caps));
        SocketSyscalls.Register(_caps, new SocketService(_net.Left, _caps)).Unwrap();
        // Names starting "slow" are never answered: the attacker's way of holding lookups in flight.
        _server = new FakeDnsServer(_net.Right, 53, (s, q) => Question(q.Message).StartsWith("slow", StringComparison.Ordinal)
            ? Task.CompletedTask
            : s.Send(q, Response(q.Message, [A(Question(q.Message), "10.9.0.7")])));
        _tenantA = _ns.CreateChild(_ns.RootCapability, "tenant-a").Value;
        _tenantB = _ns.CreateChild(_ns.RootCapability, "tenant-b").Value;
    }

    private DnsResolver Resolver(ResolverOptions options) =>
        _resolver = DnsResolver.Create(_net.Left, [_server.Endpoint], options, _quotas).Value;

    /// <summary>A process in <paramref name="tenant"/> with a Read handle on the resolver capability <paramref name="resolverCap"/>.</summary>
    private (Process Process, CapabilityToken Control, Handle Dns) Spawn(CapabilityToken tenant, string name, CapabilityToken resolverCap)
    {
        _ns.Unbind(tenant, "dns");
        _ns.Bind(tenant, "dns", resolverCap, Rights.Read).Unwrap();
        var (p, control) = _pm.Spawn(name, tenant).Value;
        return (p, control, p.Open("dns", Rights.Read).Value);
    }

    private CapabilityToken Cap(ResolverOptions options) =>
        _caps.Create(new ResolverObject(Resolver(options)), Rights.Read | Rights.Delegate, Principal.Kernel).Value;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _net.DisposeAsync();
        _phys.Dispose();
    }

    private static async Task Until(Func<bool> condition, string what)
    {
        for (int i = 0; i < 1000 && !condition(); i++) await Task.Delay(10);
        Assert.True(condition(), what);
    }

    [Fact]
    public async Task A_tenants_flood_of_unique_names_evicts_only_its_own_entries_and_is_charged_to_it()
    {
        var cap = Cap(new ResolverOptions { CacheEntriesPerTenant = 8 });
        var (a, _, dnsA) = Spawn(_tenantA, "attacker", cap);
        var (b, _, dnsB) = Spawn(_tenantB, "victim", cap);
        for (int i = 0; i < 4; i++) Assert.True((await ResolverSyscalls.ResolveAsync(b, dnsB, $"b{i}.example")).IsOk);

        for (int i = 0; i < 100; i++)
        {
            var r = await ResolverSyscalls.ResolveAsync(a, dnsA, $"flood{i}.example");
            Assert.True(r.IsOk, r.ToString());
        }

        // B's entries are all still cached; A holds only its cap, and its use is in its own quota, nobody else's.
        for (int i = 0; i < 4; i++)
        {
            var again = await ResolverSyscalls.ResolveAsync(b, dnsB, $"b{i}.example");
            Assert.True(again.IsOk && again.Value.FromCache, $"b{i}: {again}");
        }
        var usageA = _resolver.UsageOf("/tenant-a");
        Assert.Equal(8, usageA.CachedEntries);
        Assert.True(usageA.ChargedBytes > 0);
        Assert.Equal(usageA.ChargedBytes, _quotas.Usage("/tenant-a").MemoryBytes);
        Assert.Equal(_resolver.UsageOf("/tenant-b").ChargedBytes, _quotas.Usage("/tenant-b").MemoryBytes);
        Assert.Equal(4, _resolver.UsageOf("/tenant-b").CachedEntries);
        // Partitions do not leak: A cannot see (or time) what B has cached.
        Assert.False((await ResolverSyscalls.ResolveAsync(a, dnsA, "b0.example")).Value.FromCache);

        // A flush refunds every byte.
        _resolver.FlushCache();
        Assert.Equal(0, _quotas.Usage("/tenant-a").MemoryBytes);
        Assert.Equal(0, _quotas.Usage("/tenant-b").MemoryBytes);
    }

    [Fact]
    public async Task A_tenants_slow_queries_take_only_its_own_slots_and_a_killed_process_gives_them_back()
    {
        var cap = Cap(new ResolverOptions { MaxInFlightPerTenant = 4, Attempts = 1, Timeout = TimeSpan.FromSeconds(30) });
        var (a, controlA, dnsA) = Spawn(_tenantA, "attacker", cap);
        var (b, _, dnsB) = Spawn(_tenantB, "victim", cap);

        var held = Enumerable.Range(0, 4).Select(i => ResolverSyscalls.ResolveAsync(a, dnsA, $"slow{i}.example")).ToList();
        await Until(() => _resolver.UsageOf("/tenant-a").InFlight == 4, "A's four slow lookups are in flight");

        var fifth = await ResolverSyscalls.ResolveAsync(a, dnsA, "slow-extra.example");
        Assert.Equal(ErrorCode.QuotaExceeded, fifth.Code);
        Assert.Equal(4 * DnsTenantShares.QueryBytes, _quotas.Usage("/tenant-a").MemoryBytes);
        // B is not starved: its own slots are free, its lookup goes to the server and back.
        var victim = await ResolverSyscalls.ResolveAsync(b, dnsB, "b.example");
        Assert.True(victim.IsOk && !victim.Value.FromCache, victim.ToString());

        // Killing A mid-query ends its lookups at once and refunds its slots; nothing waits for the 30 s timeout.
        Assert.True((await _pm.DestroyAsync(controlA)).IsOk);
        var ended = await Task.WhenAll(held);
        Assert.All(ended, r => Assert.Equal(ErrorCode.Cancelled, r.Code));
        Assert.Equal(0, _resolver.UsageOf("/tenant-a").InFlight);
        Assert.Equal(0, _quotas.Usage("/tenant-a").MemoryBytes);
        Assert.Equal(0, _resolver.InFlight);
    }

    [Fact]
    public async Task A_tenant_at_its_memory_quota_is_refused_lookups_typed_and_caches_only_what_its_quota_holds()
    {
        long limit = 2 * DnsTenantShares.QueryBytes + 1024;
        _quotas.SetLimits("/tenant-a", new QuotaLimits(MemoryBytes: limit)).Unwrap();
        var cap = Cap(new ResolverOptions { MaxInFlightPerTenant = 8, Attempts = 1, Timeout = TimeSpan.FromSeconds(30) });
        var (a, controlA, dnsA) = Spawn(_tenantA, "attacker", cap);

        // Answers still come back when the quota is short; the cache keeps only what fits, the tenant's oldest going first.
        for (int i = 0; i < 50; i++)
        {
            var r = await ResolverSyscalls.ResolveAsync(a, dnsA, $"name{i}.example");
            Assert.True(r.IsOk, r.ToString());
            Assert.True(_quotas.Usage("/tenant-a").MemoryBytes <= limit);
        }
        var cached = _resolver.UsageOf("/tenant-a").CachedEntries;
        Assert.InRange(cached, 1, 49);
        Assert.True((await ResolverSyscalls.ResolveAsync(a, dnsA, "name49.example")).Value.FromCache);

        // The cache gives way to lookups: two slow ones fit the quota once the cached entries are dropped; a third does not.
        var held = Enumerable.Range(0, 2).Select(i => ResolverSyscalls.ResolveAsync(a, dnsA, $"slow{i}.example")).ToList();
        await Until(() => _resolver.UsageOf("/tenant-a").InFlight == 2, "two lookups in flight");
        var third = await ResolverSyscalls.ResolveAsync(a, dnsA, "slow2.example");
        Assert.Equal(ErrorCode.QuotaExceeded, third.Code);
        Assert.True((await _pm.DestroyAsync(controlA)).IsOk);
        await Task.WhenAll(held);
        // What stays charged is the few entries left in A's cache, nothing for the ended lookups.
        var left = _resolver.UsageOf("/tenant-a");
        Assert.Equal(0, left.InFlight);
        Assert.Equal(left.ChargedBytes, _quotas.Usage("/tenant-a").MemoryBytes);
        Assert.True(left.ChargedBytes < DnsTenantShares.QueryBytes, $"{left.ChargedBytes} bytes still charged");
    }

    [Fact]
    public async Task A_revoked_resolver_handle_is_refused_and_sends_nothing()
    {
        var cap = Cap(new ResolverOptions());
        var (a, _, dnsA) = Spawn(_tenantA, "app", cap);
        _caps.RevokeDescendants(cap);

        var r = await ResolverSyscalls.ResolveAsync(a, dnsA, "web.example");

        Assert.True(r.Code is ErrorCode.Revoked or ErrorCode.StaleCapability, r.ToString());
        Assert.Empty(_server.Queries);
        Assert.Equal(0, _quotas.Usage("/tenant-a").MemoryBytes);
    }
}
