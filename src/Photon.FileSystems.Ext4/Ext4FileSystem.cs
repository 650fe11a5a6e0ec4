using System.Buffers.Binary;
using System.Text;
using Photon.Kernel;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Io;

namespace Photon.FileSystems.Ext4;

/// <summary>
/// A mounted ext4 filesystem. Operations are serialised by one async lock; each writing operation changes metadata in
/// memory and at its end joins the running transaction, which is committed as one jbd2 transaction (group commit:
/// Journal/JournalWriter, ordered mode, then checkpointed in place) when it is big or old enough, after an operation
/// that freed space, and by <see cref="FlushAsync"/> (fsync) and unmount — so a crash leaves the state after some
/// whole group, and everything before the last completed fsync. Any corruption found disables writing for the rest of the mount.
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

    /// <summary>
    /// Serialises operations; a writing one commits its changes when the body succeeds and rolls them back when it
    /// returns a failure. Cancellation is .NET's exception, turned into its typed result here.
    /// </summary>
    private async ValueTask<Result<T>> RunAsync<T>(bool write, Func<ValueTask<Result<T>>> body, CancellationToken ct)
    {
        if (write && IsReadOnly) return Result<T>.Fail(ErrorCode.ReadOnly, "ext4: mounted read-only");
        try { await _lock.WaitAsync(ct).ConfigureAwait(false); }
        catch (OperationCanceledException) { return Result<T>.Fail(ErrorCode.Cancelled, "operation cancelled"); }
        try
        {
            if (write && _writeDisabled is { } why) return Result<T>.Fail(ErrorCode.Corrupted, "ext4: writes disabled after an earlier error: " + why);
            var value = await body().ConfigureAwait(false);
            if (!value.IsOk) return Fail<T>(value.Error);
            if (write)
            {
                var committed = await _vol.CommitAsync(ct).ConfigureAwait(false);
                if (!committed.IsOk) return Fail<T>(committed.Error);
            }
            else _vol.EndOperation();
            return value;
        }
        catch (OperationCanceledException) { return Fail<T>(new KernelError(ErrorCode.Cancelled, "operation cancelled")); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Not an error path: a parser bug on hostile data must still not escape or leave half a change, so it is
            // reported as corruption and writing stops. Every expected failure arrives above as a result.
            _writeDisabled ??= new KernelError(ErrorCode.Corrupted, "internal error");
            return Fail<T>(new KernelError(ErrorCode.Corrupted, $"ext4: internal error on malformed data: {e.GetType().Name}: {e.Message}"));
        }
        finally { _lock.Release(); }
    }

    private Result<T> Fail<T>(KernelError error)
    {
        _vol.Rollback();
        if (error.Code is ErrorCode.Corrupted or ErrorCode.IoError) _writeDisabled ??= error;
        return Result<T>.Fail(error);
    }

    /// <summary>A writing operation with no value.</summary>
    private async ValueTask<Result> RunVoidAsync(Func<ValueTask<Result>> body, CancellationToken ct) =>
        (await RunAsync(true, async () =>
        {
            var done = await body().ConfigureAwait(false);
            return done.IsOk ? Result<bool>.Success(true) : done.Error;
        }, ct).ConfigureAwait(false)).AsResult();

    // ---------------------------------------------------------------- paths

    private static Result<string[]> Split(string path)
    {
        if (path is null) return Result<string[]>.Fail(ErrorCode.InvalidArgument, "path is null");
        return path.Split('/', StringSplitOptions.RemoveEmptyEntries);
    }

    private static Result<byte[]> EncodeName(string name)
    {
        if (name.Length == 0 || name == "." || name == ".." || name.Contains('\0') || name.Contains('/'))
            return Result<byte[]>.Fail(ErrorCode.InvalidName, $"invalid name '{name}'");
        var bytes = Encoding.UTF8.GetBytes(name);
        if (bytes.Length > 255) return Result<byte[]>.Fail(ErrorCode.InvalidName, "name longer than 255 bytes");
        return bytes;
    }

    /// <summary>Linux's MAXSYMLINKS: links followed while resolving one path before giving up as a loop.</summary>
    internal const int MaxLinkHops = 40;

    /// <summary>
    /// Walks the first <paramref name="count"/> components from the root, following symbolic links in every component
    /// (the last one only when <paramref name="followLast"/>). A link's target is resolved from the link's directory, or
    /// from this filesystem's root when absolute; ".." at the root stays there, so no target leaves the mount.
    /// </summary>
    private async ValueTask<Result<Inode>> ResolveAsync(string[] parts, int count, CancellationToken ct, bool followLast = true)
    {
        var root = await _vol.ReadInodeAsync(RootInode, ct).ConfigureAwait(false);
        if (!root.IsOk) return root;
        if (!root.Value.IsDirectory) return Volume.Corrupt("root inode is not a directory");
        var cur = root.Value;
        // Components still to walk, next on top; a followed link pushes its target's components.
        var pending = new Stack<string>();
        for (int i = count - 1; i >= 0; i--) pending.Push(parts[i]);
        string previous = "/";
        int hops = 0;
        while (pending.Count > 0)
        {
            string name = pending.Pop();
            if (name == ".") continue;
            if (!cur.IsDirectory) return Result<Inode>.Fail(ErrorCode.NotADirectory, $"'{previous}' is not a directory");
            var rec = await DirectoryBlocks.LookupAsync(_vol, cur, Encoding.UTF8.GetBytes(name), ct).ConfigureAwait(false);
            if (!rec.IsOk) return rec.Error;
            if (rec.Value is not { } found) return Result<Inode>.Fail(ErrorCode.NotFound, $"'{name}' not found");
            var next = await _vol.ReadInodeAsync(found.Inode, ct).ConfigureAwait(false);
            if (!next.IsOk) return next;
            previous = name;
            if (next.Value.IsSymlink && (pending.Count > 0 || followLast))
            {
                if (++hops > MaxLinkHops) return Result<Inode>.Fail(ErrorCode.TooManyLinks, $"more than {MaxLinkHops} symbolic links (a loop?) at '{name}'");
                var target = await ReadLinkTargetAsync(next.Value, ct).ConfigureAwait(false);
                if (!target.IsOk) return target.Error;
                var text = Encoding.UTF8.GetString(target.Value);
                if (text.StartsWith('/')) cur = root.Value;
                var targetParts = text.Split('/', StringSplitOptions.RemoveEmptyEntries);
                for (int i = targetParts.Length - 1; i >= 0; i--) pending.Push(targetParts[i]);
                continue;
            }
            cur = next.Value;
        }
        return cur;
    }

    /// <summary>The longest target accepted: Linux's PATH_MAX less the terminating zero (and at most a block less one).</summary>
    private int MaxLinkLength => Math.Min(4095, Bs - 1);

    /// <summary>A symlink's target: in i_block (fast), inline data, or the first data block (slow).</summary>
    private async ValueTask<Result<byte[]>> ReadLinkTargetAsync(Inode link, CancellationToken ct)
    {
        ulong size = link.Size;
        if (size == 0 || size > (ulong)Bs) return Volume.Corrupt($"symlink inode {link.Number}: length {size}");
        if (InlineData.Has(link)) return InlineData.ReadFile(link);
        // The kernel's ext4_inode_is_fast_symlink: no blocks besides an xattr block means the text is in i_block.
        ulong eaBlocks = link.FileAcl != 0 ? (ulong)(Bs * _vol.Geo.ClusterRatio / 512) : 0;
        if (link.BlocksRaw == eaBlocks)
        {
            if (size >= Inode.BlockAreaSize) return Volume.Corrupt($"fast symlink inode {link.Number}: length {size}");
            return link.BlockArea60[..(int)size].ToArray();
        }
        var map = await ExtentTree.LoadAsync(_vol, link, ct).ConfigureAwait(false);
        if (!map.IsOk) return map.Error;
        int i = map.Value.Find(0);
        if (i < 0 || map.Value.Extents[i].Uninit) return Volume.Corrupt($"symlink inode {link.Number}: no data block");
        var blk = new byte[Bs];
        var read = await _vol.ReadDataAsync(map.Value.Extents[i].Physical, blk, ct).ConfigureAwait(false);
        if (!read.IsOk) return read.Error;
        return blk.AsSpan(0, (int)size).ToArray();
    }

    private async ValueTask<Result<Inode>> ResolveAsync(string path, CancellationToken ct, bool followLast = true)
    {
        var parts = Split(path);
        if (!parts.IsOk) return parts.Error;
        return await ResolveAsync(parts.Value, parts.Value.Length, ct, followLast).ConfigureAwait(false);
    }

    private async ValueTask<Result<(Inode Parent, byte[] Name)>> ResolveParentAsync(string path, CancellationToken ct)
    {
        var parts = Split(path);
        if (!parts.IsOk) return parts.Error;
        if (parts.Value.Length == 0) return Result<(Inode, byte[])>.Fail(ErrorCode.InvalidArgument, "the root has no parent");
        var name = EncodeName(parts.Value[^1]);
        if (!name.IsOk) return name.Error;
        var parent = await ResolveAsync(parts.Value, parts.Value.Length - 1, ct).ConfigureAwait(false);
        if (!parent.IsOk) return parent.Error;
        if (!parent.Value.IsDirectory) return Result<(Inode, byte[])>.Fail(ErrorCode.NotADirectory, $"parent of '{path}' is not a directory");
        return (parent.Value, name.Value);
    }

    /// <summary>The record of <paramref name="name"/> in <paramref name="dir"/>; NotFound (naming <paramref name="what"/>) when absent.</summary>
    private async ValueTask<Result<DirRecord>> FindAsync(Inode dir, byte[] name, string what, CancellationToken ct)
    {
        var rec = await DirectoryBlocks.LookupAsync(_vol, dir, name, ct).ConfigureAwait(false);
        if (!rec.IsOk) return rec.Error;
        return rec.Value is { } found ? found : Result<DirRecord>.Fail(ErrorCode.NotFound, $"'{what}' not found");
    }

    private static FileKind KindOf(Inode i) => i.IsFile ? FileKind.File : i.IsDirectory ? FileKind.Directory : i.IsSymlink ? FileKind.Symlink : FileKind.Other;

    private static byte FileTypeOf(Inode i) => i.IsFile ? DirectoryBlocks.FtFile : i.IsDirectory ? DirectoryBlocks.FtDir : i.IsSymlink ? DirectoryBlocks.FtSymlink : DirectoryBlocks.FtUnknown;

    // ---------------------------------------------------------------- reads

    public ValueTask<Result<FileStat>> StatAsync(string path, CancellationToken ct = default) => RunAsync<FileStat>(false, async () =>
    {
        var inode = await ResolveAsync(path, ct).ConfigureAwait(false);
        if (!inode.IsOk) return inode.Error;
        var parts = Split(path).Value;
        return new FileStat(parts.Length == 0 ? "/" : parts[^1], KindOf(inode.Value), (long)inode.Value.Size, DateTimeOffset.FromUnixTimeSeconds(inode.Value.MTime));
    }, ct);

    public ValueTask<Result<IReadOnlyList<DirectoryEntry>>> ReadDirectoryAsync(string path, CancellationToken ct = default) =>
        RunAsync<IReadOnlyList<DirectoryEntry>>(false, async () =>
        {
            var dir = await ResolveAsync(path, ct).ConfigureAwait(false);
            if (!dir.IsOk) return dir.Error;
            if (!dir.Value.IsDirectory) return Result<IReadOnlyList<DirectoryEntry>>.Fail(ErrorCode.NotADirectory, $"'{path}' is not a directory");
            var records = await DirectoryBlocks.ReadAllAsync(_vol, dir.Value, ct).ConfigureAwait(false);
            if (!records.IsOk) return records.Error;
            var list = new List<DirectoryEntry>();
            foreach (var r in records.Value)
            {
                if (r.NameLen <= 2 && (r.NameString == "." || r.NameString == "..")) continue;
                var child = await _vol.ReadInodeAsync(r.Inode, ct).ConfigureAwait(false);
                if (!child.IsOk) return child.Error;
                list.Add(new DirectoryEntry(r.NameString, KindOf(child.Value), (long)child.Value.Size));
            }
            return list;
        }, ct);

    // ---------------------------------------------------------------- open files

    public ValueTask<Result<IFileNode>> OpenAsync(string path, CancellationToken ct = default) => RunAsync<IFileNode>(false, async () =>
    {
        var resolved = await ResolveAsync(path, ct).ConfigureAwait(false);
        if (!resolved.IsOk) return resolved.Error;
        var inode = resolved.Value;
        var parts = Split(path).Value;
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
    private async ValueTask<Result<Inode>> NodeInodeAsync(Ext4FileNode node, CancellationToken ct)
    {
        if (node.Released) return Result<Inode>.Fail(ErrorCode.Closed, "the file was closed");
        if (node.Ended) return Result<Inode>.Fail(ErrorCode.NotFound, "the file was deleted while open");
        return await _vol.ReadInodeAsync(node.Inode, ct).ConfigureAwait(false);
    }

    private async ValueTask<Result<Inode>> NodeFileAsync(Ext4FileNode node, CancellationToken ct)
    {
        var inode = await NodeInodeAsync(node, ct).ConfigureAwait(false);
        if (!inode.IsOk) return inode;
        if (inode.Value.IsDirectory) return Result<Inode>.Fail(ErrorCode.IsADirectory, $"'{node.Name}' is a directory");
        if (!inode.Value.IsFile) return Result<Inode>.Fail(ErrorCode.NotSupported, $"'{node.Name}' is not a regular file");
        return inode;
    }

    internal ValueTask<Result<FileStat>> StatNodeAsync(Ext4FileNode node, CancellationToken ct) => RunAsync<FileStat>(false, async () =>
    {
        var inode = await NodeInodeAsync(node, ct).ConfigureAwait(false);
        if (!inode.IsOk) return inode.Error;
        return new FileStat(node.Name, KindOf(inode.Value), (long)inode.Value.Size, DateTimeOffset.FromUnixTimeSeconds(inode.Value.MTime));
    }, ct);

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

    internal ValueTask<Result<int>> ReadNodeAsync(Ext4FileNode node, long offset, Memory<byte> buffer, CancellationToken ct) => RunAsync<int>(false, async () =>
    {
        if (offset < 0) return Result<int>.Fail(ErrorCode.InvalidArgument, "negative offset");
        var inode = await NodeFileAsync(node, ct).ConfigureAwait(false);
        if (!inode.IsOk) return inode.Error;
        ulong size = inode.Value.Size;
        if ((ulong)offset >= size || buffer.Length == 0) return 0;
        int n = (int)Math.Min((ulong)buffer.Length, size - (ulong)offset);
        if (InlineData.Has(inode.Value))
        {
            var inline = InlineData.ReadFile(inode.Value);
            if (!inline.IsOk) return inline.Error;
            inline.Value.AsSpan((int)offset, n).CopyTo(buffer.Span);
            return n;
        }
        var map = await ExtentTree.LoadAsync(_vol, inode.Value, ct).ConfigureAwait(false);
        if (!map.IsOk) return map.Error;
        var read = await ReadMappedAsync(map.Value, offset, buffer[..n], ct).ConfigureAwait(false);
        if (!read.IsOk) return read.Error;
        return n;
    }, ct);

    /// <summary>Reads a mapped range; every extent run is submitted before any is awaited.</summary>
    private async ValueTask<Result> ReadMappedAsync(ExtentMap map, long offset, Memory<byte> dest, CancellationToken ct)
    {
        var reads = new List<Task<Result>>();
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
        return await AllAsync(reads).ConfigureAwait(false);
    }

    private async Task<Result> ReadPartialAsync(long phys, int blocks, int skip, Memory<byte> dest, CancellationToken ct)
    {
        // Zero-copy where the device lends: the wanted bytes come straight out of the buffer the device wrote.
        if (await _vol.TryReadDataLentAsync(phys, blocks, skip, dest, ct).ConfigureAwait(false) is { } lent) return lent;
        var tmp = new byte[blocks * Bs];
        var read = await _vol.ReadDataAsync(phys, tmp, ct).ConfigureAwait(false);
        if (!read.IsOk) return read;
        tmp.AsSpan(skip, dest.Length).CopyTo(dest.Span);
        return Result.Ok;
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

    private async ValueTask<Result> CreateAsync(string path, bool directory, CancellationToken ct)
    {
        var resolved = await ResolveParentAsync(path, ct).ConfigureAwait(false);
        if (!resolved.IsOk) return resolved.Error;
        var (parent, name) = resolved.Value;
        var existing = await DirectoryBlocks.LookupAsync(_vol, parent, name, ct).ConfigureAwait(false);
        if (!existing.IsOk) return existing.Error;
        if (existing.Value is not null) return Result.Fail(ErrorCode.AlreadyExists, $"'{path}' already exists");
        if (directory && parent.LinksCount >= 65000 && (_vol.Sb.RoCompat & Features.DirNlink) == 0)
            return Result.Fail(ErrorCode.NoSpace, "too many subdirectories");
        var allocated = await _vol.AllocateInodeAsync(_vol.GroupOfInode(parent.Number), directory, ct).ConfigureAwait(false);
        if (!allocated.IsOk) return allocated.Error;
        uint ino = allocated.Value;
        var inode = NewInode(ino, directory ? (ushort)0x41ED : (ushort)0x81A4, directory ? (ushort)2 : (ushort)1);
        _vol.MarkInodeDirty(inode);
        if (directory)
        {
            var block = await _vol.AllocateBlocksAsync(_vol.Geo.GroupFirstBlock(_vol.GroupOfInode(ino)), 1, ct).ConfigureAwait(false);
            if (!block.IsOk) return block.Error;
            long blk = block.Value.Start;
            var put = _vol.PutBlock(blk, DirectoryBlocks.NewDirectoryBlock(_vol, inode, parent.Number));
            if (!put.IsOk) return put;
            var map = new ExtentMap();
            map.Insert(new Extent(0, blk, 1, false));
            ExtentTree.AdjustBlocks(_vol, inode, 1);
            inode.Size = (ulong)Bs;
            var stored = await ExtentTree.StoreAsync(_vol, inode, map, ct).ConfigureAwait(false);
            if (!stored.IsOk) return stored;
            // dir_nlink: a link count that would overflow sticks at 1 ("many").
            if (parent.LinksCount != 1) parent.LinksCount = parent.LinksCount >= 64999 ? (ushort)1 : (ushort)(parent.LinksCount + 1);
        }
        return await DirectoryBlocks.AddEntryAsync(_vol, parent, name, ino, directory ? DirectoryBlocks.FtDir : DirectoryBlocks.FtFile, Now, ct).ConfigureAwait(false);
    }

    public ValueTask<Result<string>> ReadLinkAsync(string path, CancellationToken ct = default) => RunAsync<string>(false, async () =>
    {
        var link = await ResolveAsync(path, ct, followLast: false).ConfigureAwait(false);
        if (!link.IsOk) return link.Error;
        if (!link.Value.IsSymlink) return Result<string>.Fail(ErrorCode.InvalidArgument, $"'{path}' is not a symbolic link");
        var target = await ReadLinkTargetAsync(link.Value, ct).ConfigureAwait(false);
        if (!target.IsOk) return target.Error;
        return Encoding.UTF8.GetString(target.Value);
    }, ct);

    /// <summary>
    /// A target shorter than 60 bytes is stored in i_block (a fast symlink, no extent header, as e2fsck expects);
    /// a longer one in one block mapped by an extent (a slow symlink), as the kernel's ext4_symlink does.
    /// </summary>
    public ValueTask<Result> CreateSymlinkAsync(string path, string target, CancellationToken ct = default) => RunVoidAsync(async () =>
    {
        if (string.IsNullOrEmpty(target)) return Result.Fail(ErrorCode.InvalidArgument, "empty symlink target");
        if (target.Contains('\0')) return Result.Fail(ErrorCode.InvalidArgument, "symlink target contains a NUL");
        var text = Encoding.UTF8.GetBytes(target);
        if (text.Length > MaxLinkLength) return Result.Fail(ErrorCode.InvalidName, $"symlink target longer than {MaxLinkLength} bytes");
        var resolved = await ResolveParentAsync(path, ct).ConfigureAwait(false);
        if (!resolved.IsOk) return resolved.Error;
        var (parent, name) = resolved.Value;
        var existing = await DirectoryBlocks.LookupAsync(_vol, parent, name, ct).ConfigureAwait(false);
        if (!existing.IsOk) return existing.Error;
        if (existing.Value is not null) return Result.Fail(ErrorCode.AlreadyExists, $"'{path}' already exists");
        var allocated = await _vol.AllocateInodeAsync(_vol.GroupOfInode(parent.Number), false, ct).ConfigureAwait(false);
        if (!allocated.IsOk) return allocated.Error;
        var inode = NewInode(allocated.Value, 0xA1FF, 1);
        inode.Size = (ulong)text.Length;
        _vol.MarkInodeDirty(inode);
        if (text.Length < Inode.BlockAreaSize)
        {
            inode.Flags &= ~Inode.FlagExtents;
            inode.BlockArea60.Clear();
            text.CopyTo(inode.BlockArea60);
        }
        else
        {
            var block = await _vol.AllocateBlocksAsync(_vol.Geo.GroupFirstBlock(_vol.GroupOfInode(inode.Number)), 1, ct).ConfigureAwait(false);
            if (!block.IsOk) return block.Error;
            var contents = new byte[Bs];
            text.CopyTo(contents, 0);
            var put = _vol.PutBlock(block.Value.Start, contents);
            if (!put.IsOk) return put;
            var map = new ExtentMap();
            map.Insert(new Extent(0, block.Value.Start, 1, false));
            ExtentTree.AdjustBlocks(_vol, inode, 1);
            var stored = await ExtentTree.StoreAsync(_vol, inode, map, ct).ConfigureAwait(false);
            if (!stored.IsOk) return stored;
        }
        return await DirectoryBlocks.AddEntryAsync(_vol, parent, name, inode.Number, DirectoryBlocks.FtSymlink, Now, ct).ConfigureAwait(false);
    }, ct);

    public ValueTask<Result> CreateFileAsync(string path, CancellationToken ct = default) => RunVoidAsync(() => CreateAsync(path, false, ct), ct);

    public ValueTask<Result> CreateDirectoryAsync(string path, CancellationToken ct = default) => RunVoidAsync(() => CreateAsync(path, true, ct), ct);

    // ---------------------------------------------------------------- writes

    internal ValueTask<Result> WriteNodeAsync(Ext4FileNode node, long offset, ReadOnlyMemory<byte> data, CancellationToken ct) =>
        RunVoidAsync(async () =>
        {
            if (offset < 0) return Result.Fail(ErrorCode.InvalidArgument, "negative offset");
            long end = offset + data.Length;
            // (end - 1) / Bs + 1 is the block count without the overflow of end + Bs - 1 near long.MaxValue.
            if (end < offset || (end - 1) / Bs + 1 >= uint.MaxValue) return Result.Fail(ErrorCode.OutOfRange, "write beyond the maximum file size");
            var found = await NodeFileAsync(node, ct).ConfigureAwait(false);
            if (!found.IsOk) return found.Error;
            var inode = found.Value;
            if (data.Length == 0) return Result.Ok;
            var loaded = await ExtentTree.LoadAsync(_vol, inode, ct).ConfigureAwait(false);
            if (!loaded.IsOk) return loaded.Error;
            var map = loaded.Value;
            if ((ulong)offset > inode.Size)
            {
                var zeroed = await ZeroTailAsync(map, (long)inode.Size, ct).ConfigureAwait(false);
                if (!zeroed.IsOk) return zeroed;
            }
            var written = await WriteMappedAsync(inode, map, offset, data, ct).ConfigureAwait(false);
            if (!written.IsOk) return written;
            if ((ulong)end > inode.Size) inode.Size = (ulong)end;
            inode.MTime = inode.CTime = Now;
            _vol.MarkInodeDirty(inode);
            if (map.Changed) return await ExtentTree.StoreAsync(_vol, inode, map, ct).ConfigureAwait(false);
            return Result.Ok;
        }, ct);

    private async ValueTask<Result> WriteMappedAsync(Inode inode, ExtentMap map, long offset, ReadOnlyMemory<byte> data, CancellationToken ct)
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
        if ((ulong)(unmapped + treeGuess) > _vol.Sb.FreeBlocks) return Result.Fail(ErrorCode.NoSpace, "ext4: not enough free blocks");

        // Runs are submitted as they are mapped and awaited together at the end (several requests in flight).
        var writes = new List<Task<Result>>();
        Result mapped;
        try { mapped = await MapAndWriteAsync(inode, map, offset, data, writes, ct).ConfigureAwait(false); }
        catch (OperationCanceledException) { await AllAsync(writes).ConfigureAwait(false); throw; }
        var all = await AllAsync(writes).ConfigureAwait(false);
        return mapped.IsOk ? all : mapped;
    }

    private async ValueTask<Result> MapAndWriteAsync(Inode inode, ExtentMap map, long offset, ReadOnlyMemory<byte> data, List<Task<Result>> writes, CancellationToken ct)
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
                var initialised = await InitialiseExtentAsync(map, i, ct).ConfigureAwait(false);
                if (!initialised.IsOk) return initialised;
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
                var allocated = await _vol.AllocateBlocksAsync(goal, want, ct).ConfigureAwait(false);
                if (!allocated.IsOk) return allocated.Error;
                (phys, blocks) = allocated.Value;
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
            if (!fresh && head)
            {
                var r = await _vol.ReadDataAsync(phys, buf.AsMemory(0, Bs), ct).ConfigureAwait(false);
                if (!r.IsOk) return r;
            }
            if (!fresh && tail && !(head && blocks == 1))
            {
                var r = await _vol.ReadDataAsync(phys + blocks - 1, buf.AsMemory((blocks - 1) * Bs, Bs), ct).ConfigureAwait(false);
                if (!r.IsOk) return r;
            }
            data.Span[(int)(pos - offset)..(int)(copyEnd - offset)].CopyTo(buf.AsSpan((int)(pos - runStart)));
            writes.Add(_vol.WriteDataAsync(phys, buf, ct).AsTask());
            pos = copyEnd;
        }
        return Result.Ok;
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
    private async ValueTask<Result> InitialiseExtentAsync(ExtentMap map, int i, CancellationToken ct)
    {
        var e = map.Extents[i];
        var zeros = new byte[Math.Min(e.Length, MaxRun) * Bs];
        for (int done = 0; done < e.Length; done += MaxRun)
        {
            int n = Math.Min(MaxRun, e.Length - done);
            var w = await _vol.WriteDataAsync(e.Physical + done, zeros.AsMemory(0, n * Bs), ct).ConfigureAwait(false);
            if (!w.IsOk) return w;
        }
        map.Extents[i] = e with { Uninit = false };
        map.Changed = true;
        map.MergeAround(i);
        return Result.Ok;
    }

    /// <summary>Zeroes the bytes after <paramref name="size"/> in its last block so a later extension reads zeros.</summary>
    private async ValueTask<Result> ZeroTailAsync(ExtentMap map, long size, CancellationToken ct)
    {
        if (size % Bs == 0) return Result.Ok;
        long lb = size / Bs;
        int i = map.Find(lb);
        if (i < 0 || map.Extents[i].Uninit) return Result.Ok;
        long phys = map.Extents[i].Physical + (lb - map.Extents[i].Logical);
        var blk = new byte[Bs];
        var read = await _vol.ReadDataAsync(phys, blk, ct).ConfigureAwait(false);
        if (!read.IsOk) return read;
        blk.AsSpan((int)(size % Bs)).Clear();
        return await _vol.WriteDataAsync(phys, blk, ct).ConfigureAwait(false);
    }

    internal ValueTask<Result> TruncateNodeAsync(Ext4FileNode node, long length, CancellationToken ct) =>
        RunVoidAsync(async () =>
        {
            if (length < 0) return Result.Fail(ErrorCode.InvalidArgument, "negative length");
            if (length > long.MaxValue - Bs || (length + Bs - 1) / Bs >= uint.MaxValue) return Result.Fail(ErrorCode.OutOfRange, "length beyond the maximum file size");
            var found = await NodeFileAsync(node, ct).ConfigureAwait(false);
            if (!found.IsOk) return found.Error;
            var inode = found.Value;
            var loaded = await ExtentTree.LoadAsync(_vol, inode, ct).ConfigureAwait(false);
            if (!loaded.IsOk) return loaded.Error;
            var map = loaded.Value;
            if ((ulong)length < inode.Size)
            {
                var freed = await FreeFromAsync(inode, map, (length + Bs - 1) / Bs, ct).ConfigureAwait(false);
                if (!freed.IsOk) return freed;
                var zeroed = await ZeroTailAsync(map, length, ct).ConfigureAwait(false);
                if (!zeroed.IsOk) return zeroed;
            }
            else if ((ulong)length > inode.Size)
            {
                var zeroed = await ZeroTailAsync(map, (long)inode.Size, ct).ConfigureAwait(false);
                if (!zeroed.IsOk) return zeroed;
            }
            inode.Size = (ulong)length;
            inode.MTime = inode.CTime = Now;
            _vol.MarkInodeDirty(inode);
            if (map.Changed) return await ExtentTree.StoreAsync(_vol, inode, map, ct).ConfigureAwait(false);
            return Result.Ok;
        }, ct);

    /// <summary>Frees every block mapped at logical block <paramref name="firstLb"/> or later.</summary>
    private async ValueTask<Result> FreeFromAsync(Inode inode, ExtentMap map, long firstLb, CancellationToken ct)
    {
        for (int i = map.Extents.Count - 1; i >= 0; i--)
        {
            var e = map.Extents[i];
            if (e.LogicalEnd <= firstLb) break;
            long keep = Math.Max(0, firstLb - e.Logical);
            var freed = await _vol.FreeBlocksAsync(e.Physical + keep, e.Length - keep, ct).ConfigureAwait(false);
            if (!freed.IsOk) return freed;
            ExtentTree.AdjustBlocks(_vol, inode, -(e.Length - keep));
            if (keep == 0) map.Extents.RemoveAt(i);
            else map.Extents[i] = e with { Length = (int)keep };
            map.Changed = true;
        }
        return Result.Ok;
    }

    // ---------------------------------------------------------------- delete and rename

    private async ValueTask<Result<bool>> IsEmptyDirectoryAsync(Inode dir, CancellationToken ct)
    {
        var records = await DirectoryBlocks.ReadAllAsync(_vol, dir, ct).ConfigureAwait(false);
        if (!records.IsOk) return records.Error;
        foreach (var r in records.Value)
            if (!(r.NameString is "." or "..")) return false;
        return true;
    }

    /// <summary>Drops one link; at zero the inode's blocks and the inode itself are freed.</summary>
    private async ValueTask<Result> UnlinkInodeAsync(Inode parent, Inode inode, CancellationToken ct)
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
        if (inode.LinksCount > 0) return Result.Ok;
        if (inode.FileAcl != 0) return Result.Fail(ErrorCode.NotSupported, $"ext4: inode {inode.Number} has an extended-attribute block");
        if (ExtentTree.HasExtents(inode) && (inode.Flags & Inode.FlagInlineData) == 0)
        {
            var map = await ExtentTree.LoadAsync(_vol, inode, ct).ConfigureAwait(false);
            if (!map.IsOk) return map.Error;
            foreach (var e in map.Value.Extents)
            {
                var freed = await _vol.FreeBlocksAsync(e.Physical, e.Length, ct).ConfigureAwait(false);
                if (!freed.IsOk) return freed;
            }
            foreach (long b in map.Value.TreeBlocks)
            {
                var freed = await _vol.FreeBlocksAsync(b, 1, ct).ConfigureAwait(false);
                if (!freed.IsOk) return freed;
            }
            ExtentTree.InitEmpty(inode);
        }
        else if (!(inode.IsSymlink && inode.BlocksRaw == 0))
            return Result.Fail(ErrorCode.NotSupported, $"ext4: inode {inode.Number} uses a block map this driver does not free");
        inode.Size = 0;
        inode.BlocksRaw = 0;
        inode.DTime = Math.Max(Now, 1);
        return await _vol.FreeInodeAsync(inode.Number, dir, ct).ConfigureAwait(false);
    }

    public ValueTask<Result> DeleteAsync(string path, CancellationToken ct = default) =>
        RunVoidAsync(async () =>
        {
            var resolved = await ResolveParentAsync(path, ct).ConfigureAwait(false);
            if (!resolved.IsOk) return resolved.Error;
            var (parent, name) = resolved.Value;
            var rec = await FindAsync(parent, name, path, ct).ConfigureAwait(false);
            if (!rec.IsOk) return rec.Error;
            var found = await _vol.ReadInodeAsync(rec.Value.Inode, ct).ConfigureAwait(false);
            if (!found.IsOk) return found.Error;
            var inode = found.Value;
            if (inode.Number == RootInode) return Result.Fail(ErrorCode.Busy, "cannot delete the root");
            if (inode.IsDirectory)
            {
                var empty = await IsEmptyDirectoryAsync(inode, ct).ConfigureAwait(false);
                if (!empty.IsOk) return empty.Error;
                if (!empty.Value) return Result.Fail(ErrorCode.NotEmpty, $"'{path}' is not empty");
            }
            var removed = await DirectoryBlocks.RemoveEntryAsync(_vol, parent, rec.Value, Now, ct).ConfigureAwait(false);
            if (!removed.IsOk) return removed;
            var unlinked = await UnlinkInodeAsync(parent, inode, ct).ConfigureAwait(false);
            if (!unlinked.IsOk) return unlinked;
            if (inode.LinksCount == 0) EndNode(inode.Number);
            return Result.Ok;
        }, ct);

    public ValueTask<Result> RenameAsync(string from, string to, CancellationToken ct = default) =>
        RunVoidAsync(async () =>
        {
            var source = await ResolveParentAsync(from, ct).ConfigureAwait(false);
            if (!source.IsOk) return source.Error;
            var (srcParent, srcName) = source.Value;
            var srcRec = await FindAsync(srcParent, srcName, from, ct).ConfigureAwait(false);
            if (!srcRec.IsOk) return srcRec.Error;
            var found = await _vol.ReadInodeAsync(srcRec.Value.Inode, ct).ConfigureAwait(false);
            if (!found.IsOk) return found.Error;
            var inode = found.Value;
            var target = await ResolveParentAsync(to, ct).ConfigureAwait(false);
            if (!target.IsOk) return target.Error;
            var (dstParent, dstName) = target.Value;
            if (inode.IsDirectory)
            {
                // A directory may not move into itself or its own subtree: walk up from the destination.
                var cur = dstParent;
                for (int steps = 0; cur.Number != RootInode; steps++)
                {
                    if (cur.Number == inode.Number) return Result.Fail(ErrorCode.InvalidArgument, "cannot move a directory into itself");
                    if (steps > 65536) return Volume.Corrupt("directory '..' chain does not reach the root");
                    var up = await DirectoryBlocks.LookupAsync(_vol, cur, ".."u8.ToArray(), ct).ConfigureAwait(false);
                    if (!up.IsOk) return up.Error;
                    if (up.Value is not { } dots) return Volume.Corrupt($"directory inode {cur.Number} has no '..'");
                    var next = await _vol.ReadInodeAsync(dots.Inode, ct).ConfigureAwait(false);
                    if (!next.IsOk) return next.Error;
                    cur = next.Value;
                }
                if (inode.Number == dstParent.Number) return Result.Fail(ErrorCode.InvalidArgument, "cannot move a directory into itself");
            }
            var existing = await DirectoryBlocks.LookupAsync(_vol, dstParent, dstName, ct).ConfigureAwait(false);
            if (!existing.IsOk) return existing.Error;
            Inode? replaced = null;
            if (existing.Value is { } ex)
            {
                if (ex.Inode == inode.Number) return Result.Ok;
                var victimRead = await _vol.ReadInodeAsync(ex.Inode, ct).ConfigureAwait(false);
                if (!victimRead.IsOk) return victimRead.Error;
                var victim = victimRead.Value;
                if (victim.IsDirectory && !inode.IsDirectory) return Result.Fail(ErrorCode.IsADirectory, $"'{to}' is a directory");
                if (!victim.IsDirectory && inode.IsDirectory) return Result.Fail(ErrorCode.NotADirectory, $"'{to}' is not a directory");
                if (victim.IsDirectory)
                {
                    var empty = await IsEmptyDirectoryAsync(victim, ct).ConfigureAwait(false);
                    if (!empty.IsOk) return empty.Error;
                    if (!empty.Value) return Result.Fail(ErrorCode.NotEmpty, $"'{to}' is not empty");
                }
                var removedVictim = await DirectoryBlocks.RemoveEntryAsync(_vol, dstParent, ex, Now, ct).ConfigureAwait(false);
                if (!removedVictim.IsOk) return removedVictim;
                var unlinked = await UnlinkInodeAsync(dstParent, victim, ct).ConfigureAwait(false);
                if (!unlinked.IsOk) return unlinked;
                replaced = victim;
            }
            // Re-find the source record: removing the victim may have merged records in the same block.
            var src = await DirectoryBlocks.LookupAsync(_vol, srcParent, srcName, ct).ConfigureAwait(false);
            if (!src.IsOk) return src.Error;
            if (src.Value is not { } srcNow) return Volume.Corrupt("source entry vanished during rename");
            var removed = await DirectoryBlocks.RemoveEntryAsync(_vol, srcParent, srcNow, Now, ct).ConfigureAwait(false);
            if (!removed.IsOk) return removed;
            var added = await DirectoryBlocks.AddEntryAsync(_vol, dstParent, dstName, inode.Number, FileTypeOf(inode), Now, ct).ConfigureAwait(false);
            if (!added.IsOk) return added;
            if (inode.IsDirectory && srcParent.Number != dstParent.Number)
            {
                var dotsRec = await DirectoryBlocks.LookupAsync(_vol, inode, ".."u8.ToArray(), ct).ConfigureAwait(false);
                if (!dotsRec.IsOk) return dotsRec.Error;
                if (dotsRec.Value is not { } dots) return Volume.Corrupt($"directory inode {inode.Number} has no '..'");
                var retargeted = await DirectoryBlocks.RetargetAsync(_vol, inode, dots, dstParent.Number, ct).ConfigureAwait(false);
                if (!retargeted.IsOk) return retargeted;
                if (srcParent.LinksCount > 2) srcParent.LinksCount--;
                if (dstParent.LinksCount != 1) dstParent.LinksCount = dstParent.LinksCount >= 64999 ? (ushort)1 : (ushort)(dstParent.LinksCount + 1);
                _vol.MarkInodeDirty(srcParent); _vol.MarkInodeDirty(dstParent);
            }
            inode.CTime = Now;
            _vol.MarkInodeDirty(inode);
            if (replaced is { LinksCount: 0 }) EndNode(replaced.Number);
            return Result.Ok;
        }, ct);

    // ---------------------------------------------------------------- flush

    public async ValueTask<Result> FlushAsync(CancellationToken ct = default)
    {
        if (IsReadOnly) return Result.Ok;
        try { await _lock.WaitAsync(ct).ConfigureAwait(false); }
        catch (OperationCanceledException) { return Result.Fail(ErrorCode.Cancelled, "operation cancelled"); }
        try
        {
            // fsync: the running transaction (every operation since the last commit) is committed before this returns.
            var committed = await _vol.CommitRunningAsync(ct).ConfigureAwait(false);
            if (!committed.IsOk)
            {
                if (committed.Error.Code is ErrorCode.Corrupted or ErrorCode.IoError) _writeDisabled ??= committed.Error;
                return committed;
            }
            return await _vol.FlushDeviceAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) { return Result.Fail(ErrorCode.Cancelled, "operation cancelled"); }
        finally { _lock.Release(); }
    }

    /// <summary>
    /// Periodic writeback (the mount calls it every few seconds): commits the running transaction once it is older
    /// than the journal's commit interval, as jbd2's commit thread does — so an idle mount's last operations become
    /// durable within about two intervals without an fsync. Nothing when the group is empty or young.
    /// </summary>
    public async ValueTask<Result> WriteBackAsync(CancellationToken ct = default)
    {
        if (IsReadOnly) return Result.Ok;
        try { await _lock.WaitAsync(ct).ConfigureAwait(false); }
        catch (OperationCanceledException) { return Result.Fail(ErrorCode.Cancelled, "operation cancelled"); }
        try
        {
            if (_writeDisabled is { } disabled) return disabled;
            var committed = await _vol.CommitRunningIfDueAsync(ct).ConfigureAwait(false);
            if (!committed.IsOk && committed.Error.Code is ErrorCode.Corrupted or ErrorCode.IoError) _writeDisabled ??= committed.Error;
            return committed;
        }
        catch (OperationCanceledException) { return Result.Fail(ErrorCode.Cancelled, "operation cancelled"); }
        finally { _lock.Release(); }
    }

    public async ValueTask DisposeAsync()
    {
        await FlushAsync().ConfigureAwait(false);
    }

    // ---------------------------------------------------------------- diagnostics for tests

    /// <summary>Depth of a file's extent tree and whether a directory is htree-indexed (used by tests).</summary>
    internal ValueTask<Result<(int Depth, int Extents, bool Indexed)>> InspectAsync(string path, CancellationToken ct = default) =>
        RunAsync<(int Depth, int Extents, bool Indexed)>(false, async () =>
        {
            var inode = await ResolveAsync(path, ct).ConfigureAwait(false);
            if (!inode.IsOk) return inode.Error;
            var map = await ExtentTree.LoadAsync(_vol, inode.Value, ct).ConfigureAwait(false);
            if (!map.IsOk) return map.Error;
            return (map.Value.Depth, map.Value.Extents.Count, (inode.Value.Flags & Inode.FlagIndex) != 0);
        }, ct);
}
