namespace Photon.Kernel.FileSystems;

/// <summary>
/// Validates file paths before any filesystem sees them. Paths are absolute and '/'-separated. Rejected with
/// <see cref="ErrorCode.InvalidName"/>: relative paths, "." and ".." segments (no escaping a mount, no aliasing),
/// empty segments ("a//b"), NUL and other control characters, '\', unpaired surrogates, bidi overrides and
/// zero-width characters (names that display as something else), segments over 255 UTF-16 units, paths over 4096
/// characters or 64 levels deep. A trailing '/' is allowed. Filesystem-specific rules (FAT's forbidden characters)
/// are left to the driver.
/// </summary>
public static class VfsPath
{
    public const int MaxSegmentLength = 255;
    public const int MaxPathLength = 4096;
    public const int MaxDepth = 64;

    /// <summary>Splits an absolute path into validated segments ("/" gives none).</summary>
    public static Result<string[]> Split(string? path)
    {
        if (path is null) return Errors.Of(ErrorCode.InvalidName, "null path");
        if (path.Length == 0) return Errors.Of(ErrorCode.InvalidName, "empty path");
        if (path.Length > MaxPathLength) return Errors.Of(ErrorCode.InvalidName, $"path longer than {MaxPathLength} characters");
        if (path[0] != '/') return Errors.Of(ErrorCode.InvalidName, $"'{Show(path)}' is not absolute");
        if (path == "/") return Array.Empty<string>();
        var body = path.EndsWith('/') ? path[1..^1] : path[1..];
        var parts = body.Split('/');
        if (parts.Length > MaxDepth) return Errors.Of(ErrorCode.InvalidName, $"path deeper than {MaxDepth}");
        foreach (var p in parts)
        {
            var v = ValidateName(p);
            if (!v.IsOk) return v.Error;
        }
        return parts;
    }

    /// <summary>Validates one file name (a path segment).</summary>
    public static Result ValidateName(string? name)
    {
        if (string.IsNullOrEmpty(name)) return Result.Fail(ErrorCode.InvalidName, "empty path segment");
        if (name is "." or "..") return Result.Fail(ErrorCode.InvalidName, $"'{name}' segments are not allowed");
        if (name.Length > MaxSegmentLength) return Result.Fail(ErrorCode.InvalidName, $"name longer than {MaxSegmentLength} characters");
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (char.IsHighSurrogate(c))
            {
                if (i + 1 < name.Length && char.IsLowSurrogate(name[i + 1])) { i++; continue; }
                return Result.Fail(ErrorCode.InvalidName, "unpaired surrogate in name");
            }
            if (char.IsLowSurrogate(c)) return Result.Fail(ErrorCode.InvalidName, "unpaired surrogate in name");
            if (IsForbidden(c)) return Result.Fail(ErrorCode.InvalidName, $"character U+{(int)c:X4} is not allowed in a name");
        }
        return Result.Ok;
    }

    /// <summary>Joins validated segments back into an absolute path.</summary>
    public static string Join(IEnumerable<string> segments)
    {
        var s = string.Join('/', segments);
        return "/" + s;
    }

    /// <summary>Validates and canonicalises (drops a trailing '/').</summary>
    public static Result<string> Normalize(string? path)
    {
        var parts = Split(path);
        return parts.IsOk ? Join(parts.Value) : parts.Error;
    }

    private static bool IsForbidden(char c) =>
        c < 0x20 || c == 0x7F || c == '\\' || c == '/'
        || c is >= '\u0080' and <= '\u009F'          // C1 controls
        || c is >= '\u200B' and <= '\u200F'          // zero-width, LRM/RLM
        || c is >= '\u202A' and <= '\u202E'          // bidi embeddings/overrides
        || c is >= '\u2066' and <= '\u2069'          // bidi isolates
        || c == '\uFEFF' || c == '\uFFFE' || c == '\uFFFF';

    private static string Show(string s) => s.Length > 64 ? s[..64] + "…" : s;
}
