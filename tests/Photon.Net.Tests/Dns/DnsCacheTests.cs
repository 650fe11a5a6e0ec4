using Photon.Net.Dns;

namespace Photon.Net.Tests.Dns;

/// <summary>The resolver's cache on a hand-driven clock: entries live as long as their TTL, never longer than the
/// cap however large the server's TTL, a TTL of 0 is not cached, and the capacity evicts the least recently used.</summary>
public sealed class DnsCacheTests
{
    private TimeSpan _now = TimeSpan.FromHours(1);
    private static readonly byte[][] One = [[10, 0, 0, 1]];

    private DnsCache Cache(int capacity = 8) => new(capacity, TimeSpan.FromDays(1), () => _now);

    [Fact]
    public void An_entry_lives_for_its_TTL_and_is_gone_after()
    {
        var c = Cache();
        c.PutPositive("www.example", DnsType.A, One, ["www.example"], TimeSpan.FromSeconds(60));
        _now += TimeSpan.FromSeconds(59);
        Assert.NotNull(c.Get("WWW.example.", DnsType.A));
        Assert.Null(c.Get("www.example", DnsType.Aaaa));
        _now += TimeSpan.FromSeconds(1);
        Assert.Null(c.Get("www.example", DnsType.A));
        Assert.Equal(0, c.Count);
    }

    [Fact]
    public void A_huge_TTL_is_clamped_to_the_cap_and_a_zero_TTL_is_not_cached()
    {
        var c = Cache();
        c.PutPositive("poison.example", DnsType.A, One, [], TimeSpan.FromSeconds(int.MaxValue));
        c.PutPositive("zero.example", DnsType.A, One, [], TimeSpan.Zero);
        Assert.Null(c.Get("zero.example", DnsType.A));
        _now += TimeSpan.FromDays(1) - TimeSpan.FromSeconds(1);
        Assert.NotNull(c.Get("poison.example", DnsType.A));
        _now += TimeSpan.FromSeconds(1);
        Assert.Null(c.Get("poison.example", DnsType.A));
    }

    [Fact]
    public void Negative_entries_keep_their_error_and_the_least_recently_used_entry_is_evicted_first()
    {
        var c = Cache(capacity: 2);
        c.PutNegative("missing.example", DnsType.A, ErrorCode.NotFound, "no such name", TimeSpan.FromSeconds(30));
        c.PutPositive("b.example", DnsType.A, One, [], TimeSpan.FromSeconds(30));
        Assert.Equal(ErrorCode.NotFound, c.Get("missing.example", DnsType.A)!.Negative); // now the most recently used
        c.PutPositive("c.example", DnsType.A, One, [], TimeSpan.FromSeconds(30));
        Assert.Equal(2, c.Count);
        Assert.Null(c.Get("b.example", DnsType.A));
        Assert.NotNull(c.Get("missing.example", DnsType.A));
        Assert.NotNull(c.Get("c.example", DnsType.A));
    }
}
