namespace Photon.Net.Services;

/// <summary>
/// A Range request header against a representation of <c>length</c> bytes (RFC 9110 §14). One byte range is served
/// (206); a header this server does not take — several ranges, another unit, bad syntax, or an If-Range it cannot
/// validate — is ignored and the whole body sent (200), as the RFC allows. A single range that starts past the end
/// is unsatisfiable (416).
/// </summary>
public readonly record struct HttpRange(HttpRange.Kind Outcome, long Start, long Count)
{
    public enum Kind { Whole, Partial, Unsatisfiable }

    public static HttpRange Parse(string? header, string? ifRange, long length)
    {
        var whole = new HttpRange(Kind.Whole, 0, length);
        // No validators (ETag/Last-Modified) are issued, so no If-Range can match: send everything (§13.1.5).
        if (header is null || ifRange is not null) return whole;
        if (!header.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase)) return whole;
        var spec = header[6..].Trim();
        if (spec.Contains(',')) return whole;
        int dash = spec.IndexOf('-');
        if (dash < 0) return whole;
        var first = spec[..dash].Trim();
        var last = spec[(dash + 1)..].Trim();
        if (first.Length == 0)
        {
            // Suffix range: the last N bytes.
            if (!TryDigits(last, out var suffix)) return whole;
            if (suffix == 0 || length == 0) return new HttpRange(Kind.Unsatisfiable, 0, 0);
            long n = Math.Min(suffix, length);
            return new HttpRange(Kind.Partial, length - n, n);
        }
        if (!TryDigits(first, out var start)) return whole;
        long end = length - 1;
        if (last.Length > 0)
        {
            if (!TryDigits(last, out var e) || e < start) return whole;
            end = Math.Min(e, length - 1);
        }
        if (start >= length) return new HttpRange(Kind.Unsatisfiable, 0, 0);
        return new HttpRange(Kind.Partial, start, end - start + 1);
    }

    private static bool TryDigits(string s, out long value)
    {
        value = 0;
        return s.Length is > 0 and <= 18 && s.All(char.IsAsciiDigit) && long.TryParse(s, out value);
    }
}
