using Photon.Net.Dns;
using static Photon.Net.Tests.Dns.FakeDnsServer;
using static Photon.Net.Tests.TwoStacks;

namespace Photon.Net.Tests.Dns;

/// <summary>
/// Issue #15, the stub resolver against a scripted server on the in-memory wire (left stack resolves, right stack
/// serves): caching, retries over servers, TCP fallback, and a hostile server or spoofer — answers from the wrong port
/// or with the wrong ID, truncation, CNAME loops, floods of names and of datagrams — which must never yield a wrong
/// address, a hang, an exception or unbounded memory.
/// </summary>
public sealed class DnsResolverTests : IAsyncLifetime
{
    private readonly TwoStacks _net = new();
    private readonly List<IAsyncDisposable> _servers = new();
    // Long enough that a loaded machine (the first query also waits for ARP) never sees a spurious retry, which the
    // tests that count queries would take for a bug; tests of timeouts set their own short ones.
    private static readonly ResolverOptions Fast = new() { Timeout = TimeSpan.FromSeconds(2), Attempts = 2 };

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var s in _servers) await s.DisposeAsync();
        await _net.DisposeAsync();
    }

    private FakeDnsServer Serve(ushort port, Func<FakeDnsServer, ReceivedQuery, Task>? answer)
    {
        var s = new FakeDnsServer(_net.Right, port, answer);
        _servers.Add(s);
        return s;
    }

    private DnsResolver Resolver(ResolverOptions? options, params FakeDnsServer[] servers) =>
        DnsResolver.Create(_net.Left, servers.Select(s => s.Endpoint).ToList(), options ?? Fast).Value;

    private static string Text(byte[] address) => new Ipv4Address((uint)(address[0] << 24 | address[1] << 16 | address[2] << 8 | address[3])).ToString();

    [Fact]
    public async Task A_name_is_resolved_through_the_server_then_answered_from_the_cache_without_a_second_query()
    {
        var server = Serve(53, (s, q) => s.Send(q, Response(q.Message, [A(Question(q.Message), "10.1.2.3")])));
        var resolver = Resolver(null, server);

        var first = await resolver.ResolveAsync("www.example.org", DnsType.A);
        Assert.True(first.IsOk, first.ToString());
        Assert.Equal("10.1.2.3", Text(first.Value.Addresses.Single()));
        Assert.False(first.Value.FromCache);

        var again = await resolver.ResolveAsync("WWW.Example.org.", DnsType.A);
        Assert.True(again.IsOk && again.Value.FromCache, again.ToString());
        Assert.Single(server.Queries);
    }

    [Fact]
    public async Task Answers_from_another_port_or_with_another_ID_are_ignored_and_the_real_answer_is_taken()
    {
        var spoofer = Serve(5353, null);
        var server = Serve(53, async (s, q) =>
        {
            var name = Question(q.Message);
            // Right ID from the wrong port, then the right port with a wrong ID, then the real answer.
            await spoofer.Send(q, Response(q.Message, [A(name, "6.6.6.6")]));
            await s.Send(q, Response(q.Message, [A(name, "6.6.6.7")], id: (ushort)(q.Id ^ 1)));
            await s.Send(q, Response(q.Message, [A(name, "10.1.2.3")]));
        });
        var resolver = Resolver(null, server);

        var r = await resolver.ResolveAsync("bank.example", DnsType.A);

        Assert.True(r.IsOk, r.ToString());
        Assert.Equal(["10.1.2.3"], r.Value.Addresses.Select(Text));
        Assert.True(resolver.Ignored >= 2, $"ignored {resolver.Ignored}");
    }

    [Fact]
    public async Task A_spoof_with_the_right_ID_but_a_malformed_or_foreign_answer_does_not_end_the_query()
    {
        var server = Serve(53, async (s, q) =>
        {
            await s.Send(q, [.. Response(q.Message, [])[..14]]); // right ID, cut short
            // right ID, but the answer to another question
            await s.Send(q, Response(DnsMessage.Query(q.Id, "other.example", DnsType.A).Value, [A("other.example", "6.6.6.6")]));
            await s.Send(q, Response(q.Message, [A(Question(q.Message), "10.1.2.3")]));
        });
        var resolver = Resolver(null, server);

        var r = await resolver.ResolveAsync("bank.example", DnsType.A);

        Assert.True(r.IsOk, r.ToString());
        Assert.Equal(["10.1.2.3"], r.Value.Addresses.Select(Text));
    }

    [Fact]
    public async Task Query_IDs_and_source_ports_are_random_per_query()
    {
        var server = Serve(53, (s, q) => s.Send(q, Response(q.Message, [A(Question(q.Message), "10.1.2.3", ttl: 0)])));
        var resolver = Resolver(null, server);
        for (int i = 0; i < 40; i++) Assert.True((await resolver.ResolveAsync($"n{i}.example", DnsType.A)).IsOk);

        var queries = server.Queries.ToArray();
        Assert.Equal(40, queries.Length);
        // 40 draws from 65,536 IDs and 16,384 ports: a handful of repeats at most unless they are predictable.
        Assert.True(queries.Select(q => q.Id).Distinct().Count() >= 36, "query IDs repeat");
        Assert.True(queries.Select(q => q.From.Port).Distinct().Count() >= 36, "source ports repeat");
        var steps = queries.Zip(queries.Skip(1), (a, b) => (b.From.Port - a.From.Port + 65536) % 65536).Distinct().Count();
        Assert.True(steps > 30, "source ports advance by a constant step");
    }

    [Fact]
    public async Task A_truncated_UDP_answer_is_asked_again_over_TCP_and_its_addresses_are_capped()
    {
        var server = Serve(53, (s, q) => s.Send(q, Response(q.Message, [], flags: 0x8380))); // TC set, nothing inside
        var listener = _net.Right.Tcp.Listen(53, 8).Value;
        var tcp = Task.Run(async () =>
        {
            var c = (await listener.AcceptAsync()).Value;
            var buffer = new byte[512];
            int got = 0;
            while (got < 2 || got < 2 + (buffer[0] << 8 | buffer[1])) got += (await c.ReceiveAsync(buffer.AsMemory(got))).Value;
            var query = buffer[2..got];
            var name = Question(query);
            var answer = Response(query, Enumerable.Range(1, 40).Select(i => A(name, $"10.2.0.{i}")).ToList());
            await c.SendAsync((byte[])[(byte)(answer.Length >> 8), (byte)answer.Length, .. answer]);
            await c.CloseAsync();
        });
        var resolver = Resolver(null, server);

        var r = await resolver.ResolveAsync("big.example", DnsType.A);

        Assert.True(r.IsOk, r.ToString());
        Assert.Equal(1, resolver.TcpFallbacks);
        Assert.Equal(resolver.Options.MaxAddresses, r.Value.Addresses.Count);
        Assert.Equal("10.2.0.1", Text(r.Value.Addresses[0]));
        await tcp;
        await listener.DisposeAsync();
    }

    [Fact]
    public async Task A_silent_server_times_out_and_the_next_server_answers()
    {
        var silent = Serve(5300, null);
        var server = Serve(53, (s, q) => s.Send(q, Response(q.Message, [A(Question(q.Message), "10.1.2.3")])));
        var resolver = Resolver(null, silent, server);

        var r = await resolver.ResolveAsync("www.example.org", DnsType.A);

        Assert.True(r.IsOk, r.ToString());
        Assert.Single(silent.Queries);
        Assert.Single(server.Queries);
    }

    [Fact]
    public async Task When_no_server_answers_every_server_is_asked_each_round_and_the_lookup_times_out()
    {
        var a = Serve(5300, null);
        var b = Serve(5301, null);
        var resolver = Resolver(Fast with { Attempts = 2, Timeout = TimeSpan.FromMilliseconds(100) }, a, b);

        var r = await resolver.ResolveAsync("www.example.org", DnsType.A);

        Assert.Equal(ErrorCode.TimedOut, r.Code);
        Assert.Equal(2, a.Queries.Count);
        Assert.Equal(2, b.Queries.Count);
    }

    [Fact]
    public async Task A_server_failure_moves_on_to_the_next_server()
    {
        var failing = Serve(5300, (s, q) => s.Send(q, Response(q.Message, [], flags: 0x8182))); // SERVFAIL
        var server = Serve(53, (s, q) => s.Send(q, Response(q.Message, [A(Question(q.Message), "10.1.2.3")])));
        var resolver = Resolver(null, failing, server);

        var r = await resolver.ResolveAsync("www.example.org", DnsType.A);

        Assert.True(r.IsOk, r.ToString());
        Assert.Single(failing.Queries);
    }

    [Fact]
    public async Task No_such_name_is_NotFound_without_asking_other_servers_and_is_cached()
    {
        var server = Serve(53, (s, q) => s.Send(q, Response(q.Message, [], flags: 0x8183))); // NXDOMAIN
        var other = Serve(5300, (s, q) => s.Send(q, Response(q.Message, [A(Question(q.Message), "6.6.6.6")])));
        var resolver = Resolver(null, server, other);

        Assert.Equal(ErrorCode.NotFound, (await resolver.ResolveAsync("nothing.example", DnsType.A)).Code);
        Assert.Equal(ErrorCode.NotFound, (await resolver.ResolveAsync("nothing.example", DnsType.A)).Code);
        Assert.Single(server.Queries);
        Assert.Empty(other.Queries);
        Assert.Equal(1, resolver.CacheHits);
    }

    [Fact]
    public async Task A_name_with_no_record_of_the_type_is_NotFound_and_cached()
    {
        var server = Serve(53, (s, q) => s.Send(q, Response(q.Message, [])));
        var resolver = Resolver(null, server);

        Assert.Equal(ErrorCode.NotFound, (await resolver.ResolveAsync("empty.example", DnsType.A)).Code);
        Assert.Equal(ErrorCode.NotFound, (await resolver.ResolveAsync("empty.example", DnsType.A)).Code);
        Assert.Single(server.Queries);
    }

    [Fact]
    public async Task A_CNAME_chain_is_followed_and_a_CNAME_loop_is_Corrupted_not_a_hang()
    {
        var server = Serve(53, (s, q) =>
        {
            var name = Question(q.Message);
            return s.Send(q, name.StartsWith("loop")
                ? Response(q.Message, [Cname(name, "b.example"), Cname("b.example", name)])
                : Response(q.Message, [Cname(name, "cdn.example"), A("cdn.example", "10.1.2.3"), A("evil.example", "6.6.6.6")]));
        });
        var resolver = Resolver(Fast with { Attempts = 1 }, server);

        var chained = await resolver.ResolveAsync("www.example", DnsType.A);
        Assert.True(chained.IsOk, chained.ToString());
        Assert.Equal(["www.example", "cdn.example"], chained.Value.Chain);
        Assert.Equal(["10.1.2.3"], chained.Value.Addresses.Select(Text));

        var loop = await resolver.ResolveAsync("loop.example", DnsType.A);
        Assert.Equal(ErrorCode.Corrupted, loop.Code);
    }

    [Fact]
    public async Task A_flood_of_distinct_names_with_huge_TTLs_and_many_addresses_keeps_the_cache_within_its_bounds()
    {
        var server = Serve(53, (s, q) =>
        {
            var name = Question(q.Message);
            return s.Send(q, Response(q.Message, Enumerable.Range(1, 25).Select(i => A(name, $"10.3.0.{i}", ttl: 0x7FFFFFFF)).ToList()));
        });
        var resolver = Resolver(Fast with { CacheEntries = 32 }, server);

        for (int i = 0; i < 300; i++)
        {
            var r = await resolver.ResolveAsync($"flood{i}.example", DnsType.A);
            Assert.True(r.IsOk, r.ToString());
            Assert.True(r.Value.Addresses.Count <= resolver.Options.MaxAddresses);
        }

        Assert.Equal(32, resolver.CachedEntries);
        Assert.True((await resolver.ResolveAsync("flood299.example", DnsType.A)).Value.FromCache);
        Assert.False((await resolver.ResolveAsync("flood0.example", DnsType.A)).Value.FromCache); // evicted long ago
    }

    [Fact]
    public async Task A_burst_of_junk_datagrams_at_the_query_port_does_not_stop_the_real_answer()
    {
        var server = Serve(53, async (s, q) =>
        {
            for (int i = 0; i < 100; i++) await s.Send(q, [(byte)i, 0xFF, 0x81, 0x80]);
            for (int i = 0; i < 100; i++) await s.Send(q, Response(q.Message, [A(Question(q.Message), "6.6.6.6")], id: (ushort)(q.Id + 1 + i)));
            await s.Send(q, Response(q.Message, [A(Question(q.Message), "10.1.2.3")]));
        });
        var resolver = Resolver(Fast with { Timeout = TimeSpan.FromSeconds(2) }, server);

        var r = await resolver.ResolveAsync("www.example.org", DnsType.A);

        Assert.True(r.IsOk, r.ToString());
        Assert.Equal(["10.1.2.3"], r.Value.Addresses.Select(Text));
        Assert.Equal(200, resolver.Ignored);
    }

    [Fact]
    public async Task Bad_names_bad_types_bad_server_lists_and_no_servers_are_typed_errors()
    {
        var resolver = DnsResolver.Create(_net.Left, []).Value;
        Assert.Equal(ErrorCode.InvalidName, (await resolver.ResolveAsync("bad name", DnsType.A)).Code);
        Assert.Equal(ErrorCode.InvalidName, (await resolver.ResolveAsync(new string('a', 300), DnsType.A)).Code);
        Assert.Equal(ErrorCode.NotSupported, (await resolver.ResolveAsync("x.example", DnsType.Cname)).Code);
        Assert.Equal(ErrorCode.Unreachable, (await resolver.ResolveAsync("x.example", DnsType.A)).Code);
        var ip = await resolver.ResolveIpv4Async("10.9.0.2");
        Assert.True(ip.IsOk && ip.Value.Single() == Ip("10.9.0.2"), "an address literal needs no server");
        var four = Enumerable.Range(1, 4).Select(i => new IpEndpoint(Ip($"10.9.0.{i}"), 53)).ToList();
        Assert.Equal(ErrorCode.InvalidArgument, resolver.SetServers(four).Code);
        Assert.Equal(ErrorCode.InvalidArgument, resolver.SetServers([new IpEndpoint(Ip("10.9.0.2"), 0)]).Code);
        Assert.Equal(ErrorCode.InvalidArgument, DnsResolver.Create(_net.Left, [], new ResolverOptions { Attempts = 0 }).Code);
    }

    [Fact]
    public async Task Lookups_beyond_the_in_flight_limit_are_Busy_rather_than_taking_more_sockets()
    {
        var silent = Serve(5300, null);
        var resolver = Resolver(Fast with { MaxInFlight = 4, Attempts = 1, Timeout = TimeSpan.FromSeconds(1) }, silent);

        var pending = Enumerable.Range(0, 4).Select(i => resolver.ResolveAsync($"p{i}.example", DnsType.A)).ToList();
        var extra = await resolver.ResolveAsync("one-too-many.example", DnsType.A);

        Assert.Equal(ErrorCode.Busy, extra.Code);
        Assert.All(await Task.WhenAll(pending), r => Assert.Equal(ErrorCode.TimedOut, r.Code));
    }
}
