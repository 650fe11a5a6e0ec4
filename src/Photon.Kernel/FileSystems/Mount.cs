using Photon.Kernel.Capabilities;

namespace Photon.Kernel.FileSystems;

/// <summary>
/// A mounted filesystem as a kernel object. Capabilities to it are bound into namespaces (e.g. /mnt/data); the rights
/// of the binding bound what anyone resolving through it may do (Read, Write, Enumerate, Create, Delete). Operations on
/// one mount are serialised (filesystem drivers need not be re-entrant); unmounting waits for the one in flight, then
/// flushes and closes the filesystem. When the last capability to the mount dies it is closed too.
/// </summary>
public sealed class Mount : KernelObject
{
    public override ObjectKind Kind => ObjectKind.Mount;

    private readonly SemaphoreSlim _gate = new(1, 1);
    private IFileSystem? _fs;
    private Task<Result>? _closing;
    private readonly Lock _closeLock = new();

    internal Mount(IFileSystem fs, string source, bool readOnly) : base($"{fs.TypeName}:{source}")
    {
        _fs = fs;
        TypeName = fs.TypeName;
        Source = source;
        IsReadOnly = readOnly;
    }

    public string TypeName { get; }

    /// <summary>The block device it was mounted from.</summary>
    public string Source { get; }

    public bool IsReadOnly { get; }

    public bool IsClosed => Volatile.Read(ref _fs) is null;

    /// <summary>Runs one filesystem operation under the mount's gate; a closed mount answers Revoked and a driver that
    /// throws is contained as <see cref="ErrorCode.Faulted"/>.</summary>
    internal async ValueTask<Result<T>> RunAsync<T>(Func<IFileSystem, ValueTask<Result<T>>> op, CancellationToken ct)
    {
        try { await _gate.WaitAsync(ct).ConfigureAwait(false); }
        catch (OperationCanceledException) { return Errors.Of(ErrorCode.Cancelled, "cancelled waiting for the mount"); }
        try
        {
            var fs = _fs;
            if (fs is null) return Errors.Of(ErrorCode.Revoked, $"{this} has been unmounted");
            return await op(fs).ConfigureAwait(false);
        }
        catch (KernelException e) { return e.Error; }
        catch (OperationCanceledException) { return Errors.Of(ErrorCode.Cancelled, "operation cancelled"); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return Errors.Of(ErrorCode.Faulted, $"{TypeName} driver threw {e.GetType().Name}: {e.Message}");
        }
        finally { _gate.Release(); }
    }

    internal async ValueTask<Result> RunAsync(Func<IFileSystem, ValueTask<Result>> op, CancellationToken ct)
    {
        var r = await RunAsync<bool>(async fs =>
        {
            var inner = await op(fs).ConfigureAwait(false);
            return inner.IsOk ? true : inner.Error;
        }, ct).ConfigureAwait(false);
        return r.AsResult();
    }

    /// <summary>Flushes and closes the filesystem once (every caller awaits that one close); later operations answer Revoked.</summary>
    internal Task<Result> CloseAsync()
    {
        lock (_closeLock) return _closing ??= CloseCoreAsync();
    }

    private async Task<Result> CloseCoreAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            var fs = _fs;
            if (fs is null) return Result.Ok;
            _fs = null;
            Result flushed;
            try { flushed = fs.IsReadOnly ? Result.Ok : await fs.FlushAsync().ConfigureAwait(false); }
            catch (Exception e) when (e is not OutOfMemoryException) { flushed = Result.Fail(ErrorCode.IoError, $"flush threw {e.GetType().Name}: {e.Message}"); }
            try { await fs.DisposeAsync().ConfigureAwait(false); }
            catch (Exception e) when (e is not OutOfMemoryException) { if (flushed.IsOk) flushed = Result.Fail(ErrorCode.IoError, $"close threw {e.GetType().Name}"); }
            return flushed;
        }
        finally { _gate.Release(); }
    }

    /// <summary>Nobody can reach the mount any more: write it back and close it.</summary>
    protected override void OnLastCapabilityRevoked() => _ = CloseAsync();
}

/// <summary>An open file: a path inside a mount, reachable through a capability with Read and/or Write. It stays
/// usable only while the mount capability it was opened through is live (unmount or unbind cuts it off).</summary>
public sealed class VfsFile : KernelObject
{
    public override ObjectKind Kind => ObjectKind.File;

    internal VfsFile(Mount mount, string path, CapabilityToken mountAccess, string displayPath)
        : base(displayPath)
    {
        Mount = mount;
        Path = path;
        MountAccess = mountAccess;
    }

    public Mount Mount { get; }

    /// <summary>Path inside the mount.</summary>
    public string Path { get; }

    internal CapabilityToken MountAccess { get; }
}

[Flags]
public enum OpenFlags
{
    None = 0,
    /// <summary>Create the file if it does not exist (needs Create on the mount).</summary>
    Create = 1,
    /// <summary>With <see cref="Create"/>: fail with AlreadyExists if it does.</summary>
    Exclusive = 2,
    /// <summary>Cut the file to zero length (needs Write).</summary>
    Truncate = 4,
}
