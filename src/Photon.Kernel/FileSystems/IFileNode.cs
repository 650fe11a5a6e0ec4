namespace Photon.Kernel.FileSystems;

/// <summary>
/// A file or directory a filesystem has resolved (a vnode): what an open file holds. It keeps the resolved on-disk
/// identity (an ext4 inode number, a FAT directory entry and its cluster chain), so positional reads and writes never
/// walk the path again. Every call runs under the filesystem's operation lock and returns a typed result.
/// <para>
/// A node whose file is deleted (or renamed over) while open is <em>ended</em>: the filesystem frees the data at once,
/// as it does for a file nobody has open, and every later call answers <see cref="ErrorCode.NotFound"/>. Renaming an
/// open file keeps its node working. A released node answers <see cref="ErrorCode.Closed"/>.
/// </para>
/// </summary>
public interface IFileNode
{
    FileKind Kind { get; }

    ValueTask<Result<FileStat>> StatAsync(CancellationToken ct = default);

    /// <summary>Reads up to buffer.Length bytes at <paramref name="offset"/>; returns the count (0 at end of file).</summary>
    ValueTask<Result<int>> ReadAsync(long offset, Memory<byte> buffer, CancellationToken ct = default);

    /// <summary>Writes at <paramref name="offset"/>, growing the file as needed.</summary>
    ValueTask<Result> WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken ct = default);

    ValueTask<Result> TruncateAsync(long length, CancellationToken ct = default);

    /// <summary>Drops this open's reference; the last one forgets the node. Later calls through it answer Closed.</summary>
    void Release();
}
