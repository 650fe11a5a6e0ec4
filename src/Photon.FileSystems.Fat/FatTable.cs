using System.Buffers.Binary;
using Photon.Kernel;

namespace Photon.FileSystems.Fat;

/// <summary>
/// The file allocation table: entry access for 12/16/32-bit FATs, chain walking that treats loops, free or
/// out-of-range links as corruption, and cluster allocation. Reads and writes go through the sector cache, which
/// mirrors changes to every FAT copy on write-back. Freed clusters stay allocated in the FAT (and cannot be reused)
/// until the directory entries that stopped referencing them are on disk: see <see cref="FreeAsync"/>.
/// </summary>
internal sealed class FatTable
{
    private readonly FatGeometry _g;
    private readonly FatSectorCache _cache;

    public FatTable(FatGeometry geometry, FatSectorCache cache)
    {
        _g = geometry;
        _cache = cache;
        NextFree = 2;
    }

    /// <summary>Free cluster count when known (from FSInfo or a scan), kept exact across allocations and frees.</summary>
    public long? FreeCount { get; set; }

    /// <summary>Where the next free-cluster search starts.</summary>
    public uint NextFree { get; set; }

    public uint EndOfChainMark => _g.Type switch { FatType.Fat12 => 0xFFF, FatType.Fat16 => 0xFFFF, _ => 0x0FFFFFFF };

    public bool IsEndOfChain(uint value) => _g.Type switch
    {
        FatType.Fat12 => value >= 0xFF8,
        FatType.Fat16 => value >= 0xFFF8,
        _ => value >= 0x0FFFFFF8,
    };

    /// <summary>
    /// FAT entries whose change must reach the disk only after the directories (a truncation's new end of chain and
    /// every freed cluster), with the value they had before: see <see cref="RevertDeferredAsync"/>.
    /// </summary>
    private readonly Dictionary<uint, uint> _deferred = new();
    private readonly List<uint> _deferredOrder = new();
    /// <summary>Freed clusters not reusable until their freeing is on disk (else a crash could leave them shared).</summary>
    private readonly HashSet<uint> _pendingFree = new();

    public int DeferredMark => _deferredOrder.Count;

    /// <summary>Forgets deferrals recorded after <paramref name="mark"/> (their operation was rolled back).</summary>
    public void RollbackDeferred(int mark)
    {
        for (int i = _deferredOrder.Count - 1; i >= mark; i--)
        {
            _deferred.Remove(_deferredOrder[i]);
            _pendingFree.Remove(_deferredOrder[i]);
        }
        _deferredOrder.RemoveRange(mark, _deferredOrder.Count - mark);
    }

    public bool HasPendingFrees => _pendingFree.Count > 0;

    /// <summary>Sets an entry whose new value may be written only after the directories (see the flush order).</summary>
    public async ValueTask<Result> SetDeferredAsync(uint cluster, uint value, CancellationToken ct)
    {
        if (!_deferred.ContainsKey(cluster))
        {
            var old = await GetAsync(cluster, ct).ConfigureAwait(false);
            if (!old.IsOk) return old.Error;
            _deferred[cluster] = old.Value;
            _deferredOrder.Add(cluster);
        }
        return await SetAsync(cluster, value, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Puts every deferred entry back to its earlier value (in the cache) and returns the values to restore with
    /// <see cref="RestoreAsync"/>: the FAT written in between has every new chain but still every old one.
    /// </summary>
    public async ValueTask<Result<List<(uint Cluster, uint Value)>>> RevertDeferredAsync(CancellationToken ct)
    {
        var current = new List<(uint, uint)>(_deferred.Count);
        foreach (var (cluster, old) in _deferred)
        {
            var now = await GetAsync(cluster, ct).ConfigureAwait(false);
            if (!now.IsOk) return now.Error;
            current.Add((cluster, now.Value));
            var set = await SetAsync(cluster, old, ct).ConfigureAwait(false);
            if (!set.IsOk) return set.Error;
        }
        return current;
    }

    public async ValueTask<Result> RestoreAsync(List<(uint Cluster, uint Value)> values, CancellationToken ct)
    {
        foreach (var (cluster, value) in values)
        {
            var set = await SetAsync(cluster, value, ct).ConfigureAwait(false);
            if (!set.IsOk) return set;
        }
        return Result.Ok;
    }

    /// <summary>The deferred entries are on disk with their new values: freed clusters become reusable.</summary>
    public void ClearDeferred()
    {
        _deferred.Clear();
        _deferredOrder.Clear();
        _pendingFree.Clear();
    }

    public async ValueTask<Result<uint>> GetAsync(uint cluster, CancellationToken ct)
    {
        if (cluster > _g.MaxCluster) return Result<uint>.Fail(ErrorCode.Corrupted, $"cluster {cluster} beyond the FAT");
        switch (_g.Type)
        {
            case FatType.Fat12:
            {
                long offset = cluster + cluster / 2;
                var lo = await GetByteAsync(offset, ct).ConfigureAwait(false);
                if (!lo.IsOk) return lo.Error;
                var hi = await GetByteAsync(offset + 1, ct).ConfigureAwait(false);
                if (!hi.IsOk) return hi.Error;
                int pair = lo.Value | (hi.Value << 8);
                return (uint)((cluster & 1) != 0 ? pair >> 4 : pair & 0xFFF);
            }
            default:
            {
                var sector = await _cache.GetAsync(EntrySector(cluster), ct).ConfigureAwait(false);
                if (!sector.IsOk) return sector.Error;
                return ReadEntry(sector.Value, cluster);
            }
        }
    }

    public async ValueTask<Result> SetAsync(uint cluster, uint value, CancellationToken ct)
    {
        if (cluster < 2 || cluster > _g.MaxCluster) return Result.Fail(ErrorCode.Corrupted, $"cluster {cluster} beyond the FAT");
        switch (_g.Type)
        {
            case FatType.Fat12:
            {
                long offset = cluster + cluster / 2;
                var loByte = await GetByteAsync(offset, ct).ConfigureAwait(false);
                if (!loByte.IsOk) return loByte.Error;
                var hiByte = await GetByteAsync(offset + 1, ct).ConfigureAwait(false);
                if (!hiByte.IsOk) return hiByte.Error;
                int lo = loByte.Value, hi = hiByte.Value;
                if ((cluster & 1) != 0)
                {
                    lo = (lo & 0x0F) | (int)((value << 4) & 0xF0);
                    hi = (int)((value >> 4) & 0xFF);
                }
                else
                {
                    lo = (int)(value & 0xFF);
                    hi = (hi & 0xF0) | (int)((value >> 8) & 0x0F);
                }
                var setLo = await SetByteAsync(offset, (byte)lo, ct).ConfigureAwait(false);
                if (!setLo.IsOk) return setLo;
                return await SetByteAsync(offset + 1, (byte)hi, ct).ConfigureAwait(false);
            }
            default:
            {
                var sector = await _cache.GetForWriteAsync(EntrySector(cluster), ct).ConfigureAwait(false);
                if (!sector.IsOk) return sector.Error;
                WriteEntry(sector.Value, cluster, value);
                return Result.Ok;
            }
        }
    }

    private async ValueTask<Result<byte>> GetByteAsync(long offset, CancellationToken ct)
    {
        var sector = await _cache.GetAsync(_g.ActiveFatStart + offset / _g.BytesPerSector, ct).ConfigureAwait(false);
        if (!sector.IsOk) return sector.Error;
        return sector.Value[offset % _g.BytesPerSector];
    }

    private async ValueTask<Result> SetByteAsync(long offset, byte value, CancellationToken ct)
    {
        var sector = await _cache.GetForWriteAsync(_g.ActiveFatStart + offset / _g.BytesPerSector, ct).ConfigureAwait(false);
        if (!sector.IsOk) return sector.Error;
        sector.Value[offset % _g.BytesPerSector] = value;
        return Result.Ok;
    }

    /// <summary>
    /// Follows a chain from <paramref name="first"/>. A chain longer than the cluster count must loop; a link to a free,
    /// reserved, bad or out-of-range cluster is corruption too.
    /// </summary>
    public async ValueTask<Result<List<uint>>> ReadChainAsync(uint first, CancellationToken ct, long maxClusters = long.MaxValue)
    {
        if (!_g.IsValidCluster(first)) return Result<List<uint>>.Fail(ErrorCode.Corrupted, $"chain starts at invalid cluster {first}");
        var chain = new List<uint>();
        uint current = first;
        while (true)
        {
            chain.Add(current);
            if (chain.Count > _g.ClusterCount) return Result<List<uint>>.Fail(ErrorCode.Corrupted, $"cluster chain from {first} loops");
            if (chain.Count > maxClusters) return Result<List<uint>>.Fail(ErrorCode.Corrupted, $"cluster chain from {first} is longer than its size allows");
            var next = await GetAsync(current, ct).ConfigureAwait(false);
            if (!next.IsOk) return next.Error;
            if (IsEndOfChain(next.Value)) return chain;
            if (!_g.IsValidCluster(next.Value)) return Result<List<uint>>.Fail(ErrorCode.Corrupted, $"cluster {current} links to invalid cluster 0x{next.Value:X}");
            current = next.Value;
        }
    }

    /// <summary>
    /// Appends <paramref name="count"/> newly allocated clusters to <paramref name="chain"/>, linked after its last
    /// cluster. Entries in cached FAT sectors are taken synchronously (a large write allocates tens of thousands of
    /// clusters; one awaited call per entry was most of a copy's CPU time); the first entry outside the cache goes
    /// through <see cref="AllocateAsync"/>, which reads its sector.
    /// </summary>
    public async ValueTask<Result> AllocateManyAsync(List<uint> chain, long count, CancellationToken ct)
    {
        while (count > 0)
        {
            uint previous = chain.Count > 0 ? chain[^1] : 0;
            if (TryAllocateCached(previous, out uint taken))
            {
                chain.Add(taken);
                count--;
                continue;
            }
            var allocated = await AllocateAsync(previous, ct).ConfigureAwait(false);
            if (!allocated.IsOk) return allocated.Error;
            chain.Add(allocated.Value);
            count--;
        }
        return Result.Ok;
    }

    /// <summary>
    /// <see cref="AllocateAsync"/> without awaiting: scans from <see cref="NextFree"/> while the entries' sectors are
    /// cached. False (nothing changed) at the first uncached sector, on FAT12 (entries straddle sectors), or when the
    /// scan wraps: the caller falls back to the asynchronous path, which also reports a full volume.
    /// </summary>
    private bool TryAllocateCached(uint previous, out uint taken)
    {
        taken = 0;
        if (_g.Type == FatType.Fat12) return false;
        long count = _g.ClusterCount;
        uint start = _g.IsValidCluster(NextFree) ? NextFree : 2;
        for (long i = 0; i < count; i++)
        {
            uint candidate = (uint)(2 + (start - 2 + i) % count);
            if (i > 0 && candidate == 2) return false; // wrapped: let the asynchronous scan decide
            if (!TryGetCached(candidate, out uint value)) return false;
            if (value != 0 || _pendingFree.Contains(candidate)) continue;
            if (previous != 0 && !TryGetCached(previous, out _)) return false;
            TrySetCached(candidate, EndOfChainMark);
            if (previous != 0) TrySetCached(previous, candidate);
            if (FreeCount is > 0) FreeCount--;
            NextFree = candidate + 1 > _g.MaxCluster ? 2 : candidate + 1;
            taken = candidate;
            return true;
        }
        return false;
    }

    private long EntrySector(uint cluster) =>
        _g.ActiveFatStart + cluster * (_g.Type == FatType.Fat16 ? 2L : 4L) / _g.BytesPerSector;

    private int EntryOffset(uint cluster) => (int)(cluster * (_g.Type == FatType.Fat16 ? 2L : 4L) % _g.BytesPerSector);

    /// <summary>A FAT16/32 entry from a cached sector (false when not cached or FAT12).</summary>
    private bool TryGetCached(uint cluster, out uint value)
    {
        value = 0;
        if (_g.Type == FatType.Fat12 || cluster > _g.MaxCluster || !_cache.TryGetCached(EntrySector(cluster), out var sector)) return false;
        value = ReadEntry(sector, cluster);
        return true;
    }

    /// <summary>Sets a FAT16/32 entry in a cached sector, as <see cref="SetAsync"/> does (callers checked it is cached).</summary>
    private void TrySetCached(uint cluster, uint value)
    {
        if (!_cache.TryGetCachedForWrite(EntrySector(cluster), out var sector)) throw new InvalidOperationException("FAT sector left the cache");
        WriteEntry(sector, cluster, value);
    }

    /// <summary>A FAT16/32 entry out of the sector holding it.</summary>
    private uint ReadEntry(byte[] sector, uint cluster)
    {
        var span = sector.AsSpan(EntryOffset(cluster));
        return _g.Type == FatType.Fat16 ? BinaryPrimitives.ReadUInt16LittleEndian(span) : BinaryPrimitives.ReadUInt32LittleEndian(span) & 0x0FFFFFFF;
    }

    /// <summary>Sets a FAT16/32 entry in the sector holding it; the top four bits of a FAT32 entry are reserved and kept.</summary>
    private void WriteEntry(byte[] sector, uint cluster, uint value)
    {
        var span = sector.AsSpan(EntryOffset(cluster));
        if (_g.Type == FatType.Fat16) BinaryPrimitives.WriteUInt16LittleEndian(span, (ushort)value);
        else BinaryPrimitives.WriteUInt32LittleEndian(span, (BinaryPrimitives.ReadUInt32LittleEndian(span) & 0xF0000000) | (value & 0x0FFFFFFF));
    }

    /// <summary>Takes a free cluster, marks it end-of-chain and links it after <paramref name="previous"/> (0 = none).</summary>
    public async ValueTask<Result<uint>> AllocateAsync(uint previous, CancellationToken ct)
    {
        long count = _g.ClusterCount;
        uint start = _g.IsValidCluster(NextFree) ? NextFree : 2;
        for (long i = 0; i < count; i++)
        {
            uint candidate = (uint)(2 + (start - 2 + i) % count);
            var value = await GetAsync(candidate, ct).ConfigureAwait(false);
            if (!value.IsOk) return value.Error;
            if (value.Value != 0 || _pendingFree.Contains(candidate)) continue;
            var mark = await SetAsync(candidate, EndOfChainMark, ct).ConfigureAwait(false);
            if (!mark.IsOk) return mark.Error;
            if (previous != 0)
            {
                var link = await SetAsync(previous, candidate, ct).ConfigureAwait(false);
                if (!link.IsOk) return link.Error;
            }
            if (FreeCount is > 0) FreeCount--;
            NextFree = candidate + 1 > _g.MaxCluster ? 2 : candidate + 1;
            return candidate;
        }
        FreeCount = _pendingFree.Count;
        return Result<uint>.Fail(ErrorCode.NoSpace, "no free clusters");
    }

    /// <summary>
    /// Frees every cluster of an already-validated chain, whose directory entry no longer names it. The zeroed entries
    /// are deferred: on disk they stay allocated until that directory change is written, so a crash in between
    /// leaves lost clusters, never clusters two files share; nor are they reused before.
    /// </summary>
    public async ValueTask<Result> FreeAsync(IReadOnlyList<uint> chain, CancellationToken ct)
    {
        foreach (uint cluster in chain)
        {
            var cleared = await SetDeferredAsync(cluster, 0, ct).ConfigureAwait(false);
            if (!cleared.IsOk) return cleared;
            _pendingFree.Add(cluster);
            long sector = _g.ClusterToSector(cluster);
            for (int i = 0; i < _g.SectorsPerCluster; i++) _cache.Invalidate(sector + i);
        }
        if (FreeCount is not null) FreeCount += chain.Count;
        if (chain.Count > 0 && chain[0] < NextFree) NextFree = chain[0];
        return Result.Ok;
    }

    public async ValueTask<Result<long>> CountFreeAsync(CancellationToken ct)
    {
        long free = 0;
        for (uint c = 2; c <= _g.MaxCluster; c++)
        {
            var value = await GetAsync(c, ct).ConfigureAwait(false);
            if (!value.IsOk) return value.Error;
            if (value.Value == 0) free++;
        }
        return free;
    }
}
