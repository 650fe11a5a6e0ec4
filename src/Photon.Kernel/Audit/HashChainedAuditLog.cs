using Photon.Kernel.Hal;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Audit;

public sealed record AuditLogOptions
{
    /// <summary>Most records written in one group commit.</summary>
    public int MaxBatch { get; init; } = 512;

    /// <summary>Longest a record waits before its group is committed (fsync'd).</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// Bound on records waiting for their commit (plus at most one record). When it is reached <see
    /// cref="HashChainedAuditLog.Record"/> blocks until the flusher has taken the batch: events are never dropped, the
    /// kernel is slowed down to the speed of the disk instead.
    /// </summary>
    public long MaxPendingBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>
    /// Secret kept outside the log: with it every record, the head and the anchor are HMAC-SHA256, so someone who can
    /// rewrite the log's files but not read the key cannot produce a log that verifies. Without it the chain is plain
    /// SHA-256, which detects accidental damage only (anyone can recompute it).
    /// </summary>
    public byte[]? Key { get; init; }

    /// <summary>
    /// Where the rollback anchor (committed record count and last hash) is kept, replaced after every commit. The log's
    /// own head cannot catch a rollback (an older copy of the log comes with its older, valid head); an anchor kept where
    /// the log's writer cannot put an old copy back can.
    /// </summary>
    public IAtomicRecord? Anchor { get; init; }
}

/// <summary>
/// The persistent, append-only, hash-chained audit log. Each line is "hash prev body": body is one canonical JSON
/// record, hash = H(prev ‖ body) (HMAC with the key), so editing, reordering, inserting or dropping any record breaks the
/// chain at that record. A head record (count and last hash, replaced atomically after every group commit) lets
/// <see cref="AuditLogVerifier"/> see a dropped tail; the anchor (the same, kept elsewhere) a rollback.
/// <see cref="Record"/> only appends to a bounded buffer (it is called on hot paths); a flusher task commits batches
/// with one fsync each (group commit).
/// </summary>
public sealed class HashChainedAuditLog : ICapabilityAuditSink, IAsyncDisposable
{
    private readonly IAppendLogStorage _storage;
    private readonly IKernelTimers _timers;
    private readonly AuditLogOptions _options;
    // A plain monitor: Record waits on it for room in the buffer.
    private readonly object _gate = new();
    private readonly List<byte[]> _pending = new();
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _commitGate = new(1, 1);
    private readonly Task _flusher;
    private long _seq;
    private long _committed;
    private byte[] _last;
    private long _batches;
    private long _pendingBytes;
    private long _peakPendingBytes;
    private long _stalls;
    private long _lost;
    private long _droppedAfterClose;
    private bool _wakeRequested;
    private bool _closed;

    private HashChainedAuditLog(IAppendLogStorage storage, IKernelTimers timers, AuditLogOptions options, long seq, byte[] last)
    {
        _storage = storage;
        _timers = timers;
        _options = options;
        _seq = seq;
        _committed = seq;
        _last = last;
        _flusher = FlushLoop(_stop.Token);
    }

    /// <summary>
    /// Opens (or creates) a log; an existing log is verified first (with the key and anchor of
    /// <paramref name="options"/>) and continued from its last record. A log that does not verify — including one rolled
    /// back behind its anchor, or an anchor that is missing although the log has records — is refused.
    /// </summary>
    public static async Task<Result<HashChainedAuditLog>> OpenAsync(IAppendLogStorage storage, IKernelTimers timers, AuditLogOptions? options = null)
    {
        options ??= new AuditLogOptions();
        if (options.MaxBatch < 1 || options.MaxPendingBytes < 1) return Errors.Of(ErrorCode.InvalidArgument, "MaxBatch and MaxPendingBytes must be positive");
        if (options.Anchor is { } anchor && storage.Length == 0 && await storage.ReadHeadAsync().ConfigureAwait(false) is null)
        {
            // A new log starts its anchor at zero, so from now on a missing anchor means it was deleted. An anchor that
            // already exists is never reset here: an emptied log under a live anchor is a rollback, refused below.
            var fresh = await Errors.CatchAsync(async () =>
            {
                if (await anchor.ReadAsync().ConfigureAwait(false) is null)
                    await anchor.WriteAsync(AuditLogFormat.Seal(options.Key, AuditLogFormat.AnchorDomain, 0, AuditLogFormat.Genesis)).ConfigureAwait(false);
            }).ConfigureAwait(false);
            if (!fresh.IsOk) return fresh.Error;
        }
        var report = await AuditLogVerifier.VerifyAsync(storage, options.Key, options.Anchor).ConfigureAwait(false);
        if (report.Problem == AuditProblem.TornTail)
            return Errors.Of(ErrorCode.Corrupted, $"existing audit log ends in a torn record (crash during append): {report}; repair before appending");
        if (!report.IsIntact)
            return Errors.Of(ErrorCode.Corrupted, $"existing audit log failed verification: {report}");
        return new HashChainedAuditLog(storage, timers, options, report.Records, report.LastHash);
    }

    public long Recorded { get { lock (_gate) return _seq; } }
    public long Committed => Interlocked.Read(ref _committed);
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Bytes of records waiting for their commit, and the most there ever were.</summary>
    public long PendingBytes { get { lock (_gate) return _pendingBytes; } }
    public long PeakPendingBytes { get { lock (_gate) return _peakPendingBytes; } }

    /// <summary>How many <see cref="Record"/> calls had to wait for the flusher because the buffer was full.</summary>
    public long Stalls => Interlocked.Read(ref _stalls);

    /// <summary>Records whose commit failed (an I/O error): the log then ends or breaks there, which verification shows.</summary>
    public long LostRecords => Interlocked.Read(ref _lost);

    /// <summary>Events that arrived after <see cref="DisposeAsync"/> closed the log; they reach no storage.</summary>
    public long DroppedAfterClose => Interlocked.Read(ref _droppedAfterClose);

    public void Record(CapabilityAuditEvent e)
    {
        lock (_gate)
        {
            if (_pendingBytes >= _options.MaxPendingBytes && !_closed) WaitForRoom();
            if (_closed)
            {
                Interlocked.Increment(ref _droppedAfterClose);
                return;
            }
            var body = AuditLogFormat.Body(_seq, e);
            var hash = AuditLogFormat.Hash(_options.Key, _last, body);
            var line = AuditLogFormat.Line(hash, _last, body);
            _pending.Add(line);
            _pendingBytes += line.Length;
            if (_pendingBytes > _peakPendingBytes) _peakPendingBytes = _pendingBytes;
            _last = hash;
            _seq++;
            if (_pending.Count >= _options.MaxBatch) RequestFlush();
        }
    }

    /// <summary>Back-pressure: blocks the recording thread (under the gate, released while waiting) until the flusher
    /// has taken the pending batch. Blocking keeps "every capability event is on record" true.</summary>
    private void WaitForRoom()
    {
        Interlocked.Increment(ref _stalls);
        while (_pendingBytes >= _options.MaxPendingBytes && !_closed)
        {
            RequestFlush();
            // Timed so a missed pulse costs a short delay, not a hang.
            Monitor.Wait(_gate, TimeSpan.FromMilliseconds(50));
        }
    }

    private void RequestFlush()
    {
        if (_wakeRequested) return;
        _wakeRequested = true;
        _wake.Release();
    }

    /// <summary>Commits everything recorded so far (append + fsync + head + anchor).</summary>
    public async Task<Result> FlushAsync()
    {
        await _commitGate.WaitAsync().ConfigureAwait(false);
        byte[][] batch = [];
        try
        {
            long count;
            byte[] last;
            lock (_gate)
            {
                _wakeRequested = false;
                if (_pending.Count == 0) return Result.Ok;
                batch = _pending.ToArray();
                _pending.Clear();
                _pendingBytes = 0;
                count = _seq;
                last = _last;
                Monitor.PulseAll(_gate);
            }
            var buffer = new byte[batch.Sum(b => (long)b.Length)];
            int at = 0;
            foreach (var b in batch) { b.CopyTo(buffer, at); at += b.Length; }
            await _storage.AppendAsync(buffer).ConfigureAwait(false);
            await _storage.FlushAsync().ConfigureAwait(false);
            await _storage.WriteHeadAsync(AuditLogFormat.Seal(_options.Key, AuditLogFormat.HeadDomain, count, last)).ConfigureAwait(false);
            // Counts only grow and commits are serialised by the gate, so the anchor is monotonic.
            if (_options.Anchor is { } anchor)
                await anchor.WriteAsync(AuditLogFormat.Seal(_options.Key, AuditLogFormat.AnchorDomain, count, last)).ConfigureAwait(false);
            Interlocked.Exchange(ref _committed, count);
            Interlocked.Increment(ref _batches);
            return Result.Ok;
        }
        // The flusher must survive anything the storage throws, or writers blocked on a full buffer would wait forever.
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Interlocked.Add(ref _lost, batch.Length);
            return e is KernelException k ? k.Error : Errors.Of(ErrorCode.IoError, $"audit commit failed: {e.Message}");
        }
        finally { _commitGate.Release(); }
    }

    private async Task FlushLoop(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(stop);
                var woke = _wake.WaitAsync(cts.Token);
                var delay = _timers.Delay(_options.MaxDelay, cts.Token);
                await Task.WhenAny(woke, delay).ConfigureAwait(false);
                cts.Cancel();
            }
            catch (OperationCanceledException) { }
            await FlushAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Commits everything, then closes: later events are counted in <see cref="DroppedAfterClose"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try { await _flusher.ConfigureAwait(false); } catch (OperationCanceledException) { }
        while (true)
        {
            await FlushAsync().ConfigureAwait(false);
            lock (_gate)
            {
                if (_pending.Count > 0) continue;
                _closed = true;
                Monitor.PulseAll(_gate);
                break;
            }
        }
        await _storage.DisposeAsync().ConfigureAwait(false);
    }
}
