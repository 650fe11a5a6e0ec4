using Photon.Kernel;
using Photon.Kernel.FileSystems;

namespace Photon.FileSystems.Ext4;

/// <summary>
/// An open ext4 file or directory: the inode its path resolved to, so positional I/O reads the inode (through the
/// metadata cache) and its extent map without walking the path. Renames do not affect it (the inode stays); when its
/// last link goes (delete, rename over it) the filesystem ends it. State is touched only under the filesystem's
/// operation lock; the open count under the open-file table's lock.
/// </summary>
internal sealed class Ext4FileNode : IFileNode
{
    private readonly Ext4FileSystem _fs;

    internal Ext4FileNode(Ext4FileSystem fs, uint inode, string name, FileKind kind)
    {
        _fs = fs;
        Inode = inode;
        Name = name;
        Kind = kind;
    }

    internal uint Inode { get; }

    /// <summary>The name it was opened by (what stat reports).</summary>
    internal string Name { get; }

    public FileKind Kind { get; }

    /// <summary>Opens not yet released (guarded by the open-file table).</summary>
    internal int Opens { get; set; }

    /// <summary>The inode lost its last link while open: every call answers NotFound.</summary>
    internal bool Ended { get; set; }

    /// <summary>Every open was released: every call answers Closed.</summary>
    internal bool Released { get; set; }

    public ValueTask<Result<FileStat>> StatAsync(CancellationToken ct = default) => _fs.StatNodeAsync(this, ct);

    public ValueTask<Result<int>> ReadAsync(long offset, Memory<byte> buffer, CancellationToken ct = default) =>
        _fs.ReadNodeAsync(this, offset, buffer, ct);

    public ValueTask<Result> WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken ct = default) =>
        _fs.WriteNodeAsync(this, offset, data, ct);

    public ValueTask<Result> TruncateAsync(long length, CancellationToken ct = default) => _fs.TruncateNodeAsync(this, length, ct);

    public void Release() => _fs.ReleaseNode(this);
}
