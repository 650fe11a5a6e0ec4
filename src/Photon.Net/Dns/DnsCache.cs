namespace Photon.Net.Dns;

/// <summary>One cached lookup: the addresses (none for a negative entry), the CNAME chain, and when it expires.</summary>
public sealed record DnsCacheEntry(string Host, DnsType Type, IReadOnlyList<byte[]> Addresses, IReadOnlyList<string> Chain,
    TimeSpan Expires, ErrorCode Negative, string? NegativeReason)
{
    /// <summary>What the entry costs in memory, roughly: the object and list headers, the strings (two bytes a char)
    /// and the address arrays. It is what a tenant is charged for holding the entry.</summary>
    public long Bytes { get; } = SizeOf(Host, Addresses, Chain, NegativeReason);

    private const int ObjectBytes = 32;

    internal static long SizeOf(string host, IReadOnlyList<byte[]> addresses, IReadOnlyList<string> chain, string? reason)
    {
        long bytes = 4 * ObjectBytes + 2L * host.Length + 2L * (reason?.Length ?? 0);
        foreach (var a in addresses) bytes += ObjectBytes + a.Length;
        foreach (var c in chain) bytes += ObjectBytes + 2L * c.Length;
        return bytes;
    }
}

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

    /// <summary>The sum of the entries' <see cref="DnsCacheEntry.Bytes"/>: what the cache's owner is charged.</summary>
    public long Bytes { get; private set; }

    private static (string, DnsType) Key(string host, DnsType type) => (host.TrimEnd('.').ToLowerInvariant(), type);

    /// <summary>The live entry for the name, if any (an expired one is dropped).</summary>
    public DnsCacheEntry? Get(string host, DnsType type)
    {
        var key = Key(host, type);
        if (!_entries.TryGetValue(key, out var node)) return null;
        if (node.Value.Expires <= now())
        {
            Drop(key, node);
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
        if (_entries.TryGetValue(key, out var old)) Drop(key, old);
        while (_entries.Count >= capacity && EvictOldest()) { }
        var node = _lru.AddFirst(new DnsCacheEntry(key.Item1, type, addresses, chain, now() + ttl, negative, reason));
        _entries[key] = node;
        Bytes += node.Value.Bytes;
    }

    /// <summary>Drops the least recently used entry (false when empty): how the owner makes room under its quota.</summary>
    public bool EvictOldest()
    {
        if (_lru.Last is not { } lru) return false;
        Drop(Key(lru.Value.Host, lru.Value.Type), lru);
        return true;
    }

    private void Drop((string, DnsType) key, LinkedListNode<DnsCacheEntry> node)
    {
        _lru.Remove(node);
        _entries.Remove(key);
        Bytes -= node.Value.Bytes;
    }

    public void Clear()
    {
        _entries.Clear();
        _lru.Clear();
        Bytes = 0;
    }
}
