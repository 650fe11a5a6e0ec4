using System.Buffers.Binary;
using System.Security.Cryptography;
using Photon.Kernel.Hal;
using Photon.Net.Wire;
using static Photon.Net.Tests.Frames6;
using static Photon.Net.Tests.StackTests;

namespace Photon.Net.Tests;

/// <summary>
/// A test NIC with checksum offload and TSO over both families: it does in software what the host does with a
/// virtio_net_hdr — finishes a partial checksum from csum_start (checking first that the stack's pseudo-header sum was
/// right for the whole segment), and cuts a TSO6 segment into MSS-sized packets, each with its own IPv6 payload length,
/// sequence number, flags and a checksum computed from scratch — then hands plain frames to the wire.
/// </summary>
internal sealed class SegmentingDevice(WireEnd inner) : INetworkDevice, INetworkOffloads
{
    public long LargeFramesSent, BadPartialChecksums, WrongFamily;

    public string Name => inner.Name;
    public ReadOnlyMemory<byte> MacAddress => inner.MacAddress;
    public int Mtu => inner.Mtu;
    public NetworkOffloads Offloads => NetworkOffloads.TcpChecksum | NetworkOffloads.TcpSegmentation | NetworkOffloads.Tcp6Segmentation;
    public int LargestReceivedFrame => inner.Mtu + 14;

    public async ValueTask SendAsync(ReadOnlyMemory<byte> frame, CancellationToken ct = default)
    {
        var request = OffloadedFrame.TryGet(frame);
        Assert.True(request.IsOk, request.ToString());
        var o = request.Value;
        var bytes = frame.ToArray();
        if (o.IsNone) { await inner.SendAsync(bytes, ct); return; }
        bool ipv6 = BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(12)) == 0x86DD;
        if (o.SegmentSize != 0 && o.Ipv6 != ipv6) { Interlocked.Increment(ref WrongFamily); return; }
        // The NIC's part of a partial checksum: the sum from csum_start (the field holds the pseudo-header sum), complemented.
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(o.ChecksumStart + o.ChecksumOffset), InternetChecksum.Compute(bytes.AsSpan(o.ChecksumStart)));
        if (ipv6 && !ChecksumValid(bytes)) Interlocked.Increment(ref BadPartialChecksums);
        if (o.SegmentSize == 0 || bytes.Length <= Mtu + 14) { await inner.SendAsync(bytes, ct); return; }
        Assert.True(ipv6, "only TSO6 is exercised here");
        Interlocked.Increment(ref LargeFramesSent);
        int h = o.HeaderLength, mss = o.SegmentSize, tcpAt = Ipv6Frame.TransportAt;
        byte flags = bytes[tcpAt + 13];
        uint seq = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(tcpAt + 4));
        for (int off = h; off < bytes.Length; off += mss)
        {
            int len = Math.Min(mss, bytes.Length - off);
            var piece = new byte[h + len];
            bytes.AsSpan(0, h).CopyTo(piece);
            bytes.AsSpan(off, len).CopyTo(piece.AsSpan(h));
            BinaryPrimitives.WriteUInt16BigEndian(piece.AsSpan(18), (ushort)(piece.Length - tcpAt));
            BinaryPrimitives.WriteUInt32BigEndian(piece.AsSpan(tcpAt + 4), seq + (uint)(off - h));
            bool last = off + len == bytes.Length;
            piece[tcpAt + 13] = last ? flags : (byte)(flags & ~0x09); // FIN and PSH only on the last
            BinaryPrimitives.WriteUInt16BigEndian(piece.AsSpan(tcpAt + 16), 0);
            var src = Ipv6Address.Read(piece.AsSpan(22)); var dst = Ipv6Address.Read(piece.AsSpan(38));
            BinaryPrimitives.WriteUInt16BigEndian(piece.AsSpan(tcpAt + 16), InternetChecksum.Transport(src, dst, 6, piece.AsSpan(tcpAt)));
            Assert.True(piece.Length <= Mtu + 14, $"a {piece.Length}-byte packet cut from a TSO6 segment exceeds the MTU");
            await inner.SendAsync(piece, ct);
        }
    }

    private static bool ChecksumValid(byte[] frame) =>
        InternetChecksum.Transport(Ipv6Address.Read(frame.AsSpan(22)), Ipv6Address.Read(frame.AsSpan(38)), 6, frame.AsSpan(Ipv6Frame.TransportAt)) == 0;

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken ct = default) => inner.ReceiveAsync(buffer, ct);
    public ValueTask DisposeAsync() => inner.DisposeAsync();
}

/// <summary>TCP over IPv6 with checksum offload and TSO6 (issue #15), in memory: the stack's 64 KiB IPv6 segments and
/// partial checksums checked by a NIC emulated in the test, and the NIC's word on a received checksum honoured for a
/// whole frame but never for a datagram reassembled from fragments (a hostile sender cannot launder a bad checksum).</summary>
public sealed class Tcp6OffloadTests
{
    private static readonly Ipv6Address LeftIp = Ip6("fd00:6::1"), RightIp = Ip6("fd00:6::2");
    private static readonly byte[] RightMac = [2, 0, 0, 0, 0, 2];

    [Fact]
    public async Task Tso6_segments_and_partial_checksums_are_cut_and_finished_by_the_nic_into_an_exact_stream()
    {
        var (a, b) = WireEnd.Pair();
        var nic = new SegmentingDevice(a);
        var options = new NetworkStackOptions { TcpMinRto = TimeSpan.FromMilliseconds(50), Ipv6RetransTimer = TimeSpan.FromMilliseconds(50) };
        await using var left = new NetworkStack(TwoStacks.Timers, options);
        await using var right = new NetworkStack(TwoStacks.Timers, options);
        var leftNic = left.AddInterface(nic, Ipv4Cidr.Parse("10.9.6.1/24").Value).Value;
        right.AddInterface(b, Ipv4Cidr.Parse("10.9.6.2/24").Value).Unwrap();
        Assert.Equal(nic.Offloads, leftNic.Offloads);
        left.Start();
        right.Start();
        left.AddIpv6Address(left.Interfaces[0], new Ipv6Cidr(LeftIp, 64)).Unwrap();
        right.AddIpv6Address(right.Interfaces[0], new Ipv6Cidr(RightIp, 64)).Unwrap();
        await WaitUntil(() => left.Ipv6Addresses.Concat(right.Ipv6Addresses).All(x => x.Address.State == Ipv6AddressState.Preferred), 30_000);

        await using var listener = right.Tcp.Listen(8086).Value;
        var accept = listener.AcceptAsync();
        var client = (await left.Tcp.ConnectAsync(new IpEndpoint(RightIp, 8086)).WaitAsync(TimeSpan.FromSeconds(30))).Value;
        var server = (await accept.WaitAsync(TimeSpan.FromSeconds(30))).Value;
        var data = RandomNumberGenerator.GetBytes(4 << 20);
        var send = Task.Run(async () =>
        {
            Assert.True((await client.SendAsync(data)).IsOk);
            await client.CloseAsync();
        });
        var got = await ReadAll(server).WaitAsync(TimeSpan.FromSeconds(60));
        await send;
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(got));
        Assert.True(nic.LargeFramesSent > 0, "no TSO6 segment over the MTU was sent");
        Assert.True(left[Counter.TcpSegmentationOffloads] > 0);
        Assert.Equal(0, left[Counter.TcpChecksumBytesSoftware]); // every TCP checksum left to the NIC
        Assert.Equal(0, nic.BadPartialChecksums);
        Assert.Equal(0, nic.WrongFamily);
        Assert.Equal(0, right.Dropped(DropReason.BadChecksum));
    }

    [Fact]
    public async Task The_nics_checksum_word_covers_a_whole_ipv6_frame_but_not_a_datagram_reassembled_from_fragments()
    {
        await using var s = new TwoStacks();
        var nic = s.Right.Interfaces[0];
        s.Right.AddIpv6Address(nic, new Ipv6Cidr(RightIp, 64)).Unwrap();
        await WaitUntil(() => s.Right.Ipv6Addresses.All(x => x.Address.State == Ipv6AddressState.Preferred), 30_000);
        await using var listener = s.Right.Tcp.Listen(8087).Value;
        var syn = TcpSegment(LeftIp, RightIp, 40000, 8087, 1000, 0, 0x02, 65535);
        syn[16] ^= 0x5A; // a wrong checksum

        // Unverified, it is dropped; with the device's word (DATA_VALID) a whole frame is taken as the device checked it.
        s.Right.InjectFrame(nic, Packet(RightMac, LeftIp, RightIp, 6, syn));
        Assert.Equal(1, s.Right.Dropped(DropReason.BadChecksum));
        long vouched = s.Right[Counter.TcpChecksumsVerifiedByNic];
        s.Right.InjectFrame(nic, Packet(RightMac, LeftIp, RightIp, 6, syn), checksumVerified: true);
        Assert.Equal(vouched + 1, s.Right[Counter.TcpChecksumsVerifiedByNic]);
        Assert.Equal(1, s.Right.Dropped(DropReason.BadChecksum));

        // The same segment in two fragments, each "vouched for": the word says nothing of the whole, so it is verified.
        var bad = TcpSegment(LeftIp, RightIp, 40001, 8087, 2000, 0, 0x02, 65535, new byte[64]);
        bad[16] ^= 0x5A;
        s.Right.InjectFrame(nic, Packet(RightMac, LeftIp, RightIp, 44, Fragment(6, 0, true, 77, bad.AsSpan(0, 48))), checksumVerified: true);
        s.Right.InjectFrame(nic, Packet(RightMac, LeftIp, RightIp, 44, Fragment(6, 48, false, 77, bad.AsSpan(48))), checksumVerified: true);
        Assert.Equal(2, s.Right.Dropped(DropReason.BadChecksum));
        Assert.Equal(vouched + 1, s.Right[Counter.TcpChecksumsVerifiedByNic]);
    }
}
