using Photon.Kernel.Capabilities;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Syscalls;

/// <summary>File system calls: paths resolve in the caller's namespace to a mount binding whose rights gate the
/// operation; open files are handles. The VFS does the resolution and the per-handle checks.</summary>
public sealed class FileSyscalls(VirtualFileSystem vfs)
{
    public ValueTask<Result<Handle>> OpenAsync(Process caller, string path, Rights access, OpenFlags flags = OpenFlags.None, CancellationToken ct = default) => vfs.OpenAsync(caller, path, access, flags, ct);

    public ValueTask<Result<int>> ReadAsync(Process caller, Handle file, long offset, Memory<byte> buffer, CancellationToken ct = default) => vfs.ReadAsync(caller, file, offset, buffer, ct);

    public ValueTask<Result> WriteAsync(Process caller, Handle file, long offset, ReadOnlyMemory<byte> data, CancellationToken ct = default) => vfs.WriteAsync(caller, file, offset, data, ct);

    public ValueTask<Result> TruncateAsync(Process caller, Handle file, long length, CancellationToken ct = default) => vfs.TruncateAsync(caller, file, length, ct);

    public ValueTask<Result> FlushAsync(Process caller, Handle file, CancellationToken ct = default) => vfs.FlushAsync(caller, file, ct);

    public ValueTask<Result<FileStat>> StatAsync(Process caller, Handle file, CancellationToken ct = default) => vfs.StatAsync(caller, file, ct);

    public Result Close(Process caller, Handle file) => vfs.Close(caller, file);

    public ValueTask<Result<FileStat>> StatAsync(Process caller, string path, CancellationToken ct = default) => vfs.StatAsync(caller, path, ct);

    public ValueTask<Result<IReadOnlyList<DirectoryEntry>>> ReadDirectoryAsync(Process caller, string path, CancellationToken ct = default) => vfs.ReadDirectoryAsync(caller, path, ct);

    public ValueTask<Result> CreateFileAsync(Process caller, string path, CancellationToken ct = default) => vfs.CreateFileAsync(caller, path, ct);

    public ValueTask<Result> CreateDirectoryAsync(Process caller, string path, CancellationToken ct = default) => vfs.CreateDirectoryAsync(caller, path, ct);

    public ValueTask<Result> DeleteAsync(Process caller, string path, CancellationToken ct = default) => vfs.DeleteAsync(caller, path, ct);

    public ValueTask<Result> RenameAsync(Process caller, string from, string to, CancellationToken ct = default) => vfs.RenameAsync(caller, from, to, ct);
}
