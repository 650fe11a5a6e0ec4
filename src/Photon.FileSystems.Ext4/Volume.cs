using System.Buffers.Binary;
using System.Numerics;
using Photon.Kernel;
using Photon.Kernel.Io;

namespace Photon.FileSystems.Ext4;

/// <summary>
/// The mounted volume's metadata state: geometry, superblock, group descriptors, a metadata block cache and the block
/// and inode allocators. Every change made by one filesystem operation stays in memory (dirty) until
/// <see cref="CommitAsync"/> ends the operation: with a journal, its metadata joins the running transaction (a group
/// of operations committed together, see <see cref="CommitRunningAsync"/>), without one it is written in place;
/// <see cref="Rollback"/> forgets it, so a failed operation leaves the volume as the previous operation left it. Every failure (device error, corruption, no space) is returned as the kernel's typed result, unchanged
/// from the device call to the VFS; exceptions are left to programming errors.
/// </summary>
internal sealed class Volume
{
    private const int CacheLimit = 4096;

    private readonly IBlockDevice _device;
    private readonly Dictionary<long, byte[]> _cache = new();
    private readonly HashSet<long> _dirtyBlocks = new();
    private readonly HashSet<uint> _dirtyBlockBitmaps = new(), _dirtyInodeBitmaps = new(), _dirtyGroups = new();
    private readonly Dictionary<uint, Inode> _opInodes = new();
    private readonly HashSet<uint> _dirtyInodes = new();
    private readonly Journal.RunningTransaction _running = new();
    private bool _freedThisOp;
    private readonly HashSet<uint> _checkedBlockBitmaps = new(), _checkedInodeBitmaps = new();
    private byte[] _committedSb, _committedGdt;
    private readonly (long Start, long End)[] _metadata;
    private uint _generationState;

    public Geometry Geo { get; }
    public Superblock Sb { get; }
    public GroupDescriptors Gd { get; }
    public bool Csum { get; }

    /// <summary>Checksums are verified on read (tests of the parsers behind the checksums turn this off).</summary>
    public bool VerifyCsum => Csum && _verify;
    private bool _verify = true;
    public uint Seed { get; }
    public int BlockSize => Geo.BlockSize;

    /// <summary>The jbd2 writer every commit goes through (null: no journal, or a read-only mount; commits go in place).</summary>
    internal Journal.JournalWriter? Journal { get; set; }

    /// <summary>Write operations ended so far, and how many of them the journal has committed (the running transaction
    /// holds the rest).</summary>
    internal long OperationsEnded { get; private set; }
    internal long OperationsCommitted { get; private set; }

    /// <summary>Called after each journal commit with <see cref="OperationsCommitted"/> (tests record group boundaries).</summary>
    internal Action<long>? Committed { get; set; }

    /// <summary>Operations in the running transaction, not yet committed to the journal.</summary>
    internal int RunningOperations => _running.Operations;

    private Volume(IBlockDevice device, Geometry geo, Superblock sb, GroupDescriptors gd, uint seed)
    {
        _device = device; Geo = geo; Sb = sb; Gd = gd; Csum = sb.HasMetadataCsum; Seed = seed;
        _committedSb = (byte[])sb.Raw.Clone();
        _committedGdt = (byte[])gd.Raw.Clone();
        _metadata = BuildMetadataRanges();
        _generationState = sb.FreeInodes ^ (uint)sb.FreeBlocks ^ 0x9E3779B9u;
    }

    /// <summary>Reads and validates the superblock and every group descriptor.</summary>
    public static async ValueTask<Result<Volume>> OpenAsync(IBlockDevice device, bool verifyChecksums, CancellationToken ct)
    {
        long deviceBytes = device.SectorCount * device.SectorSize;
        if (deviceBytes < Superblock.ByteOffset + Superblock.Size) return Corrupt("device is too small for an ext4 superblock");
        var raw = new byte[Superblock.Size];
        var sbRead = await ReadBytesAsync(device, Superblock.ByteOffset, raw, ct).ConfigureAwait(false);
        if (!sbRead.IsOk) return sbRead.Error;
        var sb = new Superblock(raw);
        // An external journal has an ext4 superblock but no filesystem geometry: say what it is rather than "corrupted".
        if (sb.MagicValue == Superblock.Magic && (sb.Incompat & Features.JournalDev) != 0)
            return Result<Volume>.Fail(ErrorCode.NotSupported, "ext4: feature journal_dev: this is an external journal device, not a filesystem");
        var geo = Geometry.From(sb, deviceBytes, verifyChecksums);
        if (!geo.IsOk) return geo.Error;
        var refused = UnreadableFeatures(sb);
        if (refused is not null) return Result<Volume>.Fail(ErrorCode.NotSupported, "ext4: " + refused);
        var g = geo.Value;
        long gdtBytes = g.GdtBlocks * g.BlockSize;
        if (gdtBytes > 64L << 20) return Corrupt("group descriptor table is absurdly large");
        var gdtRaw = new byte[gdtBytes];
        var gdtRead = await ReadBytesAsync(device, g.GdtStart * g.BlockSize, gdtRaw, ct).ConfigureAwait(false);
        if (!gdtRead.IsOk) return gdtRead.Error;
        uint seed = sb.ChecksumSeed;
        var gd = new GroupDescriptors(g, gdtRaw, sb.HasMetadataCsum, seed);
        ulong freeBlocks = 0, freeInodes = 0;
        for (uint i = 0; i < g.GroupCount; i++)
        {
            var r = gd.Validate(i, verifyChecksums);
            if (!r.IsOk) return r.Error;
            freeBlocks += gd.FreeBlocks(i); freeInodes += gd.FreeInodes(i);
        }
        if (freeBlocks > g.BlocksCount || freeInodes > g.InodesCount) return Corrupt("group free counts exceed the filesystem size");
        return new Volume(device, g, sb, gd, seed) { _verify = verifyChecksums };
    }

    /// <summary>Why this driver cannot read the volume at all, naming the feature; null when it can.</summary>
    private static string? UnreadableFeatures(Superblock sb)
    {
        uint unknown = sb.Incompat & ~Features.IncompatReadable;
        if (unknown != 0) return $"feature not supported: {Features.Names(unknown, FeatureSet.Incompat)}";
        // Without `extent` every file (and the journal) uses ext2/3 indirect block maps, which this driver does not read.
        if ((sb.Incompat & Features.Extents) == 0) return "feature not supported: volumes without extent (indirect block maps)";
        return null;
    }

    public static KernelError Corrupt(string message) => new(ErrorCode.Corrupted, "ext4: " + message);

    // ---------------------------------------------------------------- raw device access

    internal static async ValueTask<Result> ReadBytesAsync(IBlockDevice dev, long offset, Memory<byte> buffer, CancellationToken ct)
    {
        int ss = dev.SectorSize;
        // Chunks in flight together over the device's queues.
        if (offset % ss == 0 && buffer.Length % ss == 0) return await ParallelBlockIo.ReadAsync(dev, offset / ss, buffer, ct).ConfigureAwait(false);
        long start = offset / ss * ss, end = (offset + buffer.Length + ss - 1) / ss * ss;
        var tmp = new byte[end - start];
        var r = await ReadBytesAsync(dev, start, tmp, ct).ConfigureAwait(false);
        if (!r.IsOk) return r;
        tmp.AsMemory((int)(offset - start), buffer.Length).CopyTo(buffer);
        return Result.Ok;
    }

    internal static async ValueTask<Result> WriteBytesAsync(IBlockDevice dev, long offset, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        int ss = dev.SectorSize;
        if (offset % ss == 0 && data.Length % ss == 0) return await ParallelBlockIo.WriteAsync(dev, offset / ss, data, ct).ConfigureAwait(false);
        // A block smaller than the device sector: read-modify-write the covering sectors.
        long start = offset / ss * ss, end = (offset + data.Length + ss - 1) / ss * ss;
        var tmp = new byte[end - start];
        var r = await ReadBytesAsync(dev, start, tmp, ct).ConfigureAwait(false);
        if (!r.IsOk) return r;
        data.CopyTo(tmp.AsMemory((int)(offset - start)));
        return await WriteBytesAsync(dev, start, tmp, ct).ConfigureAwait(false);
    }

    public Result CheckRange(long block, long count, string what)
    {
        if (block < Geo.FirstDataBlock || count < 0 || block > (long)Geo.BlocksCount - count)
            return Corrupt($"{what}: blocks {block}+{count} are outside the filesystem");
        return Result.Ok;
    }

    /// <summary>True if any block of [start, start+count) is filesystem metadata (superblocks, descriptors, bitmaps, inode tables).</summary>
    public bool OverlapsMetadata(long start, long count)
    {
        long end = start + count;
        int lo = 0, hi = _metadata.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_metadata[mid].End <= start) lo = mid + 1;
            else if (_metadata[mid].Start >= end) hi = mid - 1;
            else return true;
        }
        return false;
    }

    /// <summary>Reads data blocks straight from the device (not cached).</summary>
    public async ValueTask<Result> ReadDataAsync(long block, Memory<byte> buffer, CancellationToken ct)
    {
        var range = CheckRange(block, buffer.Length / BlockSize, "data read");
        if (!range.IsOk) return range;
        // A block changed in this operation or in the running transaction (not yet in place) is read from memory.
        if (_dirtyBlocks.Count > 0 || _running.HasBlocks)
            for (int i = 0; i < buffer.Length / BlockSize; i++)
                if (Uncommitted(block + i) is { } mem)
                {
                    if (i > 0)
                    {
                        var head = await ReadBytesAsync(_device, block * BlockSize, buffer[..(i * BlockSize)], ct).ConfigureAwait(false);
                        if (!head.IsOk) return head;
                    }
                    mem.CopyTo(buffer.Slice(i * BlockSize, BlockSize));
                    return await ReadDataAsync(block + i + 1, buffer[((i + 1) * BlockSize)..], ct).ConfigureAwait(false);
                }
        if (buffer.Length == 0) return Result.Ok;
        return await ReadBytesAsync(_device, block * BlockSize, buffer, ct).ConfigureAwait(false);
    }

    /// <summary>This operation's copy of a block it changed, else the running transaction's, else null (the disk's is current).</summary>
    private byte[]? Uncommitted(long block) =>
        _dirtyBlocks.Contains(block) ? _cache[block] : _running.TryGet(block, out var data) ? data : null;

    /// <summary>Part of a run of data blocks copied once out of the device's lent DMA buffer (no scratch buffer of
    /// our own); null when that cannot be done here (not a lending device, sector alignment, uncommitted blocks in the
    /// cache) and the caller reads the ordinary way.</summary>
    public async ValueTask<Result?> TryReadDataLentAsync(long block, int blocks, int skip, Memory<byte> dest, CancellationToken ct)
    {
        if (_dirtyBlocks.Count > 0 || _device is not IBlockLending) return null;
        var range = CheckRange(block, blocks, "data read");
        if (!range.IsOk) return range;
        if (_running.Overlaps(block, blocks)) return null;
        int ss = _device.SectorSize;
        long offset = block * BlockSize;
        if (offset % ss != 0) return null;
        return await LentBlockRead.TryReadAsync(_device, offset / ss, blocks * BlockSize, skip, dest, ct).ConfigureAwait(false);
    }

    /// <summary>Writes file data in place; only ever called for blocks the caller owns (validated extents or fresh allocations).</summary>
    public async ValueTask<Result> WriteDataAsync(long block, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        int n = data.Length / BlockSize;
        var range = CheckRange(block, n, "data write");
        if (!range.IsOk) return range;
        if (OverlapsMetadata(block, n)) return Corrupt($"refusing to write file data over metadata at block {block}");
        // A block of the running transaction freed and reused for data in this operation: commit the group first (it
        // is the state before this operation), so its checkpoint cannot later write the old metadata over the data.
        if (_running.Overlaps(block, n))
        {
            var committed = await CommitRunningAsync(ct).ConfigureAwait(false);
            if (!committed.IsOk) return committed;
        }
        for (int i = 0; i < n; i++) { _cache.Remove(block + i); _dirtyBlocks.Remove(block + i); }
        return await WriteBytesAsync(_device, block * BlockSize, data, ct).ConfigureAwait(false);
    }

    // ---------------------------------------------------------------- metadata block cache

    public async ValueTask<Result<byte[]>> GetBlockAsync(long block, CancellationToken ct)
    {
        var range = CheckRange(block, 1, "metadata read");
        if (!range.IsOk) return range.Error;
        if (_cache.TryGetValue(block, out var b)) return b;
        if (_running.TryGet(block, out var pending))
        {
            _cache[block] = b = (byte[])pending.Clone();
            return b;
        }
        b = new byte[BlockSize];
        var read = await ReadBytesAsync(_device, block * BlockSize, b, ct).ConfigureAwait(false);
        if (!read.IsOk) return read.Error;
        _cache[block] = b;
        return b;
    }

    public void MarkDirty(long block)
    {
        if (!_cache.ContainsKey(block)) throw new InvalidOperationException("dirtying an uncached block");
        _dirtyBlocks.Add(block);
    }

    /// <summary>Installs fresh contents for a (newly allocated) metadata block.</summary>
    public Result PutBlock(long block, byte[] contents)
    {
        var range = CheckRange(block, 1, "metadata write");
        if (!range.IsOk) return range;
        if (OverlapsMetadata(block, 1)) return Corrupt($"refusing to write over fixed metadata at block {block}");
        _cache[block] = contents;
        _dirtyBlocks.Add(block);
        return Result.Ok;
    }

    /// <summary>Forgets a block that is being freed so a stale copy is never written over its next owner.</summary>
    private void Forget(long block) { _cache.Remove(block); _dirtyBlocks.Remove(block); }

    public async ValueTask<Result> CommitAsync(CancellationToken ct)
    {
        foreach (uint ino in _dirtyInodes)
        {
            var stored = await StoreInodeAsync(_opInodes[ino], ct).ConfigureAwait(false);
            if (!stored.IsOk) return stored;
        }
        _dirtyInodes.Clear();
        foreach (uint g in _dirtyBlockBitmaps) { Gd.SetBlockBitmapCsum(g, _cache[Gd.BlockBitmap(g)]); _dirtyGroups.Add(g); }
        foreach (uint g in _dirtyInodeBitmaps) { Gd.SetInodeBitmapCsum(g, _cache[Gd.InodeBitmap(g)]); _dirtyGroups.Add(g); }
        bool metadataChanged = _dirtyGroups.Count > 0 || _dirtyBlocks.Count > 0;
        var writes = new List<(long Block, ReadOnlyMemory<byte> Data)>();
        foreach (long b in _dirtyBlocks.Order()) writes.Add((b, _cache[b]));
        if (_dirtyGroups.Count > 0)
        {
            foreach (uint g in _dirtyGroups) Gd.UpdateChecksum(g);
            // Only the descriptor-table blocks that hold a changed descriptor.
            foreach (long blk in _dirtyGroups.Select(g => (long)g * Geo.DescSize / BlockSize).Distinct().Order())
                writes.Add((Geo.GdtStart + blk, Gd.Raw.AsMemory((int)(blk * BlockSize), BlockSize)));
        }
        byte[]? sb = null;
        if (metadataChanged || !Sb.Raw.AsSpan().SequenceEqual(_committedSb))
        {
            Sb.UpdateChecksum();
            sb = Sb.Raw;
        }
        if (Journal is { } journal)
        {
            // The group would outgrow jbd2's bound with this operation: commit it first (it is the state before this one).
            if (!_running.IsEmpty && !journal.GroupFits(_running.BlockCount + _running.NewBlocks(writes)))
            {
                var first = await CommitRunningAsync(ct).ConfigureAwait(false);
                if (!first.IsOk) return first;
            }
            _running.Add(writes, sb, journal.Now);
            OperationsEnded++;
        }
        else
        {
            foreach (var (b, data) in writes)
            {
                var w = await WriteBytesAsync(_device, b * BlockSize, data, ct).ConfigureAwait(false);
                if (!w.IsOk) return w;
            }
            if (sb is not null)
            {
                var w = await WriteBytesAsync(_device, Superblock.ByteOffset, sb, ct).ConfigureAwait(false);
                if (!w.IsOk) return w;
            }
        }
        _dirtyBlocks.Clear();
        _dirtyGroups.Clear(); _dirtyBlockBitmaps.Clear(); _dirtyInodeBitmaps.Clear();
        _committedSb = (byte[])Sb.Raw.Clone();
        _committedGdt = (byte[])Gd.Raw.Clone();
        EndOperation();
        bool freed = _freedThisOp;
        _freedThisOp = false;
        if (Journal is { } j)
        {
            // Commit now when the group is big or old enough, and after an operation that freed blocks or inodes: a
            // block freed in an uncommitted group must not be reused (its new owner's data written in place) while a
            // crash could still bring back the file it was freed from (jbd2 keeps such blocks out of the allocator).
            if (freed || !j.GroupFits(_running.BlockCount) || j.Now - _running.Started >= j.CommitInterval)
                return await CommitRunningAsync(ct).ConfigureAwait(false);
        }
        else OperationsEnded++;
        return Result.Ok;
    }

    /// <summary>Commits the running transaction if it is older than the journal's commit interval (periodic writeback).</summary>
    public ValueTask<Result> CommitRunningIfDueAsync(CancellationToken ct) =>
        Journal is { } j && !_running.IsEmpty && j.Now - _running.Started >= j.CommitInterval
            ? CommitRunningAsync(ct)
            : ValueTask.FromResult(Result.Ok);

    /// <summary>
    /// Commits the running transaction as one jbd2 transaction (ordered mode: its first flush makes every data block
    /// written in place so far durable before the commit block that references it). Called by fsync, unmount, when the
    /// group is full or old, and after an operation that freed space; may run inside an operation, since the group
    /// never holds that operation's own changes.
    /// </summary>
    public async ValueTask<Result> CommitRunningAsync(CancellationToken ct)
    {
        if (Journal is not { } journal || _running.IsEmpty) return Result.Ok;
        int ops = _running.Operations;
        var committed = await journal.CommitAsync(_running.Blocks(), _running.Superblock, ct).ConfigureAwait(false);
        if (!committed.IsOk) return committed;
        _running.Clear();
        OperationsCommitted += ops;
        Committed?.Invoke(OperationsCommitted);
        return Result.Ok;
    }

    /// <summary>Forgets every uncommitted change: dirty blocks, descriptor and superblock edits, loaded inodes.</summary>
    public void Rollback()
    {
        // A block the running transaction holds goes back to its copy there (the state after the last operation).
        foreach (long b in _dirtyBlocks)
        {
            if (_running.TryGet(b, out var pending)) _cache[b] = (byte[])pending.Clone();
            else _cache.Remove(b);
        }
        _freedThisOp = false;
        _dirtyBlocks.Clear(); _dirtyGroups.Clear(); _dirtyBlockBitmaps.Clear(); _dirtyInodeBitmaps.Clear(); _dirtyInodes.Clear();
        _committedSb.CopyTo(Sb.Raw, 0);
        _committedGdt.CopyTo(Gd.Raw, 0);
        // Bitmaps that were checked may have been built for an uninitialised group that is uninitialised again.
        _checkedBlockBitmaps.Clear(); _checkedInodeBitmaps.Clear();
        EndOperation();
    }

    public void EndOperation()
    {
        _opInodes.Clear();
        if (_cache.Count > CacheLimit && _dirtyBlocks.Count == 0) _cache.Clear();
    }

    public ValueTask<Result> FlushDeviceAsync(CancellationToken ct) => _device.FlushAsync(ct);

    // ---------------------------------------------------------------- inodes

    private Result<(long Block, int Offset)> InodeLocation(uint ino)
    {
        if (ino == 0 || ino > Geo.InodesCount) return Corrupt($"inode number {ino} out of range");
        uint g = (ino - 1) / Geo.InodesPerGroup, idx = (ino - 1) % Geo.InodesPerGroup;
        long byteOff = (long)idx * Geo.InodeSize;
        return (Gd.InodeTable(g) + byteOff / BlockSize, (int)(byteOff % BlockSize));
    }

    /// <summary>Reads an in-use inode, verifying its checksum. The same object is returned within one operation.</summary>
    public async ValueTask<Result<Inode>> ReadInodeAsync(uint ino, CancellationToken ct)
    {
        if (_opInodes.TryGetValue(ino, out var cached)) return cached;
        var location = InodeLocation(ino);
        if (!location.IsOk) return location.Error;
        var (blk, off) = location.Value;
        var b = await GetBlockAsync(blk, ct).ConfigureAwait(false);
        if (!b.IsOk) return b.Error;
        var inode = new Inode(ino, b.Value.AsSpan(off, Geo.InodeSize).ToArray());
        if (VerifyCsum && !inode.ChecksumMatches(Seed)) return Corrupt($"inode {ino}: checksum mismatch");
        if (inode.Raw.Length > 128 && 128 + inode.ExtraIsize > inode.Raw.Length) return Corrupt($"inode {ino}: extra size {inode.ExtraIsize}");
        if (inode.LinksCount == 0) return Corrupt($"inode {ino} is referenced but not in use");
        _opInodes[ino] = inode;
        return inode;
    }

    public void MarkInodeDirty(Inode inode)
    {
        _opInodes[inode.Number] = inode;
        _dirtyInodes.Add(inode.Number);
    }

    private async ValueTask<Result> StoreInodeAsync(Inode inode, CancellationToken ct)
    {
        if (Csum) inode.UpdateChecksum(Seed);
        var location = InodeLocation(inode.Number);
        if (!location.IsOk) return location.Error;
        var (blk, off) = location.Value;
        var b = await GetBlockAsync(blk, ct).ConfigureAwait(false);
        if (!b.IsOk) return b.Error;
        inode.Raw.CopyTo(b.Value, off);
        _dirtyBlocks.Add(blk);
        return Result.Ok;
    }

    public uint NextGeneration()
    {
        _generationState ^= _generationState << 13; _generationState ^= _generationState >> 17; _generationState ^= _generationState << 5;
        return _generationState;
    }

    // ---------------------------------------------------------------- fixed metadata layout

    public bool GroupHasSuperblock(uint g)
    {
        if (g <= 1 || (Sb.RoCompat & Features.SparseSuper) == 0) return true;
        static bool PowerOf(uint n, uint b) { while (n % b == 0) n /= b; return n == 1; }
        return PowerOf(g, 3) || PowerOf(g, 5) || PowerOf(g, 7);
    }

    private (long Start, long End)[] BuildMetadataRanges()
    {
        var list = new List<(long, long)>();
        for (uint g = 0; g < Geo.GroupCount; g++)
        {
            if (GroupHasSuperblock(g))
            {
                long s = Geo.GroupFirstBlock(g);
                // Group 0's superblock sits in block SuperblockBlock (1 with 1 KiB blocks even when bigalloc starts group 0 at 0).
                long sbBlock = g == 0 ? Geo.SuperblockBlock : s;
                if (g == 0) s = 0;
                list.Add((s, sbBlock + 1 + Geo.GdtBlocks + Sb.ReservedGdtBlocks));
            }
            list.Add((Gd.BlockBitmap(g), Gd.BlockBitmap(g) + 1));
            list.Add((Gd.InodeBitmap(g), Gd.InodeBitmap(g) + 1));
            list.Add((Gd.InodeTable(g), Gd.InodeTable(g) + Geo.InodeTableBlocks));
        }
        list.Sort();
        var merged = new List<(long Start, long End)>();
        foreach (var (s, e) in list)
        {
            if (merged.Count > 0 && s <= merged[^1].End) merged[^1] = (merged[^1].Start, Math.Max(merged[^1].End, e));
            else merged.Add((s, e));
        }
        return merged.ToArray();
    }

    // ---------------------------------------------------------------- block allocation

    private static bool TestBit(byte[] map, int bit) => (map[bit >> 3] & (1 << (bit & 7))) != 0;
    private static void SetBit(byte[] map, int bit) => map[bit >> 3] |= (byte)(1 << (bit & 7));
    private static void ClearBit(byte[] map, int bit) => map[bit >> 3] &= (byte)~(1 << (bit & 7));

    private async ValueTask<Result<byte[]>> BlockBitmapAsync(uint g, CancellationToken ct)
    {
        long blk = Gd.BlockBitmap(g);
        if (_checkedBlockBitmaps.Contains(g))
        {
            if (_cache.TryGetValue(blk, out var c)) return c;
            return await GetBlockAsync(blk, ct).ConfigureAwait(false);
        }
        byte[] map;
        int inGroup = Geo.BlocksInGroup(g);
        if ((Gd.Flags(g) & GroupDescriptors.BlockUninit) != 0)
        {
            // Uninitialised: only the group's own fixed metadata is in use (what the kernel's ext4_init_block_bitmap builds).
            map = new byte[BlockSize];
            long first = Geo.GroupFirstBlock(g), end = first + inGroup;
            foreach (var (s, e) in _metadata)
                for (long b = Math.Max(s, first); b < Math.Min(e, end); b++) SetBit(map, (int)(b - first));
            for (int bit = inGroup; bit < BlockSize * 8; bit++) SetBit(map, bit);
            PutBitmap(blk, map);
            Gd.SetFlags(g, (ushort)(Gd.Flags(g) & ~GroupDescriptors.BlockUninit));
            _dirtyBlockBitmaps.Add(g); _dirtyGroups.Add(g);
        }
        else
        {
            var read = await GetBlockAsync(blk, ct).ConfigureAwait(false);
            if (!read.IsOk) return read;
            map = read.Value;
            if (VerifyCsum && !Gd.BitmapCsumMatches(Gd.BlockBitmapCsum(g), Gd.BlockBitmapChecksum(map)))
                return Corrupt($"group {g}: block bitmap checksum mismatch");
        }
        int used = 0;
        for (int bit = 0; bit < inGroup; bit++) if (TestBit(map, bit)) used++;
        if (inGroup - used != Gd.FreeBlocks(g)) return Corrupt($"group {g}: block bitmap disagrees with the free count");
        _checkedBlockBitmaps.Add(g);
        return map;
    }

    private void PutBitmap(long blk, byte[] map)
    {
        _cache[blk] = map;
        _dirtyBlocks.Add(blk);
    }

    public uint GroupOf(long block) => (uint)((block - Geo.FirstDataBlock) / Geo.BlocksPerGroup);

    /// <summary>Allocates up to <paramref name="want"/> contiguous blocks, searching from <paramref name="goal"/> onwards.</summary>
    public async ValueTask<Result<(long Start, int Count)>> AllocateBlocksAsync(long goal, int want, CancellationToken ct)
    {
        if (want <= 0) throw new ArgumentOutOfRangeException(nameof(want));
        if (Sb.FreeBlocks == 0) return Result<(long, int)>.Fail(ErrorCode.NoSpace, "ext4: no free blocks");
        if (goal < Geo.FirstDataBlock || goal >= (long)Geo.BlocksCount) goal = Geo.FirstDataBlock;
        uint startGroup = GroupOf(goal);
        for (uint i = 0; i <= Geo.GroupCount; i++)
        {
            uint g = (startGroup + i) % Geo.GroupCount;
            if (Gd.FreeBlocks(g) == 0) continue;
            var bitmap = await BlockBitmapAsync(g, ct).ConfigureAwait(false);
            if (!bitmap.IsOk) return bitmap.Error;
            var map = bitmap.Value;
            int inGroup = Geo.BlocksInGroup(g);
            int from = i == 0 ? (int)(goal - Geo.GroupFirstBlock(g)) : 0;
            int bit = FindZero(map, from, inGroup);
            if (bit < 0 && from > 0) bit = FindZero(map, 0, from);
            if (bit < 0) continue;
            int n = 0;
            while (n < want && bit + n < inGroup && !TestBit(map, bit + n)) { SetBit(map, bit + n); n++; }
            long start = Geo.GroupFirstBlock(g) + bit;
            if (OverlapsMetadata(start, n)) return Corrupt($"group {g}: block bitmap marks fixed metadata free");
            _dirtyBlocks.Add(Gd.BlockBitmap(g)); _dirtyBlockBitmaps.Add(g); _dirtyGroups.Add(g);
            Gd.SetFreeBlocks(g, Gd.FreeBlocks(g) - (uint)n);
            Sb.FreeBlocks -= (ulong)n;
            for (int k = 0; k < n; k++) Forget(start + k);
            return (start, n);
        }
        return Result<(long, int)>.Fail(ErrorCode.NoSpace, "ext4: no free blocks");
    }

    private static int FindZero(byte[] map, int from, int end)
    {
        for (int bit = from; bit < end; bit++)
        {
            if ((bit & 7) == 0 && map[bit >> 3] == 0xFF && bit + 8 <= end) { bit += 7; continue; }
            if (!TestBit(map, bit)) return bit;
        }
        return -1;
    }

    public async ValueTask<Result> FreeBlocksAsync(long start, long count, CancellationToken ct)
    {
        var range = CheckRange(start, count, "free");
        if (!range.IsOk) return range;
        if (OverlapsMetadata(start, count)) return Corrupt($"refusing to free fixed metadata at block {start}");
        while (count > 0)
        {
            uint g = GroupOf(start);
            int bit = (int)(start - Geo.GroupFirstBlock(g));
            int n = (int)Math.Min(count, Geo.BlocksInGroup(g) - bit);
            var bitmap = await BlockBitmapAsync(g, ct).ConfigureAwait(false);
            if (!bitmap.IsOk) return bitmap.Error;
            var map = bitmap.Value;
            _freedThisOp = true;
            for (int k = 0; k < n; k++)
            {
                if (!TestBit(map, bit + k)) return Corrupt($"block {start + k} freed twice (extents overlap)");
                ClearBit(map, bit + k);
                Forget(start + k);
            }
            _dirtyBlocks.Add(Gd.BlockBitmap(g)); _dirtyBlockBitmaps.Add(g); _dirtyGroups.Add(g);
            Gd.SetFreeBlocks(g, Gd.FreeBlocks(g) + (uint)n);
            Sb.FreeBlocks += (ulong)n;
            start += n; count -= n;
        }
        return Result.Ok;
    }

    // ---------------------------------------------------------------- inode allocation

    private async ValueTask<Result<byte[]>> InodeBitmapAsync(uint g, CancellationToken ct)
    {
        long blk = Gd.InodeBitmap(g);
        if (_checkedInodeBitmaps.Contains(g))
        {
            if (_cache.TryGetValue(blk, out var c)) return c;
            return await GetBlockAsync(blk, ct).ConfigureAwait(false);
        }
        byte[] map;
        int ipg = (int)Geo.InodesPerGroup;
        if ((Gd.Flags(g) & GroupDescriptors.InodeUninit) != 0)
        {
            map = new byte[BlockSize];
            for (int bit = ipg; bit < BlockSize * 8; bit++) SetBit(map, bit);
            PutBitmap(blk, map);
            Gd.SetFlags(g, (ushort)(Gd.Flags(g) & ~GroupDescriptors.InodeUninit));
            _dirtyInodeBitmaps.Add(g); _dirtyGroups.Add(g);
        }
        else
        {
            var read = await GetBlockAsync(blk, ct).ConfigureAwait(false);
            if (!read.IsOk) return read;
            map = read.Value;
            if (VerifyCsum && !Gd.BitmapCsumMatches(Gd.InodeBitmapCsum(g), Gd.InodeBitmapChecksum(map)))
                return Corrupt($"group {g}: inode bitmap checksum mismatch");
        }
        int used = 0;
        for (int bit = 0; bit < ipg; bit++) if (TestBit(map, bit)) used++;
        if (ipg - used != Gd.FreeInodes(g)) return Corrupt($"group {g}: inode bitmap disagrees with the free count");
        _checkedInodeBitmaps.Add(g);
        return map;
    }

    /// <summary>Allocates an inode number, preferring <paramref name="preferGroup"/>; the caller writes the inode.</summary>
    public async ValueTask<Result<uint>> AllocateInodeAsync(uint preferGroup, bool directory, CancellationToken ct)
    {
        if (Sb.FreeInodes == 0) return Result<uint>.Fail(ErrorCode.NoSpace, "ext4: no free inodes");
        for (uint i = 0; i < Geo.GroupCount; i++)
        {
            uint g = (preferGroup + i) % Geo.GroupCount;
            if (Gd.FreeInodes(g) == 0) continue;
            var bitmap = await InodeBitmapAsync(g, ct).ConfigureAwait(false);
            if (!bitmap.IsOk) return bitmap.Error;
            var map = bitmap.Value;
            int ipg = (int)Geo.InodesPerGroup;
            int bit = FindZero(map, 0, ipg);
            while (bit >= 0 && g * Geo.InodesPerGroup + (uint)bit + 1 < Sb.FirstIno) bit = FindZero(map, bit + 1, ipg);
            if (bit < 0) continue;
            SetBit(map, bit);
            _dirtyBlocks.Add(Gd.InodeBitmap(g)); _dirtyInodeBitmaps.Add(g); _dirtyGroups.Add(g);
            Gd.SetFreeInodes(g, Gd.FreeInodes(g) - 1);
            if (directory) Gd.SetUsedDirs(g, Gd.UsedDirs(g) + 1);
            // Inodes at or past (ipg - itable_unused) are assumed never used; move the mark past this one.
            if (Csum || (Sb.RoCompat & Features.GdtCsum) != 0)
            {
                uint unused = Gd.ItableUnused(g);
                if ((uint)bit >= Geo.InodesPerGroup - unused) Gd.SetItableUnused(g, Geo.InodesPerGroup - (uint)bit - 1);
            }
            Sb.FreeInodes -= 1;
            uint ino = g * Geo.InodesPerGroup + (uint)bit + 1;
            _opInodes.Remove(ino);
            return ino;
        }
        return Result<uint>.Fail(ErrorCode.NoSpace, "ext4: no free inodes");
    }

    public async ValueTask<Result> FreeInodeAsync(uint ino, bool directory, CancellationToken ct)
    {
        if (ino < Sb.FirstIno || ino > Geo.InodesCount) return Corrupt($"refusing to free reserved inode {ino}");
        uint g = (ino - 1) / Geo.InodesPerGroup;
        int bit = (int)((ino - 1) % Geo.InodesPerGroup);
        var bitmap = await InodeBitmapAsync(g, ct).ConfigureAwait(false);
        if (!bitmap.IsOk) return bitmap.Error;
        var map = bitmap.Value;
        if (!TestBit(map, bit)) return Corrupt($"inode {ino} freed twice");
        ClearBit(map, bit);
        _freedThisOp = true;
        _dirtyBlocks.Add(Gd.InodeBitmap(g)); _dirtyInodeBitmaps.Add(g); _dirtyGroups.Add(g);
        Gd.SetFreeInodes(g, Gd.FreeInodes(g) + 1);
        if (directory && Gd.UsedDirs(g) > 0) Gd.SetUsedDirs(g, Gd.UsedDirs(g) - 1);
        Sb.FreeInodes += 1;
        return Result.Ok;
    }

    public uint GroupOfInode(uint ino) => (ino - 1) / Geo.InodesPerGroup;

    public static int PopCount(byte b) => BitOperations.PopCount(b);

    public static uint Le32(ReadOnlySpan<byte> s) => BinaryPrimitives.ReadUInt32LittleEndian(s);
}
