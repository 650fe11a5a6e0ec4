using Microsoft.Win32.SafeHandles;
using Photon.Kernel.Hal.Host.IoUring;

namespace Photon.Kernel.Hal.Host;

/// <summary>
/// Host backend of <see cref="IBlockStorage"/>: a disk image file accessed with asynchronous positional I/O — through an
/// io_uring (<see cref="IoUringFile"/>) where the host has one, else through <see cref="RandomAccess"/> on the thread
/// pool (<see cref="HostStorageBackend"/>). Both give the same results and the same typed errors.
/// On io_uring there is one ring per CPU (up to <see cref="MaxRings"/>): a submitter uses the ring of the CPU it runs
/// on, so submitters on different cores neither share the ring's lock nor hand each other their completions. Small
/// writes are not sent to the ring at all but written by the submitters, one writer at a time, adjacent ones queued
/// behind a busy writer as one pwritev (<see cref="InlineWriteLimit"/>, <see cref="HostWriteCombiner"/>), and
/// reads are tried in the host's page cache first, on the submitter (<see cref="HostNoWaitRead"/>): only what is not
/// cached goes to the ring.
/// </summary>
public sealed class HostImageStorage : IBlockStorage, IBatchingBlockStorage, IInlineBlockStorage
{
    private const int RingEntries = 256;
    private readonly SafeFileHandle _handle;
    /// <summary>Rings at most (one per CPU up to this; each has its own SQ/CQ, lock and reaping thread).</summary>
    public const int MaxRings = 8;
    /// <summary>
    /// Writes up to this size are a pwrite by the submitters (<see cref="HostWriteCombiner"/>: one writer at a time; a
    /// concurrent one queues behind it and is written by it, adjacent ones in one pwritev), not a ring operation. io_uring can finish a
    /// buffered write inside the submitter's enter only where the filesystem takes non-blocking buffered writes
    /// (FOP_BUFFER_WASYNC: XFS, btrfs); ext4 does not, so every ring write to an image on ext4 went to an io-wq worker
    /// (serialized per inode there), with a wakeup of our ring thread and a thread-pool hop back — 0.2–0.46x of
    /// RandomAccess. A buffered pwrite is a copy into the page cache, the same work the worker did, done here without
    /// the hand-offs (README, block12). Larger writes (a file copy's 1 MiB) still go to the ring, so the submitter
    /// does not spend a long copy's time on its own thread.
    /// </summary>
    internal const int InlineWriteLimit = 64 * 1024;

    private readonly IoUringFile[]? _rings;
    private readonly IoUringFile? _uring; // _rings[0]: flushes, closing state
    private readonly HostNoWaitRead? _noWait; // on io_uring: reads tried in the page cache first
    private readonly HostWriteCombiner? _writer; // on io_uring: small writes
    private volatile bool _closing;

    private HostImageStorage(string path, SafeFileHandle handle, bool readOnly, IoUringFile[]? rings)
    {
        Name = path;
        _handle = handle;
        IsReadOnly = readOnly;
        _rings = rings;
        _uring = rings?[0];
        if (rings is not null)
        {
            _noWait = new HostNoWaitRead(handle);
            _writer = new HostWriteCombiner(path, handle);
        }
    }

    /// <summary>io_uring rings in use (one per CPU up to <see cref="MaxRings"/>; 0 on the thread pool).</summary>
    public int RingCount => _rings?.Length ?? 0;

    /// <summary>The ring for the calling thread: the one it holds a plug on (so a plugged batch goes in together), else
    /// its CPU's.</summary>
    private IoUringFile Ring()
    {
        var rings = _rings!;
        if (rings.Length == 1) return rings[0];
        if (IoUringFile.PluggedOnThisThread is { } plugged)
            foreach (var r in rings)
                if (ReferenceEquals(r, plugged)) return r;
        return rings[(uint)Thread.GetCurrentProcessorId() % (uint)rings.Length];
    }

    /// <summary>Small writes (<see cref="InlineWriteLimit"/>) written by a submitter — their own, or queued behind it —
    /// rather than by the ring (zero on the thread pool).</summary>
    public long InlineWrites => _writer?.Writes ?? 0;

    /// <summary>Of <see cref="InlineWrites"/>, those that found another thread writing and were written by it.</summary>
    public long QueuedWrites => _writer?.QueuedWrites ?? 0;

    /// <summary>pwritev calls that wrote two or more adjacent queued writes at once, and the writes they covered.</summary>
    public (long Calls, long Writes) VectoredWrites => _writer?.Vectored ?? default;

    /// <summary>Tests only: holds the small-write path's writer, so writes queue behind it until the holder is disposed.</summary>
    internal IDisposable HoldWriter() => _writer!.HoldWriter();

    /// <summary>Tests only: holds the writer as if busy with a write at <paramref name="writingAt"/> (see
    /// <c>HostWriteCombiner.HoldWriter(long?)</c>): a small write far from it goes to the far writer.</summary>
    internal IDisposable HoldWriterAt(long writingAt) => _writer!.HoldWriter(writingAt);

    /// <summary>Small writes that met the writer busy far from them, written by the far writer beside it.</summary>
    public long FarWrites => _writer?.FarWrites ?? 0;

    public string Name { get; }
    public bool IsReadOnly { get; }
    public long Length => RandomAccess.GetLength(_handle);

    /// <summary>On io_uring, page-cache reads are a preadv2 by the submitter (or finish inside its enter) and small writes are a pwrite by the
    /// submitter: the block driver serves them straight from the submitter. Not on the thread pool (every request hops).</summary>
    public bool CompletesInline => _uring is not null;

    /// <summary>Ring operations complete (or end Closed when the rings close), and a small write queued behind the writer
    /// is written within its batch or ends Closed: nothing the driver awaits is held indefinitely.</summary>
    public bool EndsEveryRequest => _uring is not null;

    /// <summary>The backend in use (never Auto).</summary>
    public HostStorageBackend Backend => _uring is null ? HostStorageBackend.ThreadPool : HostStorageBackend.IoUring;

    /// <summary>io_uring counters (zero on the thread pool): operations completed inside their submitter's enter, those
    /// reaped later by the ring thread, and submitting enters (operations per enter is the batching).</summary>
    public (long Inline, long Deferred, long Enters) RingCounters =>
        _rings is null ? default : (_rings.Sum(r => r.InlineCompletions), _rings.Sum(r => r.DeferredCompletions), _rings.Sum(r => r.SubmittingEnters));

    /// <summary>Ring operations submitted by a ring's own thread — fsyncs, and reads and writes the kernel would not do
    /// inside the caller's call (see <see cref="IoUringFile"/>: a caller submits only what cannot outlive it).</summary>
    public long RingThreadSubmissions => _rings?.Sum(r => r.RingThreadSubmissions) ?? 0;

    /// <summary>Ring writes callers tried with RWF_NOWAIT and the kernel refused, and ring writes handed to the ring
    /// thread without that attempt once the file had refused enough in a row (<see cref="IoUringFile.RefusalsToLearn"/>).</summary>
    public (long Refused, long StraightToRing) RingWriteAttempts =>
        _rings is null ? default : (_rings.Sum(r => r.RefusedWrites), _rings.Sum(r => r.WritesStraightToRing));

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
        if (uring.IsOk)
        {
            // One ring per CPU; a host that refuses more rings (memlock, io_uring limits) leaves us with fewer.
            var rings = new List<IoUringFile> { uring.Value };
            for (int i = 1; i < Math.Min(Environment.ProcessorCount, MaxRings); i++)
            {
                var more = IoUringFile.Open(handle, RingEntries);
                if (!more.IsOk) break;
                rings.Add(more.Value);
            }
            return new HostImageStorage(path, handle, readOnly, rings.ToArray());
        }
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

    public ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try { CheckRange(offset, buffer.Length); }
        catch (KernelException e) { return ValueTask.FromException<int>(e); }
        if (_uring is null || buffer.Length == 0) return ReadLoopAsync(offset, buffer, 0, default, false, cancellationToken);
        // What the page cache holds is copied here (preadv2 RWF_NOWAIT), with no ring round trip; the rest goes to the ring.
        // Not under a plug: a plugged batch goes to the kernel together, in one enter, as the plug promises.
        int done = IoUringFile.PluggedOnThisThread is null ? _noWait!.TryRead(offset, buffer.Span) : 0;
        if (done == buffer.Length) return new ValueTask<int>(done);
        if (done == HostNoWaitRead.Closed) return ValueTask.FromException<int>(new KernelException(ErrorCode.Closed, $"{Name} is closed"));
        // On io_uring a page-cache read completes inside its enter: the whole read done at once needs no state machine.
        var first = Ring().ReadAsync(offset + done, buffer[done..]);
        if (first.IsCompletedSuccessfully && RingResultHook is null)
        {
            int r = first.Result;
            return done + r == buffer.Length ? new ValueTask<int>(buffer.Length)
                : ReadLoopAsync(offset, buffer, done, new ValueTask<int>(r), true, cancellationToken);
        }
        return ReadLoopAsync(offset, buffer, done, first, true, cancellationToken);
    }

    /// <summary>Reads served by the submitter from the host's page cache (preadv2 RWF_NOWAIT, <see cref="HostNoWaitRead"/>),
    /// wholly or in part, without a ring round trip (zero on the thread pool).</summary>
    public long CachedReads => _noWait?.Served ?? 0;

    /// <summary>Tests only: turns the page-cache fast path off, as on a host whose filesystem refuses RWF_NOWAIT.</summary>
    internal void DisableCachedReads() => _noWait?.Disable();

    /// <summary>False when reads go to the ring without trying the page cache first (the thread pool, or a host that
    /// refused RWF_NOWAIT for this file).</summary>
    public bool ReadsCacheFirst => _noWait is { Enabled: true };

    /// <summary>The read in general: the first <paramref name="total"/> bytes are already in the buffer; <paramref name="pending"/>
    /// (when <paramref name="hasPending"/>) is the ring's answer for the next part, already submitted.</summary>
    private async ValueTask<int> ReadLoopAsync(long offset, Memory<byte> buffer, int total, ValueTask<int> pending, bool hasPending, CancellationToken cancellationToken)
    {
        int resubmits = 0;
        try
        {
            // A read returns short only at end of file; anything else short is resumed where it stopped.
            while (total < buffer.Length)
            {
                int n;
                if (_uring is null) n = await RandomAccess.ReadAsync(_handle, buffer[total..], offset + total, cancellationToken).ConfigureAwait(false);
                else
                {
                    var answer = hasPending ? pending : Ring().ReadAsync(offset + total, buffer[total..]);
                    hasPending = false;
                    int r = Hooked(await answer.ConfigureAwait(false));
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

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        try
        {
            if (IsReadOnly) throw new KernelException(ErrorCode.ReadOnly, $"{Name} is read-only");
            CheckRange(offset, data.Length);
            // One writer at a time (a second would only sleep on the image's inode lock, which ext4 takes for every
            // buffered write): a write that finds it busy queues behind it, and it writes the queue, adjacent writes as one.
            // A write far from the busy writer's (scattered writes: nothing to merge) goes to the far writer, beside it.
            if (_writer is not null && data.Length <= InlineWriteLimit && _writer.TryWrite(offset, data, out var written)) return written;
        }
        catch (KernelException e) { return ValueTask.FromException(e); }
        return WriteLoopAsync(offset, data, cancellationToken);
    }

    /// <summary>A write that is not a pwrite on the caller's thread: on the thread pool, or through the ring.</summary>
    private async ValueTask WriteLoopAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        try
        {
            if (_uring is null)
            {
                await RandomAccess.WriteAsync(_handle, data, offset, cancellationToken).ConfigureAwait(false);
                return;
            }
            for (int done = 0, resubmits = 0; done < data.Length;)
            {
                int r = Hooked(await Ring().WriteAsync(offset + done, data[done..]).ConfigureAwait(false));
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

    public void Plug() { if (_rings is not null) Ring().Plug(); }

    /// <summary>Unplugs the ring this thread's plug is on (a plug taken on another file inside it only counts down).</summary>
    public void Unplug()
    {
        if (_rings is null) return;
        var plugged = IoUringFile.PluggedOnThisThread;
        foreach (var r in _rings)
            if (ReferenceEquals(r, plugged)) { r.Unplug(); return; }
        _rings[0].Unplug();
    }

    /// <summary>How often an operation the host cancelled is submitted again before it counts as an I/O error.</summary>
    private const int MaxResubmits = 8;

    /// <summary>
    /// -ECANCELED while the ring is still open: not our close but the host's — io_uring ties work it punted to io-wq to
    /// the submitting thread and cancels it when that thread exits (a thread-pool thread retired on an idle machine).
    /// Reads, writes at an offset and fsyncs are idempotent, so the operation is submitted again.
    /// </summary>
    private bool CancelledByHost(int result)
    {
        if (result != IoUringFile.ClosedResult || _closing || _uring is not { IsClosing: false }) return false;
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
            throw !_closing && _uring is { IsClosing: false }
                ? new KernelException(ErrorCode.IoError, $"{Name}: {op} at {offset} cancelled by the host {MaxResubmits + 1} times")
                : new KernelException(ErrorCode.Closed, $"{Name} is closed");
        throw new KernelException(ErrorCode.IoError, $"{Name}: {op} at {offset}: {IoUringNative.ErrnoName(-result)}");
    }

    public async ValueTask DisposeAsync()
    {
        // The rings and inline writers first: they wait for every submitted operation, and only then may the file go.
        _closing = true;
        // Page-cache reads are refused from here on; those in progress (a copy each) are waited for before the rings.
        _noWait?.Close();
        // Small writes too: queued ones not yet written end Closed, those being written (a pwritev each) are waited for.
        _writer?.Close();
        // Every ring stops taking operations now, before the first wait (a plugged batch unplugged after this call
        // began ends Closed on whichever ring it sits); then each is waited for.
        if (_rings is not null)
            await Task.WhenAll(_rings.Select(r => r.DisposeAsync().AsTask())).ConfigureAwait(false);
        _handle.Dispose();
    }
}
