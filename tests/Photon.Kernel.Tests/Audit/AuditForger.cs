using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Photon.Kernel.Tests.Audit;

/// <summary>
/// What an attacker who can write the log's files (but does not have the key) does: drop the records they dislike,
/// renumber the rest, recompute the chain and the head from the public format. <paramref name="key"/> is the attacker's
/// guess (null: plain SHA-256).
/// </summary>
internal static partial class AuditForger
{
    public static void Rechain(string logPath, Func<string, bool> drop, byte[]? key = null)
    {
        var lines = File.ReadAllText(logPath).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var prev = new byte[32];
        var sb = new StringBuilder();
        long seq = 0;
        foreach (var line in lines)
        {
            var body = line[130..];
            if (drop(body)) continue;
            body = SeqField().Replace(body, $"{{\"seq\":{seq}", 1);
            var hash = Mac(key, prev, Encoding.UTF8.GetBytes(body));
            sb.Append(Convert.ToHexStringLower(hash)).Append(' ').Append(Convert.ToHexStringLower(prev)).Append(' ').Append(body).Append('\n');
            prev = hash;
            seq++;
        }
        File.WriteAllText(logPath, sb.ToString());
        File.WriteAllBytes(logPath + ".head", Seal(key, "head", seq, prev));
    }

    public static byte[] Seal(byte[]? key, string domain, long count, byte[] last)
    {
        var text = $"{count} {Convert.ToHexStringLower(last)}";
        return Encoding.ASCII.GetBytes($"{text} {Convert.ToHexStringLower(Mac(key, Encoding.ASCII.GetBytes(domain), Encoding.ASCII.GetBytes(text)))}\n");
    }

    private static byte[] Mac(byte[]? key, byte[] prev, byte[] body)
    {
        var input = prev.Concat(body).ToArray();
        return key is null ? SHA256.HashData(input) : HMACSHA256.HashData(key, input);
    }

    [GeneratedRegex("^\\{\"seq\":\\d+")]
    private static partial Regex SeqField();
}
