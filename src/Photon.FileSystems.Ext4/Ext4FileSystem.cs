using System.Buffers.Binary;
using System.Text;
using Photon.Kernel;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Io;

namespace Photon.FileSystems.Ext4;

/// <summary>
/// A mounted ext4 filesystem. Operations are serialised by one async lock; each writing operation changes metadata in
/// memory and commits it at the end as one jbd2 transaction (Journal/JournalWriter: ordered mode, then checkpointed in
/// place), so a crash leaves the old or the new state. Any corruption found disables writing for the rest of the mount.
/// </summary>
public sealed class Ext4FileSystem : IFileSystem
{
    private const uint RootInode = 2;
    private const int MaxRun = 256;

    private readonly Volume _vol;
    private readonly Func<DateTimeOffset> _now;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private KernelError? _writeDisabled;
    /// <summary>Open nodes by inode number; also the lock for their open counts.</summary>
    private readonly Dictionary<uint, Ext4FileNode> _open = new();

    internal Ext4FileSystem(Volume vol, bool readOnly, Func<DateTimeOffset> now)
    {
        _vol = vol; IsReadOnly = readOnly; _now = now;
    }

    public string TypeName => "ext4";
    public bool IsReadOnly { get; }
    internal Volume Volume => _vol;

    private uint Now => (uint)Math.Clamp(_now().ToUnixTimeSeconds(), 0, uint.MaxValue);
    private int Bs => _vol.BlockSize;

    // ---------------------------------------------------------------- operation wrapper

    private async ValueTask<Result<T>> RunAsync<T>(bool write, Func<ValueTask<T>> body, CancellationToken ct)
    {
        if (write && IsReadOnly) return Result<T>.Fail(ErrorCode.ReadOnly, "ext4: mounted read-only");
        try { await _lock.WaitAsync(ct).ConfigureAwait(false); }
        catch (OperationCanceledException) { return Result<T>.Fail(ErrorCode.Cancelled, "operation cancelled"); }
        try
        {
            if (write && _writeDisabled is { } why) return Result<T>.Fail(ErrorCode.Corrupted, "ext4: writes disabled after an earlier error: " + why);
            T value = await body().ConfigureAwait(false);
            if (write) await _vol.CommitAsync(ct).ConfigureAwait(false);
            else _vol.EndOperation();
            return value;
        }
        catch (KernelException e) { return Fail<T>(e.Error, write); }
        catch (OperationCanceledException) { return Fail<T>(new KernelError(ErrorCode.Cancelled, "operation cancelled"), write); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A parser bug must not escape as an exception: report it as corruption and stop writing.
            return Fail<T>(new KernelError(ErrorCode.Corrupted, $"ext4: internal error on malformed data: {e.GetType().Name}: {e.Message}"), write, true);
        }
        finally { _lock.Release(); }
    }

    private Result<T> Fail<T>(KernelError error, bool write, bool disable = false)
    {
        _vol.Rollback();
        if (error.Code is ErrorCode.Corrupted or ErrorCode.IoError || disable) _writeDisabled ??= error;
        return Result<T>.Fail(error);
    }

    private static async ValueTask<Result> AsResult(ValueTask<Result<bool>> r) => (await r.ConfigureAwait(false)).AsResult();

    // ---------------------------------------------------------------- paths

    private static string[] Split(string path)
    {
        if (path is null) throw new KernelException(ErrorCode.InvalidArgument, "path is null");
        return path.Split('/', StringSplitOptions.RemoveEmptyEntries);
    }

    private static byte[] EncodeName(string name)
    {
        if (name.Length == 0 || name == "." || name == ".." || name.Contains('\0') || name.Contains('/'))
            throw new KernelException(ErrorCode.InvalidName, $"invalid name '{name}'");
        var bytes = Encoding.UTF8.GetBytes(name);
        if (bytes.Length > 255) throw new KernelException(ErrorCode.InvalidName, "name longer than 255 bytes");
        return bytes;
    }

    private async ValueTask<Inode> ResolveAsync(string[] parts, int count, CancellationToken ct)
    {
        var cur = await _vol.ReadInodeAsync(RootInode, ct).ConfigureAwait(false);
        if (!cur.IsDirectory) throw Volume.Corrupt("root inode is not a directory");
        for (int i = 0; i < count; i++)
        {
            if (!cur.IsDirectory) throw new KernelException(ErrorCode.NotADirectory, $"'{parts[i - 1]}' is not a directory");
            var bytes = Encoding.UTF8.GetBytes(parts[i]);
            var rec = await DirectoryBlocks.LookupAsync(_vol, cur, bytes, ct).ConfigureAwait(false)
                ?? throw new KernelException(ErrorCode.NotFound, $"'{parts[i]}' not found");
            cur = await _vol.ReadInodeAsync(rec.Inode, ct).ConfigureAwait(false);
        }
        return cur;
    }

    private ValueTask<Inode> ResolveAsync(string path, CancellationToken ct)
    {
        var parts = Split(path);
        return ResolveAsync(parts, parts.Length, ct);
    }

    private async ValueTask<(Inode Parent, byte[] Name)> ResolveParentAsync(string path, CancellationToken ct)
    {
        var parts = Split(path);
        if (parts.Length == 0) throw new KernelException(ErrorCode.InvalidArgument, "the root has no parent");
        var name = EncodeName(parts[^1]);
        var parent = await ResolveAsync(parts, parts.Length - 1, ct).ConfigureAwait(false);
        if (!parent.IsDirectory) throw new KernelException(ErrorCode.NotADirectory, $"parent of '{path}' is not a directory");
        return (parent, name);
    }

    private static FileKind KindOf(Inode i) => i.IsFile ? FileKind.File : i.IsDirectory ? FileKind.Directory : i.IsSymlink ? FileKind.Symlink : FileKind.Other;

    private static byte FileTypeOf(Inode i) => i.IsFile ? DirectoryBlocks.FtFile : i.IsDirectory ? DirectoryBlocks.FtDir : i.IsSymlink ? DirectoryBlocks.FtSymlink : DirectoryBlocks.FtUnknown;

    // ---------------------------------------------------------------- reads

    public ValueTask<Result<FileStat>> StatAsync(string path, CancellationToken ct = default) => RunAsync(false, async () =>
    {
        var inode = await ResolveAsync(path, ct).ConfigureAwait(false);
        var parts = Split(path);
        return new FileStat(parts.Length == 0 ? "/" : parts[^1], KindOf(inode), (long)inode.Size, DateTimeOffset.FromUnixTimeSeconds(inode.MTime));
    }, ct);

    public ValueTask<Result<IReadOnlyList<DirectoryEntry>>> ReadDirectoryAsync(string path, CancellationToken ct = default) =>
        RunAsync<IReadOnlyList<DirectoryEntry>>(false, async () =>
        {
            var dir = await ResolveAsync(path, ct).ConfigureAwait(false);
            if (!dir.IsDirectory) throw new KernelException(ErrorCode.NotADirectory, $"'{path}' is not a directory");
            var list = new List<DirectoryEntry>();
            foreach (var r in await DirectoryBlocks.ReadAllAsync(_vol, dir, ct).ConfigureAwait(false))
            {
                if (r.NameLen <= 2 && (r.NameString == "." || r.NameString == "..")) continue;
                var child = await _vol.ReadInodeAsync(r.Inode, ct).ConfigureAwait(false);
                list.Add(new DirectoryEntry(r.NameString, KindOf(child), (long)child.Size));
            }
            return list;
        }, ct);

    // ---------------------------------------------------------------- open files

    public ValueTask<Result<IFileNode>> OpenAsync(string path, CancellationToken ct = default) => RunAsync<IFileNode>(false, async () =>
    {
        var inode = await ResolveAsync(path, ct).ConfigureAwait(false);
        var parts = Split(path);
        lock (_open)
        {
            if (_open.TryGetValue(inode.Number, out var node)) { node.Opens++; return node; }
            node = new Ext4FileNode(this, inode.Number, parts.Length == 0 ? "/" : parts[^1], KindOf(inode)) { Opens = 1 };
            _open[inode.Number] = node;
            return node;
        }
    }, ct);

    internal void ReleaseNode(Ext4FileNode node)
    {
        lock (_open)
        {
            if (node.Opens == 0) return;
            if (--node.Opens > 0) return;
            node.Released = true;
            if (_open.TryGetValue(node.Inode, out var known) && known == node) _open.Remove(node.Inode);
        }
    }

    /// <summary>The inode lost its last link: open nodes of it end (their blocks are already freed).</summary>
    private void EndNode(uint ino)
    {
        lock (_open)
            if (_open.Remove(ino, out var node)) node.Ended = true;
    }

    /// <summary>The node's inode as it is now; a released or ended node fails.</summary>
    private async ValueTask<Inode> NodeInodeAsync(Ext4FileNode node, CancellationToken ct)
    {
        if (node.Released) throw new KernelException(ErrorCode.Closed, "the file was closed");
        if (node.Ended) throw new KernelException(ErrorCode.NotFound, "the file was deleted while open");
        return await _vol.ReadInodeAsync(node.Inode, ct).ConfigureAwait(false);
    }

    private async ValueTask<Inode> NodeFileAsync(Ext4FileNode node, CancellationToken ct)
    {
        var inode = await NodeInodeAsync(node, ct).ConfigureAwait(false);
        if (inode.IsDirectory) throw new KernelException(ErrorCode.IsADirectory, $"'{node.Name}' is a directory");
        if (!inode.IsFile) throw new KernelException(ErrorCode.NotSupported, $"'{node.Name}' is not a regular file");
        return inode;
    }

    internal ValueTask<Result<FileStat>> StatNodeAsync(Ext4FileNode node, CancellationToken ct) => RunAsync(false, async () =>
    {
        var inode = await NodeInodeAsync(node, ct).ConfigureAwait(false);
        return new FileStat(node.Name, KindOf(inode), (long)inode.Size, DateTimeOffset.FromUnixTimeSeconds(inode.MTime));
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

    internal ValueTask<Result<int>> ReadNodeAsync(Ext4FileNode node, long offset, Memory<byte> buffer, CancellationToken ct) => RunAsync(false, async () =>
    {
        if (offset < 0) throw new KernelException(ErrorCode.InvalidArgument, "negative offset");
        var inode = await NodeFileAsync(node, ct).ConfigureAwait(false);
        ulong size = inode.Size;
        if ((ulong)offset >= size || buffer.Length == 0) return 0;
        int n = (int)Math.Min((ulong)buffer.Length, size - (ulong)offset);
        var map = await ExtentTree.LoadAsync(_vol, inode, ct).ConfigureAwait(false);
        await ReadMappedAsync(map, offset, buffer[..n], ct).ConfigureAwait(false);
        return n;
    }, ct);

    /// <summary>Reads a mapped range; every extent run is submitted before any is awaited.</summary>
    private async ValueTask ReadMappedAsync(ExtentMap map, long offset, Memory<byte> dest, CancellationToken ct)
    {
        var reads = new List<Task>();
        long pos = offset, end = offset + dest.Length;
        while (pos < end)
        {
            long lb = pos / Bs;
            int i = map.Find(lb);
            long runEnd;
            if (i < 0 || map.Extents[i].Uninit)
            {
                runEnd = i >= 0 ? map.Extents[i].LogicalEnd * Bs : ~i < map.Extents.Count ? map.Extents[~i].Logical * (long)Bs : end;
                runEnd = Math.Min(runEnd, end);
                dest.Span[(int)(pos - offset)..(int)(runEnd - offset)].Clear();
            }
            else
            {
                var e = map.Extents[i];
                runEnd = Math.Min(Math.Min(e.LogicalEnd * Bs, end), (lb + MaxRun) * Bs);
                long phys = e.Physical + (lb - e.Logical);
                int blocks = (int)((runEnd - lb * Bs + Bs - 1) / Bs);
                int skip = (int)(pos - lb * Bs);
                if (skip == 0 && (runEnd - pos) == (long)blocks * Bs)
                    reads.Add(_vol.ReadDataAsync(phys, dest.Slice((int)(pos - offset), blocks * Bs), ct).AsTask());
                else
                    reads.Add(ReadPartialAsync(phys, blocks, skip, dest.Slice((int)(pos - offset), (int)(runEnd - pos)), ct));
            }
            pos = runEnd;
        }
        await AllAsync(reads).ConfigureAwait(false);
    }

    private async Task ReadPartialAsync(long phys, int blocks, int skip, Memory<byte> dest, CancellationToken ct)
    {
        var tmp = new byte[blocks * Bs];
        await _vol.ReadDataAsync(phys, tmp, ct).ConfigureAwait(false);
        tmp.AsSpan(skip, dest.Length).CopyTo(dest.Span);
    }

    // ---------------------------------------------------------------- creation

    private Inode NewInode(uint ino, ushort mode, ushort links)
    {
        var raw = new byte[_vol.Geo.InodeSize];
        var inode = new Inode(ino, raw) { Mode = mode, LinksCount = links };
        uint now = Now;
        inode.ATime = inode.CTime = inode.MTime = now;
        inode.Generation = _vol.NextGeneration();
        if (raw.Length >= 160)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(raw.AsSpan(0x80), 32);
            BinaryPrimitives.WriteUInt32LittleEndian(raw.AsSpan(0x90), now);
        }
        ExtentTree.InitEmpty(inode);
        return inode;
    }

    private async ValueTask<Inode> CreateAsync(string path, bool directory, CancellationToken ct)
    {
        var (parent, name) = await ResolveParentAsync(path, ct).ConfigureAwait(false);
        if (await DirectoryBlocks.LookupAsync(_vol, parent, name, ct).ConfigureAwait(false) is not null)
            throw new KernelException(ErrorCode.AlreadyExists, $"'{path}' already exists");
        if (directory && parent.LinksCount >= 65000 && (_vol.Sb.RoCompat & Features.DirNlink) == 0)
            throw new KernelException(ErrorCode.NoSpace, "too many subdirectories");
        uint ino = await _vol.AllocateInodeAsync(_vol.GroupOfInode(parent.Number), directory, ct).ConfigureAwait(false);
        var inode = NewInode(ino, directory ? (ushort)0x41ED : (ushort)0x81A4, directory ? (ushort)2 : (ushort)1);
        _vol.MarkInodeDirty(inode);
        if (directory)
        {
            var (blk, _) = await _vol.AllocateBlocksAsync(_vol.Geo.GroupFirstBlock(_vol.GroupOfInode(ino)), 1, ct).ConfigureAwait(false);
            _vol.PutBlock(blk, DirectoryBlocks.NewDirectoryBlock(_vol, inode, parent.Number));
            var map = new ExtentMap();
            map.Insert(new Extent(0, blk, 1, false));
            ExtentTree.AdjustBlocks(_vol, inode, 1);
            inode.Size = (ulong)Bs;
            await ExtentTree.StoreAsync(_vol, inode, map, ct).ConfigureAwait(false);
            // dir_nlink: a link count that would overflow sticks at 1 ("many").
            if (parent.LinksCount != 1) parent.LinksCount = parent.LinksCount >= 64999 ? (ushort)1 : (ushort)(parent.LinksCount + 1);
        }
        await DirectoryBlocks.AddEntryAsync(_vol, parent, name, ino, directory ? DirectoryBlocks.FtDir : DirectoryBlocks.FtFile, Now, ct).ConfigureAwait(false);
        return inode;
    }

    public ValueTask<Result> CreateFileAsync(string path, CancellationToken ct = default) =>
        AsResult(RunAsync(true, async () => { await CreateAsync(path, false, ct).ConfigureAwait(false); return true; }, ct));

    public ValueTask<Result> CreateDirectoryAsync(string path, CancellationToken ct = default) =>
        AsResult(RunAsync(true, async () => { await CreateAsync(path, true, ct).ConfigureAwait(false); return true; }, ct));

    // ---------------------------------------------------------------- writes

    internal ValueTask<Result> WriteNodeAsync(Ext4FileNode node, long offset, ReadOnlyMemory<byte> data, CancellationToken ct) =>
        AsResult(RunAsync(true, async () =>
        {
            if (offset < 0) throw new KernelException(ErrorCode.InvalidArgument, "negative offset");
            long end = offset + data.Length;
            // (end - 1) / Bs + 1 is the block count without the overflow of end + Bs - 1 near long.MaxValue.
            if (end < offset || (end - 1) / Bs + 1 >= uint.MaxValue) throw new KernelException(ErrorCode.OutOfRange, "write beyond the maximum file size");
            var inode = await NodeFileAsync(node, ct).ConfigureAwait(false);
            if (data.Length == 0) return true;
            var map = await ExtentTree.LoadAsync(_vol, inode, ct).ConfigureAwait(false);
            if ((ulong)offset > inode.Size) await ZeroTailAsync(map, (long)inode.Size, ct).ConfigureAwait(false);
            await WriteMappedAsync(inode, map, offset, data, ct).ConfigureAwait(false);
            if ((ulong)end > inode.Size) inode.Size = (ulong)end;
            inode.MTime = inode.CTime = Now;
            _vol.MarkInodeDirty(inode);
            if (map.Changed) await ExtentTree.StoreAsync(_vol, inode, map, ct).ConfigureAwait(false);
            return true;
        }, ct));

    private async ValueTask WriteMappedAsync(Inode inode, ExtentMap map, long offset, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        long end = offset + data.Length;
        long firstLb = offset / Bs, lastLb = (end - 1) / Bs;
        // Refuse up front when the free space cannot possibly hold the new blocks, so nothing is half-written.
        long unmapped = 0;
        for (long lb = firstLb; lb <= lastLb;)
        {
            int i = map.Find(lb);
            if (i >= 0) { lb = map.Extents[i].LogicalEnd; continue; }
            long next = ~i < map.Extents.Count ? map.Extents[~i].Logical : lastLb + 1;
            unmapped += Math.Min(next, lastLb + 1) - lb;
            lb = next;
        }
        long treeGuess = (map.Extents.Count + unmapped) / ((Bs - 12) / 12) + 3;
        if ((ulong)(unmapped + treeGuess) > _vol.Sb.FreeBlocks) throw new KernelException(ErrorCode.NoSpace, "ext4: not enough free blocks");

        // Runs are submitted as they are mapped and awaited together at the end (several requests in flight).
        var writes = new List<Task>();
        try { await MapAndWriteAsync(inode, map, offset, data, writes, ct).ConfigureAwait(false); }
        finally { await AllAsync(writes).ConfigureAwait(false); }
    }

    private async ValueTask MapAndWriteAsync(Inode inode, ExtentMap map, long offset, ReadOnlyMemory<byte> data, List<Task> writes, CancellationToken ct)
    {
        long end = offset + data.Length;
        long lastLb = (end - 1) / Bs;
        long pos = offset;
        while (pos < end)
        {
            ct.ThrowIfCancellationRequested();
            long lb = pos / Bs;
            int i = map.Find(lb);
            long phys; int blocks; bool fresh;
            if (i >= 0 && map.Extents[i].Uninit)
            {
                await InitialiseExtentAsync(map, i, ct).ConfigureAwait(false);
                continue;
            }
            if (i >= 0)
            {
                var e = map.Extents[i];
                blocks = (int)Math.Min(Math.Min(e.LogicalEnd, lastLb + 1) - lb, MaxRun);
                phys = e.Physical + (lb - e.Logical);
                fresh = false;
            }
            else
            {
                long next = ~i < map.Extents.Count ? map.Extents[~i].Logical : lastLb + 1;
                int want = (int)Math.Min(Math.Min(next, lastLb + 1) - lb, MaxRun);
                long goal = FindGoal(map, ~i, lb, inode);
                (phys, blocks) = await _vol.AllocateBlocksAsync(goal, want, ct).ConfigureAwait(false);
                map.Insert(new Extent((uint)lb, phys, blocks, false));
                ExtentTree.AdjustBlocks(_vol, inode, blocks);
                fresh = true;
            }
            long runStart = lb * Bs, runEnd = runStart + (long)blocks * Bs;
            long copyEnd = Math.Min(runEnd, end);
            if (pos == runStart && copyEnd == runEnd)
            {
                // Whole blocks: straight from the caller's buffer, no copy.
                writes.Add(_vol.WriteDataAsync(phys, data.Slice((int)(pos - offset), blocks * Bs), ct).AsTask());
                pos = copyEnd;
                continue;
            }
            var buf = new byte[blocks * Bs];
            // Partial first/last blocks keep their old bytes (or zeros in a fresh block).
            bool head = pos > runStart, tail = copyEnd < runEnd;
            if (!fresh && head) await _vol.ReadDataAsync(phys, buf.AsMemory(0, Bs), ct).ConfigureAwait(false);
            if (!fresh && tail && !(head && blocks == 1))
                await _vol.ReadDataAsync(phys + blocks - 1, buf.AsMemory((blocks - 1) * Bs, Bs), ct).ConfigureAwait(false);
            data.Span[(int)(pos - offset)..(int)(copyEnd - offset)].CopyTo(buf.AsSpan((int)(pos - runStart)));
            writes.Add(_vol.WriteDataAsync(phys, buf, ct).AsTask());
            pos = copyEnd;
        }
    }

    private long FindGoal(ExtentMap map, int nextIndex, long lb, Inode inode)
    {
        if (nextIndex > 0)
        {
            var prev = map.Extents[nextIndex - 1];
            return prev.Physical + prev.Length + (lb - prev.LogicalEnd);
        }
        return _vol.Geo.GroupFirstBlock(_vol.GroupOfInode(inode.Number));
    }

    /// <summary>Writing into a preallocated (uninitialised) extent: zero it on disk and mark it initialised.</summary>
    private async ValueTask InitialiseExtentAsync(ExtentMap map, int i, CancellationToken ct)
    {
        var e = map.Extents[i];
        var zeros = new byte[Math.Min(e.Length, MaxRun) * Bs];
        for (int done = 0; done < e.Length; done += MaxRun)
        {
            int n = Math.Min(MaxRun, e.Length - done);
            await _vol.WriteDataAsync(e.Physical + done, zeros.AsMemory(0, n * Bs), ct).ConfigureAwait(false);
        }
        map.Extents[i] = e with { Uninit = false };
        map.Changed = true;
        map.MergeAround(i);
    }

    /// <summary>Zeroes the bytes after <paramref name="size"/> in its last block so a later extension reads zeros.</summary>
    private async ValueTask ZeroTailAsync(ExtentMap map, long size, CancellationToken ct)
    {
        if (size % Bs == 0) return;
        long lb = size / Bs;
        int i = map.Find(lb);
        if (i < 0 || map.Extents[i].Uninit) return;
        long phys = map.Extents[i].Physical + (lb - map.Extents[i].Logical);
        var blk = new byte[Bs];
        await _vol.ReadDataAsync(phys, blk, ct).ConfigureAwait(false);
        blk.AsSpan((int)(size % Bs)).Clear();
        await _vol.WriteDataAsync(phys, blk, ct).ConfigureAwait(false);
    }

    internal ValueTask<Result> TruncateNodeAsync(Ext4FileNode node, long length, CancellationToken ct) =>
        AsResult(RunAsync(true, async () =>
        {
            if (length < 0) throw new KernelException(ErrorCode.InvalidArgument, "negative length");
            if (length > long.MaxValue - Bs || (length + Bs - 1) / Bs >= uint.MaxValue) throw new KernelException(ErrorCode.OutOfRange, "length beyond the maximum file size");
            var inode = await NodeFileAsync(node, ct).ConfigureAwait(false);
            var map = await ExtentTree.LoadAsync(_vol, inode, ct).ConfigureAwait(false);
            if ((ulong)length < inode.Size)
            {
                await FreeFromAsync(inode, map, (length + Bs - 1) / Bs, ct).ConfigureAwait(false);
                await ZeroTailAsync(map, length, ct).ConfigureAwait(false);
            }
            else if ((ulong)length > inode.Size) await ZeroTailAsync(map, (long)inode.Size, ct).ConfigureAwait(false);
            inode.Size = (ulong)length;
            inode.MTime = inode.CTime = Now;
            _vol.MarkInodeDirty(inode);
            if (map.Changed) await ExtentTree.StoreAsync(_vol, inode, map, ct).ConfigureAwait(false);
            return true;
        }, ct));

    /// <summary>Frees every block mapped at logical block <paramref name="firstLb"/> or later.</summary>
    private async ValueTask FreeFromAsync(Inode inode, ExtentMap map, long firstLb, CancellationToken ct)
    {
        for (int i = map.Extents.Count - 1; i >= 0; i--)
        {
            var e = map.Extents[i];
            if (e.LogicalEnd <= firstLb) break;
            long keep = Math.Max(0, firstLb - e.Logical);
            await _vol.FreeBlocksAsync(e.Physical + keep, e.Length - keep, ct).ConfigureAwait(false);
            ExtentTree.AdjustBlocks(_vol, inode, -(e.Length - keep));
            if (keep == 0) map.Extents.RemoveAt(i);
            else map.Extents[i] = e with { Length = (int)keep };
            map.Changed = true;
        }
    }

    // ---------------------------------------------------------------- delete and rename

    private async ValueTask<bool> IsEmptyDirectoryAsync(Inode dir, CancellationToken ct)
    {
        foreach (var r in await DirectoryBlocks.ReadAllAsync(_vol, dir, ct).ConfigureAwait(false))
            if (!(r.NameString is "." or "..")) return false;
        return true;
    }

    /// <summary>Drops one link; at zero the inode's blocks and the inode itself are freed.</summary>
    private async ValueTask UnlinkInodeAsync(Inode parent, Inode inode, CancellationToken ct)
    {
        bool dir = inode.IsDirectory;
        if (dir)
        {
            if (parent.LinksCount > 2) parent.LinksCount--;
            _vol.MarkInodeDirty(parent);
            inode.LinksCount = 0;
        }
        else inode.LinksCount--;
        inode.CTime = Now;
        _vol.MarkInodeDirty(inode);
        if (inode.LinksCount > 0) return;
        if (inode.FileAcl != 0) throw new KernelException(ErrorCode.NotSupported, $"ext4: inode {inode.Number} has an extended-attribute block");
        if (ExtentTree.HasExtents(inode) && (inode.Flags & Inode.FlagInlineData) == 0)
        {
            var map = await ExtentTree.LoadAsync(_vol, inode, ct).ConfigureAwait(false);
            foreach (var e in map.Extents) await _vol.FreeBlocksAsync(e.Physical, e.Length, ct).ConfigureAwait(false);
            foreach (long b in map.TreeBlocks) await _vol.FreeBlocksAsync(b, 1, ct).ConfigureAwait(false);
            ExtentTree.InitEmpty(inode);
        }
        else if (!(inode.IsSymlink && inode.BlocksRaw == 0))
            throw new KernelException(ErrorCode.NotSupported, $"ext4: inode {inode.Number} uses a block map this driver does not free");
        inode.Size = 0;
        inode.BlocksRaw = 0;
        inode.DTime = Math.Max(Now, 1);
        await _vol.FreeInodeAsync(inode.Number, dir, ct).ConfigureAwait(false);
    }

    public ValueTask<Result> DeleteAsync(string path, CancellationToken ct = default) =>
        AsResult(RunAsync(true, async () =>
        {
            var (parent, name) = await ResolveParentAsync(path, ct).ConfigureAwait(false);
            var rec = await DirectoryBlocks.LookupAsync(_vol, parent, name, ct).ConfigureAwait(false)
                ?? throw new KernelException(ErrorCode.NotFound, $"'{path}' not found");
            var inode = await _vol.ReadInodeAsync(rec.Inode, ct).ConfigureAwait(false);
            if (inode.Number == RootInode) throw new KernelException(ErrorCode.Busy, "cannot delete the root");
            if (inode.IsDirectory && !await IsEmptyDirectoryAsync(inode, ct).ConfigureAwait(false))
                throw new KernelException(ErrorCode.NotEmpty, $"'{path}' is not empty");
            await DirectoryBlocks.RemoveEntryAsync(_vol, parent, rec, Now, ct).ConfigureAwait(false);
            await UnlinkInodeAsync(parent, inode, ct).ConfigureAwait(false);
            if (inode.LinksCount == 0) EndNode(inode.Number);
            return true;
        }, ct));

    public ValueTask<Result> RenameAsync(string from, string to, CancellationToken ct = default) =>
        AsResult(RunAsync(true, async () =>
        {
            var (srcParent, srcName) = await ResolveParentAsync(from, ct).ConfigureAwait(false);
            var srcRec = await DirectoryBlocks.LookupAsync(_vol, srcParent, srcName, ct).ConfigureAwait(false)
                ?? throw new KernelException(ErrorCode.NotFound, $"'{from}' not found");
            var inode = await _vol.ReadInodeAsync(srcRec.Inode, ct).ConfigureAwait(false);
            var (dstParent, dstName) = await ResolveParentAsync(to, ct).ConfigureAwait(false);
            if (inode.IsDirectory)
            {
                // A directory may not move into itself or its own subtree: walk up from the destination.
                var cur = dstParent;
                for (int steps = 0; cur.Number != RootInode; steps++)
                {
                    if (cur.Number == inode.Number) throw new KernelException(ErrorCode.InvalidArgument, "cannot move a directory into itself");
                    if (steps > 65536) throw Volume.Corrupt("directory '..' chain does not reach the root");
                    var up = await DirectoryBlocks.LookupAsync(_vol, cur, ".."u8.ToArray(), ct).ConfigureAwait(false)
                        ?? throw Volume.Corrupt($"directory inode {cur.Number} has no '..'");
                    cur = await _vol.ReadInodeAsync(up.Inode, ct).ConfigureAwait(false);
                }
                if (inode.Number == dstParent.Number) throw new KernelException(ErrorCode.InvalidArgument, "cannot move a directory into itself");
            }
            var existing = await DirectoryBlocks.LookupAsync(_vol, dstParent, dstName, ct).ConfigureAwait(false);
            Inode? replaced = null;
            if (existing is { } ex)
            {
                if (ex.Inode == inode.Number) return true;
                var victim = await _vol.ReadInodeAsync(ex.Inode, ct).ConfigureAwait(false);
                if (victim.IsDirectory && !inode.IsDirectory) throw new KernelException(ErrorCode.IsADirectory, $"'{to}' is a directory");
                if (!victim.IsDirectory && inode.IsDirectory) throw new KernelException(ErrorCode.NotADirectory, $"'{to}' is not a directory");
                if (victim.IsDirectory && !await IsEmptyDirectoryAsync(victim, ct).ConfigureAwait(false))
                    throw new KernelException(ErrorCode.NotEmpty, $"'{to}' is not empty");
                await DirectoryBlocks.RemoveEntryAsync(_vol, dstParent, ex, Now, ct).ConfigureAwait(false);
                await UnlinkInodeAsync(dstParent, victim, ct).ConfigureAwait(false);
                replaced = victim;
            }
            // Re-find the source record: removing the victim may have merged records in the same block.
            var src = await DirectoryBlocks.LookupAsync(_vol, srcParent, srcName, ct).ConfigureAwait(false)
                ?? throw Volume.Corrupt("source entry vanished during rename");
            await DirectoryBlocks.RemoveEntryAsync(_vol, srcParent, src, Now, ct).ConfigureAwait(false);
            await DirectoryBlocks.AddEntryAsync(_vol, dstParent, dstName, inode.Number, FileTypeOf(inode), Now, ct).ConfigureAwait(false);
            if (inode.IsDirectory && srcParent.Number != dstParent.Number)
            {
                var dots = await DirectoryBlocks.LookupAsync(_vol, inode, ".."u8.ToArray(), ct).ConfigureAwait(false)
                    ?? throw Volume.Corrupt($"directory inode {inode.Number} has no '..'");
                await DirectoryBlocks.RetargetAsync(_vol, inode, dots, dstParent.Number, ct).ConfigureAwait(false);
                if (srcParent.LinksCount > 2) srcParent.LinksCount--;
                if (dstParent.LinksCount != 1) dstParent.LinksCount = dstParent.LinksCount >= 64999 ? (ushort)1 : (ushort)(dstParent.LinksCount + 1);
                _vol.MarkInodeDirty(srcParent); _vol.MarkInodeDirty(dstParent);
            }
            inode.CTime = Now;
            _vol.MarkInodeDirty(inode);
            if (replaced is { LinksCount: 0 }) EndNode(replaced.Number);
            return true;
        }, ct));

    // ---------------------------------------------------------------- flush

    public async ValueTask<Result> FlushAsync(CancellationToken ct = default)
    {
        if (IsReadOnly) return Result.Ok;
        try { await _lock.WaitAsync(ct).ConfigureAwait(false); }
        catch (OperationCanceledException) { return Result.Fail(ErrorCode.Cancelled, "operation cancelled"); }
        try { return await _vol.FlushDeviceAsync(ct).ConfigureAwait(false); }
        finally { _lock.Release(); }
    }

    public async ValueTask DisposeAsync()
    {
        await FlushAsync().ConfigureAwait(false);
    }

    // ---------------------------------------------------------------- diagnostics for tests

    /// <summary>Depth of a file's extent tree and whether a directory is htree-indexed (used by tests).</summary>
    internal ValueTask<Result<(int Depth, int Extents, bool Indexed)>> InspectAsync(string path, CancellationToken ct = default) => RunAsync(false, async () =>
    {
        var inode = await ResolveAsync(path, ct).ConfigureAwait(false);
        var map = await ExtentTree.LoadAsync(_vol, inode, ct).ConfigureAwait(false);
        return (map.Depth, map.Extents.Count, (inode.Flags & Inode.FlagIndex) != 0);
    }, ct);
}
