using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Photon.Kernel.Audit;

/// <summary>The on-disk format, shared by writer, verifier and query.</summary>
internal static class AuditLogFormat
{
    public static readonly byte[] Genesis = new byte[32];

    // Domain labels keep a head from being replayed as an anchor and vice versa.
    public const string HeadDomain = "head";
    public const string AnchorDomain = "anchor";

    public static byte[] Body(long seq, CapabilityAuditEvent e)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteNumber("seq", seq);
            w.WriteString("time", e.Time.UtcDateTime.ToString("O"));
            w.WriteString("action", e.Action.ToString());
            w.WriteString("subject", e.Subject);
            w.WriteString("ns", e.Namespace);
            w.WriteString("token", e.Token.ToString());
            w.WriteString("parent", e.Parent.ToString());
            w.WriteString("kind", e.ObjectKind.ToString());
            w.WriteString("label", e.ObjectLabel);
            w.WriteString("rights", e.Rights.ToString());
            w.WriteString("error", e.Error.ToString());
            w.WriteString("detail", e.Detail);
            w.WriteEndObject();
        }
        return ms.ToArray();
    }

    public static byte[] Hash(byte[]? key, byte[] prev, ReadOnlySpan<byte> body)
    {
        var input = new byte[prev.Length + body.Length];
        prev.CopyTo(input, 0);
        body.CopyTo(input.AsSpan(prev.Length));
        return key is null ? SHA256.HashData(input) : HMACSHA256.HashData(key, input);
    }

    public static byte[] Line(byte[] hash, byte[] prev, byte[] body) =>
        Encoding.ASCII.GetBytes($"{Convert.ToHexStringLower(hash)} {Convert.ToHexStringLower(prev)} ").Concat(body).Append((byte)'\n').ToArray();

    /// <summary>"count last-hash mac": the head (beside the log) and the anchor (kept elsewhere) share this form.</summary>
    public static byte[] Seal(byte[]? key, string domain, long count, byte[] last)
    {
        var text = $"{count} {Convert.ToHexStringLower(last)}";
        var mac = Hash(key, Encoding.ASCII.GetBytes(domain), Encoding.ASCII.GetBytes(text));
        return Encoding.ASCII.GetBytes($"{text} {Convert.ToHexStringLower(mac)}\n");
    }

    /// <summary>Parses and checks a sealed (count, last hash); null with <paramref name="why"/> when it is malformed or its
    /// MAC does not match (edited, or a different key).</summary>
    public static (long Count, byte[] Last)? Unseal(byte[]? key, string domain, byte[] data, out string why)
    {
        var parts = Encoding.ASCII.GetString(data).Trim().Split(' ');
        if (parts.Length != 3 || !long.TryParse(parts[0], out long count) || count < 0 || parts[1].Length != 64)
        {
            why = $"{domain} record is malformed";
            return null;
        }
        byte[] last;
        try { last = Convert.FromHexString(parts[1]); }
        catch (FormatException) { why = $"{domain} record is malformed"; return null; }
        var expect = Encoding.ASCII.GetString(Seal(key, domain, count, last)).Trim();
        if (!expect.Equals(string.Join(' ', parts), StringComparison.Ordinal))
        {
            why = $"{domain} record checksum does not match (edited, or a different key)";
            return null;
        }
        why = "";
        return (count, last);
    }
}
