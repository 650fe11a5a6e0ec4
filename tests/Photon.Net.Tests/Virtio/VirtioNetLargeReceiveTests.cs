using System.Buffers.Binary;
using System.Security.Cryptography;
using Photon.Kernel.Drivers.Net;
using Photon.Kernel.Hal.Host;
using Photon.Net.Tcp;

namespace Photon.Net.Tests.Virtio;

/// <summary>Issue #17: virtio-net GUEST_TSO4 (<see cref="VirtioNetOptions.LargeReceive"/>). A host that passes TCP
/// segments of up to 64 KiB on (left's TSO frames leave its model whole, as Linux's tap and GRO hand them to QEMU)
/// reaches the receiving stack in one 64 KiB buffer each — far fewer frames through the ring — with every byte right;
/// without the option the driver does not take the feature and the host cuts the segments. Segmentation types never
/// negotiated, or a segment whose checksum the device did not account for, cost the frame (counted); the copying
/// receive path drops a frame longer than its caller's buffer instead of cutting it.</summary>
public sealed class VirtioNetLargeReceiveTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly HostTimers Timers = new(new HostClock());
    private static readonly byte[] MacA = [0x52, 0x54, 0x00, 0x12, 0x34, 0x76], MacB = [0x52, 0x54, 0x00, 0x12, 0x34, 0x77];
    private const int HeaderSize = 12, CsumStart = 14 + 20;

    /// <summary>B offers GUEST_TSO4 (as QEMU's virtio-net on a tap does); <paramref name="largeReceive"/> is B's option;
    /// A's model passes its TSO frames to B whole.</summary>
    private static async Task<VirtioNetCable> Cable(bool largeReceive)
    {
        var p = await VirtioNetCable.OpenAsync(MacA, MacB, "0000:00:0a.0", "0000:00:0b.0", queueSize: 64,
            b => b.OfferedFeatures |= VirtioNetModel.GuestTso4, new VirtioNetOptions(QueueSize: 64, LargeReceive: largeReceive));
        p.A.TransmittedSegment = p.B.InjectSegment;
        return p;
    }

    private static async Task Transfer(VirtioNetCable p, int bytes)
    {
        var (client, server, listener) = await p.ConnectAsync(7200);
        await using var _ = listener;
        var data = RandomNumberGenerator.GetBytes(bytes);
        var received = StackTests.ReadAll(server);
        Assert.True((await client.SendAsync(data).WaitAsync(Timeout)).IsOk);
        Assert.True((await client.CloseAsync().WaitAsync(Timeout)).IsOk);
        Assert.Equal(data, await received.WaitAsync(Timeout));
    }

    [Fact]
    public async Task With_large_receive_the_hosts_64_KiB_segments_arrive_whole_and_every_byte_is_right()
    {
        const int bytes = 2 << 20;
        await using var p = await Cable(largeReceive: true);
        Assert.NotEqual(0UL, p.DevB.Features & VirtioNetModel.GuestTso4);
        await Transfer(p, bytes);
        var rx = p.DevB.Stats.Rx;
        Assert.True(p.B.SegmentsDeliveredWhole > 0, "no segment reached the driver whole");
        Assert.Equal(p.B.SegmentsDeliveredWhole, rx.LargeFrames);
        Assert.True(rx.LargestFrame > 1514 && rx.LargestFrame <= 14 + 65535, $"largest frame {rx.LargestFrame}");
        // MSS-sized frames would be at least bytes / 1460 = 1436 (plus ACKs); whole segments are a fraction of that.
        Assert.True(rx.Frames < bytes / 1460 / 2, $"{rx.Frames} frames through the ring for {bytes} bytes");
        Assert.Equal(0, p.B.SegmentsCut);
        Assert.Equal(0, rx.BadHeaders);
        Assert.Equal(0, p.Right.Dropped(DropReason.BadChecksum));
    }

    [Fact]
    public async Task Without_large_receive_the_driver_refuses_GUEST_TSO4_and_the_host_cuts_its_segments()
    {
        await using var p = await Cable(largeReceive: false);
        Assert.Equal(0UL, p.DevB.Features & VirtioNetModel.GuestTso4);
        await Transfer(p, 512 * 1024);
        Assert.True(p.B.SegmentsCut > 0, "the host had no large segment to cut");
        Assert.Equal(0, p.B.SegmentsDeliveredWhole);
        Assert.Equal(0, p.DevB.Stats.Rx.LargeFrames);
    }

    private static byte[] Header(byte flags, byte gsoType)
    {
        var h = new byte[HeaderSize];
        h[0] = flags;
        h[1] = gsoType;
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(6), CsumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(8), 16);
        return h;
    }

    public static TheoryData<string, byte, byte> HostileHeaders => new()
    {
        { "TCPV4 segment with neither NEEDS_CSUM nor DATA_VALID", 0, 1 },
        { "gso_type UDP never negotiated", 1, 3 },
        { "gso_type TCPV6 never negotiated", 1, 4 },
        { "TCPV4 with the ECN bit (GUEST_ECN never negotiated)", 1, 0x81 },
    };

    [Theory]
    [MemberData(nameof(HostileHeaders))]
    public async Task With_large_receive_a_header_outside_the_contract_costs_the_frame_and_the_connection_recovers(string what, byte flags, byte gso)
    {
        await using var p = await Cable(largeReceive: true);
        int hostile = 0;
        p.B.ReceiveHeader = f =>
        {
            bool data = f.Length > CsumStart + 20 && f[23] == 6 && f.Length - CsumStart - (f[CsumStart + 12] >> 4) * 4 > 0;
            if (!data || hostile >= 4) return null;
            hostile++;
            return Header(flags, gso);
        };
        p.A.TransmittedSegment = null; // MSS-sized frames, so ReceiveHeader sees each one
        await Transfer(p, 64 * 1024);
        Assert.True(hostile == 4, what);
        Assert.Equal(4, p.DevB.Stats.Rx.BadHeaders);
    }

    [Fact]
    public async Task The_copying_receive_path_drops_a_segment_longer_than_the_callers_buffer_instead_of_cutting_it()
    {
        var b = new VirtioNetModel(MacB, address: "0000:00:0c.0") { OfferedFeatures = new VirtioNetModel(MacB).OfferedFeatures | VirtioNetModel.GuestTso4 };
        await using var dev = (await VirtioNetDevice.OpenAsync(b.Function, Timers, new VirtioNetOptions(QueueSize: 16, LargeReceive: true)).WaitAsync(Timeout)).Value;
        var large = Frames.Ipv4(MacB, TwoStacks.Ip("10.9.0.1"), TwoStacks.Ip("10.9.0.2"), 6,
            Frames.Tcp(TwoStacks.Ip("10.9.0.1"), TwoStacks.Ip("10.9.0.2"), 4000, 80, 1, 1, 0x18, 1000, new byte[20_000]));
        var small = Frames.Ipv4(MacB, TwoStacks.Ip("10.9.0.1"), TwoStacks.Ip("10.9.0.2"), 6,
            Frames.Tcp(TwoStacks.Ip("10.9.0.1"), TwoStacks.Ip("10.9.0.2"), 4000, 80, 20_001, 1, 0x18, 1000, new byte[100]));
        var segment = Header(2, 1); // DATA_VALID, TCPV4
        BinaryPrimitives.WriteUInt16LittleEndian(segment.AsSpan(4), 1460);
        b.InjectSegment(segment, large);
        b.Inject(small);
        var into = new byte[2048];
        int n = await dev.ReceiveAsync(into).AsTask().WaitAsync(Timeout);
        Assert.Equal(small, into[..n]); // the large one was dropped whole, not handed over cut to 2,048 bytes
        Assert.Equal(1, dev.Counters(0).RxDropped);
        Assert.Equal(1, b.SegmentsDeliveredWhole);
    }
}
