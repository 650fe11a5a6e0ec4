using Photon.Kernel;
using Photon.Kernel.Io;

namespace Photon.FileSystems.Fat;

/// <summary>
/// Write-back cache of metadata sectors (FAT and directories), addressed by filesystem sector. Every metadata change
/// lands here first, so an operation can be undone as a whole: <see cref="Begin"/> starts recording the original bytes
/// of each sector it touches and <see cref="Rollback"/> restores them. Nothing reaches the device until the filesystem
/// writes it back in its crash-safe order (<see cref="WriteBackAsync"/> per group of sectors), mirroring FAT sectors
/// to every FAT copy. Device failures come back as the device's typed result, unchanged.
/// </summary>
internal sealed class FatSectorCache
{
    private readonly IBlockDevice _device;
    private readonly FatGeometry _geometry;
    private readonly int _deviceSectorsPerSector;
    private readonly Dictionary<long, byte[]> _sectors = new();
    private readonly HashSet<long> _dirty = new();
    /// <summary>Dirty sectors of clusters allocated since the last write-back: unreferenced on disk until the FAT is written.</summary>
    private readonly HashSet<long> _fresh = new();
    /// <summary>Directory sectors that must be on disk before the other directory sectors (a rename's removal).</summary>
    private readonly HashSet<long> _early = new();
    private Dictionary<long, (byte[]? Original, bool WasDirty, bool WasFresh, bool WasEarly)>? _undo;

    /// <summary>Sectors kept after an operation; beyond this clean ones are dropped and dirty ones written back.</summary>
    public int Capacity { get; init; } = 4096;

    public FatSectorCache(IBlockDevice device, FatGeometry geometry)
    {
        _device = device;
        _geometry = geometry;
        _deviceSectorsPerSector = geometry.BytesPerSector / device.SectorSize;
    }

    public int DirtyCount => _dirty.Count;

    /// <summary>Whether an ordering constraint between directory sectors is pending (only one is kept per write-back).</summary>
    public bool HasEarlySectors => _early.Count > 0;

    public async ValueTask<Result<byte[]>> GetAsync(long sector, CancellationToken ct)
    {
        if (_sectors.TryGetValue(sector, out var cached)) return cached;
        if (sector < 0 || sector >= _geometry.TotalSectors)
            return Result<byte[]>.Fail(ErrorCode.Corrupted, $"sector {sector} is outside the volume");
        if (IsFatSector(sector)) return await ReadFatAheadAsync(sector, ct).ConfigureAwait(false);
        var buffer = new byte[_geometry.BytesPerSector];
        var read = await _device.ReadAsync(sector * _deviceSectorsPerSector, buffer, ct).ConfigureAwait(false);
        if (!read.IsOk) return read.Error;
        _sectors[sector] = buffer;
        return buffer;
    }

    /// <summary>The sector's buffer if it is cached: the synchronous fast path of <see cref="GetAsync"/>.</summary>
    public bool TryGetCached(long sector, out byte[] buffer) => _sectors.TryGetValue(sector, out buffer!);

    /// <summary>The synchronous fast path of <see cref="GetForWriteAsync"/>: only when the sector is cached.</summary>
    public bool TryGetCachedForWrite(long sector, out byte[] buffer)
    {
        if (!_sectors.TryGetValue(sector, out buffer!)) return false;
        MarkForWrite(sector);
        return true;
    }

    /// <summary>A cached sector about to change: its original bytes recorded for rollback, and dirty.</summary>
    private void MarkForWrite(long sector)
    {
        Record(sector);
        _dirty.Add(sector);
    }

    /// <summary>FAT sectors read per device request on a miss: allocation and chain walks move through the FAT in order.</summary>
    public const int FatReadAhead = 64;

    /// <summary>
    /// Reads a missing FAT sector together with the FAT sectors after it (up to <see cref="FatReadAhead"/>, within the
    /// active FAT), one device request instead of one per sector. Sectors already cached are kept as they are (they
    /// may hold changes not yet written back); the others are cached clean, exactly as on disk.
    /// </summary>
    private async ValueTask<Result<byte[]>> ReadFatAheadAsync(long sector, CancellationToken ct)
    {
        long end = Math.Min(_geometry.ActiveFatStart + _geometry.FatSectors, sector + FatReadAhead);
        int count = 1;
        while (sector + count < end && !_sectors.ContainsKey(sector + count)) count++;
        int bytes = _geometry.BytesPerSector;
        var span = new byte[count * bytes];
        var read = await _device.ReadAsync(sector * _deviceSectorsPerSector, span, ct).ConfigureAwait(false);
        if (!read.IsOk) return read.Error;
        for (int i = 0; i < count; i++)
            if (!_sectors.ContainsKey(sector + i)) _sectors[sector + i] = span.AsSpan(i * bytes, bytes).ToArray();
        return _sectors[sector];
    }

    /// <summary>Returns the sector's buffer for modification, recording its original bytes for rollback.</summary>
    public async ValueTask<Result<byte[]>> GetForWriteAsync(long sector, CancellationToken ct)
    {
        var buffer = await GetAsync(sector, ct).ConfigureAwait(false);
        if (!buffer.IsOk) return buffer;
        MarkForWrite(sector);
        return buffer;
    }

    /// <summary>Installs a sector whose whole content is new (a freshly allocated directory cluster).</summary>
    public void PutNew(long sector, byte[] content)
    {
        Record(sector);
        _sectors[sector] = content;
        _dirty.Add(sector);
        _fresh.Add(sector);
    }

    /// <summary>Marks a directory sector to be written before every other directory sector of this write-back.</summary>
    public void MarkEarly(long sector)
    {
        Record(sector);
        _early.Add(sector);
    }

    /// <summary>Forgets a sector (its cluster was freed) so stale metadata is never written over new file data.</summary>
    public void Invalidate(long sector)
    {
        if (!_sectors.ContainsKey(sector)) return;
        Record(sector);
        _sectors.Remove(sector);
        _dirty.Remove(sector);
        _fresh.Remove(sector);
        _early.Remove(sector);
    }

    public void Begin() => _undo = new();

    public void Commit() => _undo = null;

    public void Rollback()
    {
        if (_undo is null) return;
        foreach (var (sector, (original, wasDirty, wasFresh, wasEarly)) in _undo)
        {
            if (original is null) _sectors.Remove(sector); else _sectors[sector] = original;
            Set(_dirty, sector, original is not null && wasDirty);
            Set(_fresh, sector, original is not null && wasFresh);
            Set(_early, sector, original is not null && wasEarly);
        }
        _undo = null;
    }

    private static void Set(HashSet<long> set, long sector, bool member)
    {
        if (member) set.Add(sector); else set.Remove(sector);
    }

    private void Record(long sector)
    {
        if (_undo is null || _undo.ContainsKey(sector)) return;
        _undo[sector] = _sectors.TryGetValue(sector, out var current)
            ? ((byte[])current.Clone(), _dirty.Contains(sector), _fresh.Contains(sector), _early.Contains(sector))
            : (null, false, false, false);
    }

    private bool IsFatSector(long sector) => sector >= _geometry.ActiveFatStart && sector < _geometry.ActiveFatStart + _geometry.FatSectors;

    /// <summary>Which dirty sectors a write-back step takes (see <see cref="FatFileSystem"/>'s flush order).</summary>
    public enum Group { Fresh, Fat, EarlyDirectory, Directory }

    /// <summary>Writes the dirty sectors of one group (FAT sectors to every FAT copy); the caller flushes after.</summary>
    /// <returns>How many sectors were written, so an empty step costs no device flush.</returns>
    public async ValueTask<Result<int>> WriteBackAsync(Group group, CancellationToken ct)
    {
        if (_undo is not null) throw new InvalidOperationException("write-back inside an operation");
        var chosen = _dirty.Where(s => group switch
        {
            Group.Fresh => _fresh.Contains(s),
            Group.Fat => IsFatSector(s),
            Group.EarlyDirectory => _early.Contains(s),
            _ => !IsFatSector(s),
        }).OrderBy(s => s).ToList();
        foreach (long sector in chosen)
        {
            var data = _sectors[sector];
            if (IsFatSector(sector))
            {
                long index = sector - _geometry.ActiveFatStart;
                for (int copy = 0; copy < _geometry.NumberOfFats; copy++)
                {
                    if (!_geometry.Mirroring && copy != _geometry.ActiveFat) continue;
                    var w = await WriteSectorAsync(_geometry.ReservedSectors + copy * _geometry.FatSectors + index, data, ct).ConfigureAwait(false);
                    if (!w.IsOk) return w.Error;
                }
            }
            else
            {
                var w = await WriteSectorAsync(sector, data, ct).ConfigureAwait(false);
                if (!w.IsOk) return w.Error;
            }
            _dirty.Remove(sector);
            _fresh.Remove(sector);
            _early.Remove(sector);
        }
        if (group == Group.Directory) _early.Clear();
        return chosen.Count;
    }

    public ValueTask<Result> WriteSectorAsync(long sector, byte[] data, CancellationToken ct) =>
        _device.WriteAsync(sector * _deviceSectorsPerSector, data, ct);

    /// <summary>Drops clean sectors to keep the cache small between operations (dirty ones stay until written back).</summary>
    public void Trim()
    {
        if (_sectors.Count <= Capacity) return;
        foreach (long sector in _sectors.Keys.Where(s => !_dirty.Contains(s)).ToList())
        {
            if (_sectors.Count <= Capacity / 2) break;
            _sectors.Remove(sector);
        }
    }

    /// <summary>Drops every unwritten change (used only when the filesystem is closed without a successful flush).</summary>
    public void DiscardAll()
    {
        _sectors.Clear();
        _dirty.Clear();
        _fresh.Clear();
        _early.Clear();
        _undo = null;
    }
}
