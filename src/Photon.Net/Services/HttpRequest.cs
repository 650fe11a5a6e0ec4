namespace Photon.Net.Services;

/// <summary>
/// One parsed HTTP/1.x request head (RFC 9112 §3–5). Parsing is strict where leniency lets two parsers disagree
/// (request smuggling): whitespace before a header's colon, folded lines, duplicate Content-Length and any
/// Transfer-Encoding give 400; requests with a body are refused because GET/HEAD-only servers never read one.
/// </summary>
public sealed class HttpRequest
{
    public const int MaxHeaders = 100;

    private readonly Dictionary<string, string> _headers;

    private HttpRequest(string method, string target, bool http11, Dictionary<string, string> headers)
    {
        Method = method;
        Target = target;
        Http11 = http11;
        _headers = headers;
        int q = target.IndexOf('?');
        Path = q < 0 ? target : target[..q];
        Query = q < 0 ? "" : target[(q + 1)..];
    }

    public string Method { get; }

    /// <summary>The request target as sent (origin form: path and query).</summary>
    public string Target { get; }

    /// <summary>The target up to '?', still percent-encoded.</summary>
    public string Path { get; }

    public string Query { get; }

    /// <summary>HTTP/1.1 or later 1.x: persistent by default and able to take chunked responses.</summary>
    public bool Http11 { get; }

    public bool IsHead => Method == "HEAD";

    /// <summary>The header's value (names compare case-insensitively); repeated headers are joined with ", ".</summary>
    public string? Header(string name) => _headers.GetValueOrDefault(name);

    /// <summary>Whether the client asked to keep the connection open after this response (RFC 9112 §9.3).</summary>
    public bool WantsKeepAlive
    {
        get
        {
            var connection = Header("Connection");
            return Http11 ? !HasToken(connection, "close") : HasToken(connection, "keep-alive");
        }
    }

    /// <summary>Whether the comma-separated <paramref name="list"/> holds <paramref name="token"/> (case-insensitive).</summary>
    private static bool HasToken(string? list, string token)
    {
        if (list is null) return false;
        foreach (var item in list.AsSpan().Split(','))
            if (list.AsSpan()[item].Trim().Equals(token, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }

    /// <summary>The value of query parameter <paramref name="name"/> (not percent-decoded), or null.</summary>
    public string? QueryValue(string name)
    {
        foreach (var pair in Query.Split('&'))
        {
            int eq = pair.IndexOf('=');
            if (eq > 0 && pair.AsSpan(0, eq).SequenceEqual(name)) return pair[(eq + 1)..];
            if (eq < 0 && pair == name) return "";
        }
        return null;
    }

    /// <summary>Parses the head (everything before the blank line). On failure returns null and the response to send.</summary>
    public static HttpRequest? TryParse(string head, out HttpResponse? error)
    {
        error = null;
        var lines = head.Split("\r\n");
        var line = lines[0].Split(' ');
        if (line.Length != 3 || !line[2].StartsWith("HTTP/1.", StringComparison.Ordinal) || line[2].Length != 8 || !char.IsAsciiDigit(line[2][7])
            || !line[1].StartsWith('/') || !IsToken(line[0]))
            return Fail(out error, 400, "bad request line\n");
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (lines.Length - 1 > MaxHeaders) return Fail(out error, 431, "too many header fields\n");
        for (int i = 1; i < lines.Length; i++)
        {
            var l = lines[i];
            int colon = l.IndexOf(':');
            // Folded lines (leading whitespace) and whitespace before the colon are rejected (RFC 9112 §5.1, §5.2).
            if (colon <= 0 || !IsToken(l.AsSpan(0, colon))) return Fail(out error, 400, "bad header field\n");
            var name = l[..colon];
            var value = l[(colon + 1)..].Trim(' ', '\t');
            if (value.AsSpan().IndexOfAny('\r', '\n', '\0') >= 0) return Fail(out error, 400, "bad header value\n");
            if (headers.TryGetValue(name, out var prior))
            {
                if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) || name.Equals("Host", StringComparison.OrdinalIgnoreCase))
                    return Fail(out error, 400, $"repeated {name}\n");
                headers[name] = prior + ", " + value;
            }
            else headers[name] = value;
        }
        if (headers.ContainsKey("Transfer-Encoding")) return Fail(out error, 400, "request bodies are not accepted\n");
        if (headers.TryGetValue("Content-Length", out var cl) && cl != "0") return Fail(out error, 400, "request bodies are not accepted\n");
        if (line[0] is not ("GET" or "HEAD")) return Fail(out error, 405, "method not allowed\n");
        return new HttpRequest(line[0], line[1], line[2] != "HTTP/1.0", headers);
    }

    private static HttpRequest? Fail(out HttpResponse? error, int status, string text)
    {
        error = HttpResponse.Text(status, text);
        return null;
    }

    // RFC 9110 §5.6.2 tchar.
    private static bool IsTokenChar(char c) => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c);

    /// <summary>One or more tchars (a method, a field name); a loop over the span, so no enumerator is allocated.</summary>
    private static bool IsToken(ReadOnlySpan<char> s)
    {
        if (s.IsEmpty) return false;
        foreach (var c in s)
            if (!IsTokenChar(c)) return false;
        return true;
    }
}
