using System.Text;
using Photon.Kernel.Capabilities;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Processes;
using Photon.Kernel.Syscalls;

namespace Photon.Net.Services;

/// <summary>
/// Serves files from a mount bound in the serving process's namespace at <c>root</c> (e.g. <c>/mnt/disk</c>), through
/// the file syscalls as that process: what it can reach is what its capability to the mount allows, nothing else.
/// The URL path is percent-decoded strictly and must name a regular file under the root: "." and ".." segments,
/// empty segments ("//"), backslashes, control characters and NUL are refused (400) before the VFS (which refuses them
/// again) sees them; symbolic links are resolved by the VFS inside the mount (an absolute target starts at the mount's
/// root, so none leads out of it) and other non-regular files are 404. A directory serves its
/// index.html. Bodies stream from the file in 64 KiB reads; a single Range gives 206 or 416.
/// </summary>
public sealed class StaticFileHandler(Process process, FileSyscalls files, string root)
{
    public const int ReadSize = 64 * 1024;

    private readonly string _root = root.TrimEnd('/');

    public async ValueTask<HttpResponse> HandleAsync(HttpRequest request, CancellationToken ct)
    {
        var relative = DecodePath(request.Path);
        if (relative is null) return HttpResponse.Text(400, "bad path\n");
        var path = _root + relative;
        var stat = await files.StatAsync(process, path, ct).ConfigureAwait(false);
        if (stat.IsOk && stat.Value.Kind == FileKind.Directory)
        {
            path = path.TrimEnd('/') + "/index.html";
            stat = await files.StatAsync(process, path, ct).ConfigureAwait(false);
        }
        if (!stat.IsOk) return Failure(stat.Code);
        if (stat.Value.Kind != FileKind.File) return HttpResponse.Text(404, "not found\n");
        var opened = await files.OpenAsync(process, path, Rights.Read, ct: ct).ConfigureAwait(false);
        if (!opened.IsOk) return Failure(opened.Code);
        // The length of the open file, not of the earlier stat: the body must match the Content-Length exactly.
        var openStat = await files.StatAsync(process, opened.Value, ct).ConfigureAwait(false);
        if (!openStat.IsOk) { files.Close(process, opened.Value); return Failure(openStat.Code); }
        long length = openStat.Value.Length;
        var type = ContentTypes.Of(path);
        var range = HttpRange.Parse(request.Header("Range"), request.Header("If-Range"), length);
        if (range.Outcome == HttpRange.Kind.Unsatisfiable)
        {
            files.Close(process, opened.Value);
            return HttpResponse.Text(416, "range not satisfiable\n") with { Headers = [new("Content-Range", $"bytes */{length}")] };
        }
        var body = new FileBody(process, files, opened.Value, range.Start, range.Count);
        if (range.Outcome == HttpRange.Kind.Partial)
            return new HttpResponse(206, type, ReadOnlyMemory<byte>.Empty)
            {
                Stream = body,
                Headers = [new("Accept-Ranges", "bytes"), new("Content-Range", $"bytes {range.Start}-{range.Start + range.Count - 1}/{length}")],
            };
        return new HttpResponse(200, type, ReadOnlyMemory<byte>.Empty) { Stream = body, Headers = [new("Accept-Ranges", "bytes")] };
    }

    private static HttpResponse Failure(ErrorCode code) => code switch
    {
        ErrorCode.NotFound or ErrorCode.InvalidName or ErrorCode.NotADirectory => HttpResponse.Text(404, "not found\n"),
        ErrorCode.AccessDenied => HttpResponse.Text(403, "forbidden\n"),
        _ => HttpResponse.Text(500, "cannot read file\n"),
    };

    /// <summary>The URL path decoded to a path under the root ("/a/b"), or null if it is not a plain relative path.</summary>
    public static string? DecodePath(string urlPath)
    {
        if (urlPath.Length == 0 || urlPath[0] != '/' || urlPath.Length > 4096) return null;
        var bytes = new List<byte>(urlPath.Length);
        for (int i = 0; i < urlPath.Length; i++)
        {
            char c = urlPath[i];
            if (c == '%')
            {
                if (i + 2 >= urlPath.Length || !char.IsAsciiHexDigit(urlPath[i + 1]) || !char.IsAsciiHexDigit(urlPath[i + 2])) return null;
                bytes.Add(Convert.ToByte(urlPath.Substring(i + 1, 2), 16));
                i += 2;
            }
            else if (c > 0x7E || c < 0x21) return null;
            else bytes.Add((byte)c);
        }
        string decoded;
        try { decoded = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes.ToArray()); }
        catch (ArgumentException) { return null; }
        var segments = decoded.Split('/');
        // segments[0] is the empty string before the leading '/'; a trailing '/' leaves one more empty segment.
        for (int i = 1; i < segments.Length; i++)
        {
            var s = segments[i];
            if (s.Length == 0 && i == segments.Length - 1) continue;
            if (s.Length == 0 || s is "." or ".." || s.Any(ch => ch < 0x20 || ch == 0x7F || ch == '\\')) return null;
        }
        return decoded == "/" ? "" : decoded.TrimEnd('/');
    }

    /// <summary>Reads <c>count</c> bytes from <c>start</c> of an open file; closes the file handle when done.</summary>
    private sealed class FileBody(Process process, FileSyscalls files, Handle file, long start, long count) : HttpBody
    {
        public override long? Length => count;

        public override async ValueTask<Result> WriteAsync(HttpBodySink sink, CancellationToken ct)
        {
            var buffer = new byte[(int)Math.Min(ReadSize, Math.Max(count, 1))];
            for (long done = 0; done < count;)
            {
                int want = (int)Math.Min(buffer.Length, count - done);
                var n = await files.ReadAsync(process, file, start + done, buffer.AsMemory(0, want), ct).ConfigureAwait(false);
                if (!n.IsOk) return n.Error;
                // The file shrank under us: the promised length cannot be met, so the connection must end abnormally.
                if (n.Value == 0) return Result.Fail(ErrorCode.IoError, "file ended before its length");
                var sent = await sink(buffer.AsMemory(0, n.Value), ct).ConfigureAwait(false);
                if (!sent.IsOk) return sent;
                done += n.Value;
            }
            return Result.Ok;
        }

        public override ValueTask DisposeAsync()
        {
            files.Close(process, file);
            return ValueTask.CompletedTask;
        }
    }
}
