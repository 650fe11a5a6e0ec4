using System.Text;

namespace Photon.Net.Dns;

/// <summary>
/// Domain names on the wire (RFC 1035 §3.1, §4.1.4). Reading follows compression pointers only backwards — to an
/// offset before the label that holds the pointer — so a pointer loop, a pointer to itself or one past the message
/// cannot be followed; at most 64 pointers and 255 bytes per name. Names compare case-insensitively (RFC 4343).
/// </summary>
public static class DnsName
{
    public const int MaxLength = 255;
    public const int MaxLabel = 63;
    private const int MaxPointers = 64;

    /// <summary>Reads the name at <paramref name="offset"/>; <paramref name="next"/> is the offset after it in place.</summary>
    public static Result<string> Read(ReadOnlySpan<byte> message, int offset, out int next)
    {
        next = -1;
        var name = new StringBuilder();
        int at = offset, wireLength = 1, pointers = 0;
        int lowest = offset; // a pointer must go below every label read so far
        while (true)
        {
            if (at >= message.Length) return Errors.Of(ErrorCode.Corrupted, "name runs past the end of the message");
            byte len = message[at];
            if ((len & 0xC0) == 0xC0)
            {
                if (at + 1 >= message.Length) return Errors.Of(ErrorCode.Corrupted, "truncated compression pointer");
                int target = (len & 0x3F) << 8 | message[at + 1];
                if (next < 0) next = at + 2;
                if (target >= lowest) return Errors.Of(ErrorCode.Corrupted, "compression pointer does not point backwards (loop or forward reference)");
                if (++pointers > MaxPointers) return Errors.Of(ErrorCode.Corrupted, "too many compression pointers");
                at = lowest = target;
                continue;
            }
            if ((len & 0xC0) != 0) return Errors.Of(ErrorCode.Corrupted, $"unknown label type 0x{len:x2}");
            if (len == 0)
            {
                if (next < 0) next = at + 1;
                return name.Length == 0 ? "." : name.ToString();
            }
            if (at + 1 + len > message.Length) return Errors.Of(ErrorCode.Corrupted, "label runs past the end of the message");
            wireLength += len + 1;
            if (wireLength > MaxLength) return Errors.Of(ErrorCode.Corrupted, "name longer than 255 bytes");
            if (name.Length > 0) name.Append('.');
            foreach (var b in message.Slice(at + 1, len))
            {
                // Bytes outside printable ASCII (and the separator itself) are escaped so names cannot alias.
                if (b > 0x20 && b < 0x7F && b != '.' && b != '\\') name.Append((char)b);
                else name.Append('\\').Append(b.ToString("D3"));
            }
            at += 1 + len;
        }
    }

    /// <summary>Writes a host name ("www.example.org", optional final dot) as labels; letters, digits, '-' and '_' only.</summary>
    public static Result Write(string host, List<byte> output)
    {
        var trimmed = host.EndsWith('.') ? host[..^1] : host;
        if (trimmed.Length is 0 or > 253) return Result.Fail(ErrorCode.InvalidName, $"'{host}' is not a host name");
        foreach (var label in trimmed.Split('.'))
        {
            if (label.Length is 0 or > MaxLabel || !label.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
                return Result.Fail(ErrorCode.InvalidName, $"'{host}' is not a host name");
            output.Add((byte)label.Length);
            output.AddRange(Encoding.ASCII.GetBytes(label));
        }
        output.Add(0);
        return Result.Ok;
    }

    public static bool Same(string a, string b) =>
        string.Equals(a.TrimEnd('.'), b.TrimEnd('.'), StringComparison.OrdinalIgnoreCase);
}
