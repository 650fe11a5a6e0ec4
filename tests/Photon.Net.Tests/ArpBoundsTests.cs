using System.Collections.Concurrent;
using Photon.Net.Wire;
using static Photon.Net.Tests.StackTests;
using static Photon.Net.Tests.TwoStacks;

namespace Photon.Net.Tests;

/// <summary>
/// Issue #15, ARP under abuse: frames waiting for resolution are bounded (neighbours, frames per neighbour, bytes in
/// all; the oldest go first), a neighbour confirmed REACHABLE cannot be taken over by gratuitous or spoofed ARP
/// (Linux arp_accept=0 and its lock time), a gratuitous ARP creates no entry, and an address just assigned is announced.
/// </summary>
public sealed class ArpBoundsTests
{
    private static readonly byte[] LeftMac = [2, 0, 0, 0, 0, 1];

    private static byte[] Arp(ArpOperation op, byte[] senderMac, Ipv4Address senderIp, byte[] targetMac, Ipv4Address targetIp, byte[]? to = null)
    {
        var frame = new byte[EthernetFrame.HeaderLength + ArpPacket.Length];
        EthernetFrame.SetDestination(frame, to ?? (op == ArpOperation.Request ? Mac.Broadcast : targetMac));
        EthernetFrame.SetSource(frame, senderMac);
        EthernetFrame.SetEtherType(frame, EtherType.Arp);
        ArpPacket.Emit(EthernetFrame.PayloadOf(frame), op, senderMac, senderIp, targetMac, targetIp);
        return frame;
    }

    private static string MacOf(NetworkStack stack, string ip) => stack.ArpCache.Single(e => e.Address == Ip(ip)).Mac;

    [Fact]
    public async Task A_flood_of_sends_to_unresolvable_neighbours_stays_within_the_pending_limits_and_the_real_neighbour_still_answers()
    {
        var options = new NetworkStackOptions { ArpMaxPending = 32, ArpQueuePerNeighbour = 8, ArpPendingBytes = 64 * 1024 };
        await using var s = new TwoStacks(options: options);
        var nic = s.Left.Interfaces[0];
        var udp = s.Left.Udp.Bind(4000).Value;
        var peak = (Neighbours: 0, Frames: 0, Bytes: 0L);
        for (int round = 0; round < 20; round++)
            for (int host = 3; host < 253; host++)
            {
                await udp.SendToAsync(new IpEndpoint(Ip($"10.9.0.{host}"), 9), new byte[1000]);
                lock (s.Left.Gate)
                {
                    var now = nic.PendingResolutions;
                    peak = (Math.Max(peak.Neighbours, now.Neighbours), Math.Max(peak.Frames, now.Frames), Math.Max(peak.Bytes, now.Bytes));
                }
            }
        Assert.True(peak.Neighbours <= 32, $"{peak.Neighbours} neighbours pending");
        Assert.True(peak.Bytes <= 64 * 1024, $"{peak.Bytes} bytes parked");
        Assert.True(s.Left[Counter.ArpPendingEvicted] > 0);
        // The flood did not cost the real neighbour its resolution.
        var rtt = await s.Left.PingAsync(Ip("10.9.0.2"), TimeSpan.FromSeconds(5));
        Assert.True(rtt.IsOk, rtt.ToString());
        await udp.DisposeAsync();
    }

    [Fact]
    public async Task The_byte_budget_drops_the_oldest_frames_first()
    {
        var options = new NetworkStackOptions { ArpQueuePerNeighbour = 64, ArpPendingBytes = 8 * 1042 };
        await using var s = new TwoStacks(options: options);
        var nic = s.Left.Interfaces[0];
        var udp = s.Left.Udp.Bind(4001).Value;
        for (int i = 0; i < 40; i++) await udp.SendToAsync(new IpEndpoint(Ip("10.9.0.50"), 9), new byte[1000]); // 1,042-byte frames
        lock (s.Left.Gate)
        {
            var pending = nic.PendingResolutions;
            Assert.Equal(8, pending.Frames);
            Assert.True(pending.Bytes <= 8 * 1042);
        }
        Assert.Equal(32, s.Left[Counter.ArpPendingBytesDropped]);
        await udp.DisposeAsync();
    }

    [Fact]
    public async Task A_reachable_neighbour_is_not_taken_over_by_gratuitous_or_spoofed_arp()
    {
        // A reachable time no stall of a loaded host can outlast: every refusal below happens inside it.
        await using var s = new TwoStacks(options: new NetworkStackOptions { ArpReachableTime = TimeSpan.FromSeconds(60) });
        var nic = s.Left.Interfaces[0];
        Assert.True((await s.Left.PingAsync(Ip("10.9.0.2"), TimeSpan.FromSeconds(5))).IsOk); // resolved by a reply to us
        Assert.Equal("02:00:00:00:00:02", MacOf(s.Left, "10.9.0.2"));
        var attacker = Frames.StrangerMac;

        // Gratuitous request, gratuitous reply, and a spoofed reply addressed to us: none moves a REACHABLE entry.
        s.Left.InjectFrame(nic, Arp(ArpOperation.Request, attacker, Ip("10.9.0.2"), new byte[6], Ip("10.9.0.2")));
        s.Left.InjectFrame(nic, Arp(ArpOperation.Reply, attacker, Ip("10.9.0.2"), Mac.Broadcast, Ip("10.9.0.2")));
        s.Left.InjectFrame(nic, Arp(ArpOperation.Reply, attacker, Ip("10.9.0.2"), LeftMac, Ip("10.9.0.1")));
        Assert.Equal("02:00:00:00:00:02", MacOf(s.Left, "10.9.0.2"));
        Assert.Equal(3, s.Left[Counter.ArpOverrideRefused]);
        Assert.True((await s.Left.PingAsync(Ip("10.9.0.2"), TimeSpan.FromSeconds(5))).IsOk);

        // A gratuitous ARP for an address we never asked about creates nothing (arp_accept=0).
        s.Left.InjectFrame(nic, Arp(ArpOperation.Request, attacker, Ip("10.9.0.77"), new byte[6], Ip("10.9.0.77")));
        Assert.DoesNotContain(s.Left.ArpCache, e => e.Address == Ip("10.9.0.77"));
    }

    [Fact]
    public async Task A_neighbour_no_longer_reachable_is_learned_from_its_announcement_and_then_locked_to_it()
    {
        // A short reachable time, and a lock long enough that no stall between two injected frames outlasts it.
        var lockTime = TimeSpan.FromSeconds(3);
        await using var s = new TwoStacks(options: new NetworkStackOptions
        {
            ArpReachableTime = TimeSpan.FromMilliseconds(200), ArpLockTime = lockTime,
        });
        var nic = s.Left.Interfaces[0];
        Assert.True((await s.Left.PingAsync(Ip("10.9.0.2"), TimeSpan.FromSeconds(5))).IsOk);
        Assert.Equal("02:00:00:00:00:02", MacOf(s.Left, "10.9.0.2"));
        var attacker = Frames.StrangerMac;

        // Once the entry is neither REACHABLE nor locked, a host that really moved to a new MAC is learned from its
        // announcement, as on Linux (the wait only has to be long enough; a longer one changes nothing).
        await Task.Delay(lockTime + TimeSpan.FromMilliseconds(300));
        s.Left.InjectFrame(nic, Arp(ArpOperation.Request, attacker, Ip("10.9.0.2"), new byte[6], Ip("10.9.0.2")));
        Assert.Equal(Mac.Format(attacker), MacOf(s.Left, "10.9.0.2"));
        // And just after a change the first answer wins for the lock time: an immediate flip back is refused.
        s.Left.InjectFrame(nic, Arp(ArpOperation.Reply, [2, 0, 0, 0, 0, 2], Ip("10.9.0.2"), LeftMac, Ip("10.9.0.1")));
        Assert.Equal(Mac.Format(attacker), MacOf(s.Left, "10.9.0.2"));
    }

    [Fact]
    public async Task An_address_assigned_statically_or_by_configure_is_announced_with_gratuitous_arp()
    {
        var (a, b) = WireEnd.Pair();
        var sent = new ConcurrentQueue<byte[]>();
        a.Capture = sent;
        await using var stack = new NetworkStack(Timers, new NetworkStackOptions());
        var nic = stack.AddInterface(a, Ipv4Cidr.Parse("10.9.0.1/24").Value).Value;
        stack.Start();
        await WaitUntil(() => Announcements(sent, "10.9.0.1") >= 2, 6000);

        var other = stack.AddUnconfiguredInterface(b).Value;
        Assert.True(stack.Configure(other, Ipv4Cidr.Parse("10.8.0.5/24").Value, null).IsOk); // what a DHCP lease does
        Assert.True(stack[Counter.ArpAnnouncementsSent] >= 2);
        await WaitUntil(() => stack[Counter.ArpAnnouncementsSent] >= 4, 6000);
        Assert.Equal(2, Announcements(sent, "10.9.0.1")); // two announcements (RFC 5227 ANNOUNCE_NUM), then quiet
    }

    /// <summary>Gratuitous ARP requests for <paramref name="ip"/>: sender and target both the address, target MAC zero.</summary>
    private static int Announcements(ConcurrentQueue<byte[]> frames, string ip) => frames.Count(f =>
        EthernetFrame.TryParse(f, out var eth, out _) && eth.EtherType == EtherType.Arp
        && ArpPacket.TryParse(eth.Payload, out var arp, out _) && arp.Operation == ArpOperation.Request
        && arp.SenderIp == Ip(ip) && arp.TargetIp == Ip(ip));
}
