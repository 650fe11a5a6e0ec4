using System.Buffers.Binary;
using Photon.Kernel.Drivers.Net;
using Photon.Kernel.Hal;

namespace Photon.Net.Tests;

/// <summary>The virtio_net_hdr a TAP (IFF_VNET_HDR) or an AF_PACKET socket (PACKET_VNET_HDR) puts before each received
/// frame, read as hostile input: whatever its fields say, a frame is either taken with a checksum state whose positions
/// lie inside it, or dropped with <see cref="ErrorCode.Corrupted"/>.</summary>
public class VirtioNetHostHeaderTests
{
    private const int MaxPlain = 1514;

    private static byte[] Header(byte flags = 0, byte gso = 0, int hdrLen = 0, int gsoSize = 0, int csumStart = 0, int csumOffset = 0)
    {
        var h = new byte[VirtioNetHeader.Size];
        h[0] = flags;
        h[1] = gso;
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(2), (ushort)hdrLen);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(4), (ushort)gsoSize);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(6), (ushort)csumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(8), (ushort)csumOffset);
        return h;
    }

    [Fact]
    public void A_tso_request_is_written_as_tcpv4_or_tcpv6_by_its_family_and_a_checksum_only_request_carries_no_gso_type()
    {
        var h = new byte[VirtioNetHeader.Size];
        VirtioNetHeader.Write(h, new TxOffload(54, 16, 1428, 86, Ipv6: true));
        Assert.Equal(Header(flags: 1, gso: 4, hdrLen: 86, gsoSize: 1428, csumStart: 54, csumOffset: 16), h);
        VirtioNetHeader.Write(h, new TxOffload(34, 16, 1448, 66));
        Assert.Equal(Header(flags: 1, gso: 1, hdrLen: 66, gsoSize: 1448, csumStart: 34, csumOffset: 16), h);
        VirtioNetHeader.Write(h, new TxOffload(54, 16, Ipv6: true)); // partial checksum, no segmentation: whatever the family
        Assert.Equal(Header(flags: 1, csumStart: 54, csumOffset: 16), h);
    }

    [Fact]
    public void A_coalesced_tcp_segment_with_a_partial_checksum_is_taken_with_its_checksum_position()
    {
        var r = VirtioNetHeader.ReadFromHost(Header(flags: 1, gso: 1, hdrLen: 66, gsoSize: 1448, csumStart: 34, csumOffset: 16), 65000, MaxPlain);
        Assert.True(r.IsOk, r.ToString());
        Assert.Equal(new RxChecksumInfo(RxChecksum.Partial, 34, 16), r.Value);
        Assert.True(r.Value.Verified);
    }

    [Fact]
    public void Data_valid_is_verified_and_no_flags_leave_the_check_to_the_stack()
    {
        var valid = VirtioNetHeader.ReadFromHost(Header(flags: 2, gso: 4 | 0x80, hdrLen: 86, gsoSize: 1428), 30000, MaxPlain); // TCPV6 with ECN
        Assert.Equal(RxChecksum.Valid, valid.Value.State);
        var plain = VirtioNetHeader.ReadFromHost(Header(), MaxPlain, MaxPlain);
        Assert.Equal(RxChecksum.Unverified, plain.Value.State);
        Assert.False(plain.Value.Verified);
    }

    [Theory]
    [InlineData(0, 1, 66, 0, 0, 0, 9000)]          // gso_size 0
    [InlineData(0, 1, 9001, 1448, 0, 0, 9000)]     // hdr_len past the frame
    [InlineData(0, 3, 42, 1472, 0, 0, 9000)]       // UDP fragmentation: not asked for
    [InlineData(0, 5, 42, 1472, 0, 0, 9000)]       // UDP_L4 (USO): not asked for
    [InlineData(0, 0x7f, 42, 1472, 0, 0, 9000)]    // no such type
    [InlineData(0, 0, 0, 0, 0, 0, MaxPlain + 1)]   // a plain frame longer than the MTU allows
    [InlineData(1, 0, 0, 0, 10, 6, 100)]           // checksum start inside the Ethernet header
    [InlineData(1, 0, 0, 0, 34, 65, 100)]          // checksum field past the frame's end
    [InlineData(1, 1, 66, 1448, 65535, 65535, 9000)] // both at their largest
    public void A_malformed_header_drops_the_frame_with_a_typed_error(byte flags, byte gso, int hdrLen, int gsoSize, int start, int offset, int frameLength)
    {
        var r = VirtioNetHeader.ReadFromHost(Header(flags, gso, hdrLen, gsoSize, start, offset), frameLength, MaxPlain);
        Assert.False(r.IsOk);
        Assert.Equal(ErrorCode.Corrupted, r.Code);
    }

    [Fact]
    public void Random_headers_never_throw_and_every_accepted_checksum_position_lies_inside_the_frame()
    {
        var rng = new Random(11);
        var h = new byte[VirtioNetHeader.Size];
        int accepted = 0, partial = 0;
        for (int i = 0; i < 200_000; i++)
        {
            rng.NextBytes(h);
            if (i % 2 == 0) h[1] = (byte)rng.Next(0, 6); // keep many inputs near the valid types
            if (i % 3 == 0) h[0] &= 3;
            int length = rng.Next(0, 70_000);
            var r = VirtioNetHeader.ReadFromHost(h, length, MaxPlain);
            if (!r.IsOk) { Assert.Equal(ErrorCode.Corrupted, r.Code); continue; }
            accepted++;
            if (r.Value.State != RxChecksum.Partial) continue;
            partial++;
            Assert.InRange(r.Value.Start, 14, length);
            Assert.True(r.Value.Start + r.Value.Offset + 2 <= length);
            // Finishing it in place then stays inside the frame.
            VirtioNetHeader.FinishChecksum(new byte[length], r.Value);
        }
        Assert.True(accepted > 1000 && partial > 100, $"{accepted} accepted, {partial} partial: the generator misses the valid space");
    }

    [Fact]
    public void The_virtio_driver_still_refuses_any_segmentation_type()
    {
        var r = VirtioNetHeader.ReadReceived(Header(gso: 1, hdrLen: 66, gsoSize: 1448), 9000, guestChecksum: true);
        Assert.Equal(ErrorCode.Corrupted, r.Code);
    }
}
