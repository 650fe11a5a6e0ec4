using System.Text;
using System.Text.Json;
using Photon.Kernel.Hal;

namespace Photon.Kernel.Audit;

public enum AuditProblem
{
    None,
    /// <summary>A record's bytes no longer match its hash (edited).</summary>
    Edited,
    /// <summary>A record does not follow the one before it (dropped, inserted or reordered records).</summary>
    BrokenChain,
    /// <summary>The head says more records were committed than the log holds (records dropped from the end), or the
    /// head's own checksum or last hash does not match.</summary>
    TruncatedTail,
    /// <summary>The last line is incomplete: a crash while appending, not tampering.</summary>
    TornTail,
    /// <summary>A line is not in the log format at all.</summary>
    Malformed,
    /// <summary>The log is shorter than its anchor, or its record at the anchor's position is not the anchored one: an
    /// older copy of the log (with its older, still valid head) was put back, or the log was replaced.</summary>
    RolledBack,
    /// <summary>The anchor itself is missing, malformed, or its MAC does not match (edited, or a different key).</summary>
    BadAnchor,
}

public sealed record AuditVerifyReport(long Records, AuditProblem Problem, long FirstBadRecord, string Detail, byte[] LastHash)
{
    public bool IsIntact => Problem == AuditProblem.None;
    public override string ToString() => IsIntact ? $"intact: {Records} records" : $"{Problem} at record {FirstBadRecord}: {Detail}";
}

/// <summary>One parsed audit record.</summary>
public sealed record AuditRecord(long Seq, DateTimeOffset Time, AuditAction Action, string Subject, string Namespace, string Token,
    string Parent, string Kind, string Label, string Rights, string Error, string Detail);

/// <summary>Checks a log's hash chain against its head, and reads/filters its records.</summary>
public static class AuditLogVerifier
{
    public const long MaxLogBytes = 1L << 31;

    /// <summary>
    /// Walks the chain and checks it against the head and, when given, the anchor. With <paramref name="key"/> the chain
    /// is checked as HMAC-SHA256, so a rewrite by someone without the key is reported; without it only accidental damage
    /// and careless edits are (anyone can recompute a SHA-256 chain). <paramref name="anchor"/> (kept apart from the log)
    /// catches a rollback to an older, internally consistent copy of the log.
    /// </summary>
    public static async Task<AuditVerifyReport> VerifyAsync(IAppendLogStorage storage, byte[]? key = null, IAtomicRecord? anchor = null)
    {
        var data = await ReadAllAsync(storage).ConfigureAwait(false);
        if (data is null) return new AuditVerifyReport(0, AuditProblem.Malformed, 0, $"log larger than {MaxLogBytes} bytes", AuditLogFormat.Genesis);
        (long Count, byte[] Last)? anchored = null;
        if (anchor is not null)
        {
            var read = await ReadAnchorAsync(anchor, key).ConfigureAwait(false);
            if (!read.IsOk) return new AuditVerifyReport(0, AuditProblem.BadAnchor, 0, read.Error.Message, AuditLogFormat.Genesis);
            anchored = read.Value;
        }
        byte[] prev = AuditLogFormat.Genesis;
        byte[]? atAnchor = anchored is { Count: 0 } ? AuditLogFormat.Genesis : null;
        long index = 0;
        int pos = 0;
        while (pos < data.Length)
        {
            int nl = Array.IndexOf(data, (byte)'\n', pos);
            if (nl < 0)
                return new AuditVerifyReport(index, AuditProblem.TornTail, index, $"{data.Length - pos} bytes after the last complete record", prev);
            var line = data.AsSpan(pos, nl - pos);
            pos = nl + 1;
            if (!TrySplit(line, out var hash, out var linkPrev, out var body))
                return new AuditVerifyReport(index, AuditProblem.Malformed, index, "line is not 'hash prev body'", prev);
            if (!linkPrev.AsSpan().SequenceEqual(prev))
                return new AuditVerifyReport(index, AuditProblem.BrokenChain, index, "record does not follow its predecessor (dropped, inserted or reordered)", prev);
            if (!AuditLogFormat.Hash(key, prev, body).AsSpan().SequenceEqual(hash))
                return new AuditVerifyReport(index, AuditProblem.Edited, index,
                    key is null ? "record content does not match its hash" : "record does not match its HMAC (edited, rewritten without the key, or a different key)", prev);
            if (ParseBody(body) is not { } rec || rec.Seq != index)
                return new AuditVerifyReport(index, AuditProblem.Edited, index, "record sequence number is wrong", prev);
            prev = hash;
            index++;
            if (anchored is { } a && index == a.Count) atAnchor = hash;
        }
        var head = await CheckHeadAsync(storage, key, index, prev).ConfigureAwait(false);
        if (head is not null) return head;
        if (anchored is { } an)
        {
            if (an.Count > index)
                return new AuditVerifyReport(index, AuditProblem.RolledBack, index, $"the anchor says {an.Count} records were committed, the log holds {index}", prev);
            if (!atAnchor.AsSpan().SequenceEqual(an.Last))
                return new AuditVerifyReport(index, AuditProblem.RolledBack, an.Count - 1, $"record {an.Count - 1} is not the anchored one (log replaced or rewritten)", prev);
        }
        return new AuditVerifyReport(index, AuditProblem.None, -1, "", prev);
    }

    /// <summary>Null when the head agrees with the walked chain (or the log is empty and headless).</summary>
    private static async Task<AuditVerifyReport?> CheckHeadAsync(IAppendLogStorage storage, byte[]? key, long index, byte[] prev)
    {
        var headBytes = await storage.ReadHeadAsync().ConfigureAwait(false);
        if (headBytes is null)
            return index == 0 ? null : new AuditVerifyReport(index, AuditProblem.TruncatedTail, index, "head record is missing", prev);
        if (AuditLogFormat.Unseal(key, AuditLogFormat.HeadDomain, headBytes, out var why) is not { } head)
            return new AuditVerifyReport(index, AuditProblem.TruncatedTail, index, why, prev);
        if (head.Count > index)
            return new AuditVerifyReport(index, AuditProblem.TruncatedTail, index, $"head says {head.Count} records were committed, the log holds {index}", prev);
        if (head.Count == index && !head.Last.AsSpan().SequenceEqual(prev))
            return new AuditVerifyReport(index, AuditProblem.TruncatedTail, index, "last record differs from the committed one", prev);
        // head.Count < index: records appended after the last head update (crash before the head was replaced) — still chained.
        return null;
    }

    /// <summary>The anchor's (count, last hash), checked against <paramref name="key"/>; a missing anchor is an error
    /// (deleting it must not switch rollback detection off).</summary>
    internal static async Task<Result<(long Count, byte[] Last)>> ReadAnchorAsync(IAtomicRecord anchor, byte[]? key)
    {
        byte[]? bytes;
        try { bytes = await anchor.ReadAsync().ConfigureAwait(false); }
        catch (KernelException e) { return Errors.Of(e.Code, $"anchor '{anchor.Name}': {e.Error.Message}"); }
        if (bytes is null) return Errors.Of(ErrorCode.NotFound, $"anchor '{anchor.Name}' is missing");
        if (AuditLogFormat.Unseal(key, AuditLogFormat.AnchorDomain, bytes, out var why) is not { } a)
            return Errors.Of(ErrorCode.Corrupted, $"anchor '{anchor.Name}': {why}");
        return a;
    }

    /// <summary>All complete records, in order (verification is separate: call <see cref="VerifyAsync"/>).</summary>
    public static async Task<Result<IReadOnlyList<AuditRecord>>> ReadAsync(IAppendLogStorage storage)
    {
        var data = await ReadAllAsync(storage).ConfigureAwait(false);
        if (data is null) return Errors.Of(ErrorCode.OutOfRange, "log too large");
        var list = new List<AuditRecord>();
        int pos = 0;
        while (pos < data.Length)
        {
            int nl = Array.IndexOf(data, (byte)'\n', pos);
            if (nl < 0) break;
            var line = data.AsSpan(pos, nl - pos);
            pos = nl + 1;
            if (!TrySplit(line, out _, out _, out var body) || ParseBody(body) is not { } rec)
                return Errors.Of(ErrorCode.Corrupted, $"record {list.Count} is malformed");
            list.Add(rec);
        }
        return list;
    }

    /// <summary>Filters records: namespace subtree, time, action, subject (nulls mean "any").</summary>
    public static IEnumerable<AuditRecord> Query(IEnumerable<AuditRecord> records, string? ns = null, DateTimeOffset? since = null,
        AuditAction? action = null, string? subject = null)
    {
        var prefix = ns is null or "/" ? null : ns.TrimEnd('/');
        return records.Where(r =>
            (prefix is null || r.Namespace == prefix || r.Namespace.StartsWith(prefix + "/", StringComparison.Ordinal)) &&
            (since is null || r.Time >= since) &&
            (action is null || r.Action == action) &&
            (subject is null || r.Subject.Equals(subject, StringComparison.Ordinal)));
    }

    private static async Task<byte[]?> ReadAllAsync(IAppendLogStorage storage)
    {
        long len = storage.Length;
        if (len > MaxLogBytes) return null;
        var data = new byte[len];
        int got = 0;
        while (got < len)
        {
            int n = await storage.ReadAsync(got, data.AsMemory(got)).ConfigureAwait(false);
            if (n == 0) break;
            got += n;
        }
        return got == len ? data : data[..got];
    }

    private static bool TrySplit(ReadOnlySpan<byte> line, out byte[] hash, out byte[] prev, out byte[] body)
    {
        hash = prev = body = [];
        if (line.Length < 130 || line[64] != (byte)' ' || line[129] != (byte)' ') return false;
        try
        {
            hash = Convert.FromHexString(Encoding.ASCII.GetString(line[..64]));
            prev = Convert.FromHexString(Encoding.ASCII.GetString(line[65..129]));
        }
        catch (FormatException) { return false; }
        body = line[130..].ToArray();
        return true;
    }

    private static AuditRecord? ParseBody(byte[] body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            var r = doc.RootElement;
            string S(string name) => r.GetProperty(name).GetString() ?? "";
            if (!Enum.TryParse<AuditAction>(S("action"), out var action)) return null;
            return new AuditRecord(r.GetProperty("seq").GetInt64(), DateTimeOffset.Parse(S("time"), System.Globalization.CultureInfo.InvariantCulture),
                action, S("subject"), S("ns"), S("token"), S("parent"), S("kind"), S("label"), S("rights"), S("error"), S("detail"));
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }
}
