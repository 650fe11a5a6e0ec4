namespace Photon.Kernel.FileSystems;

public enum FileKind { File, Directory, Symlink, Other }

public sealed record FileStat(string Name, FileKind Kind, long Length, DateTimeOffset Modified);

public sealed record DirectoryEntry(string Name, FileKind Kind, long Length);

/// <summary>
/// A mounted filesystem. Paths are absolute within the filesystem, '/'-separated ("/dir/file.txt"); the VFS has
/// already resolved mounts and checked capabilities before calling in. Every method returns a typed result; corrupted
/// on-disk structures yield <see cref="ErrorCode.Corrupted"/>, never an exception or a hang. The filesystem's own
/// operation lock is the one serialization point: callers (the VFS) add no lock of their own.
/// </summary>
public interface IFileSystem : IAsyncDisposable
{
    /// <summary>"vfat", "ext4", ...</summary>
    string TypeName { get; }

    bool IsReadOnly { get; }

    ValueTask<Result<FileStat>> StatAsync(string path, CancellationToken ct = default);
    ValueTask<Result<IReadOnlyList<DirectoryEntry>>> ReadDirectoryAsync(string path, CancellationToken ct = default);

    /// <summary>
    /// Resolves <paramref name="path"/> once and returns its node (file or directory). Reads and writes go through the
    /// node, which holds what the path resolved to (the inode, the cluster chain), so no call walks the path again.
    /// Opening one file twice gives the same node state; each open is paired with one <see cref="IFileNode.Release"/>.
    /// </summary>
    ValueTask<Result<IFileNode>> OpenAsync(string path, CancellationToken ct = default);

    ValueTask<Result> CreateFileAsync(string path, CancellationToken ct = default);
    ValueTask<Result> CreateDirectoryAsync(string path, CancellationToken ct = default);

    /// <summary>Deletes a file or an empty directory.</summary>
    ValueTask<Result> DeleteAsync(string path, CancellationToken ct = default);

    ValueTask<Result> RenameAsync(string from, string to, CancellationToken ct = default);

    /// <summary>
    /// The target of the symbolic link at <paramref name="path"/> (the link itself, not followed). Other calls follow
    /// links in every component but the last one of delete, rename and this; targets resolve inside this filesystem.
    /// </summary>
    ValueTask<Result<string>> ReadLinkAsync(string path, CancellationToken ct = default) =>
        ValueTask.FromResult(Result<string>.Fail(ErrorCode.NotSupported, $"{TypeName} has no symbolic links"));

    /// <summary>Creates a symbolic link at <paramref name="path"/> holding <paramref name="target"/> (not checked to exist).</summary>
    ValueTask<Result> CreateSymlinkAsync(string path, string target, CancellationToken ct = default) =>
        ValueTask.FromResult(Result.Fail(ErrorCode.NotSupported, $"{TypeName} has no symbolic links"));

    /// <summary>Writes back every dirty structure and flushes the device.</summary>
    ValueTask<Result> FlushAsync(CancellationToken ct = default);

    /// <summary>
    /// Periodic writeback, called by the mount every <see cref="VirtualFileSystem.WriteBackInterval"/> while it is
    /// writable: makes durable what the filesystem has held back for longer than its own commit interval (ext4's
    /// running journal transaction, as jbd2's commit thread does), so work on an idle mount is not held in memory
    /// until the next operation, fsync or unmount. Nothing to do when clean; never a device flush for nothing.
    /// </summary>
    ValueTask<Result> WriteBackAsync(CancellationToken ct = default) => ValueTask.FromResult(Result.Ok);
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
