using Microsoft.Win32.SafeHandles;
using Photon.Kernel.Hal.Host.IoUring;

namespace Photon.Kernel.Hal.Host;

/// <summary>
/// Host backend of <see cref="IBlockStorage"/>: a disk image file accessed with asynchronous positional I/O — through an
/// io_uring (<see cref="IoUringFile"/>) where the host has one, else through <see cref="RandomAccess"/> on the thread
/// pool (<see cref="HostStorageBackend"/>). Both give the same results and the same typed errors.
/// </summary>
public sealed class HostImageStorage : IBlockStorage, IBatchingBlockStorage
{
    private const int RingEntries = 256;
    private readonly SafeFileHandle _handle;
    private readonly IoUringFile? _uring;

    private HostImageStorage(string path, SafeFileHandle handle, bool readOnly, IoUringFile? uring)
    {
        Name = path;
        _handle = handle;
        IsReadOnly = readOnly;
        _uring = uring;
    }

    public string Name { get; }
    public bool IsReadOnly { get; }
    public long Length => RandomAccess.GetLength(_handle);

    /// <summary>The backend in use (never Auto).</summary>
    public HostStorageBackend Backend => _uring is null ? HostStorageBackend.ThreadPool : HostStorageBackend.IoUring;

    /// <summary>io_uring counters (zero on the thread pool): operations completed inside their submitter's enter, those
    /// reaped later by the ring thread, and submitting enters (operations per enter is the batching).</summary>
    public (long Inline, long Deferred, long Enters) RingCounters =>
        _uring is null ? default : (_uring.InlineCompletions, _uring.DeferredCompletions, _uring.SubmittingEnters);

    /// <summary>Why Auto fell back to the thread pool (null when it did not).</summary>
    public string? FallbackReason { get; private init; }

    /// <summary>Opens an existing image file.</summary>
    public static Result<HostImageStorage> Open(string path, bool readOnly = false, HostStorageBackend backend = HostStorageBackend.Auto)
    {
        var chosen = HostStorageBackends.Resolve(backend, Environment.GetEnvironmentVariable(HostStorageBackends.EnvironmentVariable));
        if (!chosen.IsOk) return chosen.Error;
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite,
                readOnly ? FileShare.ReadWrite : FileShare.Read, FileOptions.Asynchronous);
        }
        catch (FileNotFoundException) { return Errors.Of(ErrorCode.NotFound, $"image '{path}' does not exist"); }
        catch (DirectoryNotFoundException) { return Errors.Of(ErrorCode.NotFound, $"image '{path}' does not exist"); }
        catch (UnauthorizedAccessException e) { return Errors.Of(ErrorCode.AccessDenied, e.Message); }
        catch (IOException e) { return Errors.Of(ErrorCode.IoError, e.Message); }
        return WithBackend(path, handle, readOnly, chosen.Value);
    }

    /// <summary>Creates (or truncates) a sparse image file of <paramref name="length"/> bytes.</summary>
    public static Result<HostImageStorage> Create(string path, long length, HostStorageBackend backend = HostStorageBackend.Auto)
    {
        if (length <= 0) return Errors.Of(ErrorCode.InvalidArgument, "image length must be positive");
        var chosen = HostStorageBackends.Resolve(backend, Environment.GetEnvironmentVariable(HostStorageBackends.EnvironmentVariable));
        if (!chosen.IsOk) return chosen.Error;
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite, FileShare.Read, FileOptions.Asynchronous);
            RandomAccess.SetLength(handle, length);
        }
        catch (UnauthorizedAccessException e) { return Errors.Of(ErrorCode.AccessDenied, e.Message); }
        catch (IOException e) { return Errors.Of(ErrorCode.IoError, e.Message); }
        return WithBackend(path, handle, false, chosen.Value);
    }

    private static Result<HostImageStorage> WithBackend(string path, SafeFileHandle handle, bool readOnly, HostStorageBackend backend)
    {
        if (backend == HostStorageBackend.ThreadPool) return new HostImageStorage(path, handle, readOnly, null);
        var uring = IoUringFile.Open(handle, RingEntries);
        if (uring.IsOk) return new HostImageStorage(path, handle, readOnly, uring.Value);
        if (backend == HostStorageBackend.IoUring)
        {
            handle.Dispose();
            return uring.Error;
        }
        return new HostImageStorage(path, handle, readOnly, null) { FallbackReason = uring.Error.Message };
    }

    /// <summary>A range no file can have (negative, or ending past long.MaxValue) is refused by name on both backends,
    /// before it reaches RandomAccess (which would throw ArgumentOutOfRangeException) or the kernel (EINVAL).</summary>
    private void CheckRange(long offset, int length)
    {
        if (offset < 0 || offset > long.MaxValue - length)
            throw new KernelException(ErrorCode.InvalidArgument, $"{Name}: range {offset}+{length} is outside any file");
    }

    public async ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        CheckRange(offset, buffer.Length);
        int total = 0, resubmits = 0;
        try
        {
            // A read returns short only at end of file; anything else short is resumed where it stopped.
            while (total < buffer.Length)
            {
                int n;
                if (_uring is null) n = await RandomAccess.ReadAsync(_handle, buffer[total..], offset + total, cancellationToken).ConfigureAwait(false);
                else
                {
                    int r = Hooked(await _uring.ReadAsync(offset + total, buffer[total..]).ConfigureAwait(false));
                    if (CancelledByHost(r) && ++resubmits <= MaxResubmits) continue;
                    n = Check(r, "read", offset + total);
                }
                if (n == 0) break;
                total += n;
            }
        }
        catch (IOException e) { throw new KernelException(ErrorCode.IoError, e.Message); }
        return total;
    }

    public async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        if (IsReadOnly) throw new KernelException(ErrorCode.ReadOnly, $"{Name} is read-only");
        CheckRange(offset, data.Length);
        try
        {
            if (_uring is null)
            {
                await RandomAccess.WriteAsync(_handle, data, offset, cancellationToken).ConfigureAwait(false);
                return;
            }
            for (int done = 0, resubmits = 0; done < data.Length;)
            {
                int r = Hooked(await _uring.WriteAsync(offset + done, data[done..]).ConfigureAwait(false));
                if (CancelledByHost(r) && ++resubmits <= MaxResubmits) continue;
                int n = Check(r, "write", offset + done);
                if (n == 0) throw new KernelException(ErrorCode.IoError, $"{Name}: write at {offset + done} made no progress");
                done += n;
            }
        }
        catch (IOException e) { throw new KernelException(ErrorCode.IoError, e.Message); }
    }

    public async ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        if (_uring is { } ring)
        {
            // fdatasync: the image's bytes and their allocation become durable; its timestamps need not (a flush
            // after overwrites then costs no host journal commit).
            for (int resubmits = 0; ; )
            {
                int r = Hooked(await ring.FsyncAsync(dataOnly: true).ConfigureAwait(false));
                if (CancelledByHost(r) && ++resubmits <= MaxResubmits) continue;
                Check(r, "fsync", 0);
                return;
            }
        }
        // fsync blocks: on a pool thread, not on the caller's (the block driver's submitters start requests inline).
        try { await Task.Run(() => RandomAccess.FlushToDisk(_handle), cancellationToken).ConfigureAwait(false); }
        catch (IOException e) { throw new KernelException(ErrorCode.IoError, e.Message); }
    }

    public void Plug() => _uring?.Plug();

    public void Unplug() => _uring?.Unplug();

    /// <summary>How often an operation the host cancelled is submitted again before it counts as an I/O error.</summary>
    private const int MaxResubmits = 8;

    /// <summary>
    /// -ECANCELED while the ring is still open: not our close but the host's — io_uring ties work it punted to io-wq to
    /// the submitting thread and cancels it when that thread exits (a thread-pool thread retired on an idle machine).
    /// Reads, writes at an offset and fsyncs are idempotent, so the operation is submitted again.
    /// </summary>
    private bool CancelledByHost(int result)
    {
        if (result != IoUringFile.ClosedResult || _uring is not { IsClosing: false }) return false;
        Interlocked.Increment(ref _hostCancellations);
        return true;
    }

    private long _hostCancellations;

    /// <summary>io_uring operations the host cancelled while the ring was open (each one submitted again, up to
    /// <see cref="MaxResubmits"/> times per request).</summary>
    public long HostCancellations => Interlocked.Read(ref _hostCancellations);

    /// <summary>Tests only: sees each io_uring result before it is interpreted and may replace it — to stand in for a
    /// host that cancels the same request again and again, which no real host does on demand.</summary>
    internal Func<int, int>? RingResultHook { get; set; }

    private int Hooked(int result) => RingResultHook is { } hook ? hook(result) : result;

    /// <summary>A completion's result as bytes, or the typed error its negative errno stands for.</summary>
    private int Check(int result, string op, long offset)
    {
        if (result >= 0) return result;
        if (result == IoUringFile.ClosedResult)
            throw _uring is { IsClosing: false }
                ? new KernelException(ErrorCode.IoError, $"{Name}: {op} at {offset} cancelled by the host {MaxResubmits + 1} times")
                : new KernelException(ErrorCode.Closed, $"{Name} is closed");
        throw new KernelException(ErrorCode.IoError, $"{Name}: {op} at {offset}: {IoUringNative.ErrnoName(-result)}");
    }

    public async ValueTask DisposeAsync()
    {
        // The ring first: it waits for every submitted operation, and only then may the file go.
        if (_uring is not null) await _uring.DisposeAsync().ConfigureAwait(false);
        _handle.Dispose();
    }
}
