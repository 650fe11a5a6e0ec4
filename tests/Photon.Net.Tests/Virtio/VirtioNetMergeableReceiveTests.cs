using System.Buffers.Binary;
using System.Security.Cryptography;
using Photon.Kernel.Drivers.Net;
using Photon.Kernel.Hal.Host;
using Photon.Net.Tcp;
using Xunit.Abstractions;

namespace Photon.Net.Tests.Virtio;

/// <summary>Issue #17: virtio-net MRG_RXBUF (<see cref="VirtioNetOptions.MergeableReceive"/>). Receive buffers are one
/// page each, a ring entry each; the device spreads a frame over as many as it needs and says how many in the first
/// header's num_buffers. A 64 KiB segment from the host (GUEST_TSO4) arrives whole across 17 pages, lent in place when
/// the pages are consecutive and copied into a merge buffer when the ring wrapped; a device that lies about
/// num_buffers — 0, more than any frame needs, more than it completed — costs that frame (counted), never a crash, a
/// read outside the frame or the next frame.</summary>
public sealed class VirtioNetMergeableReceiveTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly HostTimers Timers = new(new HostClock());
    private static readonly byte[] MacA = [0x52, 0x54, 0x00, 0x12, 0x34, 0x86], MacB = [0x52, 0x54, 0x00, 0x12, 0x34, 0x87];
    private const int HeaderSize = 12, PageSize = 4096;

    [Fact]
    public async Task With_mrg_rxbuf_the_hosts_64_KiB_segments_fill_page_buffers_and_every_byte_arrives_right()
    {
        const int bytes = 2 << 20;
        await using var p = await VirtioNetCable.OpenAsync(MacA, MacB, "0000:00:0a.0", "0000:00:0b.0", queueSize: 256,
            b => b.OfferedFeatures |= VirtioNetModel.GuestTso4 | VirtioNetModel.MrgRxbuf, new VirtioNetOptions(QueueSize: 256, LargeReceive: true));
        p.A.TransmittedSegment = p.B.InjectSegment;
        Assert.NotEqual(0UL, p.DevB.Features & VirtioNetModel.MrgRxbuf);
        Assert.NotEqual(0UL, p.DevB.Features & VirtioNetModel.GuestTso4);
        var (client, server, listener) = await p.ConnectAsync(7300);
        await using var _ = listener;
        var data = RandomNumberGenerator.GetBytes(bytes);
        var received = StackTests.ReadAll(server);
        Assert.True((await client.SendAsync(data).WaitAsync(Timeout)).IsOk);
        Assert.True((await client.CloseAsync().WaitAsync(Timeout)).IsOk);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(await received.WaitAsync(Timeout)));
        var rx = p.DevB.Stats.Rx;
        output.WriteLine($"device B: {p.DevB.Stats}; model: merged {p.B.MergedFrames}, whole segments {p.B.SegmentsDeliveredWhole}");
        Assert.True(p.B.MergedFrames > 0, "no frame filled more than one page");
        // Every merged frame reached the stack whole: lent in place or copied into a merge buffer, none dropped.
        Assert.Equal(p.B.MergedFrames, rx.MergedInPlace + rx.MergedCopied);
        Assert.True(rx.MergedInPlace > 0, "no merged frame was lent in place");
        Assert.True(rx.LargeFrames > 0 && rx.LargestFrame > PageSize, $"largest frame {rx.LargestFrame}");
        Assert.True(rx.Frames < bytes / 1460 / 2, $"{rx.Frames} frames through the ring for {bytes} bytes");
        Assert.Equal(0, rx.BadHeaders);
        Assert.Equal(0, p.Right.Dropped(DropReason.BadChecksum));
        Assert.Equal(0, p.DevB.Counters(0).RxDropped);
    }

    [Fact]
    public async Task Without_large_receive_mrg_rxbuf_gives_mtu_frames_one_page_each_and_a_transfer_arrives_intact()
    {
        await using var p = await VirtioNetCable.OpenAsync(MacA, MacB, "0000:00:0c.0", "0000:00:0d.0", queueSize: 64,
            b => b.OfferedFeatures |= VirtioNetModel.MrgRxbuf);
        Assert.NotEqual(0UL, p.DevB.Features & VirtioNetModel.MrgRxbuf);
        var (client, server, listener) = await p.ConnectAsync(7301);
        await using var _ = listener;
        var data = RandomNumberGenerator.GetBytes(512 * 1024);
        var received = StackTests.ReadAll(server);
        Assert.True((await client.SendAsync(data).WaitAsync(Timeout)).IsOk);
        Assert.True((await client.CloseAsync().WaitAsync(Timeout)).IsOk);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(await received.WaitAsync(Timeout)));
        Assert.Equal(0, p.B.MergedFrames);
        Assert.True(p.DevB.Stats.Rx.Frames > 300, $"{p.DevB.Stats.Rx.Frames} frames");
        Assert.Equal(0, p.DevB.Stats.Rx.BadHeaders);
    }

    [Fact]
    public async Task Without_the_option_the_driver_refuses_mrg_rxbuf()
    {
        var model = new VirtioNetModel(MacB, address: "0000:00:0e.0") { OfferedFeatures = new VirtioNetModel(MacB).OfferedFeatures | VirtioNetModel.MrgRxbuf };
        await using var dev = await Open(model, new VirtioNetOptions(QueueSize: 16, MergeableReceive: false));
        Assert.Equal(0UL, dev.Features & VirtioNetModel.MrgRxbuf);
        var frame = Frame(1000, 1);
        model.Inject(frame);
        var into = new byte[2048];
        int n = await dev.ReceiveAsync(into).AsTask().WaitAsync(Timeout);
        Assert.Equal(frame[..n], into[..n]);
        Assert.Equal(0, model.MergedFrames);
    }

    /// <summary>A device model offering MRG_RXBUF and GUEST_TSO4 (frames of up to 64 KiB), driven without a stack.</summary>
    private static async Task<(VirtioNetModel Model, VirtioNetDevice Device)> Mergeable(string address, ushort queueSize)
    {
        var model = new VirtioNetModel(MacB, address: address)
        {
            OfferedFeatures = new VirtioNetModel(MacB).OfferedFeatures | VirtioNetModel.MrgRxbuf | VirtioNetModel.GuestTso4,
        };
        var dev = await Open(model, new VirtioNetOptions(QueueSize: queueSize, LargeReceive: true));
        Assert.NotEqual(0UL, dev.Features & VirtioNetModel.MrgRxbuf);
        return (model, dev);
    }

    private static async Task<VirtioNetDevice> Open(VirtioNetModel model, VirtioNetOptions options)
    {
        var opened = await VirtioNetDevice.OpenAsync(model.Function, Timers, options).WaitAsync(Timeout);
        Assert.True(opened.IsOk, opened.ToString());
        return opened.Value;
    }

    /// <summary>An Ethernet frame of <paramref name="length"/> bytes whose every byte after the MACs says which frame it is.</summary>
    private static byte[] Frame(int length, byte mark)
    {
        var f = new byte[length];
        MacB.CopyTo(f, 0);
        for (int i = 6; i < length; i++) f[i] = (byte)(mark + i * 7);
        f[12] = 0x88;
        f[13] = 0xB5; // a local experimental EtherType: the driver does not look past the header
        return f;
    }

    private static async Task<byte[]> TakeLent(VirtioNetDevice dev)
    {
        var lent = await ((IFrameLending)dev).TakeLentAsync(0, default).AsTask().WaitAsync(Timeout);
        Assert.True(lent.IsOk, lent.ToString());
        var bytes = lent.Value.Frame.Memory.ToArray();
        lent.Value.GiveBack();
        return bytes;
    }

    [Fact]
    public async Task Frames_spread_over_pages_arrive_whole_through_lending_in_place_or_copied_when_the_ring_wrapped()
    {
        var (model, dev) = await Mergeable("0000:00:0f.0", queueSize: 64);
        await using var _ = dev;
        // 20,000-byte frames take 5 pages each; 40 of them pass the 64-entry ring's end several times.
        for (byte i = 0; i < 40; i++)
        {
            var frame = Frame(20_000, i);
            model.Inject(frame);
            Assert.Equal(frame, await TakeLent(dev));
        }
        var rx = dev.Stats.Rx;
        output.WriteLine($"{dev.Stats}");
        Assert.Equal(40, model.MergedFrames);
        Assert.Equal(40, rx.MergedInPlace + rx.MergedCopied);
        Assert.True(rx.MergedInPlace > 0, "none lent in place");
        Assert.True(rx.MergedCopied > 0, "the ring never wrapped inside a frame");
        Assert.Equal(0, dev.LentBuffers(0));
        // The copying path assembles the pieces too.
        var last = Frame(60_000, 99);
        model.Inject(last);
        var into = new byte[65_536];
        int n = await dev.ReceiveAsync(into).AsTask().WaitAsync(Timeout);
        Assert.Equal(last, into[..n]);
    }

    public static TheoryData<string, int, Func<byte[], int, int>> HostileCounts => new()
    {
        { "num_buffers 0", 1000, (_, _) => 0 },
        { "num_buffers 65535 (more than a 64 KiB frame needs)", 1000, (_, _) => ushort.MaxValue },
        { "num_buffers 18 (one more than a 64 KiB frame needs)", 1000, (_, _) => 18 },
        { "a chain shorter than its num_buffers", 9000, (_, n) => n + 1 },
    };

    [Theory]
    [MemberData(nameof(HostileCounts))]
    public async Task A_num_buffers_the_device_cannot_back_costs_that_frame_and_the_next_arrives_intact(string what, int length, Func<byte[], int, int> claim)
    {
        foreach (bool lending in new[] { true, false })
        {
            var (model, dev) = await Mergeable(lending ? "0000:00:10.0" : "0000:00:11.0", queueSize: 64);
            await using var _ = dev;
            var hostile = Frame(length, 1);
            model.MergedBuffers = (f, n) => f == hostile ? claim(f, n) : n;
            // The receiver takes the hostile frame alone (had the next one already been completed, a chain that claims
            // one buffer more would swallow its first page: no driver can tell that apart), then the next frame.
            var into = new byte[16_384];
            Task<byte[]> receiving = lending ? TakeLent(dev) : Copy(dev, into);
            model.Inject(hostile);
            await WaitUntil(() => dev.Stats.Rx.BadHeaders == 1, $"{what}: the frame dropped");
            var good = Frame(9000, 2);
            model.Inject(good);
            var got = await receiving.WaitAsync(Timeout);
            Assert.True(good.AsSpan().SequenceEqual(got), $"{what} ({(lending ? "lending" : "copying")}): the next frame was not delivered intact");
            Assert.Equal(1, dev.Stats.Rx.BadHeaders);
            Assert.Equal(1, dev.Counters(0).RxDropped);
            Assert.Equal(0, dev.LentBuffers(0));
            // Every page went back to the ring: a ring's worth of frames still arrives.
            for (byte i = 0; i < 70; i++)
            {
                var f = Frame(1500, i);
                model.Inject(f);
                if (lending) Assert.Equal(f, await TakeLent(dev));
                else Assert.Equal(f, await Copy(dev, new byte[2048]));
            }
        }
    }

    [Fact]
    public async Task A_merged_frame_lent_in_place_holds_all_its_pages_until_given_back_and_lending_stops_at_half_the_ring()
    {
        var (model, dev) = await Mergeable("0000:00:12.0", queueSize: 64);
        await using var _ = dev;
        var loans = new List<LentFrame>();
        // 12,000 bytes + header: 3 pages each; half the ring is 32 pages: 10 frames (30 pages) are lent, and the 11th
        // would pass 32, so it waits on the ring (Busy) — lending never goes over half the ring, page for page.
        for (byte i = 0; i < 10; i++)
        {
            var frame = Frame(12_000, i);
            model.Inject(frame);
            var lent = await ((IFrameLending)dev).TakeLentAsync(0, default).AsTask().WaitAsync(Timeout);
            Assert.True(lent.IsOk, lent.ToString());
            Assert.Equal(frame, lent.Value.Frame.Memory.ToArray());
            loans.Add(lent.Value);
        }
        Assert.Equal(30, dev.LentBuffers(0));
        model.Inject(Frame(12_000, 10));
        var refused = ((IFrameLending)dev).TryTakeLent(0);
        Assert.Equal(Photon.Kernel.ErrorCode.Busy, refused.Code);
        Assert.Equal(30, dev.LentBuffers(0));
        loans[0].GiveBack();
        loans.RemoveAt(0);
        var eleventh = ((IFrameLending)dev).TryTakeLent(0);
        Assert.True(eleventh.IsOk, eleventh.ToString());
        Assert.Equal(Frame(12_000, 10), eleventh.Value.Frame.Memory.ToArray());
        Assert.Equal(30, dev.LentBuffers(0));
        loans.Add(eleventh.Value);
        model.Inject(Frame(1000, 50));
        foreach (var l in loans) l.GiveBack();
        Assert.Equal(0, dev.LentBuffers(0));
        Assert.Equal(Frame(1000, 50), await TakeLent(dev));
    }

    [Fact]
    public async Task A_frame_of_more_pages_than_may_be_lent_is_copied_into_a_merge_buffer_not_lent_in_place()
    {
        // 16 buffers: at most 8 lent; a 40,000-byte frame fills 10 consecutive pages, which lending in place would put
        // 2 over the bound, so it arrives through a merge buffer and no page stays lent.
        var (model, dev) = await Mergeable("0000:00:13.0", queueSize: 16);
        await using var _ = dev;
        var frame = Frame(40_000, 3);
        model.Inject(frame);
        var lent = await ((IFrameLending)dev).TakeLentAsync(0, default).AsTask().WaitAsync(Timeout);
        Assert.True(lent.IsOk, lent.ToString());
        Assert.Equal(frame, lent.Value.Frame.Memory.ToArray());
        Assert.Equal(0, dev.LentBuffers(0));
        lent.Value.GiveBack();
        Assert.Equal(Frame(1500, 4), await Roundtrip(model, dev, Frame(1500, 4)));
    }

    private static async Task<byte[]> Roundtrip(VirtioNetModel model, VirtioNetDevice dev, byte[] frame)
    {
        model.Inject(frame);
        return await TakeLent(dev);
    }

    [Fact]
    public async Task A_tenant_holds_at_most_its_share_of_the_merge_buffers_and_a_refused_frame_goes_to_another_tenant()
    {
        var (model, dev) = await Mergeable("0000:00:13.0", queueSize: 64);
        await using var _ = dev;
        var lending = (IFrameLending)dev;
        var (ring, merge) = lending.LendingLimits(0);
        Assert.Equal((32, VirtioNetRxQueue.MergeBuffers), (ring, merge));
        var a = new TenantLoanShare("/tenant-a", ring / 2, merge / 2);
        var b = new TenantLoanShare("/tenant-b", ring / 2, merge / 2);
        // 20,000-byte frames (5 pages) wrap the 64-page ring every dozen or so: tenant a keeps each one that had to be
        // copied into a merge buffer and gives back the ones lent in place, until a copied frame is refused.
        var keptByA = new List<LentFrame>();
        LentFrame? toB = null;
        for (byte i = 0; i < 200 && toB is null; i++)
        {
            var frame = Frame(20_000, i);
            model.Inject(frame);
            long copiedBefore = dev.Stats.Rx.MergedCopied;
            var lent = await lending.TakeLentAsync(0, default, a).AsTask().WaitAsync(Timeout);
            if (lent.Code == Photon.Kernel.ErrorCode.QuotaExceeded)
            {
                Assert.Equal(merge / 2, a.MergeHeld);
                // The refused frame stayed first in line: tenant b gets it, copied whole.
                var other = lending.TryTakeLent(0, b);
                Assert.True(other.IsOk, other.ToString());
                Assert.Equal(frame, other.Value.Frame.Memory.ToArray());
                Assert.Equal(1, b.MergeHeld);
                toB = other.Value;
                break;
            }
            Assert.True(lent.IsOk, lent.ToString());
            Assert.Equal(frame, lent.Value.Frame.Memory.ToArray());
            if (dev.Stats.Rx.MergedCopied > copiedBefore) keptByA.Add(lent.Value);
            else lent.Value.GiveBack();
        }
        Assert.NotNull(toB);
        Assert.Equal(merge / 2, keptByA.Count);
        Assert.Equal(0, a.RingHeld);
        // Giving the copies back uncharges them: both shares are whole again and a's next copy is lent.
        foreach (var l in keptByA) l.GiveBack();
        toB.Value.GiveBack();
        Assert.Equal((0, 0, 0, 0), (a.MergeHeld, a.RingHeld, b.MergeHeld, b.RingHeld));
        Assert.Equal(0, dev.LentBuffers(0));
    }

    [Fact]
    public async Task A_merged_frame_that_would_take_a_tenant_over_its_ring_share_stays_on_the_ring()
    {
        var (model, dev) = await Mergeable("0000:00:14.0", queueSize: 64);
        await using var _ = dev;
        var lending = (IFrameLending)dev;
        var a = new TenantLoanShare("/tenant-a", 4, 4);
        // 12,000 bytes + header: 3 pages. The first fits a's 4 pages; the second would make 6 and is refused whole.
        var first = Frame(12_000, 1);
        var second = Frame(12_000, 2);
        model.Inject(first);
        model.Inject(second);
        var held = await lending.TakeLentAsync(0, default, a).AsTask().WaitAsync(Timeout);
        Assert.True(held.IsOk, held.ToString());
        Assert.Equal(3, a.RingHeld);
        Assert.Equal(Photon.Kernel.ErrorCode.QuotaExceeded, lending.TryTakeLent(0, a).Code);
        Assert.Equal(3, a.RingHeld);
        Assert.Equal(3, dev.LentBuffers(0));
        // The kernel's own stack (no share) takes it, and the device got no page of it back meanwhile.
        var kernel = lending.TryTakeLent(0);
        Assert.True(kernel.IsOk, kernel.ToString());
        Assert.Equal(second, kernel.Value.Frame.Memory.ToArray());
        kernel.Value.GiveBack();
        held.Value.GiveBack();
        Assert.Equal(0, a.RingHeld);
        Assert.Equal(0, dev.LentBuffers(0));
    }

    [Fact]
    public async Task Closing_the_device_while_merged_frames_are_lent_keeps_their_bytes_readable_until_given_back()
    {
        var (model, dev) = await Mergeable("0000:00:13.0", queueSize: 64);
        var frame = Frame(30_000, 7);
        model.Inject(frame);
        var lent = await ((IFrameLending)dev).TakeLentAsync(0, default).AsTask().WaitAsync(Timeout);
        Assert.True(lent.IsOk);
        await dev.DisposeAsync();
        Assert.Equal(frame, lent.Value.Frame.Memory.ToArray());
        lent.Value.GiveBack();
        Assert.Equal(Photon.Kernel.ErrorCode.Closed, ((IFrameLending)dev).TryTakeLent(0).Code);
    }

    private static async Task<byte[]> Copy(VirtioNetDevice dev, byte[] into) => into[..await dev.ReceiveAsync(into).AsTask().WaitAsync(Timeout)];

    private static async Task WaitUntil(Func<bool> condition, string what)
    {
        var until = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < until, $"timed out waiting for {what}");
            await Task.Delay(5);
        }
    }

    /// <summary>num_buffers lives at bytes 10–11 of the header (checked against the model's layout).</summary>
    [Fact]
    public void The_header_reads_num_buffers_little_endian_at_offset_10()
    {
        var h = new byte[HeaderSize];
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(10), 17);
        Assert.Equal(17, VirtioNetHeader.BuffersOf(h));
    }
}
