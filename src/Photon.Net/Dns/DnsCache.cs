namespace Photon.Net.Dns;

/// <summary>One cached lookup: the addresses (none for a negative entry), the CNAME chain, and when it expires.</summary>
public sealed record DnsCacheEntry(string Host, DnsType Type, IReadOnlyList<byte[]> Addresses, IReadOnlyList<string> Chain,
    TimeSpan Expires, ErrorCode Negative, string? NegativeReason);

/// <summary>
/// The resolver's TTL cache: a bounded LRU of answers keyed by (name, type), positive and negative (RFC 2308). Its
/// memory is bounded however hostile the server: at most <c>capacity</c> entries, each with at most the resolver's
/// address cap and a CNAME chain of at most <see cref="DnsMessage.MaxChain"/> names of 255 bytes; TTLs are clamped to
/// <c>maxTtl</c>; a TTL of 0 is not cached (RFC 1035 §3.2.1). Not thread-safe by itself: the resolver locks it.
/// </summary>
public sealed class DnsCache(int capacity, TimeSpan maxTtl, Func<TimeSpan> now)
{
    private readonly Dictionary<(string, DnsType), LinkedListNode<DnsCacheEntry>> _entries = new();
    private readonly LinkedList<DnsCacheEntry> _lru = new(); // most recently used first

    public int Count => _entries.Count;
    public int Capacity => capacity;

    private static (string, DnsType) Key(string host, DnsType type) => (host.TrimEnd('.').ToLowerInvariant(), type);

    /// <summary>The live entry for the name, if any (an expired one is dropped).</summary>
    public DnsCacheEntry? Get(string host, DnsType type)
    {
        var key = Key(host, type);
        if (!_entries.TryGetValue(key, out var node)) return null;
        if (node.Value.Expires <= now())
        {
            _lru.Remove(node);
            _entries.Remove(key);
            return null;
        }
        _lru.Remove(node);
        _lru.AddFirst(node);
        return node.Value;
    }

    public void PutPositive(string host, DnsType type, IReadOnlyList<byte[]> addresses, IReadOnlyList<string> chain, TimeSpan ttl) =>
        Put(host, type, addresses, chain, ttl, ErrorCode.None, null);

    /// <summary>Caches a failure that is an answer (no such name, no such record), not a server's trouble.</summary>
    public void PutNegative(string host, DnsType type, ErrorCode code, string reason, TimeSpan ttl) =>
        Put(host, type, [], [], ttl, code, reason);

    private void Put(string host, DnsType type, IReadOnlyList<byte[]> addresses, IReadOnlyList<string> chain, TimeSpan ttl, ErrorCode negative, string? reason)
    {
        if (capacity == 0 || ttl <= TimeSpan.Zero) return;
        if (ttl > maxTtl) ttl = maxTtl;
        var key = Key(host, type);
        if (_entries.Remove(key, out var old)) _lru.Remove(old);
        while (_entries.Count >= capacity && _lru.Last is { } lru)
        {
            _entries.Remove(Key(lru.Value.Host, lru.Value.Type));
            _lru.RemoveLast();
        }
        var node = _lru.AddFirst(new DnsCacheEntry(key.Item1, type, addresses, chain, now() + ttl, negative, reason));
        _entries[key] = node;
    }

    public void Clear()
    {
        _entries.Clear();
        _lru.Clear();
    }
}
