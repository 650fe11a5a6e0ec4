using System.Text;

namespace Photon.Net.Services;

/// <summary>
/// What a handler answers: status, content type, and either <see cref="Body"/> in memory or a <see cref="Stream"/>
/// written piece by piece (a file, a generated bulk body). The server frames it: Content-Length when the length is
/// known, chunked for HTTP/1.1 when it is not, and close-delimited for HTTP/1.0.
/// </summary>
public sealed record HttpResponse(int Status, string ContentType, ReadOnlyMemory<byte> Body)
{
    /// <summary>Replaces <see cref="Body"/> when set.</summary>
    public HttpBody? Stream { get; init; }

    /// <summary>Further header fields (Content-Range, Accept-Ranges, …); framing headers are the server's.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    /// <summary>Body length, or null when only the end of the stream says.</summary>
    public long? Length => Stream is { } s ? s.Length : Body.Length;

    public static HttpResponse Text(int status, string text) => new(status, "text/plain; charset=utf-8", Encoding.UTF8.GetBytes(text));

    internal static string Reason(int status) => status switch
    {
        200 => "OK", 206 => "Partial Content", 400 => "Bad Request", 403 => "Forbidden", 404 => "Not Found", 405 => "Method Not Allowed",
        408 => "Request Timeout", 416 => "Range Not Satisfiable", 431 => "Request Header Fields Too Large", 500 => "Internal Server Error",
        503 => "Service Unavailable", _ => "Status",
    };
}
