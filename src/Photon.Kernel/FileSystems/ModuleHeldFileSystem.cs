using Photon.Kernel.Modules;

namespace Photon.Kernel.FileSystems;

/// <summary>
/// A filesystem a module's driver mounted, as the registry hands it out: it holds a reference on the driver's
/// <see cref="CallRundown"/> from mount to dispose, so the module cannot unload while the filesystem is mounted
/// (unload answers Busy). Every other call goes straight to the module's filesystem; the <see cref="Mount"/>
/// around it already counts them and waits for them before it disposes. Every member is forwarded, those with a
/// default body too (a default here would hide the module's own: symlinks answered NotSupported; `ModuleHeldFileSystemTests`).
/// </summary>
internal sealed class ModuleHeldFileSystem(IFileSystem inner, CallRundown module) : IFileSystem
{
    private int _disposed;

    public string TypeName => inner.TypeName;
    public bool IsReadOnly => inner.IsReadOnly;

    public ValueTask<Result<FileStat>> StatAsync(string path, CancellationToken ct = default) => inner.StatAsync(path, ct);
    public ValueTask<Result<IReadOnlyList<DirectoryEntry>>> ReadDirectoryAsync(string path, CancellationToken ct = default) => inner.ReadDirectoryAsync(path, ct);
    public ValueTask<Result<IFileNode>> OpenAsync(string path, CancellationToken ct = default) => inner.OpenAsync(path, ct);
    public ValueTask<Result> CreateFileAsync(string path, CancellationToken ct = default) => inner.CreateFileAsync(path, ct);
    public ValueTask<Result> CreateDirectoryAsync(string path, CancellationToken ct = default) => inner.CreateDirectoryAsync(path, ct);
    public ValueTask<Result> DeleteAsync(string path, CancellationToken ct = default) => inner.DeleteAsync(path, ct);
    public ValueTask<Result> RenameAsync(string from, string to, CancellationToken ct = default) => inner.RenameAsync(from, to, ct);
    public ValueTask<Result<string>> ReadLinkAsync(string path, CancellationToken ct = default) => inner.ReadLinkAsync(path, ct);
    public ValueTask<Result> CreateSymlinkAsync(string path, string target, CancellationToken ct = default) => inner.CreateSymlinkAsync(path, target, ct);
    public ValueTask<Result> FlushAsync(CancellationToken ct = default) => inner.FlushAsync(ct);
    public ValueTask<Result> WriteBackAsync(CancellationToken ct = default) => inner.WriteBackAsync(ct);

    /// <summary>Closes the module's filesystem, then lets the module go (once, even if its close throws).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        try { await inner.DisposeAsync().ConfigureAwait(false); }
        finally { module.ReleaseHold(); }
    }
}
