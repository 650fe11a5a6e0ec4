using System.Buffers.Binary;

namespace Photon.Net.Dns;

public enum DnsType : ushort { A = 1, Cname = 5, Aaaa = 28 }

/// <summary>One resource record of the answer section: A/AAAA carry an address, CNAME a name.</summary>
public sealed record DnsRecord(string Name, ushort Type, uint Ttl, byte[] Address, string? Target);

/// <summary>What an answer resolves to after following its CNAME chain: the addresses, the smallest TTL on the way,
/// the chain's names, and whether the server set TC (the answer must be fetched again over TCP).</summary>
public sealed record DnsAnswer(IReadOnlyList<byte[]> Addresses, uint Ttl, IReadOnlyList<string> Chain, bool Truncated);

/// <summary>
/// DNS queries and responses (RFC 1035 §4). <see cref="Query"/> builds a recursive query for one name and type;
/// <see cref="ParseAnswer"/> takes a response only if it is the answer to that query — response bit set, same ID,
/// standard query, exactly the same question — and only records on the CNAME chain from the question's name, so a
/// server (or an off-path spoofer who guessed an ID) cannot slip in addresses for other names. Every malformed form
/// (truncated header or record, bad compression, wrong address length, counts that overrun the message) is a
/// <see cref="ErrorCode.Corrupted"/> error, never an exception.
/// </summary>
public static class DnsMessage
{
    public const int HeaderLength = 12;
    public const int MaxChain = 8;
    private const ushort ClassIn = 1;

    /// <summary>A query with RD set, for <paramref name="host"/> and <paramref name="type"/>.</summary>
    public static Result<byte[]> Query(ushort id, string host, DnsType type)
    {
        var m = new List<byte>(64) { (byte)(id >> 8), (byte)id, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };
        var name = DnsName.Write(host, m);
        if (!name.IsOk) return name.Error;
        m.AddRange([(byte)((ushort)type >> 8), (byte)type, 0, (byte)ClassIn]);
        return m.ToArray();
    }

    public static Result<DnsAnswer> ParseAnswer(ReadOnlySpan<byte> message, ushort id, string host, DnsType type)
    {
        if (message.Length < HeaderLength) return Errors.Of(ErrorCode.Corrupted, "shorter than a DNS header");
        ushort flags = BinaryPrimitives.ReadUInt16BigEndian(message[2..]);
        if (BinaryPrimitives.ReadUInt16BigEndian(message) != id) return Errors.Of(ErrorCode.Corrupted, "answer ID does not match the query");
        if ((flags & 0x8000) == 0) return Errors.Of(ErrorCode.Corrupted, "not a response");
        if ((flags >> 11 & 0xF) != 0) return Errors.Of(ErrorCode.Corrupted, "not a standard query response");
        bool truncated = (flags & 0x0200) != 0;
        int rcode = flags & 0xF;
        int qd = BinaryPrimitives.ReadUInt16BigEndian(message[4..]);
        int an = BinaryPrimitives.ReadUInt16BigEndian(message[6..]);
        if (qd != 1) return Errors.Of(ErrorCode.Corrupted, $"{qd} questions in the answer, expected 1");
        var qname = DnsName.Read(message, HeaderLength, out int at);
        if (!qname.IsOk) return qname.Error;
        if (at + 4 > message.Length) return Errors.Of(ErrorCode.Corrupted, "truncated question");
        if (!DnsName.Same(qname.Value, host) || BinaryPrimitives.ReadUInt16BigEndian(message[at..]) != (ushort)type
            || BinaryPrimitives.ReadUInt16BigEndian(message[(at + 2)..]) != ClassIn)
            return Errors.Of(ErrorCode.Corrupted, "answer is for a different question");
        at += 4;
        if (rcode == 3) return Errors.Of(ErrorCode.NotFound, $"{host}: no such name (NXDOMAIN)");
        if (rcode != 0) return Errors.Of(ErrorCode.Unreachable, $"{host}: server answered rcode {rcode}");
        if (truncated) return new DnsAnswer([], 0, [], Truncated: true);

        var records = new List<DnsRecord>(Math.Min(an, 64));
        for (int i = 0; i < an; i++)
        {
            var r = ReadRecord(message, ref at);
            if (!r.IsOk) return r.Error;
            records.Add(r.Value);
        }
        return FollowChain(records, host, type);
    }

    private static Result<DnsRecord> ReadRecord(ReadOnlySpan<byte> message, ref int at)
    {
        var name = DnsName.Read(message, at, out int next);
        if (!name.IsOk) return name.Error;
        if (next + 10 > message.Length) return Errors.Of(ErrorCode.Corrupted, "truncated record header");
        ushort rtype = BinaryPrimitives.ReadUInt16BigEndian(message[next..]);
        uint ttl = BinaryPrimitives.ReadUInt32BigEndian(message[(next + 4)..]);
        int rdlength = BinaryPrimitives.ReadUInt16BigEndian(message[(next + 8)..]);
        int data = next + 10;
        if (data + rdlength > message.Length) return Errors.Of(ErrorCode.Corrupted, "record data runs past the end of the message");
        at = data + rdlength;
        // RFC 2181 §8: a TTL with the top bit set is treated as zero.
        if (ttl > int.MaxValue) ttl = 0;
        if (rtype == (ushort)DnsType.A || rtype == (ushort)DnsType.Aaaa)
        {
            int want = rtype == (ushort)DnsType.A ? 4 : 16;
            if (rdlength != want) return Errors.Of(ErrorCode.Corrupted, $"address record of {rdlength} bytes, expected {want}");
            return new DnsRecord(name.Value, rtype, ttl, message.Slice(data, rdlength).ToArray(), null);
        }
        if (rtype == (ushort)DnsType.Cname)
        {
            var target = DnsName.Read(message, data, out int end);
            if (!target.IsOk) return target.Error;
            if (end != data + rdlength) return Errors.Of(ErrorCode.Corrupted, "CNAME data length does not match its name");
            return new DnsRecord(name.Value, rtype, ttl, [], target.Value);
        }
        return new DnsRecord(name.Value, rtype, ttl, [], null); // other types are skipped
    }

    /// <summary>From the question's name along CNAMEs (at most <see cref="MaxChain"/>, no loops) to the addresses of
    /// the last name; records for names off the chain are ignored.</summary>
    private static Result<DnsAnswer> FollowChain(List<DnsRecord> records, string host, DnsType type)
    {
        var chain = new List<string> { host.TrimEnd('.') };
        uint ttl = uint.MaxValue;
        var current = host;
        for (int hop = 0; ; hop++)
        {
            var cname = records.FirstOrDefault(r => r.Type == (ushort)DnsType.Cname && DnsName.Same(r.Name, current));
            if (cname is null) break;
            if (hop >= MaxChain) return Errors.Of(ErrorCode.Corrupted, $"CNAME chain longer than {MaxChain}");
            if (chain.Any(n => DnsName.Same(n, cname.Target!))) return Errors.Of(ErrorCode.Corrupted, "CNAME loop");
            ttl = Math.Min(ttl, cname.Ttl);
            current = cname.Target!;
            chain.Add(current);
        }
        var addresses = records.Where(r => r.Type == (ushort)type && DnsName.Same(r.Name, current)).ToList();
        foreach (var a in addresses) ttl = Math.Min(ttl, a.Ttl);
        return new DnsAnswer(addresses.Select(a => a.Address).ToList(), addresses.Count == 0 && ttl == uint.MaxValue ? 0 : ttl, chain, false);
    }
}
