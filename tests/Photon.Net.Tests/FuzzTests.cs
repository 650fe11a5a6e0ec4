using System.Buffers.Binary;
using static Photon.Net.Tests.TwoStacks;

namespace Photon.Net.Tests;

/// <summary>Random and mutated frames of every protocol the stack parses: nothing throws, every frame is counted, and
/// the stack still works afterwards.</summary>
public class FuzzTests
{
    [Fact]
    public async Task Random_and_mutated_frames_are_dropped_and_counted_never_thrown()
    {
        await using var s = new TwoStacks();
        await using var listener = s.Right.Tcp.Listen(80).Value;
        await using var udp = s.Right.Udp.Bind(53).Value;
        var nic = s.Right.Interfaces[0];
        var mac = nic.Device.MacAddress.ToArray();
        var a = Ip("10.9.0.1");
        var b = Ip("10.9.0.2");
        byte[][] seeds =
        [
            Frames.Ipv4(mac, a, b, 1, Frames.IcmpEcho(32)),
            Frames.Ipv4(mac, a, b, 6, Frames.Tcp(a, b, 40000, 80, 1000, 0, 0x02, 65535)),
            Frames.Ipv4(mac, a, b, 6, Frames.Tcp(a, b, 40000, 80, 1001, 5, 0x18, 65535, "GET / HTTP/1.0\r\n\r\n"u8)),
            Frames.Ipv4(mac, a, b, 17, Udp(a, b, 1234, 53, "query"u8)),
            Frames.Ipv4(mac, a, b, 1, Frames.IcmpEcho(64).AsSpan(0, 40), id: 9, more: true),
            Frames.Ipv4(mac, a, b, 1, Frames.IcmpEcho(64).AsSpan(40), id: 9, fragOffset: 40),
            Arp(mac, Ip("10.9.0.77"), b), // not the peer's address: a spoofed ARP for it would (correctly) redirect replies
        ];
        var rng = new Random(3);
        long before = nic.FramesReceived;
        const int rounds = 30_000;
        for (int i = 0; i < rounds; i++)
        {
            byte[] frame;
            var seed = seeds[rng.Next(seeds.Length)];
            switch (rng.Next(5))
            {
                case 0: frame = new byte[rng.Next(0, 120)]; rng.NextBytes(frame); if (frame.Length > 6) mac.CopyTo(frame, 0); break;
                case 1: frame = seed[..rng.Next(0, seed.Length)]; break;
                case 2: // a length field lies
                    frame = (byte[])seed.Clone();
                    BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(16), (ushort)rng.Next(0, 65536));
                    break;
                default:
                    frame = (byte[])seed.Clone();
                    for (int k = 0; k < 1 + rng.Next(4); k++) frame[rng.Next(6, frame.Length)] ^= (byte)(1 << rng.Next(8));
                    break;
            }
            s.Right.InjectFrame(nic, frame);
        }
        Assert.True(nic.FramesReceived - before >= rounds); // plus any answers the other stack sent back meanwhile
        foreach (var reason in new[] { DropReason.Truncated, DropReason.BadChecksum, DropReason.BadLength })
            Assert.True(s.Right.Dropped(reason) > 0, $"{reason} never counted");
        // Still a working stack.
        Assert.True((await s.Left.PingAsync(b, TimeSpan.FromSeconds(2))).IsOk);
        var conn = await s.Left.Tcp.ConnectAsync(new IpEndpoint(b, 80));
        Assert.True(conn.IsOk, conn.ToString());
    }

    private static byte[] Udp(Ipv4Address src, Ipv4Address dst, ushort sport, ushort dport, ReadOnlySpan<byte> data)
    {
        var u = new byte[8 + data.Length];
        BinaryPrimitives.WriteUInt16BigEndian(u, sport);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(2), dport);
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(4), (ushort)u.Length);
        data.CopyTo(u.AsSpan(8));
        BinaryPrimitives.WriteUInt16BigEndian(u.AsSpan(6), InternetChecksum.Transport(src, dst, 17, u));
        return u;
    }

    private static byte[] Arp(byte[] mac, Ipv4Address sender, Ipv4Address target)
    {
        var f = new byte[42];
        mac.CopyTo(f, 0);
        Frames.StrangerMac.CopyTo(f, 6);
        f[12] = 8; f[13] = 6;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), 1);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 0x0800);
        f[18] = 6; f[19] = 4; f[21] = 1;
        Frames.StrangerMac.CopyTo(f, 22);
        sender.Write(f.AsSpan(28));
        target.Write(f.AsSpan(38));
        return f;
    }
}
