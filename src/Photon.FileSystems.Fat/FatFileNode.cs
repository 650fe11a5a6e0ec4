using Photon.Kernel;
using Photon.Kernel.FileSystems;

namespace Photon.FileSystems.Fat;

/// <summary>
/// An open FAT file or directory. Its identity is where its short directory entry lives (the directory's first
/// cluster, 0 for the root, and the slot), which stays put until a rename moves it (the filesystem then re-keys the
/// node). It caches the file's size and cluster chain, so positional I/O never walks the path or the FAT again; the
/// cache is dropped whenever an operation on it fails (the FAT change is rolled back, so the chain must be re-read).
/// All state is touched only under the filesystem's operation lock; the open count under the open-file table's lock.
/// </summary>
internal sealed class FatFileNode : IFileNode
{
    private readonly FatFileSystem _fs;

    internal FatFileNode(FatFileSystem fs, uint directory, int slot, FileKind kind)
    {
        _fs = fs;
        Directory = directory;
        Slot = slot;
        Kind = kind;
    }

    /// <summary>The node of the root directory, which has no entry.</summary>
    internal bool IsRoot => Slot < 0;

    internal uint Directory { get; set; }
    internal int Slot { get; set; }
    public FileKind Kind { get; }

    /// <summary>Opens not yet released (guarded by the open-file table).</summary>
    internal int Opens { get; set; }

    /// <summary>The file was deleted while open: every call answers NotFound.</summary>
    internal bool Ended { get; set; }

    /// <summary>Every open was released: every call answers Closed.</summary>
    internal bool Released { get; set; }

    internal long Size { get; set; }

    /// <summary>The cluster chain, or null when it must be read again from the FAT.</summary>
    internal List<uint>? Chain { get; set; }

    public ValueTask<Result<FileStat>> StatAsync(CancellationToken ct = default) => _fs.StatNodeAsync(this, ct);

    public ValueTask<Result<int>> ReadAsync(long offset, Memory<byte> buffer, CancellationToken ct = default) =>
        _fs.ReadNodeAsync(this, offset, buffer, ct);

    public ValueTask<Result> WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken ct = default) =>
        _fs.WriteNodeAsync(this, offset, data, ct);

    public ValueTask<Result> TruncateAsync(long length, CancellationToken ct = default) => _fs.TruncateNodeAsync(this, length, ct);

    public void Release() => _fs.ReleaseNode(this);
}
