using System.Text;

namespace Photon.Net.Services;

/// <summary>
/// Writes a response's status line and header fields (RFC 9112 §4–6) straight into a byte buffer: no string builder,
/// no interpolated strings, no encoding pass — what the http bench's tail paid in GC for every request. Field values
/// are written one byte per character (as ASCII; anything else becomes '?'), so <see cref="MaxSize"/> is exact enough
/// to size the buffer.
/// </summary>
internal static class ResponseHead
{
    private const int FixedBytes = 160; // status line, Server, the framing and Connection fields, CRLFs, numbers

    /// <summary>An upper bound of the bytes <see cref="Write"/> writes for <paramref name="response"/>.</summary>
    public static int MaxSize(HttpResponse response)
    {
        int size = FixedBytes + response.ContentType.Length + HttpResponse.Reason(response.Status).Length;
        foreach (var (name, value) in response.Headers) size += name.Length + value.Length + 4;
        return size;
    }

    /// <summary>Writes the head into <paramref name="to"/> (at least <see cref="MaxSize"/> bytes); returns its length.</summary>
    public static int Write(Span<byte> to, HttpResponse response, long? length, bool chunked, bool keepAlive)
    {
        int at = Put(to, 0, "HTTP/1.1 "u8);
        at = Put(to, at, response.Status);
        at = Put(to, at, " "u8);
        at = Put(to, at, HttpResponse.Reason(response.Status));
        at = Put(to, at, "\r\nServer: photon\r\nContent-Type: "u8);
        at = Put(to, at, response.ContentType);
        if (length is { } l)
        {
            at = Put(to, at, "\r\nContent-Length: "u8);
            at = Put(to, at, l);
        }
        else if (chunked) at = Put(to, at, "\r\nTransfer-Encoding: chunked"u8);
        foreach (var (name, value) in response.Headers)
        {
            at = Put(to, at, "\r\n"u8);
            at = Put(to, at, name);
            at = Put(to, at, ": "u8);
            at = Put(to, at, value);
        }
        return Put(to, at, keepAlive ? "\r\nConnection: keep-alive\r\n\r\n"u8 : "\r\nConnection: close\r\n\r\n"u8);
    }

    private static int Put(Span<byte> to, int at, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(to[at..]);
        return at + bytes.Length;
    }

    private static int Put(Span<byte> to, int at, string text) => at + Encoding.ASCII.GetBytes(text, to[at..]);

    private static int Put(Span<byte> to, int at, long number)
    {
        number.TryFormat(to[at..], out int written, provider: System.Globalization.CultureInfo.InvariantCulture);
        return at + written;
    }
}
