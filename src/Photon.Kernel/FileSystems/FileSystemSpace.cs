namespace Photon.Kernel.FileSystems;

/// <summary>Capacity of a mounted filesystem, in bytes.</summary>
public sealed record FileSystemSpace(long TotalBytes, long FreeBytes);

/// <summary>
/// Optional interface a mounted <see cref="IFileSystem"/> implements when it can report its capacity cheaply (from the
/// superblock or FSInfo). Kept separate from <see cref="IFileSystem"/> so existing drivers stay compatible.
/// </summary>
public interface IFileSystemSpace
{
    ValueTask<Result<FileSystemSpace>> GetSpaceAsync(CancellationToken ct = default);
}
