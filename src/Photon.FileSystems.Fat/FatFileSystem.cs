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
            await fs.LoadAsync(ct).ConfigureAwait(false);
            return fs;
        }
        catch (KernelException e) { return e.Error; }
        catch (OperationCanceledException) { return Result<IFileSystem>.Fail(ErrorCode.Cancelled, "mount cancelled"); }
        catch (Exception e) { return Result<IFileSystem>.Fail(ErrorCode.Corrupted, $"internal: {e.GetType().Name}: {e.Message}"); }
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

    private async ValueTask LoadAsync(CancellationToken ct)
    {
        if (_fsInfoSector > 0)
        {
            var info = await _cache.GetAsync(_fsInfoSector, ct).ConfigureAwait(false);
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
        await LoadDirectoryAsync(0, ct).ConfigureAwait(false);
    }

    // ---------------------------------------------------------------- IFileSystem

    public ValueTask<Result<FileStat>> StatAsync(string path, CancellationToken ct = default) =>
        RunAsync(false, async () =>
        {
            var parts = SplitPath(path);
            if (parts.Length == 0) return new FileStat("/", FileKind.Directory, 0, FatTime.Epoch);
            var (_, node) = await ResolveAsync(parts, ct).ConfigureAwait(false);
            return new FileStat(node.Name, node.IsDirectory ? FileKind.Directory : FileKind.File, node.IsDirectory ? 0 : node.Size, node.Modified);
        }, ct);

    public ValueTask<Result<IReadOnlyList<DirectoryEntry>>> ReadDirectoryAsync(string path, CancellationToken ct = default) =>
        RunAsync<IReadOnlyList<DirectoryEntry>>(false, async () =>
        {
            var dir = await ResolveDirectoryAsync(SplitPath(path), ct).ConfigureAwait(false);
            return dir.ReadEntries()
                .Select(n => new DirectoryEntry(n.Name, n.IsDirectory ? FileKind.Directory : FileKind.File, n.IsDirectory ? 0 : n.Size))
                .ToList();
        }, ct);

    public ValueTask<Result<IFileNode>> OpenAsync(string path, CancellationToken ct = default) =>
        RunAsync<IFileNode>(false, async () =>
        {
            var parts = SplitPath(path);
            if (parts.Length == 0) return new FatFileNode(this, 0, -1, FileKind.Directory) { Opens = 1 };
            var (dir, entry) = await ResolveAsync(parts, ct).ConfigureAwait(false);
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

    /// <summary>The open node for a directory entry, if any (a delete ends it, a rename re-keys it).</summary>
    private FatFileNode? OpenNode(uint directory, int slot)
    {
        lock (_open) return _open.GetValueOrDefault((directory, slot));
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

    private static void CheckLive(FatFileNode node)
    {
        if (node.Released) throw new KernelException(ErrorCode.Closed, "the file was closed");
        if (node.Ended) throw new KernelException(ErrorCode.NotFound, "the file was deleted while open");
    }

    /// <summary>The node's directory entry as it is now (re-read through the sector cache).</summary>
    private async ValueTask<(FatDirectory Directory, FatNode Entry)> EntryAsync(FatFileNode node, CancellationToken ct)
    {
        var dir = await LoadDirectoryAsync(node.Directory, ct).ConfigureAwait(false);
        var entry = dir.ReadEntries().FirstOrDefault(e => e.ShortSlot == node.Slot)
            ?? throw new KernelException(ErrorCode.Corrupted, "the directory entry of an open file vanished");
        return (dir, entry);
    }

    /// <summary>Fills the node's size and chain from disk unless they are cached.</summary>
    private async ValueTask<List<uint>> ChainAsync(FatFileNode node, CancellationToken ct)
    {
        if (node.Chain is { } cached) return cached;
        var (_, entry) = await EntryAsync(node, ct).ConfigureAwait(false);
        var chain = await FileChainAsync(entry, ct).ConfigureAwait(false);
        node.Size = entry.Size;
        node.Chain = chain;
        return chain;
    }

    /// <summary>Before a change: a chain longer than the size needs is cross-linked or lost data, and freeing or reusing
    /// its tail could destroy another file.</summary>
    private void CheckExact(FatFileNode node, List<uint> chain)
    {
        long needed = (node.Size + _g.ClusterBytes - 1) / _g.ClusterBytes;
        if (chain.Count > Math.Max(needed, 1))
            throw new KernelException(ErrorCode.Corrupted, $"cluster chain from {chain[0]} is longer than its size allows");
    }

    private static FatFileNode CheckFile(FatFileNode node)
    {
        CheckLive(node);
        if (node.Kind == FileKind.Directory) throw new KernelException(ErrorCode.IsADirectory, "the node is a directory");
        return node;
    }

    internal ValueTask<Result<FileStat>> StatNodeAsync(FatFileNode node, CancellationToken ct) =>
        RunAsync(false, async () =>
        {
            CheckLive(node);
            if (node.IsRoot) return new FileStat("/", FileKind.Directory, 0, FatTime.Epoch);
            var (_, entry) = await EntryAsync(node, ct).ConfigureAwait(false);
            return new FileStat(entry.Name, entry.IsDirectory ? FileKind.Directory : FileKind.File, entry.IsDirectory ? 0 : entry.Size, entry.Modified);
        }, ct);

    internal ValueTask<Result<int>> ReadNodeAsync(FatFileNode node, long offset, Memory<byte> buffer, CancellationToken ct) =>
        RunAsync(false, async () =>
        {
            CheckFile(node);
            if (offset < 0) throw new KernelException(ErrorCode.InvalidArgument, "negative offset");
            var chain = await ChainAsync(node, ct).ConfigureAwait(false);
            long size = node.Size;
            if (offset >= size || buffer.Length == 0) return 0;
            int count = (int)Math.Min(buffer.Length, size - offset);
            var reads = new List<Task>();
            foreach (var (deviceOffset, at, length) in Runs(chain, offset, count))
                reads.Add(ReadDeviceAsync(deviceOffset, buffer.Slice(at, length), ct).AsTask());
            await AllAsync(reads).ConfigureAwait(false);
            return count;
        }, ct);

    internal ValueTask<Result> WriteNodeAsync(FatFileNode node, long offset, ReadOnlyMemory<byte> data, CancellationToken ct) =>
        RunVoidAsync(async () =>
        {
            CheckFile(node);
            if (offset < 0) throw new KernelException(ErrorCode.InvalidArgument, "negative offset");
            long end = offset + data.Length;
            if (end > uint.MaxValue || end < offset) throw new KernelException(ErrorCode.OutOfRange, "FAT files are limited to 4 GiB - 1 bytes");
            if (data.Length == 0) return;
            try
            {
                var chain = await ChainAsync(node, ct).ConfigureAwait(false);
                CheckExact(node, chain);
                long oldSize = node.Size, newSize = Math.Max(oldSize, end);
                await EnsureClustersAsync(chain, newSize, ct).ConfigureAwait(false);
                if (offset > oldSize) await ZeroFillAsync(chain, oldSize, offset - oldSize, ct).ConfigureAwait(false);
                var writes = new List<Task>();
                foreach (var (deviceOffset, at, length) in Runs(chain, offset, data.Length))
                    writes.Add(WriteDeviceAsync(deviceOffset, data.Slice(at, length), ct).AsTask());
                await AllAsync(writes).ConfigureAwait(false);
                var (dir, entry) = await EntryAsync(node, ct).ConfigureAwait(false);
                await UpdateFileEntryAsync(dir, entry, chain, newSize, ct).ConfigureAwait(false);
                node.Size = newSize;
            }
            catch { node.Chain = null; throw; }
        }, ct);

    internal ValueTask<Result> TruncateNodeAsync(FatFileNode node, long length, CancellationToken ct) =>
        RunVoidAsync(async () =>
        {
            CheckFile(node);
            if (length < 0) throw new KernelException(ErrorCode.InvalidArgument, "negative length");
            if (length > uint.MaxValue) throw new KernelException(ErrorCode.OutOfRange, "FAT files are limited to 4 GiB - 1 bytes");
            try
            {
                var chain = await ChainAsync(node, ct).ConfigureAwait(false);
                CheckExact(node, chain);
                long oldSize = node.Size;
                if (length > oldSize)
                {
                    await EnsureClustersAsync(chain, length, ct).ConfigureAwait(false);
                    await ZeroFillAsync(chain, oldSize, length - oldSize, ct).ConfigureAwait(false);
                }
                else
                {
                    int keep = (int)((length + _g.ClusterBytes - 1) / _g.ClusterBytes);
                    if (keep < chain.Count)
                    {
                        if (keep > 0) await _fat.SetAsync(chain[keep - 1], _fat.EndOfChainMark, ct).ConfigureAwait(false);
                        await _fat.FreeAsync(chain.GetRange(keep, chain.Count - keep), ct).ConfigureAwait(false);
                        chain.RemoveRange(keep, chain.Count - keep);
                    }
                }
                var (dir, entry) = await EntryAsync(node, ct).ConfigureAwait(false);
                await UpdateFileEntryAsync(dir, entry, chain, length, ct).ConfigureAwait(false);
                node.Size = length;
            }
            catch { node.Chain = null; throw; }
        }, ct);

    /// <summary>Awaits every transfer (even after one failed, so none is left in flight) and rethrows the first failure.</summary>
    private static async ValueTask AllAsync(List<Task> transfers)
    {
        Exception? first = null;
        foreach (var t in transfers)
        {
            try { await t.ConfigureAwait(false); }
            catch (Exception e) { first ??= e; }
        }
        if (first is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
    }

    public ValueTask<Result> CreateFileAsync(string path, CancellationToken ct = default) =>
        RunVoidAsync(async () =>
        {
            var (parent, name) = await ResolveNewAsync(path, ct).ConfigureAwait(false);
            await InsertAsync(parent, name, NewShortEntry(FatAttributes.Archive, 0), ct).ConfigureAwait(false);
        }, ct);

    public ValueTask<Result> CreateDirectoryAsync(string path, CancellationToken ct = default) =>
        RunVoidAsync(async () =>
        {
            var (parent, name) = await ResolveNewAsync(path, ct).ConfigureAwait(false);
            uint cluster = await _fat.AllocateAsync(0, ct).ConfigureAwait(false);
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
            await InsertAsync(parent, name, NewShortEntry(FatAttributes.Directory, cluster), ct).ConfigureAwait(false);
        }, ct);

    public ValueTask<Result> DeleteAsync(string path, CancellationToken ct = default) =>
        RunVoidAsync(async () =>
        {
            var parts = SplitPath(path);
            if (parts.Length == 0) throw new KernelException(ErrorCode.InvalidArgument, "cannot delete the root directory");
            var (dir, node) = await ResolveAsync(parts, ct).ConfigureAwait(false);
            List<uint> chain;
            if (node.IsDirectory)
            {
                var sub = await OpenSubdirectoryAsync(node, ct).ConfigureAwait(false);
                if (!sub.IsEmpty()) throw new KernelException(ErrorCode.NotEmpty, $"directory '{node.Name}' is not empty");
                chain = sub.Clusters;
            }
            else
            {
                chain = await FileChainAsync(node, ct, exact: true).ConfigureAwait(false);
            }
            await RemoveEntryAsync(dir, node, ct).ConfigureAwait(false);
            await _fat.FreeAsync(chain, ct).ConfigureAwait(false);
            EndNode(dir.Id, node.ShortSlot);
        }, ct);

    public ValueTask<Result> RenameAsync(string from, string to, CancellationToken ct = default) =>
        RunVoidAsync(async () =>
        {
            var fromParts = SplitPath(from);
            var toParts = SplitPath(to);
            if (fromParts.Length == 0 || toParts.Length == 0) throw new KernelException(ErrorCode.InvalidArgument, "cannot rename the root directory");
            var (fromDir, node) = await ResolveAsync(fromParts, ct).ConfigureAwait(false);
            uint forbidden = node.IsDirectory ? node.FirstCluster : 0;
            var toDir = await ResolveDirectoryAsync(toParts[..^1], ct, forbidden).ConfigureAwait(false);
            bool sameDir = toDir.Id == fromDir.Id;
            if (sameDir) toDir = fromDir;
            string newName = toParts[^1];
            var existing = toDir.Find(newName);
            if (existing is not null)
            {
                if (!sameDir || existing.ShortSlot != node.ShortSlot) throw new KernelException(ErrorCode.AlreadyExists, $"'{newName}' already exists");
                if (existing.Name == newName) return;
            }
            var template = (byte[])node.ShortEntry.Clone();
            int slot = await InsertAsync(toDir, newName, template, ct).ConfigureAwait(false);
            await RemoveEntryAsync(fromDir, node, ct).ConfigureAwait(false);
            if (node.IsDirectory && !sameDir)
            {
                var moved = await OpenSubdirectoryAsync(node, ct).ConfigureAwait(false);
                for (int i = 0; i < Math.Min(2, moved.SlotCount); i++)
                {
                    if (!moved.Slot(i)[..11].SequenceEqual("..         "u8)) continue;
                    FatDirectory.WriteCluster(moved.Slot(i), toDir.Id);
                    await WriteSlotsAsync(moved, i, 1, ct).ConfigureAwait(false);
                }
            }
            // Last, once nothing can fail: an open node follows its entry.
            MoveNode(fromDir.Id, node.ShortSlot, toDir.Id, slot);
        }, ct);

    public async ValueTask<Result> FlushAsync(CancellationToken ct = default)
    {
        var result = await RunAsync(false, async () => { await FlushCoreAsync(ct).ConfigureAwait(false); return true; }, ct).ConfigureAwait(false);
        return result.AsResult();
    }

    private async ValueTask FlushCoreAsync(CancellationToken ct)
    {
        if (IsReadOnly) return;
        await _cache.WriteBackAsync(ct).ConfigureAwait(false);
        if (_g.Type == FatType.Fat32 && _fsInfoSector > 0)
        {
            _fat.FreeCount ??= await _fat.CountFreeAsync(ct).ConfigureAwait(false);
            var info = await _cache.GetAsync(_fsInfoSector, ct).ConfigureAwait(false);
            BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(488), (uint)_fat.FreeCount.Value);
            BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(492), _fat.NextFree);
            await _cache.WriteSectorAsync(_fsInfoSector, info, ct).ConfigureAwait(false);
        }
        var flushed = await _device.FlushAsync(ct).ConfigureAwait(false);
        if (!flushed.IsOk) throw flushed.Error.ToException();
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
    /// Serialises operations and turns every failure into a typed result. Mutating operations run as a cache
    /// transaction that is rolled back on any failure.
    /// </summary>
    private async ValueTask<Result<T>> RunAsync<T>(bool mutating, Func<ValueTask<T>> body, CancellationToken ct)
    {
        if (_disposed) return Result<T>.Fail(ErrorCode.Closed, "filesystem is unmounted");
        if (mutating && IsReadOnly) return Result<T>.Fail(ErrorCode.ReadOnly, "filesystem is mounted read-only");
        try { await _lock.WaitAsync(ct).ConfigureAwait(false); }
        catch (OperationCanceledException) { return Result<T>.Fail(ErrorCode.Cancelled, "operation cancelled"); }
        try
        {
            if (_disposed) return Result<T>.Fail(ErrorCode.Closed, "filesystem is unmounted");
            long? savedFree = _fat.FreeCount;
            uint savedNext = _fat.NextFree;
            T value;
            try
            {
                if (mutating) _cache.Begin();
                value = await body().ConfigureAwait(false);
                if (mutating) _cache.Commit();
            }
            catch (Exception) when (mutating)
            {
                _cache.Rollback();
                _fat.FreeCount = savedFree;
                _fat.NextFree = savedNext;
                throw;
            }
            if (mutating) await _cache.TrimAsync(ct).ConfigureAwait(false);
            return value;
        }
        catch (KernelException e) { return e.Error; }
        catch (OperationCanceledException) { return Result<T>.Fail(ErrorCode.Cancelled, "operation cancelled"); }
        catch (Exception e) { return Result<T>.Fail(ErrorCode.Corrupted, $"internal: {e.GetType().Name}: {e.Message}"); }
        finally { _lock.Release(); }
    }

    private async ValueTask<Result> RunVoidAsync(Func<ValueTask> body, CancellationToken ct)
    {
        var result = await RunAsync(true, async () => { await body().ConfigureAwait(false); return true; }, ct).ConfigureAwait(false);
        return result.AsResult();
    }

    // ---------------------------------------------------------------- paths and directories

    private static string[] SplitPath(string path)
    {
        if (string.IsNullOrEmpty(path) || path[0] != '/') throw new KernelException(ErrorCode.InvalidArgument, $"path '{path}' is not absolute");
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        foreach (var part in parts) FatNames.ValidateLongName(part);
        return parts;
    }

    private async ValueTask<FatDirectory> LoadDirectoryAsync(uint id, CancellationToken ct)
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
            clusters = await _fat.ReadChainAsync(id == 0 ? _g.RootCluster : id, ct, maxClusters).ConfigureAwait(false);
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
            sector.CopyTo(data, i * _g.BytesPerSector);
        }
        return new FatDirectory { Id = id, Clusters = clusters, Sectors = sectors, Data = data };
    }

    private async ValueTask<FatDirectory> OpenSubdirectoryAsync(FatNode node, CancellationToken ct)
    {
        uint cluster = node.FirstCluster;
        if (!_g.IsValidCluster(cluster)) throw new KernelException(ErrorCode.Corrupted, $"directory '{node.Name}' starts at invalid cluster {cluster}");
        return await LoadDirectoryAsync(cluster, ct).ConfigureAwait(false);
    }

    /// <summary>Resolves every component as a directory; <paramref name="forbidden"/> (a cluster) may not be crossed.</summary>
    private async ValueTask<FatDirectory> ResolveDirectoryAsync(string[] parts, CancellationToken ct, uint forbidden = 0)
    {
        var dir = await LoadDirectoryAsync(0, ct).ConfigureAwait(false);
        foreach (var part in parts)
        {
            var node = dir.Find(part) ?? throw new KernelException(ErrorCode.NotFound, $"'{part}' not found");
            if (!node.IsDirectory) throw new KernelException(ErrorCode.NotADirectory, $"'{part}' is not a directory");
            if (forbidden != 0 && node.FirstCluster == forbidden)
                throw new KernelException(ErrorCode.InvalidArgument, "cannot move a directory into itself");
            dir = await OpenSubdirectoryAsync(node, ct).ConfigureAwait(false);
        }
        return dir;
    }

    private async ValueTask<(FatDirectory Parent, FatNode Node)> ResolveAsync(string[] parts, CancellationToken ct)
    {
        var parent = await ResolveDirectoryAsync(parts[..^1], ct).ConfigureAwait(false);
        var node = parent.Find(parts[^1]) ?? throw new KernelException(ErrorCode.NotFound, $"'{parts[^1]}' not found");
        return (parent, node);
    }

    private async ValueTask<(FatDirectory Parent, string Name)> ResolveNewAsync(string path, CancellationToken ct)
    {
        var parts = SplitPath(path);
        if (parts.Length == 0) throw new KernelException(ErrorCode.AlreadyExists, "'/' already exists");
        var parent = await ResolveDirectoryAsync(parts[..^1], ct).ConfigureAwait(false);
        if (parent.Find(parts[^1]) is not null) throw new KernelException(ErrorCode.AlreadyExists, $"'{parts[^1]}' already exists");
        return (parent, parts[^1]);
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
    private async ValueTask<int> InsertAsync(FatDirectory dir, string name, byte[] shortEntry, CancellationToken ct)
    {
        var taken = dir.ShortNames();
        byte[]? exact = FatNames.TryExactShortName(name);
        bool shortOnly = exact is not null && !taken.Contains(FatNames.ShortKey(exact));
        byte[] shortName = shortOnly ? exact! : FatNames.GenerateAlias(name, candidate => taken.Contains(FatNames.ShortKey(candidate)));
        var longEntries = shortOnly ? [] : FatDirectory.BuildLongEntries(name, FatNames.Checksum(shortName));
        int needed = longEntries.Count + 1;

        int start = dir.FindFreeRun(needed);
        while (start < 0)
        {
            await GrowDirectoryAsync(dir, ct).ConfigureAwait(false);
            start = dir.FindFreeRun(needed);
        }
        for (int i = 0; i < longEntries.Count; i++) longEntries[i].CopyTo(dir.Slot(start + i));
        var slot = dir.Slot(start + longEntries.Count);
        shortEntry.CopyTo(slot);
        shortName.CopyTo(slot);
        slot[12] = 0; // no NT case flags: the long name carries the case
        await WriteSlotsAsync(dir, start, needed, ct).ConfigureAwait(false);
        return start + longEntries.Count;
    }

    private async ValueTask GrowDirectoryAsync(FatDirectory dir, CancellationToken ct)
    {
        if (dir.IsFixedRoot) throw new KernelException(ErrorCode.NoSpace, "the root directory is full");
        if (dir.SlotCount + _g.ClusterBytes / FatDirectory.EntrySize > FatDirectory.MaxEntries)
            throw new KernelException(ErrorCode.NoSpace, "directory has the maximum number of entries");
        uint cluster = await _fat.AllocateAsync(dir.Clusters[^1], ct).ConfigureAwait(false);
        long sector = _g.ClusterToSector(cluster);
        for (int i = 0; i < _g.SectorsPerCluster; i++)
        {
            _cache.PutNew(sector + i, new byte[_g.BytesPerSector]);
            dir.Sectors.Add(sector + i);
        }
        dir.Clusters.Add(cluster);
        var grown = new byte[dir.Data.Length + _g.ClusterBytes];
        dir.Data.CopyTo(grown, 0);
        dir.Data = grown;
    }

    private async ValueTask RemoveEntryAsync(FatDirectory dir, FatNode node, CancellationToken ct)
    {
        for (int i = node.FirstSlot; i <= node.ShortSlot; i++) dir.Data[i * FatDirectory.EntrySize] = 0xE5;
        await WriteSlotsAsync(dir, node.FirstSlot, node.ShortSlot - node.FirstSlot + 1, ct).ConfigureAwait(false);
    }

    /// <summary>Copies edited slots of the in-memory directory into their (dirty) cache sectors.</summary>
    private async ValueTask WriteSlotsAsync(FatDirectory dir, int firstSlot, int count, CancellationToken ct)
    {
        int bps = _g.BytesPerSector;
        long startByte = (long)firstSlot * FatDirectory.EntrySize;
        long endByte = (long)(firstSlot + count) * FatDirectory.EntrySize;
        for (long s = startByte / bps; s * bps < endByte; s++)
        {
            var sector = await _cache.GetForWriteAsync(dir.Sectors[(int)s], ct).ConfigureAwait(false);
            dir.Data.AsSpan((int)(s * bps), bps).CopyTo(sector);
        }
    }

    private async ValueTask UpdateFileEntryAsync(FatDirectory dir, FatNode node, List<uint> chain, long size, CancellationToken ct)
    {
        var slot = dir.Slot(node.ShortSlot);
        FatDirectory.WriteCluster(slot, chain.Count > 0 ? chain[0] : 0);
        BinaryPrimitives.WriteUInt32LittleEndian(slot[28..], (uint)size);
        var (date, time, _) = FatTime.Encode(_now());
        BinaryPrimitives.WriteUInt16LittleEndian(slot[18..], date);
        BinaryPrimitives.WriteUInt16LittleEndian(slot[22..], time);
        BinaryPrimitives.WriteUInt16LittleEndian(slot[24..], date);
        slot[11] |= (byte)FatAttributes.Archive;
        await WriteSlotsAsync(dir, node.ShortSlot, 1, ct).ConfigureAwait(false);
    }

    // ---------------------------------------------------------------- file data

    /// <summary>
    /// The file's cluster chain, checked to be long enough for its recorded size. Before a change (<paramref name="exact"/>)
    /// a chain longer than the size needs is refused too: it is cross-linked or lost data, and freeing or reusing its
    /// tail could destroy another file.
    /// </summary>
    private async ValueTask<List<uint>> FileChainAsync(FatNode node, CancellationToken ct, bool exact = false)
    {
        long size = node.Size;
        uint first = node.FirstCluster;
        if (first == 0)
        {
            if (size != 0) throw new KernelException(ErrorCode.Corrupted, $"file '{node.Name}' has data but no clusters");
            return [];
        }
        long needed = (size + _g.ClusterBytes - 1) / _g.ClusterBytes;
        var chain = await _fat.ReadChainAsync(first, ct, exact ? Math.Max(needed, 1) : long.MaxValue).ConfigureAwait(false);
        if ((long)chain.Count * _g.ClusterBytes < size)
            throw new KernelException(ErrorCode.Corrupted, $"file '{node.Name}' is shorter on disk than its size");
        return chain;
    }

    private async ValueTask EnsureClustersAsync(List<uint> chain, long size, CancellationToken ct)
    {
        long needed = (size + _g.ClusterBytes - 1) / _g.ClusterBytes;
        while (chain.Count < needed)
            chain.Add(await _fat.AllocateAsync(chain.Count > 0 ? chain[^1] : 0, ct).ConfigureAwait(false));
    }

    private async ValueTask ZeroFillAsync(List<uint> chain, long offset, long count, CancellationToken ct)
    {
        while (count > 0)
        {
            int chunk = (int)Math.Min(count, Zeros.Length);
            foreach (var (deviceOffset, at, length) in Runs(chain, offset, chunk))
                await WriteDeviceAsync(deviceOffset, Zeros.AsMemory(at, length), ct).ConfigureAwait(false);
            offset += chunk;
            count -= chunk;
        }
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

    private async ValueTask ReadDeviceAsync(long byteOffset, Memory<byte> destination, CancellationToken ct)
    {
        int ss = _device.SectorSize;
        long alignedStart = byteOffset / ss * ss;
        long alignedEnd = (byteOffset + destination.Length + ss - 1) / ss * ss;
        if (alignedStart == byteOffset && alignedEnd == byteOffset + destination.Length)
        {
            Check(await ParallelBlockIo.ReadAsync(_device, byteOffset / ss, destination, ct).ConfigureAwait(false));
            return;
        }
        var temp = new byte[alignedEnd - alignedStart];
        Check(await _device.ReadAsync(alignedStart / ss, temp, ct).ConfigureAwait(false));
        temp.AsSpan((int)(byteOffset - alignedStart), destination.Length).CopyTo(destination.Span);
    }

    private async ValueTask WriteDeviceAsync(long byteOffset, ReadOnlyMemory<byte> source, CancellationToken ct)
    {
        int ss = _device.SectorSize;
        long end = byteOffset + source.Length;
        long alignedStart = byteOffset / ss * ss;
        long alignedEnd = (end + ss - 1) / ss * ss;
        if (alignedStart == byteOffset && alignedEnd == end)
        {
            Check(await ParallelBlockIo.WriteAsync(_device, byteOffset / ss, source, ct).ConfigureAwait(false));
            return;
        }
        // Read-modify-write of the partial first and last device sectors.
        var temp = new byte[alignedEnd - alignedStart];
        if (alignedStart != byteOffset)
            Check(await _device.ReadAsync(alignedStart / ss, temp.AsMemory(0, ss), ct).ConfigureAwait(false));
        if (alignedEnd != end && (alignedEnd - ss != alignedStart || alignedStart == byteOffset))
            Check(await _device.ReadAsync((alignedEnd - ss) / ss, temp.AsMemory(temp.Length - ss, ss), ct).ConfigureAwait(false));
        source.Span.CopyTo(temp.AsSpan((int)(byteOffset - alignedStart)));
        Check(await _device.WriteAsync(alignedStart / ss, temp, ct).ConfigureAwait(false));
    }

    private static void Check(Result result)
    {
        if (!result.IsOk) throw result.Error.ToException();
    }
}
