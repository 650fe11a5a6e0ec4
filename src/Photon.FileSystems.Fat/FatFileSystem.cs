using System.Buffers.Binary;
using Photon.Kernel;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Io;

namespace Photon.FileSystems.Fat;

/// <summary>
/// A mounted FAT12/16/32 volume. Metadata (FAT and directory sectors) is cached write-back and every mutating
/// operation is atomic in that cache: if it fails part-way (corruption found, disk full, I/O error) its metadata
/// changes are rolled back, so nothing half-done ever reaches the disk. File data goes straight to the device, into
/// clusters the file owns. <see cref="FlushAsync"/> writes the FAT to every copy, then directories, then FSInfo.
/// </summary>
public sealed class FatFileSystem : IFileSystem
{
    private static readonly byte[] Zeros = new byte[64 * 1024];
    /// <summary>Largest single device transfer for file data.</summary>
    private const int MaxRunBytes = 1024 * 1024;

    private readonly IBlockDevice _device;
    private readonly FatGeometry _g;
    private readonly FatSectorCache _cache;
    private readonly FatTable _fat;
    private readonly Func<DateTimeOffset> _now;
    private readonly SemaphoreSlim _lock = new(1, 1);
    /// <summary>Open nodes by where their directory entry lives; also the lock for their open counts.</summary>
    private readonly Dictionary<(uint Directory, int Slot), FatFileNode> _open = new();
    private int _fsInfoSector;
    private bool _disposed;

    private FatFileSystem(IBlockDevice device, FatGeometry geometry, bool readOnly, Func<DateTimeOffset> now)
    {
        _device = device;
        _g = geometry;
        _cache = new FatSectorCache(device, geometry);
        _fat = new FatTable(geometry, _cache);
        _now = now;
        _fsInfoSector = geometry.FsInfoSector;
        IsReadOnly = readOnly || device.IsReadOnly;
    }

    public string TypeName => FatFileSystemDriver.Name;
    public bool IsReadOnly { get; }
    public FatType FatType => _g.Type;
    public int ClusterSize => _g.ClusterBytes;
    public long ClusterCount => _g.ClusterCount;

    /// <summary>Mounts after validating the boot sector, FSInfo and the root directory. Never writes to the device.</summary>
    internal static async ValueTask<Result<IFileSystem>> MountAsync(IBlockDevice device, MountOptions options, Func<DateTimeOffset> now, CancellationToken ct)
    {
        try
        {
            var geometry = await ReadGeometryAsync(device, ct).ConfigureAwait(false);
            if (!geometry.IsOk) return geometry.Error;
            var fs = new FatFileSystem(device, geometry.Value, options.ReadOnly, now);
            var loaded = await fs.LoadAsync(ct).ConfigureAwait(false);
            if (!loaded.IsOk) return loaded.Error;
            return fs;
        }
        catch (OperationCanceledException) { return Result<IFileSystem>.Fail(ErrorCode.Cancelled, "mount cancelled"); }
    }

    internal static async ValueTask<Result<FatGeometry>> ReadGeometryAsync(IBlockDevice device, CancellationToken ct)
    {
        if (device.SectorSize is < 512 or > 4096 || (device.SectorSize & (device.SectorSize - 1)) != 0)
            return Result<FatGeometry>.Fail(ErrorCode.NotSupported, $"device sector size {device.SectorSize}");
        if (device.SectorCount < 1) return Result<FatGeometry>.Fail(ErrorCode.Corrupted, "device is empty");
        var boot = new byte[device.SectorSize];
        var read = await device.ReadAsync(0, boot, ct).ConfigureAwait(false);
        if (!read.IsOk) return read.Error;
        return FatGeometry.Parse(boot, device.SectorSize, device.SectorCount * device.SectorSize);
    }

    private async ValueTask<Result> LoadAsync(CancellationToken ct)
    {
        if (_fsInfoSector > 0)
        {
            var read = await _cache.GetAsync(_fsInfoSector, ct).ConfigureAwait(false);
            if (!read.IsOk) return read.Error;
            var info = read.Value;
            bool signed = BinaryPrimitives.ReadUInt32LittleEndian(info) == 0x41615252
                          && BinaryPrimitives.ReadUInt32LittleEndian(info.AsSpan(484)) == 0x61417272
                          && BinaryPrimitives.ReadUInt32LittleEndian(info.AsSpan(508)) == 0xAA550000;
            if (!signed) _fsInfoSector = -1;
            else
            {
                uint free = BinaryPrimitives.ReadUInt32LittleEndian(info.AsSpan(488));
                uint next = BinaryPrimitives.ReadUInt32LittleEndian(info.AsSpan(492));
                if (free <= _g.ClusterCount) _fat.FreeCount = free;
                if (_g.IsValidCluster(next)) _fat.NextFree = next;
            }
        }
        // Reading the root proves its chain is sane before anyone relies on it.
        return (await LoadDirectoryAsync(0, ct).ConfigureAwait(false)).AsResult();
    }

    // ---------------------------------------------------------------- IFileSystem

    public ValueTask<Result<FileStat>> StatAsync(string path, CancellationToken ct = default) =>
        RunAsync<FileStat>(false, async () =>
        {
            var parts = SplitPath(path);
            if (!parts.IsOk) return parts.Error;
            if (parts.Value.Length == 0) return new FileStat("/", FileKind.Directory, 0, FatTime.Epoch);
            var resolved = await ResolveAsync(parts.Value, ct).ConfigureAwait(false);
            if (!resolved.IsOk) return resolved.Error;
            var node = resolved.Value.Node;
            return new FileStat(node.Name, node.IsDirectory ? FileKind.Directory : FileKind.File, node.IsDirectory ? 0 : node.Size, node.Modified);
        }, ct);

    public ValueTask<Result<IReadOnlyList<DirectoryEntry>>> ReadDirectoryAsync(string path, CancellationToken ct = default) =>
        RunAsync<IReadOnlyList<DirectoryEntry>>(false, async () =>
        {
            var parts = SplitPath(path);
            if (!parts.IsOk) return parts.Error;
            var dir = await ResolveDirectoryAsync(parts.Value, ct).ConfigureAwait(false);
            if (!dir.IsOk) return dir.Error;
            return dir.Value.ReadEntries()
                .Select(n => new DirectoryEntry(n.Name, n.IsDirectory ? FileKind.Directory : FileKind.File, n.IsDirectory ? 0 : n.Size))
                .ToList();
        }, ct);

    public ValueTask<Result<IFileNode>> OpenAsync(string path, CancellationToken ct = default) =>
        RunAsync<IFileNode>(false, async () =>
        {
            var parts = SplitPath(path);
            if (!parts.IsOk) return parts.Error;
            if (parts.Value.Length == 0) return new FatFileNode(this, 0, -1, FileKind.Directory) { Opens = 1 };
            var resolved = await ResolveAsync(parts.Value, ct).ConfigureAwait(false);
            if (!resolved.IsOk) return resolved.Error;
            var (dir, entry) = resolved.Value;
            lock (_open)
            {
                var key = (dir.Id, entry.ShortSlot);
                if (_open.TryGetValue(key, out var node)) { node.Opens++; return node; }
                node = new FatFileNode(this, dir.Id, entry.ShortSlot, entry.IsDirectory ? FileKind.Directory : FileKind.File) { Opens = 1 };
                _open[key] = node;
                return node;
            }
        }, ct);

    internal void ReleaseNode(FatFileNode node)
    {
        lock (_open)
        {
            if (node.Opens == 0) return;
            if (--node.Opens > 0) return;
            node.Released = true;
            if (!node.IsRoot && _open.TryGetValue((node.Directory, node.Slot), out var known) && known == node) _open.Remove((node.Directory, node.Slot));
        }
    }

    private void EndNode(uint directory, int slot)
    {
        lock (_open)
            if (_open.Remove((directory, slot), out var node)) { node.Ended = true; node.Chain = null; }
    }

    private void MoveNode(uint fromDirectory, int fromSlot, uint toDirectory, int toSlot)
    {
        lock (_open)
        {
            if (!_open.Remove((fromDirectory, fromSlot), out var node)) return;
            node.Directory = toDirectory;
            node.Slot = toSlot;
            _open[(toDirectory, toSlot)] = node;
        }
    }

    private static Result CheckLive(FatFileNode node)
    {
        if (node.Released) return Result.Fail(ErrorCode.Closed, "the file was closed");
        if (node.Ended) return Result.Fail(ErrorCode.NotFound, "the file was deleted while open");
        return Result.Ok;
    }

    /// <summary>The node's directory entry as it is now (re-read through the sector cache).</summary>
    private async ValueTask<Result<(FatDirectory Directory, FatNode Entry)>> EntryAsync(FatFileNode node, CancellationToken ct)
    {
        var dir = await LoadDirectoryAsync(node.Directory, ct).ConfigureAwait(false);
        if (!dir.IsOk) return dir.Error;
        var entry = dir.Value.ReadEntries().FirstOrDefault(e => e.ShortSlot == node.Slot);
        if (entry is null) return Result<(FatDirectory, FatNode)>.Fail(ErrorCode.Corrupted, "the directory entry of an open file vanished");
        return (dir.Value, entry);
    }

    /// <summary>Fills the node's size and chain from disk unless they are cached.</summary>
    private async ValueTask<Result<List<uint>>> ChainAsync(FatFileNode node, CancellationToken ct)
    {
        if (node.Chain is { } cached) return cached;
        var entry = await EntryAsync(node, ct).ConfigureAwait(false);
        if (!entry.IsOk) return entry.Error;
        var chain = await FileChainAsync(entry.Value.Entry, ct).ConfigureAwait(false);
        if (!chain.IsOk) return chain;
        node.Size = entry.Value.Entry.Size;
        node.Chain = chain.Value;
        return chain;
    }

    /// <summary>Before a change: a chain longer than the size needs is cross-linked or lost data, and freeing or reusing
    /// its tail could destroy another file.</summary>
    private Result CheckExact(FatFileNode node, List<uint> chain)
    {
        long needed = (node.Size + _g.ClusterBytes - 1) / _g.ClusterBytes;
        if (chain.Count > Math.Max(needed, 1))
            return Result.Fail(ErrorCode.Corrupted, $"cluster chain from {chain[0]} is longer than its size allows");
        return Result.Ok;
    }

    private static Result CheckFile(FatFileNode node)
    {
        var live = CheckLive(node);
        if (!live.IsOk) return live;
        if (node.Kind == FileKind.Directory) return Result.Fail(ErrorCode.IsADirectory, "the node is a directory");
        return Result.Ok;
    }

    internal ValueTask<Result<FileStat>> StatNodeAsync(FatFileNode node, CancellationToken ct) =>
        RunAsync<FileStat>(false, async () =>
        {
            var live = CheckLive(node);
            if (!live.IsOk) return live.Error;
            if (node.IsRoot) return new FileStat("/", FileKind.Directory, 0, FatTime.Epoch);
            var found = await EntryAsync(node, ct).ConfigureAwait(false);
            if (!found.IsOk) return found.Error;
            var entry = found.Value.Entry;
            return new FileStat(entry.Name, entry.IsDirectory ? FileKind.Directory : FileKind.File, entry.IsDirectory ? 0 : entry.Size, entry.Modified);
        }, ct);

    internal ValueTask<Result<int>> ReadNodeAsync(FatFileNode node, long offset, Memory<byte> buffer, CancellationToken ct) =>
        RunAsync<int>(false, async () =>
        {
            var file = CheckFile(node);
            if (!file.IsOk) return file.Error;
            if (offset < 0) return Result<int>.Fail(ErrorCode.InvalidArgument, "negative offset");
            var chain = await ChainAsync(node, ct).ConfigureAwait(false);
            if (!chain.IsOk) return chain.Error;
            long size = node.Size;
            if (offset >= size || buffer.Length == 0) return 0;
            int count = (int)Math.Min(buffer.Length, size - offset);
            var reads = new List<Task<Result>>();
            foreach (var (deviceOffset, at, length) in Runs(chain.Value, offset, count))
                reads.Add(ReadDeviceAsync(deviceOffset, buffer.Slice(at, length), ct).AsTask());
            var all = await AllAsync(reads).ConfigureAwait(false);
            if (!all.IsOk) return all.Error;
            return count;
        }, ct);

    internal async ValueTask<Result> WriteNodeAsync(FatFileNode node, long offset, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        var result = await RunVoidAsync(() => WriteNodeCoreAsync(node, offset, data, ct), ct).ConfigureAwait(false);
        // A failed change was rolled back in the FAT, so the cached chain may no longer be true.
        if (!result.IsOk) node.Chain = null;
        return result;
    }

    private async ValueTask<Result> WriteNodeCoreAsync(FatFileNode node, long offset, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        var file = CheckFile(node);
        if (!file.IsOk) return file;
        if (offset < 0) return Result.Fail(ErrorCode.InvalidArgument, "negative offset");
        long end = offset + data.Length;
        if (end > uint.MaxValue || end < offset) return Result.Fail(ErrorCode.OutOfRange, "FAT files are limited to 4 GiB - 1 bytes");
        if (data.Length == 0) return Result.Ok;
        var read = await ChainAsync(node, ct).ConfigureAwait(false);
        if (!read.IsOk) return read.Error;
        var chain = read.Value;
        var exact = CheckExact(node, chain);
        if (!exact.IsOk) return exact;
        long oldSize = node.Size, newSize = Math.Max(oldSize, end);
        var grown = await EnsureClustersAsync(chain, newSize, ct).ConfigureAwait(false);
        if (!grown.IsOk) return grown;
        if (offset > oldSize)
        {
            var zeroed = await ZeroFillAsync(chain, oldSize, offset - oldSize, ct).ConfigureAwait(false);
            if (!zeroed.IsOk) return zeroed;
        }
        var writes = new List<Task<Result>>();
        foreach (var (deviceOffset, at, length) in Runs(chain, offset, data.Length))
            writes.Add(WriteDeviceAsync(deviceOffset, data.Slice(at, length), ct).AsTask());
        var all = await AllAsync(writes).ConfigureAwait(false);
        if (!all.IsOk) return all;
        var found = await EntryAsync(node, ct).ConfigureAwait(false);
        if (!found.IsOk) return found.Error;
        var updated = await UpdateFileEntryAsync(found.Value.Directory, found.Value.Entry, chain, newSize, ct).ConfigureAwait(false);
        if (!updated.IsOk) return updated;
        node.Size = newSize;
        return Result.Ok;
    }

    internal async ValueTask<Result> TruncateNodeAsync(FatFileNode node, long length, CancellationToken ct)
    {
        var result = await RunVoidAsync(() => TruncateNodeCoreAsync(node, length, ct), ct).ConfigureAwait(false);
        if (!result.IsOk) node.Chain = null;
        return result;
    }

    private async ValueTask<Result> TruncateNodeCoreAsync(FatFileNode node, long length, CancellationToken ct)
    {
        var file = CheckFile(node);
        if (!file.IsOk) return file;
        if (length < 0) return Result.Fail(ErrorCode.InvalidArgument, "negative length");
        if (length > uint.MaxValue) return Result.Fail(ErrorCode.OutOfRange, "FAT files are limited to 4 GiB - 1 bytes");
        var read = await ChainAsync(node, ct).ConfigureAwait(false);
        if (!read.IsOk) return read.Error;
        var chain = read.Value;
        var exact = CheckExact(node, chain);
        if (!exact.IsOk) return exact;
        long oldSize = node.Size;
        if (length > oldSize)
        {
            var grown = await EnsureClustersAsync(chain, length, ct).ConfigureAwait(false);
            if (!grown.IsOk) return grown;
            var zeroed = await ZeroFillAsync(chain, oldSize, length - oldSize, ct).ConfigureAwait(false);
            if (!zeroed.IsOk) return zeroed;
        }
        else
        {
            int keep = (int)((length + _g.ClusterBytes - 1) / _g.ClusterBytes);
            if (keep < chain.Count)
            {
                // The shorter chain reaches the disk after the smaller size (see the flush order).
                if (keep > 0)
                {
                    var cut = await _fat.SetDeferredAsync(chain[keep - 1], _fat.EndOfChainMark, ct).ConfigureAwait(false);
                    if (!cut.IsOk) return cut;
                }
                var freed = await _fat.FreeAsync(chain.GetRange(keep, chain.Count - keep), ct).ConfigureAwait(false);
                if (!freed.IsOk) return freed;
                chain.RemoveRange(keep, chain.Count - keep);
            }
        }
        var found = await EntryAsync(node, ct).ConfigureAwait(false);
        if (!found.IsOk) return found.Error;
        var updated = await UpdateFileEntryAsync(found.Value.Directory, found.Value.Entry, chain, length, ct).ConfigureAwait(false);
        if (!updated.IsOk) return updated;
        node.Size = length;
        return Result.Ok;
    }

    /// <summary>Awaits every transfer (even after one failed, so none is left in flight) and returns the first failure.</summary>
    private static async ValueTask<Result> AllAsync(List<Task<Result>> transfers)
    {
        var first = Result.Ok;
        foreach (var t in transfers)
        {
            var r = await t.ConfigureAwait(false);
            if (first.IsOk && !r.IsOk) first = r;
        }
        return first;
    }

    public ValueTask<Result> CreateFileAsync(string path, CancellationToken ct = default) =>
        RunVoidAsync(async () =>
        {
            var target = await ResolveNewAsync(path, ct).ConfigureAwait(false);
            if (!target.IsOk) return target.Error;
            return (await InsertAsync(target.Value.Parent, target.Value.Name, NewShortEntry(FatAttributes.Archive, 0), ct).ConfigureAwait(false)).AsResult();
        }, ct);

    public ValueTask<Result> CreateDirectoryAsync(string path, CancellationToken ct = default) =>
        RunVoidAsync(async () =>
        {
            var target = await ResolveNewAsync(path, ct).ConfigureAwait(false);
            if (!target.IsOk) return target.Error;
            var (parent, name) = target.Value;
            var allocated = await _fat.AllocateAsync(0, ct).ConfigureAwait(false);
            if (!allocated.IsOk) return allocated.Error;
            uint cluster = allocated.Value;
            var dot = NewShortEntry(FatAttributes.Directory, cluster);
            var content = new byte[_g.ClusterBytes];
            dot.CopyTo(content, 0);
            "."u8.CopyTo(content.AsSpan(0));
            "          "u8.CopyTo(content.AsSpan(1));
            dot.CopyTo(content, 32);
            "..         "u8.CopyTo(content.AsSpan(32));
            // ".." of a directory whose parent is the root names cluster 0, even on FAT32.
            FatDirectory.WriteCluster(content.AsSpan(32), parent.Id);
            long sector = _g.ClusterToSector(cluster);
            for (int i = 0; i < _g.SectorsPerCluster; i++)
                _cache.PutNew(sector + i, content.AsSpan(i * _g.BytesPerSector, _g.BytesPerSector).ToArray());
            return (await InsertAsync(parent, name, NewShortEntry(FatAttributes.Directory, cluster), ct).ConfigureAwait(false)).AsResult();
        }, ct);

    public ValueTask<Result> DeleteAsync(string path, CancellationToken ct = default) =>
        RunVoidAsync(async () =>
        {
            var parts = SplitPath(path);
            if (!parts.IsOk) return parts.Error;
            if (parts.Value.Length == 0) return Result.Fail(ErrorCode.InvalidArgument, "cannot delete the root directory");
            var resolved = await ResolveAsync(parts.Value, ct).ConfigureAwait(false);
            if (!resolved.IsOk) return resolved.Error;
            var (dir, node) = resolved.Value;
            List<uint> chain;
            if (node.IsDirectory)
            {
                var sub = await OpenSubdirectoryAsync(node, ct).ConfigureAwait(false);
                if (!sub.IsOk) return sub.Error;
                if (!sub.Value.IsEmpty()) return Result.Fail(ErrorCode.NotEmpty, $"directory '{node.Name}' is not empty");
                chain = sub.Value.Clusters;
            }
            else
            {
                var file = await FileChainAsync(node, ct, exact: true).ConfigureAwait(false);
                if (!file.IsOk) return file.Error;
                chain = file.Value;
            }
            var removed = await RemoveEntryAsync(dir, node, ct).ConfigureAwait(false);
            if (!removed.IsOk) return removed;
            var freed = await _fat.FreeAsync(chain, ct).ConfigureAwait(false);
            if (!freed.IsOk) return freed;
            EndNode(dir.Id, node.ShortSlot);
            return Result.Ok;
        }, ct);

    public ValueTask<Result> RenameAsync(string from, string to, CancellationToken ct = default) =>
        RunVoidAsync(async () =>
        {
            var fromParts = SplitPath(from);
            if (!fromParts.IsOk) return fromParts.Error;
            var toParts = SplitPath(to);
            if (!toParts.IsOk) return toParts.Error;
            if (fromParts.Value.Length == 0 || toParts.Value.Length == 0) return Result.Fail(ErrorCode.InvalidArgument, "cannot rename the root directory");
            var resolved = await ResolveAsync(fromParts.Value, ct).ConfigureAwait(false);
            if (!resolved.IsOk) return resolved.Error;
            var (fromDir, node) = resolved.Value;
            uint forbidden = node.IsDirectory ? node.FirstCluster : 0;
            var target = await ResolveDirectoryAsync(toParts.Value[..^1], ct, forbidden).ConfigureAwait(false);
            if (!target.IsOk) return target.Error;
            var toDir = target.Value;
            bool sameDir = toDir.Id == fromDir.Id;
            if (sameDir) toDir = fromDir;
            string newName = toParts.Value[^1];
            var existing = toDir.Find(newName);
            if (existing is not null)
            {
                if (!sameDir || existing.ShortSlot != node.ShortSlot) return Result.Fail(ErrorCode.AlreadyExists, $"'{newName}' already exists");
                if (existing.Name == newName) return Result.Ok;
            }
            // The old entry's removal reaches the disk before the new entry (see the flush order): a crash in between
            // loses the name (lost clusters), never leaves two entries owning one chain.
            var removed = await RemoveEntryAsync(fromDir, node, ct).ConfigureAwait(false);
            if (!removed.IsOk) return removed;
            foreach (long sector in SlotSectors(fromDir, node.FirstSlot, node.ShortSlot - node.FirstSlot + 1)) _cache.MarkEarly(sector);
            var template = (byte[])node.ShortEntry.Clone();
            var slot = await InsertAsync(toDir, newName, template, ct).ConfigureAwait(false);
            if (!slot.IsOk) return slot.Error;
            if (node.IsDirectory && !sameDir)
            {
                var moved = await OpenSubdirectoryAsync(node, ct).ConfigureAwait(false);
                if (!moved.IsOk) return moved.Error;
                for (int i = 0; i < Math.Min(2, moved.Value.SlotCount); i++)
                {
                    if (!moved.Value.Slot(i)[..11].SequenceEqual("..         "u8)) continue;
                    FatDirectory.WriteCluster(moved.Value.Slot(i), toDir.Id);
                    var written = await WriteSlotsAsync(moved.Value, i, 1, ct).ConfigureAwait(false);
                    if (!written.IsOk) return written;
                }
            }
            // Last, once nothing can fail: an open node follows its entry.
            MoveNode(fromDir.Id, node.ShortSlot, toDir.Id, slot.Value);
            return Result.Ok;
        }, ct, isolated: true);

    public async ValueTask<Result> FlushAsync(CancellationToken ct = default)
    {
        var result = await RunAsync<bool>(false, async () =>
        {
            var flushed = await FlushCoreAsync(ct).ConfigureAwait(false);
            return flushed.IsOk ? Result<bool>.Success(true) : flushed.Error;
        }, ct).ConfigureAwait(false);
        return result.AsResult();
    }

    private async ValueTask<Result> FlushCoreAsync(CancellationToken ct)
    {
        if (IsReadOnly) return Result.Ok;
        var written = await WriteBackAsync(ct).ConfigureAwait(false);
        if (!written.IsOk) return written;
        if (_g.Type == FatType.Fat32 && _fsInfoSector > 0)
        {
            if (_fat.FreeCount is null)
            {
                var counted = await _fat.CountFreeAsync(ct).ConfigureAwait(false);
                if (!counted.IsOk) return counted.Error;
                _fat.FreeCount = counted.Value;
            }
            var read = await _cache.GetAsync(_fsInfoSector, ct).ConfigureAwait(false);
            if (!read.IsOk) return read.Error;
            var info = read.Value;
            BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(488), (uint)_fat.FreeCount.Value);
            BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(492), _fat.NextFree);
            var infoWritten = await _cache.WriteSectorAsync(_fsInfoSector, info, ct).ConfigureAwait(false);
            if (!infoWritten.IsOk) return infoWritten;
        }
        return await _device.FlushAsync(ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Writes every cached change back in the order that keeps each crash state repairable by losing clusters only
    /// (fsck.vfat reports lost clusters; never shared clusters, a size past its chain, or a garbage directory). File
    /// data was written to its clusters before; each step below is followed by a device flush (skipped when empty):
    /// 1. fresh directory clusters (mkdir, a grown directory), still free on disk;
    /// 2. the FAT, every copy, with new chains and links but every freed cluster and cut chain still as before;
    /// 3. directory sectors holding a rename's removed entry; 4. all other directory sectors (new entries, sizes);
    /// 5. the FAT with the frees and cuts, after which freed clusters may be reused.
    /// </summary>
    private async ValueTask<Result> WriteBackAsync(CancellationToken ct)
    {
        var fresh = await WriteGroupAsync(FatSectorCache.Group.Fresh, ct).ConfigureAwait(false);
        if (!fresh.IsOk) return fresh;
        var reverted = await _fat.RevertDeferredAsync(ct).ConfigureAwait(false);
        if (!reverted.IsOk) return reverted.Error;
        var early = await WriteGroupAsync(FatSectorCache.Group.Fat, ct).ConfigureAwait(false);
        var restored = await _fat.RestoreAsync(reverted.Value, ct).ConfigureAwait(false);
        if (!early.IsOk) return early;
        if (!restored.IsOk) return restored;
        foreach (var group in new[] { FatSectorCache.Group.EarlyDirectory, FatSectorCache.Group.Directory, FatSectorCache.Group.Fat })
        {
            var step = await WriteGroupAsync(group, ct).ConfigureAwait(false);
            if (!step.IsOk) return step;
        }
        _fat.ClearDeferred();
        return Result.Ok;
    }

    private async ValueTask<Result> WriteGroupAsync(FatSectorCache.Group group, CancellationToken ct)
    {
        var written = await _cache.WriteBackAsync(group, ct).ConfigureAwait(false);
        if (!written.IsOk) return written.Error;
        return written.Value == 0 ? Result.Ok : await _device.FlushAsync(ct).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        await FlushAsync().ConfigureAwait(false);
        await _lock.WaitAsync().ConfigureAwait(false);
        try
        {
            _disposed = true;
            _cache.DiscardAll();
        }
        finally { _lock.Release(); }
    }

    // ---------------------------------------------------------------- operation boundary

    /// <summary>
    /// Serialises operations. Mutating operations run as a cache transaction that is rolled back when the body
    /// returns a failure. Cancellation is .NET's exception, turned into its typed result here; a body that runs
    /// out of clusters while freed ones wait for a write-back gets them by writing back and running once more.
    /// <paramref name="isolated"/> operations (a rename) start with nothing else's ordering pending.
    /// </summary>
    private async ValueTask<Result<T>> RunAsync<T>(bool mutating, Func<ValueTask<Result<T>>> body, CancellationToken ct, bool isolated = false)
    {
        if (_disposed) return Result<T>.Fail(ErrorCode.Closed, "filesystem is unmounted");
        if (mutating && IsReadOnly) return Result<T>.Fail(ErrorCode.ReadOnly, "filesystem is mounted read-only");
        try { await _lock.WaitAsync(ct).ConfigureAwait(false); }
        catch (OperationCanceledException) { return Result<T>.Fail(ErrorCode.Cancelled, "operation cancelled"); }
        try
        {
            if (_disposed) return Result<T>.Fail(ErrorCode.Closed, "filesystem is unmounted");
            if (!mutating) return await body().ConfigureAwait(false);
            if (isolated && _cache.HasEarlySectors)
            {
                var written = await WriteBackAsync(ct).ConfigureAwait(false);
                if (!written.IsOk) return written.Error;
            }
            var result = await TransactionAsync(body).ConfigureAwait(false);
            if (result.Code == ErrorCode.NoSpace && _fat.HasPendingFrees)
            {
                var written = await WriteBackAsync(ct).ConfigureAwait(false);
                if (!written.IsOk) return written.Error;
                result = await TransactionAsync(body).ConfigureAwait(false);
            }
            if (_cache.DirtyCount > _cache.Capacity / 2)
            {
                var written = await WriteBackAsync(ct).ConfigureAwait(false);
                if (!written.IsOk && result.IsOk) return written.Error;
            }
            _cache.Trim();
            return result;
        }
        catch (OperationCanceledException) { return Result<T>.Fail(ErrorCode.Cancelled, "operation cancelled"); }
        finally { _lock.Release(); }
    }

    /// <summary>One attempt of a mutating body: its metadata changes are kept only if it succeeds.</summary>
    private async ValueTask<Result<T>> TransactionAsync<T>(Func<ValueTask<Result<T>>> body)
    {
        long? savedFree = _fat.FreeCount;
        uint savedNext = _fat.NextFree;
        int savedDeferred = _fat.DeferredMark;
        _cache.Begin();
        var result = Result<T>.Fail(ErrorCode.Cancelled, "operation cancelled");
        try { result = await body().ConfigureAwait(false); }
        finally
        {
            if (result.IsOk) _cache.Commit();
            else
            {
                _cache.Rollback();
                _fat.RollbackDeferred(savedDeferred);
                _fat.FreeCount = savedFree;
                _fat.NextFree = savedNext;
            }
        }
        return result;
    }

    private async ValueTask<Result> RunVoidAsync(Func<ValueTask<Result>> body, CancellationToken ct, bool isolated = false)
    {
        var result = await RunAsync(true, async () =>
        {
            var done = await body().ConfigureAwait(false);
            return done.IsOk ? Result<bool>.Success(true) : done.Error;
        }, ct, isolated).ConfigureAwait(false);
        return result.AsResult();
    }

    // ---------------------------------------------------------------- paths and directories

    private static Result<string[]> SplitPath(string path)
    {
        if (string.IsNullOrEmpty(path) || path[0] != '/') return Result<string[]>.Fail(ErrorCode.InvalidArgument, $"path '{path}' is not absolute");
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        foreach (var part in parts)
        {
            var valid = FatNames.ValidateLongName(part);
            if (!valid.IsOk) return valid.Error;
        }
        return parts;
    }

    private async ValueTask<Result<FatDirectory>> LoadDirectoryAsync(uint id, CancellationToken ct)
    {
        var sectors = new List<long>();
        var clusters = new List<uint>();
        if (id == 0 && _g.Type != FatType.Fat32)
        {
            for (long i = 0; i < _g.RootDirSectors; i++) sectors.Add(_g.FirstRootDirSector + i);
        }
        else
        {
            long maxClusters = ((long)FatDirectory.MaxEntries * FatDirectory.EntrySize + _g.ClusterBytes - 1) / _g.ClusterBytes;
            var chain = await _fat.ReadChainAsync(id == 0 ? _g.RootCluster : id, ct, maxClusters).ConfigureAwait(false);
            if (!chain.IsOk) return chain.Error;
            clusters = chain.Value;
            foreach (uint cluster in clusters)
            {
                long first = _g.ClusterToSector(cluster);
                for (int i = 0; i < _g.SectorsPerCluster; i++) sectors.Add(first + i);
            }
        }
        var data = new byte[sectors.Count * _g.BytesPerSector];
        for (int i = 0; i < sectors.Count; i++)
        {
            var sector = await _cache.GetAsync(sectors[i], ct).ConfigureAwait(false);
            if (!sector.IsOk) return sector.Error;
            sector.Value.CopyTo(data, i * _g.BytesPerSector);
        }
        return new FatDirectory { Id = id, Clusters = clusters, Sectors = sectors, Data = data };
    }

    private async ValueTask<Result<FatDirectory>> OpenSubdirectoryAsync(FatNode node, CancellationToken ct)
    {
        uint cluster = node.FirstCluster;
        if (!_g.IsValidCluster(cluster)) return Result<FatDirectory>.Fail(ErrorCode.Corrupted, $"directory '{node.Name}' starts at invalid cluster {cluster}");
        return await LoadDirectoryAsync(cluster, ct).ConfigureAwait(false);
    }

    /// <summary>Resolves every component as a directory; <paramref name="forbidden"/> (a cluster) may not be crossed.</summary>
    private async ValueTask<Result<FatDirectory>> ResolveDirectoryAsync(string[] parts, CancellationToken ct, uint forbidden = 0)
    {
        var dir = await LoadDirectoryAsync(0, ct).ConfigureAwait(false);
        foreach (var part in parts)
        {
            if (!dir.IsOk) return dir;
            var node = dir.Value.Find(part);
            if (node is null) return Result<FatDirectory>.Fail(ErrorCode.NotFound, $"'{part}' not found");
            if (!node.IsDirectory) return Result<FatDirectory>.Fail(ErrorCode.NotADirectory, $"'{part}' is not a directory");
            if (forbidden != 0 && node.FirstCluster == forbidden)
                return Result<FatDirectory>.Fail(ErrorCode.InvalidArgument, "cannot move a directory into itself");
            dir = await OpenSubdirectoryAsync(node, ct).ConfigureAwait(false);
        }
        return dir;
    }

    private async ValueTask<Result<(FatDirectory Parent, FatNode Node)>> ResolveAsync(string[] parts, CancellationToken ct)
    {
        var parent = await ResolveDirectoryAsync(parts[..^1], ct).ConfigureAwait(false);
        if (!parent.IsOk) return parent.Error;
        var node = parent.Value.Find(parts[^1]);
        if (node is null) return Result<(FatDirectory, FatNode)>.Fail(ErrorCode.NotFound, $"'{parts[^1]}' not found");
        return (parent.Value, node);
    }

    private async ValueTask<Result<(FatDirectory Parent, string Name)>> ResolveNewAsync(string path, CancellationToken ct)
    {
        var parts = SplitPath(path);
        if (!parts.IsOk) return parts.Error;
        if (parts.Value.Length == 0) return Result<(FatDirectory, string)>.Fail(ErrorCode.AlreadyExists, "'/' already exists");
        var parent = await ResolveDirectoryAsync(parts.Value[..^1], ct).ConfigureAwait(false);
        if (!parent.IsOk) return parent.Error;
        string name = parts.Value[^1];
        if (parent.Value.Find(name) is not null) return Result<(FatDirectory, string)>.Fail(ErrorCode.AlreadyExists, $"'{name}' already exists");
        return (parent.Value, name);
    }

    private byte[] NewShortEntry(FatAttributes attributes, uint cluster)
    {
        var entry = new byte[FatDirectory.EntrySize];
        entry[11] = (byte)attributes;
        var (date, time, tenths) = FatTime.Encode(_now());
        entry[13] = tenths;
        BinaryPrimitives.WriteUInt16LittleEndian(entry.AsSpan(14), time);
        BinaryPrimitives.WriteUInt16LittleEndian(entry.AsSpan(16), date);
        BinaryPrimitives.WriteUInt16LittleEndian(entry.AsSpan(18), date);
        BinaryPrimitives.WriteUInt16LittleEndian(entry.AsSpan(22), time);
        BinaryPrimitives.WriteUInt16LittleEndian(entry.AsSpan(24), date);
        FatDirectory.WriteCluster(entry, cluster);
        return entry;
    }

    /// <summary>
    /// Adds <paramref name="name"/> to a directory: a bare 8.3 entry when the name is already a valid upper-case
    /// short name, otherwise LFN entries plus a unique generated alias. <paramref name="shortEntry"/> supplies every
    /// field but the name. Grows a chained directory by a cluster when no run of free slots is long enough.
    /// </summary>
    private async ValueTask<Result<int>> InsertAsync(FatDirectory dir, string name, byte[] shortEntry, CancellationToken ct)
    {
        var taken = dir.ShortNames();
        byte[]? exact = FatNames.TryExactShortName(name);
        bool shortOnly = exact is not null && !taken.Contains(FatNames.ShortKey(exact));
        byte[] shortName;
        if (shortOnly) shortName = exact!;
        else
        {
            var alias = FatNames.GenerateAlias(name, candidate => taken.Contains(FatNames.ShortKey(candidate)));
            if (!alias.IsOk) return alias.Error;
            shortName = alias.Value;
        }
        var longEntries = shortOnly ? [] : FatDirectory.BuildLongEntries(name, FatNames.Checksum(shortName));
        int needed = longEntries.Count + 1;

        int start = dir.FindFreeRun(needed);
        while (start < 0)
        {
            var grown = await GrowDirectoryAsync(dir, ct).ConfigureAwait(false);
            if (!grown.IsOk) return grown.Error;
            start = dir.FindFreeRun(needed);
        }
        for (int i = 0; i < longEntries.Count; i++) longEntries[i].CopyTo(dir.Slot(start + i));
        var slot = dir.Slot(start + longEntries.Count);
        shortEntry.CopyTo(slot);
        shortName.CopyTo(slot);
        slot[12] = 0; // no NT case flags: the long name carries the case
        var written = await WriteSlotsAsync(dir, start, needed, ct).ConfigureAwait(false);
        if (!written.IsOk) return written.Error;
        return start + longEntries.Count;
    }

    private async ValueTask<Result> GrowDirectoryAsync(FatDirectory dir, CancellationToken ct)
    {
        if (dir.IsFixedRoot) return Result.Fail(ErrorCode.NoSpace, "the root directory is full");
        if (dir.SlotCount + _g.ClusterBytes / FatDirectory.EntrySize > FatDirectory.MaxEntries)
            return Result.Fail(ErrorCode.NoSpace, "directory has the maximum number of entries");
        var allocated = await _fat.AllocateAsync(dir.Clusters[^1], ct).ConfigureAwait(false);
        if (!allocated.IsOk) return allocated.Error;
        long sector = _g.ClusterToSector(allocated.Value);
        for (int i = 0; i < _g.SectorsPerCluster; i++)
        {
            _cache.PutNew(sector + i, new byte[_g.BytesPerSector]);
            dir.Sectors.Add(sector + i);
        }
        dir.Clusters.Add(allocated.Value);
        var grown = new byte[dir.Data.Length + _g.ClusterBytes];
        dir.Data.CopyTo(grown, 0);
        dir.Data = grown;
        return Result.Ok;
    }

    private ValueTask<Result> RemoveEntryAsync(FatDirectory dir, FatNode node, CancellationToken ct)
    {
        for (int i = node.FirstSlot; i <= node.ShortSlot; i++) dir.Data[i * FatDirectory.EntrySize] = 0xE5;
        return WriteSlotsAsync(dir, node.FirstSlot, node.ShortSlot - node.FirstSlot + 1, ct);
    }

    /// <summary>The cache sectors that hold a run of slots.</summary>
    private IEnumerable<long> SlotSectors(FatDirectory dir, int firstSlot, int count)
    {
        int bps = _g.BytesPerSector;
        long startByte = (long)firstSlot * FatDirectory.EntrySize;
        long endByte = (long)(firstSlot + count) * FatDirectory.EntrySize;
        for (long s = startByte / bps; s * bps < endByte; s++) yield return dir.Sectors[(int)s];
    }

    /// <summary>Copies edited slots of the in-memory directory into their (dirty) cache sectors.</summary>
    private async ValueTask<Result> WriteSlotsAsync(FatDirectory dir, int firstSlot, int count, CancellationToken ct)
    {
        int bps = _g.BytesPerSector;
        long startByte = (long)firstSlot * FatDirectory.EntrySize;
        long endByte = (long)(firstSlot + count) * FatDirectory.EntrySize;
        for (long s = startByte / bps; s * bps < endByte; s++)
        {
            var sector = await _cache.GetForWriteAsync(dir.Sectors[(int)s], ct).ConfigureAwait(false);
            if (!sector.IsOk) return sector.Error;
            dir.Data.AsSpan((int)(s * bps), bps).CopyTo(sector.Value);
        }
        return Result.Ok;
    }

    private ValueTask<Result> UpdateFileEntryAsync(FatDirectory dir, FatNode node, List<uint> chain, long size, CancellationToken ct)
    {
        var slot = dir.Slot(node.ShortSlot);
        FatDirectory.WriteCluster(slot, chain.Count > 0 ? chain[0] : 0);
        BinaryPrimitives.WriteUInt32LittleEndian(slot[28..], (uint)size);
        var (date, time, _) = FatTime.Encode(_now());
        BinaryPrimitives.WriteUInt16LittleEndian(slot[18..], date);
        BinaryPrimitives.WriteUInt16LittleEndian(slot[22..], time);
        BinaryPrimitives.WriteUInt16LittleEndian(slot[24..], date);
        slot[11] |= (byte)FatAttributes.Archive;
        return WriteSlotsAsync(dir, node.ShortSlot, 1, ct);
    }

    // ---------------------------------------------------------------- file data

    /// <summary>
    /// The file's cluster chain, checked to be long enough for its recorded size. Before a change (<paramref name="exact"/>)
    /// a chain longer than the size needs is refused too: it is cross-linked or lost data, and freeing or reusing its
    /// tail could destroy another file.
    /// </summary>
    private async ValueTask<Result<List<uint>>> FileChainAsync(FatNode node, CancellationToken ct, bool exact = false)
    {
        long size = node.Size;
        uint first = node.FirstCluster;
        if (first == 0)
        {
            if (size != 0) return Result<List<uint>>.Fail(ErrorCode.Corrupted, $"file '{node.Name}' has data but no clusters");
            return new List<uint>();
        }
        long needed = (size + _g.ClusterBytes - 1) / _g.ClusterBytes;
        var chain = await _fat.ReadChainAsync(first, ct, exact ? Math.Max(needed, 1) : long.MaxValue).ConfigureAwait(false);
        if (!chain.IsOk) return chain;
        if ((long)chain.Value.Count * _g.ClusterBytes < size)
            return Result<List<uint>>.Fail(ErrorCode.Corrupted, $"file '{node.Name}' is shorter on disk than its size");
        return chain;
    }

    private async ValueTask<Result> EnsureClustersAsync(List<uint> chain, long size, CancellationToken ct)
    {
        long needed = (size + _g.ClusterBytes - 1) / _g.ClusterBytes;
        return chain.Count < needed ? await _fat.AllocateManyAsync(chain, needed - chain.Count, ct).ConfigureAwait(false) : Result.Ok;
    }

    private async ValueTask<Result> ZeroFillAsync(List<uint> chain, long offset, long count, CancellationToken ct)
    {
        while (count > 0)
        {
            int chunk = (int)Math.Min(count, Zeros.Length);
            foreach (var (deviceOffset, at, length) in Runs(chain, offset, chunk))
            {
                var written = await WriteDeviceAsync(deviceOffset, Zeros.AsMemory(at, length), ct).ConfigureAwait(false);
                if (!written.IsOk) return written;
            }
            offset += chunk;
            count -= chunk;
        }
        return Result.Ok;
    }

    /// <summary>Splits a byte range of a file into device-contiguous pieces (runs of consecutive clusters).</summary>
    private List<(long DeviceOffset, int BufferOffset, int Length)> Runs(List<uint> chain, long offset, int length)
    {
        var runs = new List<(long, int, int)>();
        int clusterBytes = _g.ClusterBytes;
        int index = (int)(offset / clusterBytes);
        int inner = (int)(offset % clusterBytes);
        int done = 0;
        while (done < length)
        {
            uint first = chain[index];
            int clusters = 1;
            long runBytes = clusterBytes - inner;
            while (runBytes < length - done && runBytes < MaxRunBytes && index + clusters < chain.Count && chain[index + clusters] == first + clusters)
            {
                runBytes += clusterBytes;
                clusters++;
            }
            int take = (int)Math.Min(runBytes, length - done);
            runs.Add((_g.ClusterToSector(first) * _g.BytesPerSector + inner, done, take));
            done += take;
            index += clusters;
            inner = 0;
        }
        return runs;
    }

    private async ValueTask<Result> ReadDeviceAsync(long byteOffset, Memory<byte> destination, CancellationToken ct)
    {
        int ss = _device.SectorSize;
        long alignedStart = byteOffset / ss * ss;
        long alignedEnd = (byteOffset + destination.Length + ss - 1) / ss * ss;
        if (alignedStart == byteOffset && alignedEnd == byteOffset + destination.Length)
            return await ParallelBlockIo.ReadAsync(_device, byteOffset / ss, destination, ct).ConfigureAwait(false);
        // Zero-copy where the device lends: the wanted bytes come straight out of the buffer the device wrote.
        var lent = await LentBlockRead.TryReadAsync(_device, alignedStart / ss, (int)(alignedEnd - alignedStart), (int)(byteOffset - alignedStart),
            destination, ct).ConfigureAwait(false);
        if (lent is { } done) return done;
        var temp = new byte[alignedEnd - alignedStart];
        var read = await _device.ReadAsync(alignedStart / ss, temp, ct).ConfigureAwait(false);
        if (!read.IsOk) return read;
        temp.AsSpan((int)(byteOffset - alignedStart), destination.Length).CopyTo(destination.Span);
        return Result.Ok;
    }

    private async ValueTask<Result> WriteDeviceAsync(long byteOffset, ReadOnlyMemory<byte> source, CancellationToken ct)
    {
        int ss = _device.SectorSize;
        long end = byteOffset + source.Length;
        long alignedStart = byteOffset / ss * ss;
        long alignedEnd = (end + ss - 1) / ss * ss;
        if (alignedStart == byteOffset && alignedEnd == end)
            return await ParallelBlockIo.WriteAsync(_device, byteOffset / ss, source, ct).ConfigureAwait(false);
        // Read-modify-write of the partial first and last device sectors.
        var temp = new byte[alignedEnd - alignedStart];
        if (alignedStart != byteOffset)
        {
            var head = await _device.ReadAsync(alignedStart / ss, temp.AsMemory(0, ss), ct).ConfigureAwait(false);
            if (!head.IsOk) return head;
        }
        if (alignedEnd != end && (alignedEnd - ss != alignedStart || alignedStart == byteOffset))
        {
            var tail = await _device.ReadAsync((alignedEnd - ss) / ss, temp.AsMemory(temp.Length - ss, ss), ct).ConfigureAwait(false);
            if (!tail.IsOk) return tail;
        }
        source.Span.CopyTo(temp.AsSpan((int)(byteOffset - alignedStart)));
        return await _device.WriteAsync(alignedStart / ss, temp, ct).ConfigureAwait(false);
    }
}
