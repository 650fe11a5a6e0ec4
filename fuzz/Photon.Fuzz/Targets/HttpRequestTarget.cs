using System.Text;
using Photon.Net.Services;

namespace Photon.Fuzz.Targets;

/// <summary>An HTTP request head as the server reads it off a connection: its parser must answer every input with a
/// response (400/405/431 or the handler's), never throw.</summary>
public sealed class HttpRequestTarget : IFuzzTarget
{
    private const int MaxHeaderBytes = 8192;

    public string Name => "http";

    public void Run(byte[] input)
    {
        var head = input.AsSpan(0, Math.Min(input.Length, MaxHeaderBytes));
        int end = head.IndexOf("\r\n\r\n"u8);
        if (end < 0) return; // the server keeps reading, then answers 431 at the limit: no parsing happens
        var (response, _) = HttpServer.ParseHead(Encoding.ASCII.GetString(head[..end]), path => HttpResponse.Text(200, path));
        if (response.Status is < 100 or > 599) throw new FuzzFinding($"status {response.Status}");
    }
}
