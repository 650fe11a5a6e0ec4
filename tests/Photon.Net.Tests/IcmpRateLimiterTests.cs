namespace Photon.Net.Tests;

/// <summary>The per-destination ICMP table stays bounded under a flood to fresh destinations, and frees idle entries.</summary>
public sealed class IcmpRateLimiterTests
{
    [Fact]
    public void A_flood_to_fresh_destinations_keeps_the_table_bounded_and_idle_entries_make_room_later()
    {
        var limiter = new IcmpRateLimiter(new NetworkStackOptions { IcmpErrorsPerSecond = 1_000_000, IcmpErrorBurst = 1_000_000 });
        var t0 = TimeSpan.FromSeconds(10);
        for (uint i = 0; i < IcmpRateLimiter.MaxDestinations; i++) Assert.True(limiter.TryTake(new Ipv4Address(0x0B000000 + i), t0));
        for (uint i = 0; i < 10_000; i++) Assert.False(limiter.TryTake(new Ipv4Address(0x0C000000 + i), t0)); // full, none idle
        Assert.Equal(IcmpRateLimiter.MaxDestinations, limiter.TrackedDestinations);
        // Once the buckets have refilled (burst 6 at one a second), the old entries are idle and give way.
        Assert.True(limiter.TryTake(new Ipv4Address(0x0D000001), t0 + TimeSpan.FromSeconds(7)));
        Assert.True(limiter.TrackedDestinations < IcmpRateLimiter.MaxDestinations);
    }
}
