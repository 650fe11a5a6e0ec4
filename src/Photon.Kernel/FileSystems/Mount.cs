using Photon.Kernel.Capabilities;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.FileSystems;

/// <summary>
/// A mounted filesystem as a kernel object. Capabilities to it are bound into namespaces (e.g. /mnt/data); the rights
/// of the binding bound what anyone resolving through it may do (Read, Write, Enumerate, Create, Delete). The mount adds
/// no lock of its own: the filesystem's operation lock is the one serialization point. It only counts the operations
/// in flight, so that unmounting, once it has cut off new ones, waits for those before it flushes and closes the
/// filesystem. When the last capability to the mount dies it is closed too.
/// </summary>
public sealed class Mount : KernelObject
{
    public override ObjectKind Kind => ObjectKind.Mount;

    private IFileSystem? _fs;
    private int _active;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task<Result>? _closing;
    private readonly Lock _closeLock = new();
    /// <summary>Open files holding a node of this filesystem; detached when it closes. Null once closed.</summary>
    private HashSet<VfsFile>? _files = new();

    /// <summary>Stops the writeback loop when the mount closes.</summary>
    private readonly CancellationTokenSource _closed = new();

    internal Mount(IFileSystem fs, string source, bool readOnly, IKernelTimers? timers = null, TimeSpan writeBackInterval = default)
        : base($"{fs.TypeName}:{source}")
    {
        _fs = fs;
        TypeName = fs.TypeName;
        Source = source;
        IsReadOnly = readOnly;
        if (!readOnly && timers is not null && writeBackInterval > TimeSpan.Zero)
            _ = WriteBackLoopAsync(timers, writeBackInterval);
    }

    /// <summary>
    /// Asks the filesystem every <paramref name="interval"/> to make durable what it has held back (ext4's running
    /// transaction): without it, operations on an idle mount would stay in memory until the next fsync or unmount. Each
    /// writeback runs as an operation (so closing waits for it) and is never cancelled halfway; the wait between them is.
    /// A failed writeback is the filesystem's to report: the next fsync answers it.
    /// </summary>
    private async Task WriteBackLoopAsync(IKernelTimers timers, TimeSpan interval)
    {
        var stop = _closed.Token;
        try
        {
            while (!IsClosed)
            {
                await timers.Delay(interval, stop).ConfigureAwait(false);
                await RunAsync(fs => fs.WriteBackAsync(CancellationToken.None), CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) { }
    }

    public string TypeName { get; }

    /// <summary>The block device it was mounted from.</summary>
    public string Source { get; }

    public bool IsReadOnly { get; }

    public bool IsClosed => Volatile.Read(ref _fs) is null;

    /// <summary>Runs one filesystem operation; a closed mount answers Revoked and a driver that throws is contained as
    /// <see cref="ErrorCode.Faulted"/>.</summary>
    internal async ValueTask<Result<T>> RunAsync<T>(Func<IFileSystem, ValueTask<Result<T>>> op, CancellationToken ct)
    {
        // Count first, then look: unmount clears _fs first, then looks at the count (both full fences), so either the
        // operation sees the mount closed or unmount sees the operation and waits for it.
        Interlocked.Increment(ref _active);
        try
        {
            var fs = Volatile.Read(ref _fs);
            if (fs is null) return Errors.Of(ErrorCode.Revoked, $"{this} has been unmounted");
            if (ct.IsCancellationRequested) return Errors.Of(ErrorCode.Cancelled, "operation cancelled");
            return await op(fs).ConfigureAwait(false);
        }
        catch (KernelException e) { return e.Error; }
        catch (OperationCanceledException) { return Errors.Of(ErrorCode.Cancelled, "operation cancelled"); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return Errors.Of(ErrorCode.Faulted, $"{TypeName} driver threw {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            if (Interlocked.Decrement(ref _active) == 0 && Volatile.Read(ref _fs) is null) _drained.TrySetResult();
        }
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

    /// <summary>Hands an open file's node back to the filesystem, counted like an operation so that closing waits
    /// for it; once the mount is closed the node went with the filesystem (and its module may be gone) and nothing
    /// is called.</summary>
    internal void ReleaseNode(IFileNode node)
    {
        Interlocked.Increment(ref _active);
        try
        {
            if (Volatile.Read(ref _fs) is not null) node.Release();
        }
        catch (Exception e) when (e is not OutOfMemoryException) { /* a driver fault must not break the revoke that closed the file */ }
        finally
        {
            if (Interlocked.Decrement(ref _active) == 0 && Volatile.Read(ref _fs) is null) _drained.TrySetResult();
        }
    }

    /// <summary>Records an open file so that closing the mount can detach it; false once the mount is closed.</summary>
    internal bool Track(VfsFile file)
    {
        lock (_closeLock)
        {
            if (_files is null || IsClosed) return false;
            _files.Add(file);
            return true;
        }
    }

    internal void Forget(VfsFile file)
    {
        lock (_closeLock) _files?.Remove(file);
    }

    /// <summary>Flushes and closes the filesystem once (every caller awaits that one close); later operations answer Revoked.</summary>
    internal Task<Result> CloseAsync()
    {
        lock (_closeLock) return _closing ??= CloseCoreAsync();
    }

    private async Task<Result> CloseCoreAsync()
    {
        var fs = Interlocked.Exchange(ref _fs, null);
        if (fs is null) return Result.Ok;
        _closed.Cancel();
        if (Volatile.Read(ref _active) > 0) await _drained.Task.ConfigureAwait(false);
        Result flushed;
        try { flushed = fs.IsReadOnly ? Result.Ok : await fs.FlushAsync().ConfigureAwait(false); }
        catch (Exception e) when (e is not OutOfMemoryException) { flushed = Result.Fail(ErrorCode.IoError, $"flush threw {e.GetType().Name}: {e.Message}"); }
        try { await fs.DisposeAsync().ConfigureAwait(false); }
        catch (Exception e) when (e is not OutOfMemoryException) { if (flushed.IsOk) flushed = Result.Fail(ErrorCode.IoError, $"close threw {e.GetType().Name}"); }
        // Handles that outlive the mount must not keep the filesystem (and its module) alive.
        HashSet<VfsFile>? files;
        lock (_closeLock) { files = _files; _files = null; }
        foreach (var file in files ?? []) file.Detach();
        return flushed;
    }

    /// <summary>Nobody can reach the mount any more: write it back and close it.</summary>
    protected override void OnLastCapabilityRevoked() => _ = CloseAsync();
}
