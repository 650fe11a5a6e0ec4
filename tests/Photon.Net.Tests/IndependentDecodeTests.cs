using System.Collections.Concurrent;
using System.Security.Cryptography;
using PacketDotNet;
using PacketDotNet.Tcp;
using static Photon.Net.Tests.TwoStacks;

namespace Photon.Net.Tests;

/// <summary>
/// Every frame Photon puts on the wire is decoded by an independent implementation (PacketDotNet) and must be well
/// formed: valid IPv4 header checksums and lengths, valid TCP/UDP checksums, sane TCP options.
/// </summary>
public class IndependentDecodeTests
{
    [Fact]
    public async Task Frames_photon_sends_decode_cleanly_with_PacketDotNet()
    {
        await using var s = new TwoStacks(loss: 0.03, seed: 4, reorder: 0.03);
        s.A.Capture = new ConcurrentQueue<byte[]>();
        s.B.Capture = new ConcurrentQueue<byte[]>();

        Assert.True((await s.Left.PingAsync(Ip("10.9.0.2"), TimeSpan.FromSeconds(2), payloadSize: 5000)).IsOk);
        await using (var u = s.Left.Udp.Bind(0).Value)
            Assert.True((await u.SendToAsync(new IpEndpoint(Ip("10.9.0.2"), 9), new byte[300])).IsOk); // closed port: ICMP back
        await using var listener = s.Right.Tcp.Listen(7400).Value;
        var accept = listener.AcceptAsync();
        var client = (await s.Left.Tcp.ConnectAsync(new IpEndpoint(Ip("10.9.0.2"), 7400))).Value;
        var server = (await accept).Value;
        var data = RandomNumberGenerator.GetBytes(400_000);
        var read = StackTests.ReadAll(server);
        Assert.True((await client.SendAsync(data)).IsOk);
        await client.CloseAsync();
        Assert.Equal(data, await read.WaitAsync(TimeSpan.FromSeconds(30)));
        await server.CloseAsync();
        await client.Closed.WaitAsync(TimeSpan.FromSeconds(10));

        int tcp = 0, udp = 0, icmp = 0, arp = 0, fragments = 0, withSack = 0, withTimestamps = 0;
        foreach (var frame in s.A.Capture.Concat(s.B.Capture))
        {
            var eth = (EthernetPacket)Packet.ParsePacket(LinkLayers.Ethernet, frame);
            if (eth.Type == EthernetType.Arp) { arp++; Assert.NotNull(eth.Extract<ArpPacket>()); continue; }
            var ip = eth.Extract<IPv4Packet>();
            Assert.NotNull(ip);
            Assert.True(ip.ValidIPChecksum, "IPv4 header checksum");
            Assert.Equal(frame.Length - 14, ip.TotalLength);
            if (ip.FragmentOffset != 0 || (ip.FragmentFlags & 1) != 0) { fragments++; continue; } // transport checksum spans fragments
            switch (ip.Protocol)
            {
                case PacketDotNet.ProtocolType.Tcp:
                    var t = ip.Extract<TcpPacket>();
                    Assert.True(t.ValidTcpChecksum, "TCP checksum");
                    tcp++;
                    // PacketDotNet has no options list for a header without options: only a reset may go without
                    // timestamps (one answering a FIN retransmitted over the lossy wire after its connection is gone).
                    if (t.OptionsCollection is null) { Assert.True(t.Reset, "a segment without options that is not a reset: " + Convert.ToHexString(frame)); continue; }
                    if (t.OptionsCollection.Any(o => o.Kind == OptionTypes.SelectiveAcknowledgment)) withSack++;
                    if (t.OptionsCollection.Any(o => o.Kind == OptionTypes.Timestamp)) withTimestamps++;
                    break;
                case PacketDotNet.ProtocolType.Udp:
                    Assert.True(ip.Extract<UdpPacket>().ValidUdpChecksum, "UDP checksum");
                    udp++;
                    break;
                case PacketDotNet.ProtocolType.Icmp:
                    icmp++;
                    break;
                default:
                    Assert.Fail($"unexpected protocol {ip.Protocol}");
                    break;
            }
        }
        Assert.True(tcp > 200 && udp >= 1 && icmp >= 1 && arp >= 2 && fragments >= 4, $"tcp {tcp} udp {udp} icmp {icmp} arp {arp} frag {fragments}");
        Assert.True(withTimestamps > tcp / 2);
        Assert.True(withSack > 0, "the lossy wire made the receiver report SACK blocks");
    }
}
