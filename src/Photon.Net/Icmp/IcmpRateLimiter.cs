namespace Photon.Net;

/// <summary>
/// Token buckets for ICMP errors, as Linux keeps them: one for the whole stack (<c>icmp_msgs_per_sec</c> 1000, burst 50)
/// and one per destination (<c>icmp_ratelimit</c>: one per second after a burst of 6), so a port scan or a spoofed flood
/// cannot turn the stack into an ICMP amplifier or a scan oracle. The per-destination table is bounded: when full, idle
/// entries (bucket refilled) are dropped, and if none is idle the error is not sent. Guarded by the stack's lock.
/// </summary>
internal class IcmpRateLimiter<TDestination>(NetworkStackOptions options) where TDestination : notnull
{
    private struct Bucket
    {
        public double Tokens;
        public TimeSpan Last;
    }

    internal const int MaxDestinations = 4096;

    private Bucket _global = new() { Tokens = options.IcmpErrorBurst, Last = TimeSpan.Zero };
    private readonly Dictionary<TDestination, Bucket> _perDestination = new();
    // A full table with nothing idle stays so for at least one refill interval: do not rescan it for every packet of a
    // flood to fresh (spoofed) destinations.
    private TimeSpan _noIdleUntil = TimeSpan.MinValue;

    public int TrackedDestinations => _perDestination.Count;

    /// <summary>Takes a token from both buckets, or neither; false means the error must not be sent.</summary>
    public bool TryTake(TDestination to, TimeSpan now)
    {
        double perSecond = 1 / Math.Max(options.IcmpErrorDestinationInterval.TotalSeconds, 1e-6);
        Refill(ref _global, now, options.IcmpErrorsPerSecond, options.IcmpErrorBurst);
        if (_global.Tokens < 1) return false;
        if (!_perDestination.TryGetValue(to, out var bucket))
        {
            if (_perDestination.Count >= MaxDestinations && !DropIdle(now, perSecond)) return false;
            bucket = new Bucket { Tokens = options.IcmpErrorDestinationBurst, Last = now };
        }
        Refill(ref bucket, now, perSecond, options.IcmpErrorDestinationBurst);
        if (bucket.Tokens < 1) { _perDestination[to] = bucket; return false; }
        bucket.Tokens--;
        _global.Tokens--;
        _perDestination[to] = bucket;
        return true;
    }

    private static void Refill(ref Bucket b, TimeSpan now, double perSecond, int burst)
    {
        var elapsed = now - b.Last;
        if (elapsed <= TimeSpan.Zero) return;
        b.Tokens = Math.Min(burst, b.Tokens + elapsed.TotalSeconds * perSecond);
        b.Last = now;
    }

    private bool DropIdle(TimeSpan now, double perSecond)
    {
        if (now < _noIdleUntil) return false;
        int burst = options.IcmpErrorDestinationBurst;
        var idle = _perDestination.Where(kv => kv.Value.Tokens + (now - kv.Value.Last).TotalSeconds * perSecond >= burst)
            .Select(kv => kv.Key).ToList();
        foreach (var k in idle) _perDestination.Remove(k);
        if (idle.Count == 0) _noIdleUntil = now + options.IcmpErrorDestinationInterval;
        return idle.Count > 0;
    }
}

/// <summary>The IPv4 limiter (ICMP); ICMPv6 keys the same buckets by IPv6 address.</summary>
internal sealed class IcmpRateLimiter(NetworkStackOptions options) : IcmpRateLimiter<Ipv4Address>(options);
