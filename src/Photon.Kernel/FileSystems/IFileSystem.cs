namespace Photon.Kernel.FileSystems;

public enum FileKind { File, Directory, Symlink, Other }

public sealed record FileStat(string Name, FileKind Kind, long Length, DateTimeOffset Modified);

public sealed record DirectoryEntry(string Name, FileKind Kind, long Length);

/// <summary>
/// A mounted filesystem. Paths are absolute within the filesystem, '/'-separated ("/dir/file.txt"); the VFS has
/// already resolved mounts and checked capabilities before calling in. Every method returns a typed result; corrupted
/// on-disk structures yield <see cref="ErrorCode.Corrupted"/>, never an exception or a hang.
/// </summary>
public interface IFileSystem : IAsyncDisposable
{
    /// <summary>"vfat", "ext4", ...</summary>
    string TypeName { get; }

    bool IsReadOnly { get; }

    ValueTask<Result<FileStat>> StatAsync(string path, CancellationToken ct = default);
    ValueTask<Result<IReadOnlyList<DirectoryEntry>>> ReadDirectoryAsync(string path, CancellationToken ct = default);

    /// <summary>Reads up to buffer.Length bytes at <paramref name="offset"/>; returns the count (0 at end of file).</summary>
    ValueTask<Result<int>> ReadAsync(string path, long offset, Memory<byte> buffer, CancellationToken ct = default);

    /// <summary>Writes at <paramref name="offset"/>, growing the file as needed.</summary>
    ValueTask<Result> WriteAsync(string path, long offset, ReadOnlyMemory<byte> data, CancellationToken ct = default);

    ValueTask<Result> TruncateAsync(string path, long length, CancellationToken ct = default);
    ValueTask<Result> CreateFileAsync(string path, CancellationToken ct = default);
    ValueTask<Result> CreateDirectoryAsync(string path, CancellationToken ct = default);

    /// <summary>Deletes a file or an empty directory.</summary>
    ValueTask<Result> DeleteAsync(string path, CancellationToken ct = default);

    ValueTask<Result> RenameAsync(string from, string to, CancellationToken ct = default);

    /// <summary>Writes back every dirty structure and flushes the device.</summary>
    ValueTask<Result> FlushAsync(CancellationToken ct = default);
}

/// <summary>Mounts a filesystem type from a block device. Implemented by each filesystem module.</summary>
public interface IFileSystemDriver
{
    string TypeName { get; }

    /// <summary>Checks the superblock/boot sector cheaply; true if this driver recognises the device.</summary>
    ValueTask<bool> ProbeAsync(Io.IBlockDevice device, CancellationToken ct = default);

    ValueTask<Result<IFileSystem>> MountAsync(Io.IBlockDevice device, MountOptions options, CancellationToken ct = default);
}

public sealed record MountOptions(bool ReadOnly = false);
