using Photon.Net.Tcp;
using Photon.Net.Wire;
using static Photon.Net.Tests.Frames6;
using static Photon.Net.Tests.StackTests;

namespace Photon.Net.Tests;

/// <summary>TCP over IPv6 between two stacks on the in-memory wire, and hostile IPv6 segments injected at one of them:
/// dual-stack listeners, the IPv6 MSS and path MTU, SYN cookies, RFC 5961 resets, martian sources, closed-port resets.</summary>
[Collection(AllocationMeasurements.Name)]
public sealed class TcpOverIpv6Tests
{
    private static readonly Ipv6Address LeftIp = Ip6("fd00::1"), RightIp = Ip6("fd00::2");
    private static readonly byte[] RightMac = [2, 0, 0, 0, 0, 2];

    private static async Task<TwoStacks> Dual(NetworkStackOptions? options = null)
    {
        var s = new TwoStacks(options: options ?? new NetworkStackOptions
        {
            TcpMinRto = TimeSpan.FromMilliseconds(50), TcpMsl = TimeSpan.FromMilliseconds(200), Ipv6RetransTimer = TimeSpan.FromMilliseconds(50),
        });
        s.Left.AddIpv6Address(s.Left.Interfaces[0], new Ipv6Cidr(LeftIp, 64)).Unwrap();
        s.Right.AddIpv6Address(s.Right.Interfaces[0], new Ipv6Cidr(RightIp, 64)).Unwrap();
        await WaitUntil(() => s.Left.Ipv6Addresses.Concat(s.Right.Ipv6Addresses).All(a => a.Address.State == Ipv6AddressState.Preferred));
        return s;
    }

    private static void Inject(TwoStacks s, Ipv6Address src, byte[] tcp, Ipv6Address? dst = null) =>
        s.Right.InjectFrame(s.Right.Interfaces[0], Packet(RightMac, src, dst ?? RightIp, 6, tcp));

    private static async Task<(TcpConnection Client, TcpConnection Server, TcpListener Listener)> Connect(TwoStacks s, ushort port)
    {
        var listener = s.Right.Tcp.Listen(port).Value;
        var accept = listener.AcceptAsync();
        var client = await s.Left.Tcp.ConnectAsync(new IpEndpoint(RightIp, port)).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(client.IsOk, client.ToString());
        var server = await accept.WaitAsync(TimeSpan.FromSeconds(5));
        return (client.Value, server.Value, listener);
    }

    [Fact]
    public async Task A_listener_accepts_ipv6_and_ipv4_on_one_port_and_carries_data_both_ways()
    {
        await using var s = await Dual();
        var (client, server, listener) = await Connect(s, 8080);
        await using var _ = listener;
        Assert.Equal(new IpEndpoint(RightIp, 8080), client.Remote);
        Assert.Equal(new IpEndpoint(LeftIp, client.Local.Port), server.Remote);
        // 1500-byte link: 1440 bytes of payload per segment (40 of IPv6 header, 20 of TCP), less the timestamp option.
        Assert.Equal(1500 - 40 - 20 - (s.Right.Options.TcpTimestamps ? 12 : 0), server.SendMss);
        var data = new byte[200_000];
        new Random(5).NextBytes(data);
        var send = client.SendAsync(data);
        var got = new byte[data.Length];
        for (int read = 0; read < got.Length;)
        {
            var n = await server.ReceiveAsync(got.AsMemory(read)).WaitAsync(TimeSpan.FromSeconds(10));
            Assert.True(n.IsOk && n.Value > 0, n.ToString());
            read += n.Value;
        }
        Assert.True((await send).IsOk);
        Assert.Equal(data, got);
        Assert.True((await server.SendAsync("back over v6"u8.ToArray())).IsOk);
        var buf = new byte[32];
        var m = await client.ReceiveAsync(buf).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("back over v6", System.Text.Encoding.ASCII.GetString(buf, 0, m.Value));
        // The same listener takes an IPv4 client too: one port, both families.
        var accept4 = listener.AcceptAsync();
        var client4 = await s.Left.Tcp.ConnectAsync(new IpEndpoint(TwoStacks.Ip("10.9.0.2"), 8080)).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(client4.IsOk, client4.ToString());
        var server4 = await accept4.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(IpFamily.V4, server4.Value.Remote.Address.Family);
        Assert.Equal(2, s.Right.Tcp.Connections.Count);
    }

    [Fact]
    public async Task A_validated_packet_too_big_lowers_the_mss_of_the_connections_to_that_peer()
    {
        await using var s = await Dual();
        var (client, server, listener) = await Connect(s, 8081);
        await using var _ = listener;
        int before = server.SendMss;
        // A Packet Too Big quoting a segment the server sent (from its address): the path to Left is 1280 bytes.
        var quote = Packet(RightMac, RightIp, LeftIp, 6, TcpSegment(RightIp, LeftIp, 8081, client.Local.Port, 1, 1, 0x10, 100, new byte[1000]))[14..];
        var mtu = new byte[4 + quote.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(mtu, 1280);
        quote.CopyTo(mtu, 4);
        s.Right.InjectFrame(s.Right.Interfaces[0], Packet(RightMac, Ip6("fd00::99"), RightIp, 58, Icmp(Ip6("fd00::99"), RightIp, 2, 0, mtu)));
        Assert.Equal(1280 - 40 - 20 - (s.Right.Options.TcpTimestamps ? 12 : 0), server.SendMss);
        Assert.True(server.SendMss < before);
        // A forged one quoting a packet that is not from us changes nothing.
        var stranger = Ip6("fd00::55");
        var forged = Packet(RightMac, stranger, RightIp, 6, TcpSegment(stranger, RightIp, 1, 2, 1, 1, 0x10, 100, new byte[1000]))[14..];
        var mtu2 = new byte[4 + forged.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(mtu2, 1280);
        forged.CopyTo(mtu2, 4);
        int clientBefore = client.SendMss;
        s.Left.InjectFrame(s.Left.Interfaces[0], Packet([2, 0, 0, 0, 0, 1], Ip6("fd00::99"), LeftIp, 58, Icmp(Ip6("fd00::99"), LeftIp, 2, 0, mtu2)));
        Assert.Equal(clientBefore, client.SendMss);
        // Data still flows at the smaller size.
        var data = new byte[20_000];
        Assert.True((await server.SendAsync(data)).IsOk);
        var got = 0;
        var buf = new byte[4096];
        while (got < data.Length) got += (await client.ReceiveAsync(buf).WaitAsync(TimeSpan.FromSeconds(5))).Value;
    }

    [Fact]
    public async Task A_syn_flood_over_ipv6_hits_the_same_cache_and_cookie_bounds()
    {
        await using var s = await Dual(new NetworkStackOptions { TcpMaxHalfOpen = 64 });
        await using var listener = s.Right.Tcp.Listen(8080).Value;
        var rng = new Random(17);
        const int flood = 10_000;
        var frames = new byte[flood][];
        for (int i = 0; i < flood; i++)
        {
            // Spoofed on-link sources from all over the /64 (every one a new four-tuple and a new cookie hash).
            var src = new Ipv6Address(RightIp.High, (ulong)rng.NextInt64(0x100, long.MaxValue));
            frames[i] = Packet(RightMac, src, RightIp, 6, TcpSegment(src, RightIp, (ushort)rng.Next(1024, 65535), 8080, (uint)rng.Next(), 0, 0x02, 65535));
        }
        for (int i = 0; i < 64; i++) s.Right.InjectFrame(s.Right.Interfaces[0], frames[i]);
        long retainedBefore = GC.GetTotalMemory(forceFullCollection: true);
        for (int i = 64; i < flood; i++) s.Right.InjectFrame(s.Right.Interfaces[0], frames[i]);
        long retained = GC.GetTotalMemory(forceFullCollection: true) - retainedBefore;
        Assert.Equal(64, listener.HalfOpen);
        Assert.Equal(flood - 64, s.Right[Counter.TcpSynCookiesSent]);
        // The SYN-ACKs wait for neighbour resolution of the spoofed sources: that queue is bounded too (256 entries, 8
        // packets each), so what stays is a few hundred kilobytes, not a connection per SYN.
        Assert.True(retained < 4 * 1024 * 1024, $"{retained} bytes retained after the flood");
        Assert.True(Ipv6StackTests.Locked(s.Right, () => s.Right.Interfaces[0].Ipv6.Neighbours.Entries.Count) <= 256);
    }

    [Fact]
    public async Task A_cookie_handshake_over_ipv6_hashes_the_whole_address()
    {
        await using var s = await Dual(new NetworkStackOptions { TcpMaxHalfOpen = 1 });
        await using var listener = s.Right.Tcp.Listen(8080).Value;
        var attacker = Ip6("fd00::77");
        Inject(s, attacker, TcpSegment(attacker, RightIp, 3000, 8080, 1000, 0, 0x02, 65535)); // fills the one-entry cache
        var accept = listener.AcceptAsync();
        var client = await s.Left.Tcp.ConnectAsync(new IpEndpoint(RightIp, 8080)).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(client.IsOk, client.ToString());
        Assert.True((await accept.WaitAsync(TimeSpan.FromSeconds(5))).IsOk);
        Assert.Equal(1, s.Right[Counter.TcpSynCookiesAccepted]);
        // The same ACK from an address that differs only in the high 64 bits is not a valid cookie.
        var other = new Ipv6Address(Ip6("fd01::").High, LeftIp.Low);
        for (uint guess = 0; guess < 200; guess++)
            Inject(s, other, TcpSegment(other, RightIp, client.Value.Local.Port, 8080, 1, guess * 0x01000000 + 1, 0x10, 65535));
        Assert.Equal(1, s.Right[Counter.TcpSynCookiesAccepted]);
    }

    [Fact]
    public async Task Blind_resets_over_ipv6_are_challenged_and_do_not_kill_the_connection()
    {
        await using var s = await Dual();
        var (client, server, listener) = await Connect(s, 7500);
        await using var _ = listener;
        for (uint i = 0; i < 50; i++) // in the window but not at RCV.NXT (RFC 5961 §3): challenge ACKs, rate-limited
            Inject(s, LeftIp, TcpSegment(LeftIp, RightIp, client.Local.Port, 7500, server.ReceiveNext.Value + 1000 + i, 0, 0x04, 0));
        for (uint i = 0; i < 50; i++) // outside the window: dropped silently
            Inject(s, LeftIp, TcpSegment(LeftIp, RightIp, client.Local.Port, 7500, server.ReceiveNext.Value + 0x4000_0000 + i, 0, 0x04, 0));
        Assert.Equal(10, s.Right[Counter.TcpChallengeAcks]);
        Assert.Equal(TcpState.Established, server.State);
        Assert.True((await client.SendAsync("still here"u8.ToArray())).IsOk);
        var buf = new byte[32];
        var n = await server.ReceiveAsync(buf).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("still here", System.Text.Encoding.ASCII.GetString(buf, 0, n.Value));
        // The exact RST resets it.
        Inject(s, LeftIp, TcpSegment(LeftIp, RightIp, client.Local.Port, 7500, server.ReceiveNext.Value, 0, 0x04, 0));
        Assert.NotEqual(TcpState.Established, server.State);
    }

    [Fact]
    public async Task Martian_ipv6_sources_and_bad_checksums_never_reach_a_listener()
    {
        await using var s = await Dual();
        await using var listener = s.Right.Tcp.Listen(8080).Value;
        long martians = s.Right.Dropped(DropReason.MartianSource);
        foreach (var src in new[] { Ipv6Address.Unspecified, Ipv6Address.Loopback, Ip6("ff02::1"), RightIp, Ip6("::ffff:10.9.0.1") })
            Inject(s, src, TcpSegment(src, RightIp, 4000, 8080, 1, 0, 0x02, 65535));
        Assert.Equal(martians + 5, s.Right.Dropped(DropReason.MartianSource));
        // A SYN to a multicast group we are in is not a connection either.
        Inject(s, LeftIp, TcpSegment(LeftIp, Ipv6Address.AllNodes, 4000, 8080, 1, 0, 0x02, 65535), Ipv6Address.AllNodes);
        var bad = TcpSegment(LeftIp, RightIp, 4001, 8080, 1, 0, 0x02, 65535);
        bad[16] ^= 0xFF;
        Inject(s, LeftIp, bad);
        Assert.Equal(1, s.Right.Dropped(DropReason.BadChecksum));
        Assert.Equal(0, listener.HalfOpen);
        Assert.Equal(0, s.Right[Counter.TcpPassiveOpens]);
    }

    [Fact]
    public async Task Closed_ports_answer_ipv6_syns_with_resets_at_a_limited_rate()
    {
        await using var s = await Dual();
        for (ushort p = 0; p < 40; p++) Inject(s, LeftIp, TcpSegment(LeftIp, RightIp, 5000, (ushort)(9000 + p), 1, 0, 0x02, 65535));
        // A burst of 6 per source, then one a second (a slow run may earn one or two more).
        long sent = s.Right[Counter.TcpResetsSent];
        Assert.InRange(sent, s.Right.Options.IcmpErrorDestinationBurst, s.Right.Options.IcmpErrorDestinationBurst + 2);
        Assert.Equal(40 - sent, s.Right[Counter.TcpResetsRateLimited]);
        // A real client still learns the port is closed.
        await using var fresh = await Dual();
        var refused = await fresh.Left.Tcp.ConnectAsync(new IpEndpoint(RightIp, 9999)).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(ErrorCode.ConnectionRefused, refused.Error.Code);
    }

    [Fact]
    public async Task Connect_refuses_addresses_that_are_not_unicast_peers()
    {
        await using var s = await Dual();
        foreach (var bad in new IpAddress[] { Ipv6Address.Unspecified, Ipv6Address.AllNodes, Ip6("::ffff:10.9.0.2") })
            Assert.Equal(ErrorCode.InvalidArgument, (await s.Left.Tcp.ConnectAsync(new IpEndpoint(bad, 80))).Error.Code);
        Assert.Equal(ErrorCode.Unreachable, (await s.Left.Tcp.ConnectAsync(new IpEndpoint(Ip6("2001:db8::1"), 80))).Error.Code);
    }
}
