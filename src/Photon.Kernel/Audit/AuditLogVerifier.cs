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

    public static async Task<AuditVerifyReport> VerifyAsync(IAppendLogStorage storage, byte[]? key = null)
    {
        var data = await ReadAllAsync(storage).ConfigureAwait(false);
        if (data is null) return new AuditVerifyReport(0, AuditProblem.Malformed, 0, $"log larger than {MaxLogBytes} bytes", AuditLogFormat.Genesis);
        byte[] prev = AuditLogFormat.Genesis;
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
                return new AuditVerifyReport(index, AuditProblem.Edited, index, "record content does not match its hash", prev);
            if (ParseBody(body) is not { } rec || rec.Seq != index)
                return new AuditVerifyReport(index, AuditProblem.Edited, index, "record sequence number is wrong", prev);
            prev = hash;
            index++;
        }
        var headBytes = await storage.ReadHeadAsync().ConfigureAwait(false);
        if (headBytes is null)
            return index == 0
                ? new AuditVerifyReport(0, AuditProblem.None, -1, "", prev)
                : new AuditVerifyReport(index, AuditProblem.TruncatedTail, index, "head record is missing", prev);
        var head = Encoding.ASCII.GetString(headBytes).Trim().Split(' ');
        if (head.Length != 3 || !long.TryParse(head[0], out long count))
            return new AuditVerifyReport(index, AuditProblem.TruncatedTail, index, "head record is malformed", prev);
        var expectMac = AuditLogFormat.Head(key, count, HexOrEmpty(head[1]));
        if (!Encoding.ASCII.GetString(expectMac).Trim().Equals(string.Join(' ', head), StringComparison.Ordinal))
            return new AuditVerifyReport(index, AuditProblem.TruncatedTail, index, "head record checksum does not match", prev);
        if (count > index)
            return new AuditVerifyReport(index, AuditProblem.TruncatedTail, index, $"head says {count} records were committed, the log holds {index}", prev);
        if (count == index && !Convert.ToHexStringLower(prev).Equals(head[1], StringComparison.Ordinal))
            return new AuditVerifyReport(index, AuditProblem.TruncatedTail, index, "last record differs from the committed one", prev);
        // count < index: records appended after the last head update (crash before the head was replaced) — still chained.
        return new AuditVerifyReport(index, AuditProblem.None, -1, count < index ? $"{index - count} records after the last head update" : "", prev);
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

    private static byte[] HexOrEmpty(string hex)
    {
        try { return Convert.FromHexString(hex); } catch (FormatException) { return []; }
    }
}
