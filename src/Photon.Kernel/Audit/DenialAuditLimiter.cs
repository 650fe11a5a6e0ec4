using System.Diagnostics;

namespace Photon.Kernel.Audit;

/// <summary>
/// Bounds how many denial records one tenant can put in the audit log: a token bucket per tenant (a top-level
/// namespace; the kernel is never limited). Every refused lookup and check is a denial, so without it a guest looping
/// on a name that does not exist writes millions of records per second (about 13 fuel each) into a log that is
/// fsynced, unbounded on disk, and whose back-pressure stalls the capability manager's lock. Over its rate a tenant's
/// denials are counted, not recorded one by one; the count goes into the log, as one summary record, with the tenant's
/// next recorded denial (Linux's audit rate limit, with "N suppressed" like syslog's "last message repeated").
/// Successful operations are never limited: they are bounded by the capabilities a tenant is charged for.
/// </summary>
internal sealed class DenialAuditLimiter
{
    /// <summary>Tenants tracked at once; past it every new tenant shares one bucket (names are kernel-made, so this
    /// only bounds memory against a bug, not an attacker).</summary>
    internal const int MaxTenants = 4096;
    private const string Overflow = "\0overflow";

    private sealed class Bucket
    {
        public double Tokens;
        public long Stamp;
        public long Suppressed;
    }

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private long _suppressedTotal;

    /// <param name="burst">Denials a tenant may have recorded back to back.</param>
    /// <param name="perSecond">Denials per second recorded after the burst.</param>
    public DenialAuditLimiter(int burst = 512, int perSecond = 256)
    {
        Burst = Math.Max(1, burst);
        PerSecond = Math.Max(1, perSecond);
    }

    public int Burst { get; }
    public int PerSecond { get; }

    /// <summary>Denials not recorded one by one since start (all tenants).</summary>
    public long SuppressedTotal => Interlocked.Read(ref _suppressedTotal);

    /// <summary>
    /// Whether a denial by <paramref name="tenant"/> is recorded. When it is and earlier ones were suppressed,
    /// <paramref name="suppressedBefore"/> says how many (the caller records that first).
    /// </summary>
    public bool Admit(string tenant, out long suppressedBefore)
    {
        suppressedBefore = 0;
        long now = Stopwatch.GetTimestamp();
        lock (_lock)
        {
            if (!_buckets.TryGetValue(tenant, out var b))
            {
                if (_buckets.Count >= MaxTenants) tenant = Overflow;
                if (!_buckets.TryGetValue(tenant, out b)) _buckets[tenant] = b = new Bucket { Tokens = Burst, Stamp = now };
            }
            double elapsed = (double)(now - b.Stamp) / Stopwatch.Frequency;
            b.Stamp = now;
            b.Tokens = Math.Min(Burst, b.Tokens + elapsed * PerSecond);
            if (b.Tokens < 1)
            {
                b.Suppressed++;
                _suppressedTotal++;
                return false;
            }
            b.Tokens -= 1;
            suppressedBefore = b.Suppressed;
            b.Suppressed = 0;
            return true;
        }
    }
}
