using Photon.Kernel;
using Photon.Kernel.Io;

namespace Photon.FileSystems.Fat;

/// <summary>
/// Write-back cache of metadata sectors (FAT and directories), addressed by filesystem sector. Every metadata change
/// lands here first, so an operation can be undone as a whole: <see cref="Begin"/> starts recording the original bytes
/// of each sector it touches and <see cref="Rollback"/> restores them. Nothing reaches the device until
/// <see cref="WriteBackAsync"/>, which mirrors FAT sectors to every FAT copy.
/// </summary>
internal sealed class FatSectorCache
{
    private readonly IBlockDevice _device;
    private readonly FatGeometry _geometry;
    private readonly int _deviceSectorsPerSector;
    private readonly Dictionary<long, byte[]> _sectors = new();
    private readonly HashSet<long> _dirty = new();
    private Dictionary<long, (byte[]? Original, bool WasDirty)>? _undo;

    /// <summary>Sectors kept after an operation; beyond this clean ones are dropped and dirty ones written back.</summary>
    public int Capacity { get; init; } = 4096;

    public FatSectorCache(IBlockDevice device, FatGeometry geometry)
    {
        _device = device;
        _geometry = geometry;
        _deviceSectorsPerSector = geometry.BytesPerSector / device.SectorSize;
    }

    public int DirtyCount => _dirty.Count;

    public async ValueTask<byte[]> GetAsync(long sector, CancellationToken ct)
    {
        if (_sectors.TryGetValue(sector, out var cached)) return cached;
        if (sector < 0 || sector >= _geometry.TotalSectors)
            throw new KernelException(ErrorCode.Corrupted, $"sector {sector} is outside the volume");
        var buffer = new byte[_geometry.BytesPerSector];
        var read = await _device.ReadAsync(sector * _deviceSectorsPerSector, buffer, ct).ConfigureAwait(false);
        if (!read.IsOk) throw read.Error.ToException();
        _sectors[sector] = buffer;
        return buffer;
    }

    /// <summary>Returns the sector's buffer for modification, recording its original bytes for rollback.</summary>
    public async ValueTask<byte[]> GetForWriteAsync(long sector, CancellationToken ct)
    {
        var buffer = await GetAsync(sector, ct).ConfigureAwait(false);
        Record(sector);
        _dirty.Add(sector);
        return buffer;
    }

    /// <summary>Installs a sector whose whole content is new (a freshly allocated directory cluster).</summary>
    public void PutNew(long sector, byte[] content)
    {
        Record(sector);
        _sectors[sector] = content;
        _dirty.Add(sector);
    }

    /// <summary>Forgets a sector (its cluster was freed) so stale metadata is never written over new file data.</summary>
    public void Invalidate(long sector)
    {
        if (!_sectors.ContainsKey(sector)) return;
        Record(sector);
        _sectors.Remove(sector);
        _dirty.Remove(sector);
    }

    public void Begin() => _undo = new();

    public void Commit() => _undo = null;

    public void Rollback()
    {
        if (_undo is null) return;
        foreach (var (sector, (original, wasDirty)) in _undo)
        {
            if (original is null) { _sectors.Remove(sector); _dirty.Remove(sector); continue; }
            _sectors[sector] = original;
            if (wasDirty) _dirty.Add(sector); else _dirty.Remove(sector);
        }
        _undo = null;
    }

    private void Record(long sector)
    {
        if (_undo is null || _undo.ContainsKey(sector)) return;
        _undo[sector] = _sectors.TryGetValue(sector, out var current)
            ? ((byte[])current.Clone(), _dirty.Contains(sector))
            : (null, false);
    }

    /// <summary>Writes every dirty sector: FAT sectors first (to each FAT copy), then directory sectors.</summary>
    public async ValueTask WriteBackAsync(CancellationToken ct)
    {
        if (_undo is not null) throw new InvalidOperationException("write-back inside an operation");
        long fatStart = _geometry.ActiveFatStart;
        long fatEnd = fatStart + _geometry.FatSectors;
        var ordered = _dirty.OrderBy(s => s >= fatStart && s < fatEnd ? 0 : 1).ThenBy(s => s).ToList();
        foreach (long sector in ordered)
        {
            var data = _sectors[sector];
            if (sector >= fatStart && sector < fatEnd)
            {
                long index = sector - fatStart;
                for (int copy = 0; copy < _geometry.NumberOfFats; copy++)
                {
                    if (!_geometry.Mirroring && copy != _geometry.ActiveFat) continue;
                    await WriteSectorAsync(_geometry.ReservedSectors + copy * _geometry.FatSectors + index, data, ct).ConfigureAwait(false);
                }
            }
            else
            {
                await WriteSectorAsync(sector, data, ct).ConfigureAwait(false);
            }
            _dirty.Remove(sector);
        }
    }

    public async ValueTask WriteSectorAsync(long sector, byte[] data, CancellationToken ct)
    {
        var written = await _device.WriteAsync(sector * _deviceSectorsPerSector, data, ct).ConfigureAwait(false);
        if (!written.IsOk) throw written.Error.ToException();
    }

    /// <summary>Keeps the cache small between operations.</summary>
    public async ValueTask TrimAsync(CancellationToken ct)
    {
        if (_sectors.Count <= Capacity) return;
        if (_dirty.Count > Capacity / 2) await WriteBackAsync(ct).ConfigureAwait(false);
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
        _undo = null;
    }
}
