using System.Text;

namespace Photon.Net.Services;

public sealed record HttpResponse(int Status, string ContentType, ReadOnlyMemory<byte> Body)
{
    public static HttpResponse Text(int status, string text) => new(status, "text/plain; charset=utf-8", Encoding.UTF8.GetBytes(text));

    internal static string Reason(int status) => status switch
    {
        200 => "OK", 400 => "Bad Request", 403 => "Forbidden", 404 => "Not Found", 405 => "Method Not Allowed",
        408 => "Request Timeout", 431 => "Request Header Fields Too Large", 500 => "Internal Server Error",
        503 => "Service Unavailable", _ => "Status",
    };
}
