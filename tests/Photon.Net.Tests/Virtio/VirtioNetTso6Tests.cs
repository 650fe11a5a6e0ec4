using System.Buffers.Binary;
using Photon.Kernel;
using Photon.Kernel.Drivers.Net;
using Photon.Kernel.Hal;
using Photon.Kernel.Hal.Host;

namespace Photon.Net.Tests.Virtio;

/// <summary>Issues #15 and #17: TCP segmentation over IPv6 on virtio-net. HOST_TSO6 (the device cuts 64 KiB TCP/IPv6
/// segments; needs CSUM) shows to the stack as <see cref="NetworkOffloads.Tcp6Segmentation"/> and a segment leaves with
/// gso_type TCPV6; GUEST_TSO6 (the host hands over such segments whole; needs GUEST_CSUM, taken with
/// <see cref="VirtioNetOptions.LargeReceive"/>) lets a TCPV6 segment in. What was not negotiated is refused typed on
/// the way out and dropped and counted on the way in.</summary>
public sealed class VirtioNetTso6Tests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly HostTimers Timers = new(new HostClock());
    private static readonly byte[] Mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x96];
    private const ulong Csum = 1UL << 0, GuestCsum = 1UL << 1;
    private const int EthernetAndIpv6 = 14 + 40;

    private static ulong Default => new VirtioNetModel(Mac).OfferedFeatures;

    private static async Task<VirtioNetDevice> Open(VirtioNetModel model, VirtioNetOptions options)
    {
        var opened = await VirtioNetDevice.OpenAsync(model.Function, Timers, options).WaitAsync(Timeout);
        Assert.True(opened.IsOk, opened.ToString());
        return opened.Value;
    }

    /// <summary>A TCP/IPv6 frame with <paramref name="payload"/> bytes of data (checksums are the device's business here).</summary>
    private static byte[] Tcp6Frame(int payload)
    {
        var f = new byte[EthernetAndIpv6 + 20 + payload];
        Mac.CopyTo(f, 0);
        Frames.StrangerMac.CopyTo(f, 6);
        f[12] = 0x86;
        f[13] = 0xDD;
        f[14] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(18), (ushort)Math.Min(ushort.MaxValue, 20 + payload));
        f[20] = 6; // next header: TCP
        f[21] = 64;
        f[22] = 0xFD; f[37] = 1; // fd00::1 -> fd00::2
        f[38] = 0xFD; f[53] = 2;
        f[EthernetAndIpv6 + 12] = 5 << 4;
        f[EthernetAndIpv6 + 13] = 0x18;
        for (int i = EthernetAndIpv6 + 20; i < f.Length; i++) f[i] = (byte)i;
        return f;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_driver_takes_host_tso6_with_csum_and_guest_tso6_with_large_receive(bool largeReceive)
    {
        var model = new VirtioNetModel(Mac, address: "0000:00:14.0") { OfferedFeatures = Default | VirtioNetModel.HostTso6 | VirtioNetModel.GuestTso6 | VirtioNetModel.GuestTso4 };
        await using var dev = await Open(model, new VirtioNetOptions(QueueSize: 16, LargeReceive: largeReceive));
        Assert.NotEqual(0UL, dev.Features & VirtioNetModel.HostTso6);
        Assert.True((dev.Offloads & NetworkOffloads.Tcp6Segmentation) != 0);
        Assert.Equal(largeReceive, (dev.Features & VirtioNetModel.GuestTso6) != 0);
        Assert.Equal(largeReceive ? VirtioNetOptions.LargeReceiveBufferSize - 12 : 1518, dev.LargestReceivedFrame);
    }

    [Fact]
    public async Task Without_csum_or_guest_csum_neither_tso6_is_taken_even_when_offered()
    {
        var model = new VirtioNetModel(Mac, address: "0000:00:15.0")
        {
            OfferedFeatures = (Default & ~(Csum | GuestCsum)) | VirtioNetModel.HostTso6 | VirtioNetModel.GuestTso6 | VirtioNetModel.GuestTso4,
        };
        await using var dev = await Open(model, new VirtioNetOptions(QueueSize: 16, LargeReceive: true));
        Assert.Equal(0UL, dev.Features & (VirtioNetModel.HostTso6 | VirtioNetModel.GuestTso6 | VirtioNetModel.GuestTso4));
        Assert.Equal(NetworkOffloads.None, dev.Offloads);
    }

    [Fact]
    public async Task With_host_tso6_a_64_KiB_ipv6_segment_leaves_whole_as_tcpv6_and_without_it_is_refused_unsent()
    {
        var offload = new TxOffload(EthernetAndIpv6, 16, 1440, EthernetAndIpv6 + 20, Ipv6: true);
        var able = new VirtioNetModel(Mac, address: "0000:00:16.0") { OfferedFeatures = Default | VirtioNetModel.HostTso6 };
        var segments = new List<(byte[] Header, byte[] Frame)>();
        able.TransmittedSegment = (h, f) => { lock (segments) segments.Add((h, f)); };
        await using (var dev = await Open(able, new VirtioNetOptions(QueueSize: 64)))
        {
            var frame = Tcp6Frame(60_000);
            Assert.Equal(1, await dev.SendBatchAsync(0, [OffloadedFrame.Wrap(frame, offload)]).AsTask().WaitAsync(Timeout));
            var until = DateTime.UtcNow + Timeout;
            while (true) { lock (segments) if (segments.Count > 0) break; Assert.True(DateTime.UtcNow < until, "nothing transmitted"); await Task.Delay(5); }
            var (h, f) = segments[0];
            Assert.Equal(frame, f);
            Assert.Equal(4, h[1]); // gso_type TCPV6
            Assert.Equal(1, h[0]); // NEEDS_CSUM
            Assert.Equal(EthernetAndIpv6 + 20, BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(2)));
            Assert.Equal(1440, BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(4)));
            Assert.Equal(EthernetAndIpv6, BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(6)));
        }
        var v4only = new VirtioNetModel(Mac, address: "0000:00:17.0");
        var wire = 0;
        v4only.Transmitted = _ => Interlocked.Increment(ref wire);
        v4only.TransmittedSegment = (_, _) => Interlocked.Increment(ref wire);
        await using (var dev = await Open(v4only, new VirtioNetOptions(QueueSize: 64)))
        {
            Assert.True((dev.Offloads & NetworkOffloads.TcpSegmentation) != 0);
            Assert.Equal(NetworkOffloads.None, dev.Offloads & NetworkOffloads.Tcp6Segmentation);
            var e = await Assert.ThrowsAsync<KernelException>(() => dev.SendBatchAsync(0, [OffloadedFrame.Wrap(Tcp6Frame(8000), offload)]).AsTask());
            Assert.Equal(ErrorCode.InvalidArgument, e.Code);
        }
        Assert.Equal(0, wire);
    }

    private static byte[] SegmentHeader(byte gsoType)
    {
        var h = new byte[12];
        h[0] = 2; // DATA_VALID
        h[1] = gsoType;
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(2), EthernetAndIpv6 + 20);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(4), 1440);
        return h;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task With_guest_tso6_a_hosts_ipv6_segment_arrives_whole_and_without_it_is_dropped_and_counted(bool mergeable)
    {
        foreach (bool offered in new[] { true, false })
        {
            var model = new VirtioNetModel(Mac, address: offered ? "0000:00:18.0" : "0000:00:19.0")
            {
                OfferedFeatures = Default | VirtioNetModel.GuestTso4 | (offered ? VirtioNetModel.GuestTso6 : 0) | (mergeable ? VirtioNetModel.MrgRxbuf : 0),
            };
            await using var dev = await Open(model, new VirtioNetOptions(QueueSize: 64, LargeReceive: true));
            Assert.Equal(mergeable, (dev.Features & VirtioNetModel.MrgRxbuf) != 0);
            var segment = Tcp6Frame(30_000);
            model.InjectSegment(SegmentHeader(4), segment);
            var after = Tcp6Frame(100);
            model.Inject(after);
            var lent = await ((IFrameLending)dev).TakeLentAsync(0, default).AsTask().WaitAsync(Timeout);
            Assert.True(lent.IsOk, lent.ToString());
            var first = lent.Value.Frame.Memory.ToArray();
            lent.Value.GiveBack();
            if (offered)
            {
                Assert.Equal(segment, first);
                Assert.True(lent.Value.ChecksumVerified);
                Assert.Equal(0, dev.Stats.Rx.BadHeaders);
            }
            else
            {
                Assert.Equal(after, first); // the TCPV6 segment was never negotiated: dropped whole
                Assert.Equal(1, dev.Stats.Rx.BadHeaders);
                Assert.Equal(1, dev.Counters(0).RxDropped);
            }
        }
    }
}
