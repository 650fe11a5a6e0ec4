using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Photon.Kernel.Hal;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Audit;

public sealed record AuditLogOptions
{
    /// <summary>Most records written in one group commit.</summary>
    public int MaxBatch { get; init; } = 512;

    /// <summary>Longest a record waits before its group is committed (fsync'd).</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Optional secret: with it the chain is HMAC-SHA256, so someone who can rewrite the files still cannot
    /// forge a valid chain without the key. Without it, SHA-256 (detects edits, not a rewrite of the whole log).</summary>
    public byte[]? Key { get; init; }
}

/// <summary>
/// The persistent, append-only, hash-chained audit log. Each line is "hash prev body": body is one canonical JSON
/// record, hash = H(prev ‖ body), so editing, reordering, inserting or dropping any record breaks the chain at that
/// record. A head record (count and last hash, replaced atomically after every group commit) lets
/// <see cref="AuditLogVerifier"/> see a dropped tail too. <see cref="Record"/> only appends to memory (it is called on
/// hot paths); a flusher task commits batches with one fsync each (group commit).
/// </summary>
public sealed class HashChainedAuditLog : ICapabilityAuditSink, IAsyncDisposable
{
    private readonly IAppendLogStorage _storage;
    private readonly IKernelTimers _timers;
    private readonly AuditLogOptions _options;
    private readonly Lock _lock = new();
    private readonly List<byte[]> _pending = new();
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _commitGate = new(1, 1);
    private readonly Task _flusher;
    private long _seq;
    private long _committed;
    private byte[] _last;
    private byte[] _lastCommitted;
    private long _batches;

    private HashChainedAuditLog(IAppendLogStorage storage, IKernelTimers timers, AuditLogOptions options, long seq, byte[] last)
    {
        _storage = storage;
        _timers = timers;
        _options = options;
        _seq = seq;
        _committed = seq;
        _last = last;
        _lastCommitted = last;
        _flusher = FlushLoop(_stop.Token);
    }

    /// <summary>Opens (or creates) a log; an existing log is verified first and continued from its last record.</summary>
    public static async Task<Result<HashChainedAuditLog>> OpenAsync(IAppendLogStorage storage, IKernelTimers timers, AuditLogOptions? options = null)
    {
        options ??= new AuditLogOptions();
        var report = await AuditLogVerifier.VerifyAsync(storage, options.Key).ConfigureAwait(false);
        if (!report.IsIntact && report.Problem != AuditProblem.TornTail)
            return Errors.Of(ErrorCode.Corrupted, $"existing audit log failed verification: {report}");
        if (report.Problem == AuditProblem.TornTail)
            return Errors.Of(ErrorCode.Corrupted, $"existing audit log ends in a torn record (crash during append): {report}; repair before appending");
        return new HashChainedAuditLog(storage, timers, options, report.Records, report.LastHash);
    }

    public long Recorded { get { lock (_lock) return _seq; } }
    public long Committed => Interlocked.Read(ref _committed);
    public long Batches => Interlocked.Read(ref _batches);

    public void Record(CapabilityAuditEvent e)
    {
        lock (_lock)
        {
            var body = AuditLogFormat.Body(_seq, e);
            var hash = AuditLogFormat.Hash(_options.Key, _last, body);
            _pending.Add(AuditLogFormat.Line(hash, _last, body));
            _last = hash;
            _seq++;
            if (_pending.Count >= _options.MaxBatch) _wake.Release();
        }
    }

    /// <summary>Commits everything recorded so far (append + fsync + head).</summary>
    public async Task<Result> FlushAsync()
    {
        await _commitGate.WaitAsync().ConfigureAwait(false);
        try
        {
            byte[][] batch;
            long count;
            byte[] last;
            lock (_lock)
            {
                if (_pending.Count == 0) return Result.Ok;
                batch = _pending.ToArray();
                _pending.Clear();
                count = _seq;
                last = _last;
            }
            var total = batch.Sum(b => b.Length);
            var buffer = new byte[total];
            int at = 0;
            foreach (var b in batch) { b.CopyTo(buffer, at); at += b.Length; }
            await _storage.AppendAsync(buffer).ConfigureAwait(false);
            await _storage.FlushAsync().ConfigureAwait(false);
            await _storage.WriteHeadAsync(AuditLogFormat.Head(_options.Key, count, last)).ConfigureAwait(false);
            Interlocked.Exchange(ref _committed, count);
            _lastCommitted = last;
            Interlocked.Increment(ref _batches);
            return Result.Ok;
        }
        catch (KernelException e) { return e.Error; }
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

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try { await _flusher.ConfigureAwait(false); } catch (OperationCanceledException) { }
        await FlushAsync().ConfigureAwait(false);
        await _storage.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>The on-disk format, shared by writer, verifier and query.</summary>
internal static class AuditLogFormat
{
    public static byte[] Body(long seq, CapabilityAuditEvent e)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteNumber("seq", seq);
            w.WriteString("time", e.Time.UtcDateTime.ToString("O"));
            w.WriteString("action", e.Action.ToString());
            w.WriteString("subject", e.Subject);
            w.WriteString("ns", e.Namespace);
            w.WriteString("token", e.Token.ToString());
            w.WriteString("parent", e.Parent.ToString());
            w.WriteString("kind", e.ObjectKind.ToString());
            w.WriteString("label", e.ObjectLabel);
            w.WriteString("rights", e.Rights.ToString());
            w.WriteString("error", e.Error.ToString());
            w.WriteString("detail", e.Detail);
            w.WriteEndObject();
        }
        return ms.ToArray();
    }

    public static byte[] Hash(byte[]? key, byte[] prev, ReadOnlySpan<byte> body)
    {
        var input = new byte[prev.Length + body.Length];
        prev.CopyTo(input, 0);
        body.CopyTo(input.AsSpan(prev.Length));
        return key is null ? SHA256.HashData(input) : HMACSHA256.HashData(key, input);
    }

    public static byte[] Line(byte[] hash, byte[] prev, byte[] body) =>
        Encoding.ASCII.GetBytes($"{Convert.ToHexStringLower(hash)} {Convert.ToHexStringLower(prev)} ").Concat(body).Append((byte)'\n').ToArray();

    public static byte[] Head(byte[]? key, long count, byte[] last)
    {
        var text = $"{count} {Convert.ToHexStringLower(last)}";
        var mac = Hash(key, Encoding.ASCII.GetBytes("head"), Encoding.ASCII.GetBytes(text));
        return Encoding.ASCII.GetBytes($"{text} {Convert.ToHexStringLower(mac)}\n");
    }

    public static readonly byte[] Genesis = new byte[32];
}
