using System.Buffers.Binary;
using Photon.Kernel;

namespace Photon.FileSystems.Fat;

/// <summary>
/// The file allocation table: entry access for 12/16/32-bit FATs, chain walking that treats loops, free or
/// out-of-range links as corruption, and cluster allocation. Reads and writes go through the sector cache, which
/// mirrors changes to every FAT copy on write-back.
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

    public async ValueTask<uint> GetAsync(uint cluster, CancellationToken ct)
    {
        if (cluster > _g.MaxCluster) throw new KernelException(ErrorCode.Corrupted, $"cluster {cluster} beyond the FAT");
        switch (_g.Type)
        {
            case FatType.Fat12:
            {
                long offset = cluster + cluster / 2;
                int lo = await GetByteAsync(offset, ct).ConfigureAwait(false);
                int hi = await GetByteAsync(offset + 1, ct).ConfigureAwait(false);
                int pair = lo | (hi << 8);
                return (uint)((cluster & 1) != 0 ? pair >> 4 : pair & 0xFFF);
            }
            case FatType.Fat16:
            {
                long offset = cluster * 2L;
                var sector = await _cache.GetAsync(_g.ActiveFatStart + offset / _g.BytesPerSector, ct).ConfigureAwait(false);
                return BinaryPrimitives.ReadUInt16LittleEndian(sector.AsSpan((int)(offset % _g.BytesPerSector)));
            }
            default:
            {
                long offset = cluster * 4L;
                var sector = await _cache.GetAsync(_g.ActiveFatStart + offset / _g.BytesPerSector, ct).ConfigureAwait(false);
                return BinaryPrimitives.ReadUInt32LittleEndian(sector.AsSpan((int)(offset % _g.BytesPerSector))) & 0x0FFFFFFF;
            }
        }
    }

    public async ValueTask SetAsync(uint cluster, uint value, CancellationToken ct)
    {
        if (cluster < 2 || cluster > _g.MaxCluster) throw new KernelException(ErrorCode.Corrupted, $"cluster {cluster} beyond the FAT");
        switch (_g.Type)
        {
            case FatType.Fat12:
            {
                long offset = cluster + cluster / 2;
                int lo = await GetByteAsync(offset, ct).ConfigureAwait(false);
                int hi = await GetByteAsync(offset + 1, ct).ConfigureAwait(false);
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
                await SetByteAsync(offset, (byte)lo, ct).ConfigureAwait(false);
                await SetByteAsync(offset + 1, (byte)hi, ct).ConfigureAwait(false);
                break;
            }
            case FatType.Fat16:
            {
                long offset = cluster * 2L;
                var sector = await _cache.GetForWriteAsync(_g.ActiveFatStart + offset / _g.BytesPerSector, ct).ConfigureAwait(false);
                BinaryPrimitives.WriteUInt16LittleEndian(sector.AsSpan((int)(offset % _g.BytesPerSector)), (ushort)value);
                break;
            }
            default:
            {
                long offset = cluster * 4L;
                var sector = await _cache.GetForWriteAsync(_g.ActiveFatStart + offset / _g.BytesPerSector, ct).ConfigureAwait(false);
                var span = sector.AsSpan((int)(offset % _g.BytesPerSector));
                // The top four bits of a FAT32 entry are reserved and must be preserved.
                uint old = BinaryPrimitives.ReadUInt32LittleEndian(span);
                BinaryPrimitives.WriteUInt32LittleEndian(span, (old & 0xF0000000) | (value & 0x0FFFFFFF));
                break;
            }
        }
    }

    private async ValueTask<byte> GetByteAsync(long offset, CancellationToken ct)
    {
        var sector = await _cache.GetAsync(_g.ActiveFatStart + offset / _g.BytesPerSector, ct).ConfigureAwait(false);
        return sector[offset % _g.BytesPerSector];
    }

    private async ValueTask SetByteAsync(long offset, byte value, CancellationToken ct)
    {
        var sector = await _cache.GetForWriteAsync(_g.ActiveFatStart + offset / _g.BytesPerSector, ct).ConfigureAwait(false);
        sector[offset % _g.BytesPerSector] = value;
    }

    /// <summary>
    /// Follows a chain from <paramref name="first"/>. A chain longer than the cluster count must loop; a link to a free,
    /// reserved, bad or out-of-range cluster is corruption too.
    /// </summary>
    public async ValueTask<List<uint>> ReadChainAsync(uint first, CancellationToken ct, long maxClusters = long.MaxValue)
    {
        if (!_g.IsValidCluster(first)) throw new KernelException(ErrorCode.Corrupted, $"chain starts at invalid cluster {first}");
        var chain = new List<uint>();
        uint current = first;
        while (true)
        {
            chain.Add(current);
            if (chain.Count > _g.ClusterCount) throw new KernelException(ErrorCode.Corrupted, $"cluster chain from {first} loops");
            if (chain.Count > maxClusters) throw new KernelException(ErrorCode.Corrupted, $"cluster chain from {first} is longer than its size allows");
            uint next = await GetAsync(current, ct).ConfigureAwait(false);
            if (IsEndOfChain(next)) return chain;
            if (!_g.IsValidCluster(next)) throw new KernelException(ErrorCode.Corrupted, $"cluster {current} links to invalid cluster 0x{next:X}");
            current = next;
        }
    }

    /// <summary>Takes a free cluster, marks it end-of-chain and links it after <paramref name="previous"/> (0 = none).</summary>
    public async ValueTask<uint> AllocateAsync(uint previous, CancellationToken ct)
    {
        long count = _g.ClusterCount;
        uint start = _g.IsValidCluster(NextFree) ? NextFree : 2;
        for (long i = 0; i < count; i++)
        {
            uint candidate = (uint)(2 + (start - 2 + i) % count);
            if (await GetAsync(candidate, ct).ConfigureAwait(false) != 0) continue;
            await SetAsync(candidate, EndOfChainMark, ct).ConfigureAwait(false);
            if (previous != 0) await SetAsync(previous, candidate, ct).ConfigureAwait(false);
            if (FreeCount is > 0) FreeCount--;
            NextFree = candidate + 1 > _g.MaxCluster ? 2 : candidate + 1;
            return candidate;
        }
        FreeCount = 0;
        throw new KernelException(ErrorCode.NoSpace, "no free clusters");
    }

    /// <summary>Frees every cluster of an already-validated chain.</summary>
    public async ValueTask FreeAsync(IReadOnlyList<uint> chain, CancellationToken ct)
    {
        foreach (uint cluster in chain)
        {
            await SetAsync(cluster, 0, ct).ConfigureAwait(false);
            long sector = _g.ClusterToSector(cluster);
            for (int i = 0; i < _g.SectorsPerCluster; i++) _cache.Invalidate(sector + i);
        }
        if (FreeCount is not null) FreeCount += chain.Count;
        if (chain.Count > 0 && chain[0] < NextFree) NextFree = chain[0];
    }

    public async ValueTask<long> CountFreeAsync(CancellationToken ct)
    {
        long free = 0;
        for (uint c = 2; c <= _g.MaxCluster; c++)
            if (await GetAsync(c, ct).ConfigureAwait(false) == 0) free++;
        return free;
    }
}
