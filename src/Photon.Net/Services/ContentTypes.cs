namespace Photon.Net.Services;

/// <summary>Content-Type by file extension for the common web types; anything else is application/octet-stream.</summary>
public static class ContentTypes
{
    private static readonly Dictionary<string, string> ByExtension = new(StringComparer.OrdinalIgnoreCase)
    {
        [".html"] = "text/html; charset=utf-8", [".htm"] = "text/html; charset=utf-8", [".txt"] = "text/plain; charset=utf-8",
        [".css"] = "text/css; charset=utf-8", [".js"] = "text/javascript; charset=utf-8", [".json"] = "application/json",
        [".xml"] = "application/xml", [".svg"] = "image/svg+xml", [".png"] = "image/png", [".jpg"] = "image/jpeg",
        [".jpeg"] = "image/jpeg", [".gif"] = "image/gif", [".webp"] = "image/webp", [".ico"] = "image/x-icon",
        [".pdf"] = "application/pdf", [".wasm"] = "application/wasm", [".gz"] = "application/gzip",
        [".tar"] = "application/x-tar", [".zip"] = "application/zip", [".mp4"] = "video/mp4",
    };

    public static string Of(string path)
    {
        int slash = path.LastIndexOf('/');
        int dot = path.LastIndexOf('.');
        return dot > slash && ByExtension.TryGetValue(path[dot..], out var type) ? type : "application/octet-stream";
    }
}
