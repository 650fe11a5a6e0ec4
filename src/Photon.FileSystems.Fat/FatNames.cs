using System.Text;
using Photon.Kernel;

namespace Photon.FileSystems.Fat;

/// <summary>Short (8.3) and long (VFAT) name rules: validation, display, alias generation and the LFN checksum.</summary>
internal static class FatNames
{
    public const int MaxLongNameLength = 255;

    /// <summary>Code page 437, bytes 0x80..0xFF: the OEM code page DOS and mkfs/mtools default to.</summary>
    private const string Cp437High =
        "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00A0";

    private const string ShortSpecials = "$%'-_@~`!(){}^#&";

    /// <summary>Checks a name a caller wants to create or look up; the rules Linux vfat and Windows apply.</summary>
    public static Result ValidateLongName(string name)
    {
        if (name.Length == 0) return Result.Fail(ErrorCode.InvalidName, "empty name");
        if (name.Length > MaxLongNameLength) return Result.Fail(ErrorCode.InvalidName, $"name longer than {MaxLongNameLength} UTF-16 units");
        if (name is "." or "..") return Result.Fail(ErrorCode.InvalidName, $"'{name}' is reserved");
        foreach (char c in name)
        {
            if (c < 0x20 || c is '"' or '*' or '/' or ':' or '<' or '>' or '?' or '\\' or '|')
                return Result.Fail(ErrorCode.InvalidName, $"name contains invalid character U+{(int)c:X4}");
        }
        if (name[^1] is '.' or ' ') return Result.Fail(ErrorCode.InvalidName, "name ends with a dot or space");
        return Result.Ok;
    }

    private static bool IsShortChar(char c) => c is >= 'A' and <= 'Z' or >= '0' and <= '9' || ShortSpecials.Contains(c);

    /// <summary>The 11-byte short name if <paramref name="name"/> is already a valid upper-case 8.3 name, else null.</summary>
    public static byte[]? TryExactShortName(string name)
    {
        int dot = name.IndexOf('.');
        string stem = dot < 0 ? name : name[..dot];
        string ext = dot < 0 ? "" : name[(dot + 1)..];
        if (stem.Length is 0 or > 8 || ext.Length > 3 || (dot >= 0 && ext.Length == 0)) return null;
        if (!stem.All(IsShortChar) || !ext.All(IsShortChar)) return null;
        return Pack(stem, ext);
    }

    private static byte[] Pack(string stem, string ext)
    {
        var result = new byte[11];
        result.AsSpan().Fill((byte)' ');
        for (int i = 0; i < stem.Length; i++) result[i] = (byte)stem[i];
        for (int i = 0; i < ext.Length; i++) result[8 + i] = (byte)ext[i];
        return result;
    }

    /// <summary>
    /// Generates the 8.3 alias for a long name (the Windows/Linux scheme): upper-case, invalid characters become '_',
    /// and a "~N" tail is added when the conversion lost information or the plain alias is taken.
    /// </summary>
    public static Result<byte[]> GenerateAlias(string name, Func<byte[], bool> isTaken)
    {
        string upper = name.ToUpperInvariant();
        bool lossy = false;
        string trimmed = upper.Replace(" ", "");
        if (trimmed.Length != upper.Length) lossy = true;
        string withoutLeadingDots = trimmed.TrimStart('.');
        if (withoutLeadingDots.Length != trimmed.Length) lossy = true;

        int lastDot = withoutLeadingDots.LastIndexOf('.');
        string stemSource = lastDot < 0 ? withoutLeadingDots : withoutLeadingDots[..lastDot];
        string extSource = lastDot < 0 ? "" : withoutLeadingDots[(lastDot + 1)..];

        var stem = new StringBuilder();
        foreach (char c in stemSource)
        {
            if (c == '.') { lossy = true; continue; }
            if (IsShortChar(c)) stem.Append(c); else { stem.Append('_'); lossy = true; }
        }
        var ext = new StringBuilder();
        foreach (char c in extSource)
        {
            if (IsShortChar(c)) ext.Append(c); else { ext.Append('_'); lossy = true; }
        }
        if (stem.Length > 8) { lossy = true; stem.Length = 8; }
        if (ext.Length > 3) { lossy = true; ext.Length = 3; }
        if (stem.Length == 0) { stem.Append('_'); lossy = true; }

        string stemText = stem.ToString(), extText = ext.ToString();
        if (!lossy)
        {
            var plain = Pack(stemText, extText);
            if (!isTaken(plain)) return plain;
        }
        for (int n = 1; n < 1_000_000; n++)
        {
            string tail = "~" + n;
            string candidateStem = stemText[..Math.Min(stemText.Length, 8 - tail.Length)] + tail;
            var candidate = Pack(candidateStem, extText);
            if (!isTaken(candidate)) return candidate;
        }
        return Result<byte[]>.Fail(ErrorCode.NoSpace, "no unique short name left in the directory");
    }

    /// <summary>The checksum of an 11-byte short name stored in each of its LFN entries.</summary>
    public static byte Checksum(ReadOnlySpan<byte> shortName)
    {
        byte sum = 0;
        for (int i = 0; i < 11; i++) sum = (byte)(((sum & 1) << 7) + (sum >> 1) + shortName[i]);
        return sum;
    }

    /// <summary>Renders a raw short name as "NAME.EXT", honouring the NT lower-case flags (byte 12).</summary>
    public static string DisplayShortName(ReadOnlySpan<byte> entry)
    {
        byte flags = entry[12];
        var sb = new StringBuilder(12);
        int stemEnd = 8;
        while (stemEnd > 0 && entry[stemEnd - 1] == ' ') stemEnd--;
        for (int i = 0; i < stemEnd; i++)
        {
            byte b = i == 0 && entry[0] == 0x05 ? (byte)0xE5 : entry[i];
            char c = Decode(b);
            sb.Append((flags & 0x08) != 0 ? char.ToLowerInvariant(c) : c);
        }
        int extEnd = 11;
        while (extEnd > 8 && entry[extEnd - 1] == ' ') extEnd--;
        if (extEnd > 8)
        {
            sb.Append('.');
            for (int i = 8; i < extEnd; i++)
            {
                char c = Decode(entry[i]);
                sb.Append((flags & 0x10) != 0 ? char.ToLowerInvariant(c) : c);
            }
        }
        return sb.ToString();
    }

    private static char Decode(byte b) => b < 0x80 ? (char)b : Cp437High[b - 0x80];

    /// <summary>True for a name a lookup could reach: what garbage entries decode to is skipped instead.</summary>
    public static bool IsReachable(string name) =>
        name.Length is > 0 and <= MaxLongNameLength && name is not ("." or "..") && name.IndexOfAny(['/', '\0']) < 0;

    public static string ShortKey(ReadOnlySpan<byte> shortName) => Encoding.Latin1.GetString(shortName[..11]);
}
