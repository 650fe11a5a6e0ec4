using System.Buffers.Binary;
using System.Security.Cryptography;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Net;
using Photon.Kernel.Drivers.Virtio;
using Photon.Kernel.Hal.Host;
using Photon.Net.Tcp;
using Xunit.Abstractions;

namespace Photon.Net.Tests.Virtio;

/// <summary>The virtio-net driver against the in-process device model: negotiation, rings, refill, reclaim,
/// interrupt suppression, multi-queue, the stack on top, and a device that breaks the ring rules.</summary>
public sealed class VirtioNetDeviceTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private static readonly HostTimers Timers = new(new HostClock());
    private static readonly byte[] MacA = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56], MacB = [0x52, 0x54, 0x00, 0x12, 0x34, 0x57];

    private static async Task<VirtioNetDevice> Open(VirtioNetModel model, VirtioNetOptions? options = null)
    {
        var opened = await VirtioNetDevice.OpenAsync(model.Function, Timers, options).WaitAsync(Timeout);
        Assert.True(opened.IsOk, opened.ToString());
        return opened.Value;
    }

    private static byte[] Udp(int flow, int seq, byte[]? dst = null)
    {
        var f = new byte[14 + 20 + 8 + 16];
        (dst ?? MacA).CopyTo(f, 0);
        MacB.CopyTo(f, 6);
        f[12] = 0x08;
        f[14] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 44);
        f[14 + 9] = 17;
        new byte[] { 10, 0, 0, 1, 10, 0, 0, 2 }.CopyTo(f, 14 + 12);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(34), (ushort)(1000 + flow));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(36), 2000);
        BinaryPrimitives.WriteInt32BigEndian(f.AsSpan(42), flow);
        BinaryPrimitives.WriteInt32BigEndian(f.AsSpan(46), seq);
        return f;
    }

    private static async Task<List<byte[]>> Receive(VirtioNetDevice dev, int queue, int count)
    {
        var got = new List<byte[]>();
        var bufs = Enumerable.Range(0, 32).Select(_ => (Memory<byte>)new byte[2048]).ToArray();
        var lengths = new int[32];
        using var cts = new CancellationTokenSource(Timeout);
        while (got.Count < count)
        {
            int n = await dev.ReceiveBatchAsync(queue, bufs, lengths, cts.Token);
            for (int i = 0; i < n; i++) got.Add(bufs[i][..lengths[i]].ToArray());
        }
        return got;
    }

    [Fact]
    public async Task Driver_negotiates_version1_mac_status_and_the_tx_offloads_reads_the_mac_and_reaches_driver_ok()
    {
        var model = new VirtioNetModel(MacA);
        await using var dev = await Open(model);
        Assert.Equal(VirtioFeatures.Version1 | VirtioFeatures.NetMac | VirtioFeatures.NetStatus | VirtioFeatures.NetCsum
            | VirtioFeatures.NetGuestCsum | VirtioFeatures.NetHostTso4 | VirtioFeatures.RingEventIdx, dev.Features);
        Assert.Equal(dev.Features, model.DriverFeatures);
        Assert.Equal(1 | 2 | 4 | 8, model.DeviceStatus);
        Assert.Equal(MacA, dev.MacAddress.ToArray());
        Assert.Equal(1, dev.QueueCount);
        Assert.False(dev.Polling);
        Assert.True(dev.IsLinkUp);
        model.LinkUp = false;
        Assert.False(dev.IsLinkUp);
        Assert.Equal(0x0006, model.Function.ReadConfig16(0x04) & 0x0006); // memory space + bus master enabled
    }

    [Fact]
    public async Task Closing_waits_for_the_reset_and_frees_its_DMA_memory_but_leaks_it_under_a_device_that_never_resets()
    {
        // Review finding (stop 31): close wrote reset and freed the rings and the 2 MiB TX pool at once; a device still
        // running (no IOMMU on the uio fallback) would then write into reused memory.
        var model = new VirtioNetModel(MacA);
        var dev = await Open(model);
        Assert.True(model.Function.Dma.LiveBuffers > 0);
        await dev.DisposeAsync().AsTask().WaitAsync(Timeout);
        Assert.Equal(0, model.DeviceStatus);
        Assert.False(dev.LeakedOnClose);
        Assert.Equal(0, model.Function.Dma.LiveBuffers);

        var wedged = new VirtioNetModel(MacA);
        var stuck = await Open(wedged);
        int live = wedged.Function.Dma.LiveBuffers;
        wedged.ResetHangs = true;
        await stuck.DisposeAsync().AsTask().WaitAsync(Timeout); // bounded: the reset is waited for, not forever
        Assert.True(stuck.LeakedOnClose);
        Assert.NotEqual(0, wedged.DeviceStatus);
        Assert.Equal(live, wedged.Function.Dma.LiveBuffers); // nothing freed under the running device
    }

    [Fact]
    public async Task Access_platform_is_accepted_when_offered_because_the_driver_hands_out_iommu_addresses()
    {
        var model = new VirtioNetModel(MacA);
        model.OfferedFeatures |= VirtioFeatures.AccessPlatform;
        await using var dev = await Open(model);
        Assert.Equal(VirtioFeatures.Version1 | VirtioFeatures.AccessPlatform | VirtioFeatures.NetMac | VirtioFeatures.NetStatus
            | VirtioFeatures.NetCsum | VirtioFeatures.NetGuestCsum | VirtioFeatures.NetHostTso4 | VirtioFeatures.RingEventIdx, model.DriverFeatures);
    }

    [Fact]
    public async Task Receive_refills_the_ring_so_many_times_its_size_arrive_in_order()
    {
        var model = new VirtioNetModel(MacA);
        await using var dev = await Open(model, new VirtioNetOptions(QueueSize: 16));
        const int Frames = 400;
        var receive = Receive(dev, 0, Frames);
        for (int i = 0; i < Frames; i++)
        {
            model.Inject(Udp(1, i));
            if (i % 10 == 9) await Task.Yield();
        }
        // The ring holds 16: the rest wait in the model's backlog and go out as the driver refills.
        var got = await receive.WaitAsync(Timeout);
        Assert.Equal(Enumerable.Range(0, Frames), got.Select(f => BinaryPrimitives.ReadInt32BigEndian(f.AsSpan(46))));
        Assert.All(got, f => Assert.Equal(Udp(1, 0).Length, f.Length));
        var c = dev.Counters(0);
        Assert.Equal(Frames, c.RxFrames);
        Assert.True(c.RxBursts <= c.RxFrames);
        Assert.Equal(0, model.DmaFaults);
    }

    [Fact]
    public async Task Transmit_reclaims_slots_so_more_frames_than_the_ring_holds_go_out_without_tx_interrupts()
    {
        var model = new VirtioNetModel(MacA);
        var wire = new List<byte[]>();
        model.Transmitted = f => { lock (wire) wire.Add(f); };
        await using var dev = await Open(model, new VirtioNetOptions(QueueSize: 8));
        var frames = Enumerable.Range(0, 300).Select(i => (ReadOnlyMemory<byte>)Udp(2, i)).ToList();
        int sent = 0;
        while (sent < frames.Count) sent += await dev.SendBatchAsync(0, frames.Skip(sent).ToList()).AsTask().WaitAsync(Timeout);
        Assert.Equal(frames.Select(f => Convert.ToHexString(f.Span)), wire.Select(Convert.ToHexString));
        Assert.Equal(300, dev.Counters(0).TxFrames);
        Assert.Equal(0, model.Function.Interrupt(1)!.Fired); // VIRTQ_AVAIL_F_NO_INTERRUPT kept TX silent
        Assert.True(model.Notifications <= 300, $"{model.Notifications} notifications");
        // Oversized and runt frames are refused with a typed error, not sent.
        var big = await Assert.ThrowsAsync<KernelException>(() => dev.SendBatchAsync(0, [new byte[3000]]).AsTask());
        Assert.Equal(ErrorCode.InvalidArgument, big.Code);
        Assert.Equal(300, wire.Count);
    }

    [Fact]
    public async Task Multi_queue_device_gets_its_pair_count_over_the_control_queue_and_each_flow_stays_on_one_queue()
    {
        var model = new VirtioNetModel(MacA, pairs: 4, msixVectors: 16);
        await using var dev = await Open(model, new VirtioNetOptions(MaxQueuePairs: 4));
        Assert.Equal(4, dev.QueueCount);
        Assert.Equal(4, model.ActivePairs);
        Assert.NotEqual(0UL, dev.Features & VirtioFeatures.NetMq);
        var frames = Enumerable.Range(0, 32).SelectMany(flow => Enumerable.Range(0, 10).Select(seq => Udp(flow, seq))).ToList();
        var expected = new int[4];
        foreach (var f in frames) expected[FlowHash.Of(f) % 4]++;
        foreach (var f in frames) model.Inject(f);
        var perQueue = await Task.WhenAll(Enumerable.Range(0, 4).Select(q => Receive(dev, q, expected[q]))).WaitAsync(Timeout);
        for (int q = 0; q < 4; q++)
        {
            Assert.True(expected[q] > 0, $"queue {q} got no flow");
            Assert.Equal(expected[q], perQueue[q].Count);
            foreach (var flow in perQueue[q].GroupBy(f => BinaryPrimitives.ReadInt32BigEndian(f.AsSpan(42))))
                Assert.Equal(Enumerable.Range(0, 10), flow.Select(f => BinaryPrimitives.ReadInt32BigEndian(f.AsSpan(46))));
        }
        // Each virtqueue has its own MSI-X vector; the control queue has none (it is polled).
        for (int q = 0; q < 8; q++) Assert.Equal(q, model.QueueVector(q));
        Assert.Equal(0xFFFF, model.QueueVector(8));
    }

    [Fact]
    public async Task Without_msix_the_driver_polls_and_still_receives()
    {
        var model = new VirtioNetModel(MacA, msixVectors: 0);
        await using var dev = await Open(model);
        Assert.True(dev.Polling);
        var receive = Receive(dev, 0, 3);
        for (int i = 0; i < 3; i++) model.Inject(Udp(3, i));
        Assert.Equal(3, (await receive.WaitAsync(Timeout)).Count);
        var single = new byte[2048];
        model.Inject(Udp(3, 99));
        int n = await dev.ReceiveAsync(single).AsTask().WaitAsync(Timeout);
        Assert.Equal(99, BinaryPrimitives.ReadInt32BigEndian(single.AsSpan(46)));
        Assert.Equal(Udp(3, 99).Length, n);
    }

    [Theory]
    [InlineData(VirtioFault.UsedIndexJump)]
    [InlineData(VirtioFault.UsedIdOutOfRange)]
    [InlineData(VirtioFault.UsedIdNotInFlight)]
    [InlineData(VirtioFault.UsedLengthTooLong)]
    public async Task A_device_that_breaks_the_used_ring_gets_typed_Corrupted_errors_not_a_crash_or_a_hang(VirtioFault fault)
    {
        var model = new VirtioNetModel(MacA);
        await using var dev = await Open(model, new VirtioNetOptions(QueueSize: 16));
        model.Fault = fault;
        model.Inject(Udp(4, 0));
        var rx = await Assert.ThrowsAsync<KernelException>(() => Receive(dev, 0, 1).WaitAsync(Timeout));
        Assert.Equal(ErrorCode.Corrupted, rx.Code);
        output.WriteLine(rx.Message);
        // The queue stays broken (no retry reads past the ring) ...
        var again = await Assert.ThrowsAsync<KernelException>(() => Receive(dev, 0, 1).WaitAsync(Timeout));
        Assert.Equal(ErrorCode.Corrupted, again.Code);
        // ... and transmit, on its own ring, fails the same way once the device breaks that one.
        if (fault != VirtioFault.UsedLengthTooLong)
        {
            await dev.SendBatchAsync(0, [Udp(4, 1)]).AsTask().WaitAsync(Timeout);
            var tx = await Assert.ThrowsAsync<KernelException>(() => dev.SendBatchAsync(0, [Udp(4, 2)]).AsTask().WaitAsync(Timeout));
            Assert.Equal(ErrorCode.Corrupted, tx.Code);
        }
        else
        {
            // A transmit buffer is only read by the device: virtio 1.2 §2.7.8 lets it write any used length (QEMU writes
            // 0), so a long one is not corruption there — transmit goes on, its buffers reclaimed.
            var wire = new List<byte[]>();
            model.Transmitted = f => { lock (wire) wire.Add(f); };
            for (int i = 1; i <= 3; i++) Assert.Equal(1, await dev.SendBatchAsync(0, [Udp(4, i)]).AsTask().WaitAsync(Timeout));
            Assert.Equal(3, wire.Count);
            Assert.True(dev.Stats.Tx.Reclaimed >= 2, $"{dev.Stats.Tx.Reclaimed} reclaimed");
        }
    }

    [Fact]
    public async Task A_bad_used_entry_after_good_ones_still_gives_the_good_ones_transmit_slots_back_then_breaks_the_queue()
    {
        var model = new VirtioNetModel(MacA) { Fault = VirtioFault.UsedIdOutOfRange, FaultAfter = 2 };
        await using var dev = await Open(model, new VirtioNetOptions(QueueSize: 16));
        Assert.Equal(3, await dev.SendBatchAsync(0, [Udp(6, 1), Udp(6, 2), Udp(6, 3)]).AsTask().WaitAsync(Timeout));
        // The next send reclaims: two good used entries, then the bad third. The two are given back (before, the whole
        // poll failed and their slots stayed held), and the queue is broken from then on.
        var tx = await Assert.ThrowsAsync<KernelException>(() => dev.SendBatchAsync(0, [Udp(6, 4)]).AsTask().WaitAsync(Timeout));
        Assert.Equal(ErrorCode.Corrupted, tx.Code);
        Assert.Equal(2, dev.Stats.Tx.Reclaimed);
        var again = await Assert.ThrowsAsync<KernelException>(() => dev.SendBatchAsync(0, [Udp(6, 5)]).AsTask().WaitAsync(Timeout));
        Assert.Equal(ErrorCode.Corrupted, again.Code);
    }

    [Fact]
    public async Task The_nic_driver_closes_an_rx_queue_whose_device_broke_its_ring_instead_of_spinning()
    {
        var model = new VirtioNetModel(MacA);
        var dev = await Open(model);
        var (nic, cap) = NicDriver.Start(dev, new CapabilityManager()).Value;
        await using (nic)
        {
            model.Fault = VirtioFault.UsedIdOutOfRange;
            var post = nic.PostReceiveBatch(cap, 0, [new byte[2048]]);
            Assert.True(post.IsOk, post.ToString());
            model.Inject(Udp(5, 0));
            var r = await post.Value[0].WaitAsync(Timeout);
            Assert.Equal(ErrorCode.Corrupted, r.Code);
        }
    }

    [Fact]
    public async Task Bad_devices_are_refused_at_open_with_typed_errors()
    {
        // No VERSION_1: a legacy device.
        var legacy = new VirtioNetModel(MacA) { OfferedFeatures = 1UL << 5 };
        Assert.Equal(ErrorCode.NotSupported, (await VirtioNetDevice.OpenAsync(legacy.Function, Timers)).Code);
        Assert.True(legacy.Function.Disposed);
        Assert.Equal(0, legacy.Function.Dma.LiveBuffers);
        // A capability list that loops on itself.
        var looping = new VirtioNetModel(MacA);
        looping.Function.Config[0x41] = 0x40;
        Assert.Equal(ErrorCode.Corrupted, (await VirtioNetDevice.OpenAsync(looping.Function, Timers)).Code);
        // No virtio capabilities at all.
        var bare = new VirtioNetModel(MacA);
        bare.Function.Config[0x34] = 0;
        Assert.Equal(ErrorCode.NotSupported, (await VirtioNetDevice.OpenAsync(bare.Function, Timers)).Code);
        // A structure outside its BAR.
        var outside = new VirtioNetModel(MacA);
        BinaryPrimitives.WriteUInt32LittleEndian(outside.Function.Config.AsSpan(0x40 + 12 + 8), 0x10000);
        Assert.Equal(ErrorCode.Corrupted, (await VirtioNetDevice.OpenAsync(outside.Function, Timers)).Code);
        // review18b: 0x8000 pairs claimed puts the control queue at index 0x10000, which the 16-bit queue select turned
        // into RX queue 0 — reprogrammed under the driver. A queue past num_queues is never selected.
        var liar = new VirtioNetModel(MacA, pairs: 2) { ClaimedPairs = 0x8000 };
        var lied = await VirtioNetDevice.OpenAsync(liar.Function, Timers);
        Assert.Equal(ErrorCode.Corrupted, lied.Code);
        Assert.Equal(0, liar.Function.Dma.LiveBuffers);
    }

    [Fact]
    public async Task Dispose_wakes_a_blocked_receiver_with_Closed_and_resets_the_device()
    {
        var model = new VirtioNetModel(MacA);
        var dev = await Open(model);
        var waiting = dev.ReceiveBatchAsync(0, [new byte[2048]], new int[1]).AsTask();
        await Task.Yield();
        await dev.DisposeAsync();
        var e = await Assert.ThrowsAsync<KernelException>(() => waiting.WaitAsync(Timeout));
        Assert.Equal(ErrorCode.Closed, e.Code);
        Assert.Equal(0, model.DeviceStatus);
        Assert.True(model.Function.Disposed);
        Assert.Equal(0, model.Function.Dma.LiveBuffers);
    }

    [Fact]
    public async Task The_tcp_stack_runs_unchanged_on_two_virtio_nics_cabled_together()
    {
        var a = new VirtioNetModel(MacA, pairs: 2, address: "0000:00:04.0");
        var b = new VirtioNetModel(MacB, pairs: 2, address: "0000:00:05.0");
        a.Transmitted = b.Inject;
        b.Transmitted = a.Inject;
        var caps = new CapabilityManager();
        var (nicA, _) = NicDriver.Start(await Open(a), caps).Value;
        var (nicB, _) = NicDriver.Start(await Open(b), caps).Value;
        var options = new NetworkStackOptions { TcpMinRto = TimeSpan.FromMilliseconds(50), TcpMsl = TimeSpan.FromMilliseconds(200) };
        await using var left = new NetworkStack(TwoStacks.Timers, options);
        await using var right = new NetworkStack(TwoStacks.Timers, options);
        left.AddInterface(nicA, Ipv4Cidr.Parse("10.9.0.1/24").Value).Unwrap();
        right.AddInterface(nicB, Ipv4Cidr.Parse("10.9.0.2/24").Value).Unwrap();
        left.Start();
        right.Start();

        await using var listener = right.Tcp.Listen(7000).Value;
        var accept = listener.AcceptAsync();
        var client = (await left.Tcp.ConnectAsync(new IpEndpoint(TwoStacks.Ip("10.9.0.2"), 7000)).WaitAsync(Timeout)).Value;
        var server = (await accept.WaitAsync(Timeout)).Value;
        var data = RandomNumberGenerator.GetBytes(1 << 20);
        var receive = StackTests.ReadAll(server);
        Assert.True((await client.SendAsync(data).WaitAsync(Timeout)).IsOk);
        Assert.True((await client.CloseAsync()).IsOk);
        var got = await receive.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(got));
        await server.CloseAsync();
        output.WriteLine($"A: tx {nicA.Stats.TxFrames} rx {nicA.StackLoans}; B: tx {nicB.Stats.TxFrames} rx {nicB.StackLoans}; " +
                         $"notifications {a.Notifications}/{b.Notifications}, dma faults {a.DmaFaults + b.DmaFaults}");
        Assert.Equal(0, a.DmaFaults + b.DmaFaults);
        Assert.True(nicB.StackLoans > 700); // received frames, read by the stack in the device's buffers (DMA loans)
    }

    [Fact]
    public async Task The_pci_network_source_opens_virtio_net_by_address_or_kind_for_the_network_boot_component()
    {
        var a = new VirtioNetModel(MacA, pairs: 2, address: "0000:00:04.0");
        var other = new Photon.Kernel.Tests.Support.Pci.FakePciFunction(new Photon.Kernel.Hal.Pci.PciFunctionInfo(
            Photon.Kernel.Hal.Pci.PciAddress.Parse("0000:00:03.0").Value, 0x8086, 0x10D3, 0x020000, null));
        var bus = new Photon.Kernel.Tests.Support.Pci.FakePciBus(other, a.Function);
        var source = new VirtioNetSource(bus, Timers);
        Assert.Equal(ErrorCode.NotSupported, source.Open("0000:00:03.0", MacB, 2).Code);
        Assert.Equal(ErrorCode.NotFound, source.Open("0000:00:09.0", MacB, 2).Code);
        Assert.Equal(ErrorCode.InvalidArgument, source.Open("eth0", MacB, 2).Code);
        var opened = source.Open("virtio-net", MacB, 2);
        Assert.True(opened.IsOk, opened.ToString());
        await using var dev = opened.Value;
        Assert.Equal(MacA, dev.MacAddress.ToArray()); // the device's own MAC
        Assert.Equal(2, ((VirtioNetDevice)dev).QueueCount);
        Assert.Equal(ErrorCode.Busy, source.Open("0000:00:04.0", MacB, 2).Code);
    }
}
