namespace Photon.Kernel.Namespaces;

/// <summary>
/// Validates and splits namespace paths ("/tenant-a/svc/db"). The rules are deliberately narrow so that no spelling
/// can name something outside the namespace it is resolved in: ASCII letters, digits, '-', '_' and '.' only (no
/// Unicode look-alikes, full-width dots, zero-width or bidi characters, no NUL, '\', '%' or whitespace); no empty, "."
/// or ".." segments; bounded segment length, depth and total length.
/// </summary>
public static class NamespacePath
{
    public const int MaxSegmentLength = 64;
    public const int MaxDepth = 32;
    public const int MaxPathLength = 1024;

    public static Result ValidateName(string? name)
    {
        if (string.IsNullOrEmpty(name)) return Result.Fail(ErrorCode.InvalidName, "empty name");
        if (name.Length > MaxSegmentLength) return Result.Fail(ErrorCode.InvalidName, $"name longer than {MaxSegmentLength} characters");
        if (name is "." or "..") return Result.Fail(ErrorCode.InvalidName, $"'{name}' is not a valid name (no relative segments)");
        foreach (char c in name)
        {
            bool ok = c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '-' or '_' or '.';
            if (!ok) return Result.Fail(ErrorCode.InvalidName, $"character U+{(int)c:X4} is not allowed in a name");
        }
        return Result.Ok;
    }

    /// <summary>Splits an absolute or relative path into validated segments. "/" and "" give no segments.</summary>
    public static Result<string[]> Split(string? path)
    {
        if (path is null) return Errors.Of(ErrorCode.InvalidName, "null path");
        if (path.Length > MaxPathLength) return Errors.Of(ErrorCode.InvalidName, $"path longer than {MaxPathLength} characters");
        if (path.Length == 0 || path == "/") return Array.Empty<string>();
        var body = path[0] == '/' ? path[1..] : path;
        if (body.EndsWith('/')) body = body[..^1];
        var parts = body.Split('/');
        if (parts.Length > MaxDepth) return Errors.Of(ErrorCode.InvalidName, $"path deeper than {MaxDepth}");
        foreach (var p in parts)
        {
            var v = ValidateName(p);
            if (!v.IsOk) return Errors.Of(ErrorCode.InvalidName, $"'{path}': {v.Error.Message}");
        }
        return parts;
    }

    public static string Join(IEnumerable<string> segments) => "/" + string.Join('/', segments);
}
