using System.Buffers.Binary;
using Photon.Net.Dhcp;
using static Photon.Net.Tests.TwoStacks;

namespace Photon.Net.Tests.Dhcp;

/// <summary>Issue #15, DHCPv4 wire format: the client's messages carry what RFC 2131 requires of each, and a server's
/// reply is taken only for this client and transaction, with every option bounded and checked; malformed replies are
/// Corrupted errors, never exceptions. Lease phases follow T1, T2 and the lease time.</summary>
public sealed class DhcpMessageTests
{
    private const uint Xid = 0x1234abcd;
    private static readonly byte[] Mac = [2, 0, 0, 0, 0, 1];

    private static byte[] U32(uint v) { var b = new byte[4]; BinaryPrimitives.WriteUInt32BigEndian(b, v); return b; }
    private static byte[] Addr(string a) { var b = new byte[4]; Ip(a).Write(b); return b; }
    private static (byte, byte[]) Opt(byte code, params byte[][] parts) => (code, parts.SelectMany(p => p).ToArray());

    /// <summary>A BOOTREPLY for <see cref="Xid"/>/<see cref="Mac"/> offering 10.0.0.50 with <paramref name="options"/>.</summary>
    private static byte[] Reply(IEnumerable<(byte Code, byte[] Data)> options, string yours = "10.0.0.50", uint xid = Xid, byte[]? mac = null, bool end = true, uint cookie = 0x63825363)
    {
        var m = new byte[240];
        m[0] = 2; m[1] = 1; m[2] = 6;
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(4), xid);
        Addr(yours).CopyTo(m, 16);
        (mac ?? Mac).CopyTo(m, 28);
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(236), cookie);
        var o = new List<byte>(m);
        foreach (var (code, data) in options) o.AddRange([code, (byte)data.Length, .. data]);
        if (end) o.Add(255);
        return o.ToArray();
    }

    private static readonly (byte, byte[])[] Ack =
    [
        Opt(53, [5]), Opt(54, Addr("10.0.0.1")), Opt(51, U32(3600)), Opt(1, Addr("255.255.255.0")), Opt(3, Addr("10.0.0.1")),
        Opt(6, Addr("10.0.0.1"), Addr("10.0.0.2"), Addr("10.0.0.3"), Addr("10.0.0.4")),
    ];

    [Fact]
    public void A_discover_is_a_broadcast_BOOTREQUEST_with_the_cookie_the_client_id_and_the_options_asked_for()
    {
        var d = DhcpMessage.Discover(Xid, Mac).Value;
        Assert.Equal(1, d[0]);
        Assert.Equal(Xid, BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(4)));
        Assert.Equal(0x8000, BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(10))); // broadcast flag: no address yet
        Assert.Equal(Mac, d[28..34]);
        Assert.Equal(0x63825363u, BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(236)));
        Assert.Equal(new byte[] { 53, 1, 1 }, d[240..243]);
        Assert.Equal(255, d[^1]);
        Assert.Equal(ErrorCode.InvalidArgument, DhcpMessage.Discover(Xid, [1, 2, 3]).Code);

        var select = DhcpMessage.RequestSelecting(Xid, Mac, Ip("10.0.0.50"), Ip("10.0.0.1")).Value;
        Assert.Equal(new byte[] { 53, 1, 3, 50, 4, 10, 0, 0, 50, 54, 4, 10, 0, 0, 1 }, select[240..255]);
        var renew = DhcpMessage.RequestRenewing(Xid, Mac, Ip("10.0.0.50")).Value;
        Assert.Equal(Addr("10.0.0.50"), renew[12..16]); // ciaddr, and no broadcast flag: it can take unicast
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(renew.AsSpan(10)));
        Assert.Equal(new byte[] { 53, 1, 3, 61 }, renew[240..244]); // neither requested address nor server id
    }

    [Fact]
    public void An_ack_gives_address_prefix_router_at_most_three_DNS_servers_and_the_default_T1_T2()
    {
        var r = DhcpMessage.ParseReply(Reply(Ack), Xid, Mac);
        Assert.True(r.IsOk, r.ToString());
        var a = r.Value;
        Assert.Equal(DhcpMessageType.Ack, a.Type);
        Assert.Equal(Ip("10.0.0.50"), a.YourAddress);
        Assert.Equal(Ip("10.0.0.1"), a.ServerId);
        Assert.Equal(24, a.PrefixLength);
        Assert.Equal(Ip("10.0.0.1"), a.Router);
        Assert.Equal([Ip("10.0.0.1"), Ip("10.0.0.2"), Ip("10.0.0.3")], a.DnsServers);
        Assert.Equal(TimeSpan.FromSeconds(3600), a.LeaseTime);
        Assert.Equal(TimeSpan.FromSeconds(1800), a.RenewTime);
        Assert.Equal(TimeSpan.FromSeconds(3150), a.RebindTime);

        var timed = DhcpMessage.ParseReply(Reply([.. Ack, Opt(58, U32(100)), Opt(59, U32(200))]), Xid, Mac).Value;
        Assert.Equal(TimeSpan.FromSeconds(100), timed.RenewTime);
        Assert.Equal(TimeSpan.FromSeconds(200), timed.RebindTime);
        var disordered = DhcpMessage.ParseReply(Reply([.. Ack, Opt(58, U32(3000)), Opt(59, U32(200))]), Xid, Mac).Value;
        Assert.Equal(TimeSpan.FromSeconds(1800), disordered.RenewTime); // T1 > T2: the defaults instead
        var offLink = DhcpMessage.ParseReply(Reply([.. Ack[..4], Opt(3, Addr("192.168.9.1"))]), Xid, Mac).Value;
        Assert.Null(offLink.Router); // a router outside the subnet cannot be a next hop
    }

    public static TheoryData<string, byte[]> Malformed() => new()
    {
        { "shorter than the fixed part", Reply(Ack)[..200] },
        { "other transaction", Reply(Ack, xid: 7) },
        { "other hardware address", Reply(Ack, mac: [2, 0, 0, 0, 0, 9]) },
        { "no magic cookie", Reply(Ack, cookie: 0x01020304) },
        { "no end option", Reply(Ack, end: false) },
        { "option past the end", [.. Reply(Ack, end: false), 6, 200, 10, 0, 0, 1] },
        { "option with no length", [.. Reply(Ack, end: false), 6] },
        { "non-contiguous mask", Reply([.. Ack[..3], Opt(1, Addr("255.0.255.0"))]) },
        { "a /32 mask", Reply([.. Ack[..3], Opt(1, Addr("255.255.255.255"))]) },
        { "mask of 3 bytes", Reply([.. Ack[..3], Opt(1, [255, 255, 255])]) },
        { "no server identifier", Reply([Ack[0], Ack[2]]) },
        { "no lease time", Reply([Ack[0], Ack[1]]) },
        { "zero lease time", Reply([Ack[0], Ack[1], Opt(51, U32(0))]) },
        { "no message type", Reply(Ack[1..]) },
        { "a DISCOVER", Reply([Opt(53, [1]), .. Ack[1..]]) },
        { "message type 9", Reply([Opt(53, [9]), .. Ack[1..]]) },
        { "offered 0.0.0.0", Reply(Ack, yours: "0.0.0.0") },
        { "offered multicast", Reply(Ack, yours: "224.0.0.1") },
        { "offered loopback", Reply(Ack, yours: "127.0.0.1") },
        { "DNS option of 5 bytes", Reply([.. Ack[..5], Opt(6, [10, 0, 0, 1, 9])]) },
        { "router option empty", Reply([.. Ack[..4], Opt(3, [])]) },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_or_foreign_replies_are_Corrupted(string what, byte[] message)
    {
        var r = DhcpMessage.ParseReply(message, Xid, Mac);
        Assert.True(r.Code == ErrorCode.Corrupted, $"{what}: {r}");
    }

    [Fact]
    public void A_NAK_needs_only_its_type_and_server()
    {
        var r = DhcpMessage.ParseReply(Reply([Opt(53, [6]), Opt(54, Addr("10.0.0.1"))], yours: "0.0.0.0"), Xid, Mac);
        Assert.True(r.IsOk && r.Value.Type == DhcpMessageType.Nak, r.ToString());
    }

    [Fact]
    public void Random_bytes_and_mutated_replies_never_throw()
    {
        var rng = new Random(15);
        var good = Reply(Ack);
        for (int i = 0; i < 20_000; i++)
        {
            byte[] m = i % 2 == 0 ? new byte[rng.Next(0, 600)] : (byte[])good.Clone();
            if (i % 2 == 0) rng.NextBytes(m);
            else for (int k = rng.Next(1, 8); k > 0; k--) m[rng.Next(228, m.Length)] = (byte)rng.Next(256);
            var r = DhcpMessage.ParseReply(m, Xid, Mac);
            Assert.True(r.IsOk || r.Code == ErrorCode.Corrupted);
            if (r.IsOk) Assert.True(r.Value.DnsServers.Count <= DhcpMessage.MaxDnsServers);
        }
    }

    [Fact]
    public void A_lease_is_bound_then_renewing_after_T1_rebinding_after_T2_and_expired_at_the_lease_time()
    {
        var ack = DhcpMessage.ParseReply(Reply([.. Ack, Opt(58, U32(100)), Opt(59, U32(200))]), Xid, Mac).Value;
        var start = TimeSpan.FromMinutes(5);
        var lease = new DhcpLease(ack, start);
        Assert.Equal(DhcpLeasePhase.Bound, lease.PhaseAt(start + TimeSpan.FromSeconds(99)));
        Assert.Equal(start + TimeSpan.FromSeconds(100), lease.NextEventAt(start));
        Assert.Equal(DhcpLeasePhase.Renewing, lease.PhaseAt(start + TimeSpan.FromSeconds(100)));
        Assert.Equal(DhcpLeasePhase.Rebinding, lease.PhaseAt(start + TimeSpan.FromSeconds(200)));
        Assert.Equal(start + TimeSpan.FromSeconds(3600), lease.NextEventAt(start + TimeSpan.FromSeconds(200)));
        Assert.Equal(DhcpLeasePhase.Expired, lease.PhaseAt(start + TimeSpan.FromSeconds(3600)));
        Assert.Equal(new Ipv4Cidr(Ip("10.0.0.50"), 24), lease.Address);

        var forever = new DhcpLease(DhcpMessage.ParseReply(Reply([.. Ack[..2], Opt(51, U32(uint.MaxValue))]), Xid, Mac).Value, start);
        Assert.Equal(DhcpLeasePhase.Bound, forever.PhaseAt(start + TimeSpan.FromDays(10_000)));
        Assert.Null(forever.NextEventAt(start));
    }
}
