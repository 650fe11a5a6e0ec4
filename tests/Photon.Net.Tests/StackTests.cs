using System.Security.Cryptography;
using Photon.Net.Tcp;
using static Photon.Net.Tests.TwoStacks;

namespace Photon.Net.Tests;

public class StackTests
{
    [Fact]
    public async Task Two_stacks_resolve_each_other_and_ping()
    {
        await using var s = new TwoStacks();
        var rtt = await s.Left.PingAsync(Ip("10.9.0.2"), TimeSpan.FromSeconds(2));
        Assert.True(rtt.IsOk, rtt.ToString());
        Assert.Contains(s.Left.ArpCache, e => e.Address == Ip("10.9.0.2") && e.Mac == "02:00:00:00:00:02");
        Assert.Equal(1, s.Right[Counter.EchoRepliesSent]);
        Assert.Equal(ErrorCode.TimedOut, (await s.Left.PingAsync(Ip("10.9.0.77"), TimeSpan.FromMilliseconds(300))).Code);
        Assert.Equal(ErrorCode.Unreachable, (await s.Left.PingAsync(Ip("192.168.5.5"), TimeSpan.FromMilliseconds(300))).Code);
    }

    [Fact]
    public async Task Pings_survive_a_lossy_wire()
    {
        await using var s = new TwoStacks(loss: 0.3, seed: 5);
        int ok = 0;
        for (int i = 0; i < 20; i++) if ((await s.Left.PingAsync(Ip("10.9.0.2"), TimeSpan.FromMilliseconds(300))).IsOk) ok++;
        Assert.InRange(ok, 3, 19); // some lost, some through — and never a hang
    }

    [Fact]
    public async Task Large_pings_are_fragmented_and_reassembled()
    {
        await using var s = new TwoStacks();
        var rtt = await s.Left.PingAsync(Ip("10.9.0.2"), TimeSpan.FromSeconds(2), payloadSize: 8000);
        Assert.True(rtt.IsOk, rtt.ToString());
        Assert.True(s.Left[Counter.Fragmented] >= 6 && s.Right[Counter.Fragmented] >= 6);
        Assert.Equal(1, s.Right[Counter.Reassembled]);
        Assert.Equal(1, s.Left[Counter.Reassembled]);
    }

    [Fact]
    public async Task Overlapping_fragments_drop_the_datagram()
    {
        await using var s = new TwoStacks();
        var nic = s.Right.Interfaces[0];
        var echo = Frames.IcmpEcho(64);
        var src = Ip("10.9.0.1");
        var dst = Ip("10.9.0.2");
        var mac = nic.Device.MacAddress.ToArray();
        s.Right.InjectFrame(nic, Frames.Ipv4(mac, src, dst, 1, echo.AsSpan(0, 48), id: 77, more: true));
        s.Right.InjectFrame(nic, Frames.Ipv4(mac, src, dst, 1, echo.AsSpan(40), id: 77, fragOffset: 40)); // overlaps 40..48
        Assert.Equal(1, s.Right.Dropped(DropReason.OverlappingFragment));
        Assert.Equal(0, s.Right[Counter.Reassembled]);
        Assert.Equal(0, s.Right[Counter.EchoRepliesSent]);
        // The same datagram without overlap is answered.
        s.Right.InjectFrame(nic, Frames.Ipv4(mac, src, dst, 1, echo.AsSpan(0, 40), id: 78, more: true));
        s.Right.InjectFrame(nic, Frames.Ipv4(mac, src, dst, 1, echo.AsSpan(40), id: 78, fragOffset: 40));
        Assert.Equal(1, s.Right[Counter.Reassembled]);
        Assert.Equal(1, s.Right[Counter.EchoRepliesSent]);
    }

    [Fact]
    public async Task Reassembly_is_bounded_under_a_fragment_flood()
    {
        await using var s = new TwoStacks(options: new NetworkStackOptions { MaxReassemblies = 8, ReassemblyTimeout = TimeSpan.FromMilliseconds(200) });
        var nic = s.Right.Interfaces[0];
        var mac = nic.Device.MacAddress.ToArray();
        for (ushort id = 0; id < 100; id++)
            s.Right.InjectFrame(nic, Frames.Ipv4(mac, Ip("10.9.0.1"), Ip("10.9.0.2"), 1, new byte[64], id: id, more: true));
        // Never more than 8 in progress: each new datagram evicted the stalest one.
        Assert.Equal(8, s.Right.Ipv4.ReassembliesInProgress);
        Assert.Equal(92, s.Right.Dropped(DropReason.ReassemblyEvicted));
        await Task.Delay(600);
        Assert.Equal(8, s.Right.Dropped(DropReason.ReassemblyTimeout));
        Assert.Equal(0, s.Right.Ipv4.ReassemblyBytesHeld);
        Assert.True((await s.Left.PingAsync(Ip("10.9.0.2"), TimeSpan.FromSeconds(2), payloadSize: 3000)).IsOk);
    }

    [Fact]
    public async Task Udp_datagrams_cross_and_closed_ports_answer_unreachable()
    {
        await using var s = new TwoStacks();
        await using var server = s.Right.Udp.Bind(5353).Value;
        await using var client = s.Left.Udp.Bind(0).Value;
        Assert.Equal(ErrorCode.AddressInUse, s.Right.Udp.Bind(5353).Code);
        var big = RandomNumberGenerator.GetBytes(9000); // fragmented on the way
        Assert.True((await client.SendToAsync(new IpEndpoint(Ip("10.9.0.2"), 5353), big)).IsOk);
        var got = await server.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(got.IsOk);
        Assert.Equal(big, got.Value.Data);
        Assert.Equal(new IpEndpoint(Ip("10.9.0.1"), client.Port), got.Value.From);
        Assert.True((await server.SendToAsync(got.Value.From, "pong"u8.ToArray())).IsOk);
        Assert.Equal("pong"u8.ToArray(), (await client.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(5))).Value.Data);

        Assert.True((await client.SendToAsync(new IpEndpoint(Ip("10.9.0.2"), 9), new byte[10])).IsOk);
        await WaitUntil(() => s.Right.Dropped(DropReason.NoSocket) == 1);
        Assert.Equal(ErrorCode.InvalidArgument, (await client.SendToAsync(new IpEndpoint(Ip("10.9.0.2"), 9), new byte[70000])).Code);
    }

    internal static async Task WaitUntil(Func<bool> condition, int ms = 5000)
    {
        var until = DateTime.UtcNow.AddMilliseconds(ms);
        while (!condition())
        {
            if (DateTime.UtcNow > until) throw new TimeoutException("condition not met");
            await Task.Delay(10);
        }
    }

    [Fact]
    public void Addresses_parse_strictly()
    {
        Assert.Equal("10.0.0.255", Ip("10.0.0.255").ToString());
        foreach (var bad in new[] { "10.0.0", "10.0.0.256", "a.b.c.d", "1.2.3.4.5", "", "01234.1.1.1", " 1.2.3.4" })
            Assert.Equal(ErrorCode.InvalidArgument, Ipv4Address.Parse(bad).Code);
        Assert.True(Ipv4Cidr.Parse("10.9.0.0/24").Value.Contains(Ip("10.9.0.7")));
        Assert.False(Ipv4Cidr.Parse("10.9.0.0/24").Value.Contains(Ip("10.9.1.7")));
        Assert.True(Ipv4Cidr.Parse("0.0.0.0/0").Value.Contains(Ip("8.8.8.8")));
        foreach (var bad in new[] { "10.0.0.1", "10.0.0.1/33", "10.0.0.1/", "10.0.0.1/-1", "10.0.0.1/2x" })
            Assert.Equal(ErrorCode.InvalidArgument, Ipv4Cidr.Parse(bad).Code);
        Assert.Equal(new IpEndpoint(Ip("10.0.0.1"), 80), IpEndpoint.Parse("10.0.0.1:80").Value);
        foreach (var bad in new[] { "10.0.0.1", "10.0.0.1:0", "10.0.0.1:65536", "10.0.0.1:x" })
            Assert.Equal(ErrorCode.InvalidArgument, IpEndpoint.Parse(bad).Code);
    }

    [Fact]
    public void Routing_table_does_longest_prefix_match_then_metric()
    {
        var stack = new NetworkStack(Timers);
        var (a, _) = WireEnd.Pair();
        var c = new WireEnd("wire9", [2, 0, 0, 0, 0, 9]);
        var c2 = new WireEnd("wire2", [2, 0, 0, 0, 0, 3]);
        var eth0 = stack.AddInterface(a, Ipv4Cidr.Parse("10.1.0.2/24").Value).Value;
        var eth1 = stack.AddInterface(c2, Ipv4Cidr.Parse("10.2.0.2/16").Value).Value;
        Assert.Equal(ErrorCode.AlreadyExists, stack.AddInterface(a, Ipv4Cidr.Parse("10.3.0.2/24").Value).Code);
        Assert.Equal(ErrorCode.AddressInUse, stack.AddInterface(c, Ipv4Cidr.Parse("10.1.0.2/24").Value).Code);
        Assert.True(stack.Routes.AddDefault(Ip("10.1.0.1"), eth0).IsOk);
        Assert.Equal(ErrorCode.Unreachable, stack.Routes.AddDefault(Ip("172.16.0.1"), eth0).Code);
        Assert.True(stack.Routes.Add(new Route(Ipv4Cidr.Parse("10.2.7.0/24").Value, Ip("10.1.0.9"), eth0, 5)).IsOk);
        Assert.True(stack.Routes.Add(new Route(Ipv4Cidr.Parse("10.2.7.0/24").Value, Ip("10.2.0.9"), eth1, 1)).IsOk);

        Assert.Equal((eth1, Ip("10.2.0.9")), Hop(Ip("10.2.7.7")));      // /24 beats /16; metric 1 beats 5
        Assert.Equal((eth1, Ip("10.2.9.9")), Hop(Ip("10.2.9.9")));      // on-link /16
        Assert.Equal((eth0, Ip("10.1.0.5")), Hop(Ip("10.1.0.5")));      // on-link /24
        Assert.Equal((eth0, Ip("10.1.0.1")), Hop(Ip("8.8.8.8")));       // default gateway
        Assert.True(stack.Routes.Remove(Ipv4Cidr.Parse("0.0.0.0/0").Value).IsOk);
        Assert.Null(stack.Routes.Lookup(Ip("8.8.8.8")));
        Assert.Equal(ErrorCode.NotFound, stack.Routes.Remove(Ipv4Cidr.Parse("0.0.0.0/0").Value).Code);

        (NetInterface, Ipv4Address) Hop(Ipv4Address d) { var r = stack.Routes.Lookup(d)!.Value; return (r.Route.Interface, r.NextHop); }
    }

    [Fact]
    public async Task A_router_stack_forwards_between_two_subnets_by_its_routes()
    {
        // left (10.1.0.2) — router (10.1.0.1 | 10.2.0.1) — right (10.2.0.2); the ends reach each other via default gateways.
        var (l, r1) = WireEnd.Pair();
        var (r2, x) = WireEnd.Pair();
        r2 = new WireEnd("wire3", [2, 0, 0, 0, 0, 3]) { Peer = x };
        x.Peer = r2;
        var opt = new NetworkStackOptions { TcpMinRto = TimeSpan.FromMilliseconds(50) };
        await using var left = new NetworkStack(Timers, opt);
        await using var router = new NetworkStack(Timers, opt with { Forwarding = true });
        await using var right = new NetworkStack(Timers, opt);
        var ln = left.AddInterface(l, Ipv4Cidr.Parse("10.1.0.2/24").Value).Value;
        router.AddInterface(r1, Ipv4Cidr.Parse("10.1.0.1/24").Value).Unwrap();
        router.AddInterface(r2, Ipv4Cidr.Parse("10.2.0.1/24").Value).Unwrap();
        var rn = right.AddInterface(x, Ipv4Cidr.Parse("10.2.0.2/24").Value).Value;
        left.Routes.AddDefault(Ip("10.1.0.1"), ln).Unwrap();
        right.Routes.AddDefault(Ip("10.2.0.1"), rn).Unwrap();
        left.Start(); router.Start(); right.Start();

        Assert.True((await left.PingAsync(Ip("10.2.0.2"), TimeSpan.FromSeconds(3))).IsOk);
        await using var listener = right.Tcp.Listen(80).Value;
        var accept = listener.AcceptAsync();
        var conn = await left.Tcp.ConnectAsync(new IpEndpoint(Ip("10.2.0.2"), 80));
        Assert.True(conn.IsOk, conn.ToString());
        var server = (await accept).Value;
        Assert.Equal(Ip("10.1.0.2"), server.Remote.Address);
        Assert.True(router[Counter.Forwarded] >= 4);
    }

    [Theory]
    [InlineData(0.0, 0.0, 4_000_000, true)]
    [InlineData(0.05, 0.05, 1_000_000, true)]
    [InlineData(0.05, 0.05, 1_000_000, false)] // NewReno without SACK
    [InlineData(0.10, 0.20, 300_000, true)]
    [InlineData(0.10, 0.20, 300_000, false)]
    public async Task Tcp_transfers_are_exact_over_clean_and_lossy_reordering_wires(double loss, double reorder, int size, bool sack)
    {
        await using var s = new TwoStacks(loss, seed: 11, reorder: reorder, duplicate: loss / 2, sack: sack);
        await using var listener = s.Right.Tcp.Listen(7000).Value;
        var acceptTask = listener.AcceptAsync();
        var client = (await s.Left.Tcp.ConnectAsync(new IpEndpoint(Ip("10.9.0.2"), 7000))).Value;
        var server = (await acceptTask.WaitAsync(TimeSpan.FromSeconds(10))).Value;
        var data = RandomNumberGenerator.GetBytes(size);

        var receive = ReadAll(server);
        // Both ends read while they send, as applications do: a reader that waited for the peer's send to finish first
        // would deadlock once that send no longer fits in the two socket buffers (they are autotuned, not fixed).
        var receiveBack = ReadAll(client);
        var back = RandomNumberGenerator.GetBytes(size / 4);
        var sendBack = Task.Run(async () => { var r = await server.SendAsync(back); Assert.True(r.IsOk, $"{r} {server.Info} {client.Info}"); });
        var sent = await client.SendAsync(data);
        Assert.True(sent.IsOk, $"{sent} {client.Info} {s.Left.Statistics.Count}");
        Assert.True((await client.CloseAsync()).IsOk);
        var got = await receive.WaitAsync(TimeSpan.FromSeconds(60));
        await sendBack.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(got));
        await server.CloseAsync();
        var gotBack = await receiveBack.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(SHA256.HashData(back), SHA256.HashData(gotBack));
        // Closing at 10% loss without SACK may take a FIN several backed-off retransmissions (0.2 + 0.4 + … s): 10 s
        // was once not enough on a loaded host.
        await client.Closed.WaitAsync(TimeSpan.FromSeconds(60));
        await server.Closed.WaitAsync(TimeSpan.FromSeconds(60));
        if (loss > 0) Assert.True(s.Left[Counter.TcpRetransmits] + s.Right[Counter.TcpRetransmits] > 0);
        if (loss > 0 && sack) Assert.True(s.Left[Counter.TcpSackRetransmits] + s.Right[Counter.TcpSackRetransmits] > 0);
        if (!sack) Assert.Equal(0, s.Left[Counter.TcpSackRetransmits] + s.Right[Counter.TcpSackRetransmits]);
        // TIME_WAIT ends after 2 MSL and the connection leaves the table.
        await WaitUntil(() => s.Left.Tcp.Connections.Count == 0 && s.Right.Tcp.Connections.Count == 0, 60_000);
    }

    internal static async Task<byte[]> ReadAll(TcpConnection c)
    {
        var ms = new MemoryStream();
        var buf = new byte[65536];
        while (true)
        {
            var n = await c.ReceiveAsync(buf);
            Assert.True(n.IsOk, n.ToString());
            if (n.Value == 0) return ms.ToArray();
            ms.Write(buf, 0, n.Value);
        }
    }

    [Fact]
    public async Task Connecting_to_a_closed_port_is_refused_and_a_silent_host_times_out()
    {
        await using var s = new TwoStacks(options: new NetworkStackOptions { TcpInitialRto = TimeSpan.FromMilliseconds(50), TcpSynRetries = 2 });
        Assert.Equal(ErrorCode.ConnectionRefused, (await s.Left.Tcp.ConnectAsync(new IpEndpoint(Ip("10.9.0.2"), 81))).Code);
        Assert.Equal(1, s.Right[Counter.TcpResetsSent]);
        s.A.Loss = 1.0;
        Assert.Equal(ErrorCode.TimedOut, (await s.Left.Tcp.ConnectAsync(new IpEndpoint(Ip("10.9.0.2"), 81)).WaitAsync(TimeSpan.FromSeconds(10))).Code);
        Assert.Empty(s.Left.Tcp.Connections);
    }

    [Fact]
    public async Task A_peer_reset_fails_pending_reads_with_ConnectionReset()
    {
        await using var s = new TwoStacks();
        await using var listener = s.Right.Tcp.Listen(7001).Value;
        var accept = listener.AcceptAsync();
        var client = (await s.Left.Tcp.ConnectAsync(new IpEndpoint(Ip("10.9.0.2"), 7001))).Value;
        var server = (await accept).Value;
        var read = server.ReceiveAsync(new byte[10]);
        await client.AbortAsync();
        Assert.Equal(ErrorCode.ConnectionReset, (await read.WaitAsync(TimeSpan.FromSeconds(5))).Code);
        Assert.Equal(ErrorCode.ConnectionReset, (await client.SendAsync(new byte[1])).Code);
    }

    [Fact]
    public async Task A_syn_flood_is_bounded_and_real_clients_still_connect()
    {
        await using var s = new TwoStacks(options: new NetworkStackOptions { TcpMaxHalfOpen = 64 });
        await using var listener = s.Right.Tcp.Listen(8080).Value;
        var nic = s.Right.Interfaces[0];
        var mac = nic.Device.MacAddress.ToArray();
        var rng = new Random(7);
        for (int i = 0; i < 5000; i++)
        {
            var src = new Ipv4Address((uint)(0x0A090000 | rng.Next(3, 250) << 8 | rng.Next(1, 250))); // spoofed 10.9.x.y
            s.Right.InjectFrame(nic, Frames.Ipv4(mac, src, Ip("10.9.0.2"), 6,
                Frames.Tcp(src, Ip("10.9.0.2"), (ushort)rng.Next(1024, 65535), 8080, (uint)rng.Next(), 0, 0x02, 65535)));
        }
        Assert.True(listener.HalfOpen <= 64);
        Assert.True(s.Right[Counter.TcpSynCookiesSent] >= 5000 - 64);
        // The cache is still full of spoofed half-opens: the real client gets in through a SYN cookie.
        var accept = listener.AcceptAsync();
        var client = await s.Left.Tcp.ConnectAsync(new IpEndpoint(Ip("10.9.0.2"), 8080));
        Assert.True(client.IsOk, client.ToString());
        var served = await accept.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(served.IsOk);
        Assert.Equal(1, s.Right[Counter.TcpSynCookiesAccepted]);
    }

    [Fact]
    public async Task Out_of_window_and_blind_reset_segments_are_dropped_and_challenged()
    {
        await using var s = new TwoStacks();
        await using var listener = s.Right.Tcp.Listen(7002).Value;
        var accept = listener.AcceptAsync();
        var client = (await s.Left.Tcp.ConnectAsync(new IpEndpoint(Ip("10.9.0.2"), 7002))).Value;
        var server = (await accept).Value;
        var nic = s.Right.Interfaces[0];
        var mac = nic.Device.MacAddress.ToArray();
        uint farAway = 0x12345678;
        // Data far outside the window: dropped, counted, never delivered; a RST with a guessed sequence is challenged.
        s.Right.InjectFrame(nic, Frames.Ipv4(mac, Ip("10.9.0.1"), Ip("10.9.0.2"), 6,
            Frames.Tcp(Ip("10.9.0.1"), Ip("10.9.0.2"), client.Local.Port, 7002, farAway, 0, 0x18, 65535, "evil"u8)));
        s.Right.InjectFrame(nic, Frames.Ipv4(mac, Ip("10.9.0.1"), Ip("10.9.0.2"), 6,
            Frames.Tcp(Ip("10.9.0.1"), Ip("10.9.0.2"), client.Local.Port, 7002, farAway, 0, 0x04, 0)));
        Assert.True(s.Right.Dropped(DropReason.OutOfWindow) >= 2);
        Assert.Equal(TcpState.Established, server.State);
        Assert.True((await client.SendAsync("good"u8.ToArray())).IsOk);
        var buf = new byte[16];
        var n = await server.ReceiveAsync(buf).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("good", System.Text.Encoding.ASCII.GetString(buf, 0, n.Value));
    }

    [Fact]
    public async Task Listener_port_conflicts_and_backlog_limits_are_typed()
    {
        await using var s = new TwoStacks();
        await using var l = s.Right.Tcp.Listen(9000, backlog: 2).Value;
        Assert.Equal(ErrorCode.AddressInUse, s.Right.Tcp.Listen(9000).Code);
        Assert.Equal(ErrorCode.InvalidArgument, s.Right.Tcp.Listen(0).Code);
        var conns = new List<Result<TcpConnection>>();
        for (int i = 0; i < 4; i++) conns.Add(await s.Left.Tcp.ConnectAsync(new IpEndpoint(Ip("10.9.0.2"), 9000)));
        await WaitUntil(() => s.Right.Dropped(DropReason.AcceptQueueFull) == 2);
        Assert.Equal(2, l.PendingAccept);
        await l.DisposeAsync();
        Assert.Equal(ErrorCode.Closed, (await l.AcceptAsync()).Code);
    }

    [Fact]
    public async Task A_receiver_that_stops_reading_closes_the_window_and_zero_window_probes_resume_the_flow()
    {
        await using var s = new TwoStacks(options: new NetworkStackOptions
        {
            TcpReceiveBuffer = 16 * 1024, TcpSendBuffer = 32 * 1024, TcpMinRto = TimeSpan.FromMilliseconds(50), TcpMsl = TimeSpan.FromMilliseconds(200),
        });
        await using var listener = s.Right.Tcp.Listen(7100).Value;
        var accept = listener.AcceptAsync();
        var client = (await s.Left.Tcp.ConnectAsync(new IpEndpoint(Ip("10.9.0.2"), 7100))).Value;
        var server = (await accept).Value;
        var data = RandomNumberGenerator.GetBytes(200_000);
        var send = client.SendAsync(data);
        // Nobody reads: the receiver's 16 KiB fill up, its window closes and the sender waits (and probes).
        // (The last few bytes may stay unadvertised: a scaled window counts in units of 128 bytes.)
        await WaitUntil(() => server.Info.ReceiveQueue > 15 * 1024);
        var held = server.Info.ReceiveQueue;
        await Task.Delay(300);
        Assert.False(send.IsCompleted);
        Assert.Equal(held, server.Info.ReceiveQueue);
        var got = ReadAll(server);
        Assert.True((await send.WaitAsync(TimeSpan.FromSeconds(20))).IsOk);
        await client.CloseAsync();
        Assert.Equal(data, await got.WaitAsync(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public async Task Arp_entries_age_out_and_are_learned_again()
    {
        // A 3 s lifetime, not a few hundred ms: the entry must still be there when the check right after a ping runs,
        // and a loaded CI machine can stall a test thread for hundreds of ms (a 200 ms lifetime failed once at load ~55).
        await using var s = new TwoStacks(options: new NetworkStackOptions { ArpEntryLifetime = TimeSpan.FromSeconds(3) });
        Assert.True((await s.Left.PingAsync(Ip("10.9.0.2"), TimeSpan.FromSeconds(10))).IsOk);
        Assert.Contains(s.Left.ArpCache, e => e.Address == Ip("10.9.0.2"));
        await WaitUntil(() => s.Left.ArpCache.Count == 0, 60_000);
        Assert.True((await s.Left.PingAsync(Ip("10.9.0.2"), TimeSpan.FromSeconds(10))).IsOk);
        Assert.Contains(s.Left.ArpCache, e => e.Address == Ip("10.9.0.2"));
    }

    [Fact]
    public async Task Timestamps_give_rtt_samples_and_PAWS_drops_old_duplicates()
    {
        await using var s = new TwoStacks();
        await using var listener = s.Right.Tcp.Listen(7200).Value;
        var accept = listener.AcceptAsync();
        var client = (await s.Left.Tcp.ConnectAsync(new IpEndpoint(Ip("10.9.0.2"), 7200))).Value;
        var server = (await accept).Value;
        Assert.True((await client.SendAsync(new byte[100_000])).IsOk);
        var buf = new byte[200_000];
        int got = 0;
        while (got < 100_000) got += (await server.ReceiveAsync(buf.AsMemory(got))).Value;
        // Sampled (the wire is sub-millisecond, so SRTT may round to 0 ms): the timer left its 1 s initial value.
        Assert.True(client.Info.RetransmitTimeout < TimeSpan.FromSeconds(1), client.Info.ToString());

        // A segment that is in the window but carries a timestamp from long ago is an old duplicate: dropped, never delivered.
        var nic = s.Right.Interfaces[0];
        var seq = server.ReceiveNext.Value;
        var stale = Frames.Tcp(Ip("10.9.0.1"), Ip("10.9.0.2"), client.Local.Port, 7200, seq, server.SendUnacknowledged.Value, 0x18, 65535, "stale"u8,
            Frames.TimestampOption(1, 0));
        s.Right.InjectFrame(nic, Frames.Ipv4(nic.Device.MacAddress.ToArray(), Ip("10.9.0.1"), Ip("10.9.0.2"), 6, stale));
        Assert.Equal(1, s.Right.Dropped(DropReason.Paws));
        Assert.Equal(seq, server.ReceiveNext.Value);
        Assert.True((await client.SendAsync("fresh"u8.ToArray())).IsOk);
        var n = await server.ReceiveAsync(buf).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("fresh", System.Text.Encoding.ASCII.GetString(buf, 0, n.Value));
    }

    [Fact]
    public async Task A_flood_of_tiny_out_of_order_segments_is_bounded_and_the_connection_survives()
    {
        await using var s = new TwoStacks(options: new NetworkStackOptions { TcpTimestamps = false });
        await using var listener = s.Right.Tcp.Listen(7300).Value;
        var accept = listener.AcceptAsync();
        var client = (await s.Left.Tcp.ConnectAsync(new IpEndpoint(Ip("10.9.0.2"), 7300))).Value;
        var server = (await accept).Value;
        var nic = s.Right.Interfaces[0];
        var mac = nic.Device.MacAddress.ToArray();
        uint next = server.ReceiveNext.Value;
        for (uint i = 0; i < 3000; i++) // one byte at every other sequence number: all in the window, none in order
            s.Right.InjectFrame(nic, Frames.Ipv4(mac, Ip("10.9.0.1"), Ip("10.9.0.2"), 6,
                Frames.Tcp(Ip("10.9.0.1"), Ip("10.9.0.2"), client.Local.Port, 7300, next + 100_000 + 2 * i, server.SendUnacknowledged.Value, 0x10, 65535, "x"u8)));
        Assert.True(s.Right.Dropped(DropReason.OutOfOrderLimit) >= 3000 - 1024);
        // The client's own stream still arrives intact in front of the junk.
        Assert.True((await client.SendAsync("real data"u8.ToArray())).IsOk);
        var buf = new byte[64];
        var n = await server.ReceiveAsync(buf).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("real data", System.Text.Encoding.ASCII.GetString(buf, 0, n.Value));
    }

    [Fact]
    public async Task In_window_blind_resets_are_challenged_at_a_limited_rate_and_do_not_kill_the_connection()
    {
        await using var s = new TwoStacks();
        await using var listener = s.Right.Tcp.Listen(7500).Value;
        var accept = listener.AcceptAsync();
        var client = (await s.Left.Tcp.ConnectAsync(new IpEndpoint(Ip("10.9.0.2"), 7500))).Value;
        var server = (await accept).Value;
        var nic = s.Right.Interfaces[0];
        var mac = nic.Device.MacAddress.ToArray();
        for (uint i = 0; i < 50; i++) // RSTs inside the window but not at RCV.NXT: a blind guess, RFC 5961 §3
            s.Right.InjectFrame(nic, Frames.Ipv4(mac, Ip("10.9.0.1"), Ip("10.9.0.2"), 6,
                Frames.Tcp(Ip("10.9.0.1"), Ip("10.9.0.2"), client.Local.Port, 7500, server.ReceiveNext.Value + 1000 + i, 0, 0x04, 0)));
        Assert.Equal(10, s.Right[Counter.TcpChallengeAcks]);
        Assert.Equal(TcpState.Established, server.State);
        Assert.True((await client.SendAsync("still here"u8.ToArray())).IsOk);
        var buf = new byte[32];
        var n = await server.ReceiveAsync(buf).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("still here", System.Text.Encoding.ASCII.GetString(buf, 0, n.Value));
    }

    [Fact]
    public async Task Data_with_an_impossibly_old_acknowledgement_is_not_accepted()
    {
        await using var s = new TwoStacks();
        await using var listener = s.Right.Tcp.Listen(7600).Value;
        var accept = listener.AcceptAsync();
        var client = (await s.Left.Tcp.ConnectAsync(new IpEndpoint(Ip("10.9.0.2"), 7600))).Value;
        var server = (await accept).Value;
        var nic = s.Right.Interfaces[0];
        var next = server.ReceiveNext.Value;
        // In-window sequence number (a lucky guess) but an ACK far behind SND.UNA: RFC 5961 §5 drops it.
        s.Right.InjectFrame(nic, Frames.Ipv4(nic.Device.MacAddress.ToArray(), Ip("10.9.0.1"), Ip("10.9.0.2"), 6,
            Frames.Tcp(Ip("10.9.0.1"), Ip("10.9.0.2"), client.Local.Port, 7600, next, server.SendUnacknowledged.Value - 50_000_000, 0x18, 65535, "forged"u8)));
        Assert.Equal(next, server.ReceiveNext.Value);
        Assert.Equal(1, s.Right[Counter.TcpChallengeAcks]);
        Assert.True((await client.SendAsync("genuine"u8.ToArray())).IsOk);
        var buf = new byte[32];
        var n = await server.ReceiveAsync(buf).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("genuine", System.Text.Encoding.ASCII.GetString(buf, 0, n.Value));
    }
}
