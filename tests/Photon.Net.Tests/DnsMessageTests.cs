using Photon.Net.Dns;

namespace Photon.Net.Tests;

/// <summary>Issue #15, DNS wire format: answers are taken only for the question asked, CNAME chains are followed
/// within bounds, and every malformed answer (compression loops, pointers out of range, truncated records) is a typed
/// error, never an exception.</summary>
public sealed class DnsMessageTests
{
    private const ushort Id = 0x1234;

    /// <summary>A response to "www.example.org A" (the question at offset 12) followed by <paramref name="answers"/>.</summary>
    private static byte[] Response(int answerCount, byte[] answers, ushort flags = 0x8180, ushort id = Id, string question = "www.example.org", ushort qtype = 1)
    {
        var m = new List<byte> { (byte)(id >> 8), (byte)id, (byte)(flags >> 8), (byte)flags, 0, 1, (byte)(answerCount >> 8), (byte)answerCount, 0, 0, 0, 0 };
        Assert.True(DnsName.Write(question, m).IsOk);
        m.AddRange([(byte)(qtype >> 8), (byte)qtype, 0, 1]);
        m.AddRange(answers);
        return m.ToArray();
    }

    private static byte[] Record(byte[] name, ushort type, uint ttl, byte[] data) =>
        [.. name, (byte)(type >> 8), (byte)type, 0, 1, (byte)(ttl >> 24), (byte)(ttl >> 16), (byte)(ttl >> 8), (byte)ttl, (byte)(data.Length >> 8), (byte)data.Length, .. data];

    private static readonly byte[] ToQuestion = [0xC0, 12]; // a pointer to the question's name

    private static byte[] Name(string host)
    {
        var l = new List<byte>();
        Assert.True(DnsName.Write(host, l).IsOk);
        return l.ToArray();
    }

    [Fact]
    public void A_query_is_a_recursive_question_for_the_name_and_type()
    {
        var q = DnsMessage.Query(Id, "www.Example.org.", DnsType.Aaaa).Value;
        Assert.Equal(new byte[] { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, (byte)'w', (byte)'w', (byte)'w' }, q[..16]);
        Assert.Equal(new byte[] { 0, 28, 0, 1 }, q[^4..]);
        Assert.Equal(ErrorCode.InvalidName, DnsMessage.Query(Id, "bad name.org", DnsType.A).Code);
        Assert.Equal(ErrorCode.InvalidName, DnsMessage.Query(Id, "a..b", DnsType.A).Code);
        Assert.Equal(ErrorCode.InvalidName, DnsMessage.Query(Id, new string('a', 64) + ".org", DnsType.A).Code);
    }

    [Fact]
    public void A_cname_chain_is_followed_to_the_addresses_with_the_smallest_ttl()
    {
        var answers = Record(ToQuestion, 5, 300, Name("web.example.org"))
            .Concat(Record(Name("web.example.org"), 5, 60, Name("cdn.example.net")))
            .Concat(Record(Name("cdn.example.net"), 1, 120, [10, 0, 0, 7]))
            .Concat(Record(Name("cdn.example.net"), 1, 120, [10, 0, 0, 8]))
            .Concat(Record(Name("evil.example.com"), 1, 9999, [6, 6, 6, 6])) // off the chain: ignored
            .ToArray();
        var a = DnsMessage.ParseAnswer(Response(5, answers), Id, "WWW.example.org", DnsType.A).Value;
        Assert.Equal(new[] { new byte[] { 10, 0, 0, 7 }, new byte[] { 10, 0, 0, 8 } }, a.Addresses);
        Assert.Equal(60u, a.Ttl);
        Assert.Equal(new[] { "WWW.example.org", "web.example.org", "cdn.example.net" }, a.Chain);
    }

    [Fact]
    public void A_truncated_answer_says_so_so_the_resolver_retries_over_tcp() =>
        Assert.True(DnsMessage.ParseAnswer(Response(0, [], flags: 0x8380), Id, "www.example.org", DnsType.A).Value.Truncated);

    [Theory]
    [InlineData(0x8183, ErrorCode.NotFound)] // NXDOMAIN
    [InlineData(0x8182, ErrorCode.Unreachable)] // SERVFAIL
    public void Error_rcodes_are_typed(int flags, ErrorCode code) =>
        Assert.Equal(code, DnsMessage.ParseAnswer(Response(0, [], (ushort)flags), Id, "www.example.org", DnsType.A).Code);

    public static TheoryData<string, byte[]> Malformed()
    {
        var a = Record(ToQuestion, 1, 60, [1, 2, 3, 4]);
        return new()
        {
            { "wrong ID", Response(1, a, id: 0x4321) },
            { "not a response", Response(1, a, flags: 0x0100) },
            { "other question", Response(1, a, question: "www.example.com") },
            { "other type", Response(1, a, qtype: 28) },
            { "pointer to itself", Response(1, Record([0xC0, 33], 1, 60, [1, 2, 3, 4])) }, // offset 33 is the record's own name
            { "forward pointer", Response(1, Record([0xC0, 40], 1, 60, [1, 2, 3, 4])) },
            { "pointer out of range", Response(1, Record([0xFF, 0xFF], 1, 60, [1, 2, 3, 4])) },
            { "loop through two pointers", Response(1, [0xC0, 35, 0xC0, 33]) },
            { "truncated pointer", Response(1, [0xC0]) },
            { "label past the end", Response(1, [40, (byte)'a', (byte)'b']) },
            { "reserved label type", Response(1, Record([0x80, 1], 1, 60, [1, 2, 3, 4])) },
            { "record header cut", Response(1, a[..8]) },
            { "record data past the end", Response(1, a[..^2]) },
            { "A of three bytes", Response(1, Record(ToQuestion, 1, 60, [1, 2, 3])) },
            { "more answers than present", Response(3, a) },
            { "CNAME loop", Response(2, Record(ToQuestion, 5, 60, Name("b.org")).Concat(Record(Name("b.org"), 5, 60, Name("www.example.org"))).ToArray()) },
            { "CNAME data longer than its name", Response(1, Record(ToQuestion, 5, 60, [.. Name("b.org"), 0, 0])) },
            { "header only", new byte[] { 0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0 } },
            { "name longer than 255", Response(1, Record(Enumerable.Repeat(new byte[] { 63 }.Concat(Enumerable.Repeat((byte)'a', 63)), 5).SelectMany(x => x).Append((byte)0).ToArray(), 1, 60, [1, 2, 3, 4])) },
        };
    }

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_or_mismatched_answers_are_typed_errors(string what, byte[] message)
    {
        var r = DnsMessage.ParseAnswer(message, Id, "www.example.org", DnsType.A);
        Assert.False(r.IsOk, what);
        Assert.Equal(ErrorCode.Corrupted, r.Code);
    }

    [Fact]
    public void A_long_cname_chain_is_cut_off()
    {
        var answers = new List<byte>(Record(ToQuestion, 5, 60, Name("c0.org")));
        for (int i = 0; i < DnsMessage.MaxChain + 1; i++) answers.AddRange(Record(Name($"c{i}.org"), 5, 60, Name($"c{i + 1}.org")));
        Assert.Equal(ErrorCode.Corrupted, DnsMessage.ParseAnswer(Response(DnsMessage.MaxChain + 2, answers.ToArray()), Id, "www.example.org", DnsType.A).Code);
    }

    [Fact]
    public void Random_bytes_and_mutated_answers_never_throw()
    {
        var rng = new Random(15);
        var good = Response(1, Record(ToQuestion, 1, 60, [1, 2, 3, 4]));
        for (int i = 0; i < 50_000; i++)
        {
            var m = i % 2 == 0 ? good.ToArray() : new byte[rng.Next(0, 80)];
            if (i % 2 == 0) for (int k = rng.Next(1, 4); k > 0; k--) m[rng.Next(m.Length)] = (byte)rng.Next(256);
            else rng.NextBytes(m);
            var r = DnsMessage.ParseAnswer(m, Id, "www.example.org", DnsType.A);
            Assert.True(r.IsOk || r.Code is ErrorCode.Corrupted or ErrorCode.NotFound or ErrorCode.Unreachable, r.ToString());
        }
    }
}
