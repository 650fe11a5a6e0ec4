using Photon.Kernel.Drivers.Virtio;
using Photon.Kernel.Hal;
using Photon.Kernel.Hal.Pci;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Drivers.Net;

/// <summary>
/// A virtio-net NIC (virtio 1.2 §5.1) over the PCI transport: the HAL network device <see cref="NicDriver"/> runs on,
/// so the TCP/IP stack runs on it unchanged. Initialisation follows §3.1.1: reset, ACKNOWLEDGE, DRIVER, negotiate
/// VERSION_1 and ACCESS_PLATFORM (when offered) plus MAC, STATUS and — when the device offers more than one queue pair — CTRL_VQ and MQ;
/// when offered (and <see cref="VirtioNetOptions.Offloads"/>), the transmit offloads CSUM and HOST_TSO4, which the
/// stack sees as <see cref="INetworkOffloads"/> (partial checksums, 64 KiB TCP segments), and EVENT_IDX (kicks and
/// interrupts only when the other side asked for them), and the receive offload GUEST_CSUM: frames the device marks
/// DATA_VALID or NEEDS_CSUM reach the stack flagged as checked (<see cref="LentFrame.ChecksumVerified"/>), so it skips
/// its software checksum. With <see cref="VirtioNetOptions.LargeReceive"/>, GUEST_TSO4 too: the host's TCP segments of up
/// to 64 KiB arrive whole (GUEST_TSO6 likewise for IPv6; HOST_TSO6 lets the stack hand over 64 KiB TCP/IPv6 segments). With
/// <see cref="VirtioNetOptions.MergeableReceive"/>, MRG_RXBUF: every receive buffer is a page and a frame fills as many as
/// its header says (without it each buffer holds a whole frame, 64 KiB with GUEST_TSO4). Then one receive and one transmit split
/// virtqueue per pair, each with its own MSI-X vector (or polling when the platform has none), DRIVER_OK, and the
/// pair count sent on the control queue. A device that breaks a ring's invariants turns the affected calls into
/// <see cref="ErrorCode.Corrupted"/> errors. The device owns the <see cref="IPciFunction"/> it was opened on: disposing
/// resets the device (it stops DMA) before freeing its rings.
/// </summary>
public sealed class VirtioNetDevice : INetworkQueues, IFrameLending, INetworkOffloads
{
    private const ushort LinkUp = 1;
    private readonly VirtioPciTransport _transport;
    private readonly VirtioNetRxQueue[] _rx;
    private readonly VirtioNetTxQueue[] _tx;
    private readonly VirtioNetControl? _control;
    private readonly IReadOnlyList<IDeviceInterrupt> _interrupts;
    private readonly byte[] _mac;
    private readonly CancellationTokenSource _closed = new();
    private int _disposed;

    private readonly IKernelTimers _timers;

    private VirtioNetDevice(VirtioPciTransport transport, IKernelTimers timers, VirtioNetRxQueue[] rx, VirtioNetTxQueue[] tx, VirtioNetControl? control,
        IReadOnlyList<IDeviceInterrupt> interrupts, byte[] mac, ulong features, bool polling)
    {
        _transport = transport;
        _timers = timers;
        _rx = rx;
        _tx = tx;
        _control = control;
        _interrupts = interrupts;
        _mac = mac;
        Features = features;
        Polling = polling;
        Name = $"virtio-net@{transport.Function.Info.Address}";
    }

    public string Name { get; }
    public ReadOnlyMemory<byte> MacAddress => _mac;
    public int Mtu => 1500;
    public int QueueCount => _rx.Length;
    /// <summary>The features both sides agreed on.</summary>
    public ulong Features { get; }
    /// <summary>Transmit offloads agreed with the device (CSUM → TCP checksums, HOST_TSO4 → TSO).</summary>
    public NetworkOffloads Offloads => OffloadsOf(Features);

    private static NetworkOffloads OffloadsOf(ulong features) =>
        (features & VirtioFeatures.NetCsum) == 0 ? NetworkOffloads.None
        // ScatterGather: the TX queue pours a gathered frame's pieces into its DMA slots (one copy of the payload).
        : NetworkOffloads.TcpChecksum | NetworkOffloads.ScatterGather
            | ((features & VirtioFeatures.NetHostTso4) != 0 ? NetworkOffloads.TcpSegmentation : NetworkOffloads.None)
            | ((features & VirtioFeatures.NetHostTso6) != 0 ? NetworkOffloads.Tcp6Segmentation : NetworkOffloads.None);

    /// <summary>True when the driver polls on a timer tick because the platform gave no MSI-X vectors.</summary>
    public bool Polling { get; }

    /// <summary>The link state the device reports (always up when STATUS was not negotiated).</summary>
    public bool IsLinkUp
    {
        get
        {
            if ((Features & VirtioFeatures.NetStatus) == 0) return true;
            var status = _transport.ReadDeviceConfig16(6);
            return status.IsOk && (status.Value & LinkUp) != 0;
        }
    }

    /// <summary>Brings the device up. On failure the device is left FAILED and reset, and the function is disposed.</summary>
    public static async Task<Result<VirtioNetDevice>> OpenAsync(IPciFunction function, IKernelTimers timers, VirtioNetOptions? options = null,
        CancellationToken ct = default)
    {
        options ??= new VirtioNetOptions();
        if (options.MaxQueuePairs < 1 || options.QueueSize < 2 || options.BufferSize < VirtioNetHeader.Size + 1514)
        {
            function.Dispose();
            return Errors.Of(ErrorCode.InvalidArgument, "virtio-net options: at least one pair, two entries, 1526-byte buffers");
        }
        var opened = Errors.Catch(() => VirtioPciTransport.Open(function));
        var transport = opened.IsOk ? opened.Value : default(Result<VirtioPciTransport>);
        if (!opened.IsOk || !transport.TryGet(out var t))
        {
            function.Dispose();
            return opened.IsOk ? transport.Error : opened.Error;
        }
        var created = new List<IDisposable>();
        try
        {
            var result = await InitializeAsync(t, timers, options, created, ct).ConfigureAwait(false);
            if (!result.IsOk) Fail(t, created);
            return result;
        }
        catch (KernelException e)
        {
            Fail(t, created);
            return e.Error;
        }
    }

    private static void Fail(VirtioPciTransport t, List<IDisposable> created)
    {
        try
        {
            t.Status |= VirtioStatus.Failed;
            t.Status = VirtioStatus.Reset;
        }
        catch (KernelException) { }
        foreach (var d in created) d.Dispose();
        t.Function.Dispose();
    }

    private static async Task<Result<VirtioNetDevice>> InitializeAsync(VirtioPciTransport t, IKernelTimers timers, VirtioNetOptions options,
        List<IDisposable> created, CancellationToken ct)
    {
        var reset = await t.ResetAsync(timers, ct).ConfigureAwait(false);
        if (!reset.IsOk) return reset.Error;
        t.Status = VirtioStatus.Acknowledge;
        t.Status = VirtioStatus.Acknowledge | VirtioStatus.Driver;

        ulong offered = t.DeviceFeatures();
        if ((offered & VirtioFeatures.Version1) == 0) return Errors.Of(ErrorCode.NotSupported, "device does not offer VERSION_1");
        // ACCESS_PLATFORM is taken whenever offered: the addresses this driver hands out are the HAL's device addresses
        // (IOVAs behind VFIO), which is exactly what the feature says the device will use.
        ulong wanted = VirtioFeatures.Version1 | VirtioFeatures.AccessPlatform | VirtioFeatures.NetMac | VirtioFeatures.NetStatus;
        int devicePairs = 1;
        if ((offered & (VirtioFeatures.NetMq | VirtioFeatures.NetCtrlVq)) == (VirtioFeatures.NetMq | VirtioFeatures.NetCtrlVq) && options.MaxQueuePairs > 1)
        {
            var word = t.ReadDeviceConfig16(8);
            if (word.IsOk && word.Value > 1)
            {
                devicePairs = word.Value;
                // The control queue follows the device's pairs (§5.1.2): they must all exist (review18b).
                if (devicePairs > 0x8000 || 2 * devicePairs + 1 > t.QueueCount)
                    return Errors.Of(ErrorCode.Corrupted, $"device claims {devicePairs} queue pairs but has {t.QueueCount} virtqueues");
                wanted |= VirtioFeatures.NetMq | VirtioFeatures.NetCtrlVq;
            }
        }
        if (options.Offloads) wanted |= VirtioFeatures.NetCsum | VirtioFeatures.NetHostTso4 | VirtioFeatures.NetHostTso6 | VirtioFeatures.NetGuestCsum;
        if (options.Offloads && options.LargeReceive) wanted |= VirtioFeatures.NetGuestTso4 | VirtioFeatures.NetGuestTso6;
        if (options.MergeableReceive) wanted |= VirtioFeatures.NetMrgRxbuf;
        if (options.EventIndex) wanted |= VirtioFeatures.RingEventIdx;
        ulong features = offered & wanted;
        // §5.1.3.1: HOST_TSO4/6 require CSUM, GUEST_TSO4/6 GUEST_CSUM.
        if ((features & VirtioFeatures.NetCsum) == 0) features &= ~(VirtioFeatures.NetHostTso4 | VirtioFeatures.NetHostTso6);
        if ((features & VirtioFeatures.NetGuestCsum) == 0) features &= ~(VirtioFeatures.NetGuestTso4 | VirtioFeatures.NetGuestTso6);
        bool large4 = (features & VirtioFeatures.NetGuestTso4) != 0, large6 = (features & VirtioFeatures.NetGuestTso6) != 0;
        bool mergeable = (features & VirtioFeatures.NetMrgRxbuf) != 0;
        var negotiated = t.Negotiate(features);
        if (!negotiated.IsOk) return negotiated.Error;

        var mac = ReadMac(t, features);
        if (!mac.IsOk) return mac.Error;

        int pairs = Math.Min(options.MaxQueuePairs, devicePairs);
        if (t.QueueCount < 2 * pairs) pairs = Math.Max(1, t.QueueCount / 2);
        if (t.QueueCount < 2) return Errors.Of(ErrorCode.NotSupported, $"device has {t.QueueCount} virtqueues");

        IReadOnlyList<IDeviceInterrupt> interrupts = [];
        if (!options.ForcePolling && t.HasMsix)
        {
            var msix = t.Function.EnableMsix(2 * pairs);
            if (!msix.IsOk && msix.Code != ErrorCode.NotSupported && pairs > 1)
            {
                pairs = 1;
                msix = t.Function.EnableMsix(2);
            }
            if (msix.IsOk) interrupts = msix.Value;
            else if (msix.Code != ErrorCode.NotSupported) return msix.Error;
        }
        bool polling = interrupts.Count < 2 * pairs;
        foreach (var i in interrupts) created.Add(i);
        t.SetConfigVector(VirtioPciTransport.NoVector);

        bool eventIndex = (features & VirtioFeatures.RingEventIdx) != 0;
        var rx = new VirtioNetRxQueue[pairs];
        var tx = new VirtioNetTxQueue[pairs];
        for (int p = 0; p < pairs; p++)
        {
            for (int dir = 0; dir < 2; dir++)
            {
                int index = 2 * p + dir;
                ushort max = t.MaxQueueSize(index);
                if (max == 0) return Errors.Of(ErrorCode.NotSupported, $"virtqueue {index} does not exist");
                ushort size = (ushort)Math.Min(PowerOfTwoAtMost(max), PowerOfTwoAtMost(options.QueueSize));
                ushort vector = polling ? VirtioPciTransport.NoVector : (ushort)index;
                // Receive queues resume their consumer on the vector's line (ACKs from the interrupt's delivery); each
                // queue has its own vector, so the transmit side never waits on a line that is running this code.
                var wait = new DeviceWait(polling ? null : interrupts[index], timers, options.Poll, resumeOnLine: dir == 0 && options.ReceiveOnInterruptLine);
                if (dir == 0)
                {
                    // MRG_RXBUF: a page per ring entry, whatever the largest frame; without it, 64 KiB buffers (fewer than
                    // the entries) for GUEST_TSO4/6, or one MTU frame each.
                    bool guestChecksum = (features & VirtioFeatures.NetGuestCsum) != 0;
                    var q = mergeable
                        ? VirtioNetRxQueue.Create(t, index, size, VirtioNetRxQueue.MergeableBufferSize, vector, wait, eventIndex,
                            guestChecksum, large4, largeSegments6: large6, mergeable: true)
                        : large4 || large6
                        ? VirtioNetRxQueue.Create(t, index, size, VirtioNetOptions.LargeReceiveBufferSize, vector, wait, eventIndex,
                            guestChecksum: true, large4, buffers: Math.Clamp(options.LargeReceiveBuffers, 2, size), largeSegments6: large6)
                        : VirtioNetRxQueue.Create(t, index, size, options.BufferSize, vector, wait, eventIndex, guestChecksum);
                    if (!q.TryGet(out var rq)) return q.Error;
                    created.Add(rq);
                    rx[p] = rq;
                }
                else
                {
                    var q = VirtioNetTxQueue.Create(t, index, size, options.BufferSize, vector, wait, OffloadsOf(features), eventIndex);
                    if (!q.TryGet(out var tq)) return q.Error;
                    created.Add(tq);
                    tx[p] = tq;
                }
            }
        }
        VirtioNetControl? control = null;
        if ((features & VirtioFeatures.NetMq) != 0)
        {
            var c = VirtioNetControl.Create(t, 2 * devicePairs);
            if (!c.TryGet(out control)) return c.Error;
            created.Add(control);
        }
        t.Status |= VirtioStatus.DriverOk;
        if ((t.Status & VirtioStatus.NeedsReset) != 0) return Errors.Of(ErrorCode.IoError, "device needs a reset right after DRIVER_OK");
        if (control is not null)
        {
            var set = await control.SetQueuePairsAsync(pairs, timers, ct).ConfigureAwait(false);
            if (!set.IsOk) return set.Error;
        }
        // Buffers posted before DRIVER_OK are valid (§3.1.1 step 7 allows it), but kick each queue now it is live.
        foreach (var q in rx) q.Refill();
        return new VirtioNetDevice(t, timers, rx, tx, control, interrupts, mac.Value, features, polling);
    }

    private static Result<byte[]> ReadMac(VirtioPciTransport t, ulong features)
    {
        var a = t.Function.Info.Address;
        if ((features & VirtioFeatures.NetMac) == 0) return new byte[] { 0x02, 0x50, 0x48, a.Bus, a.Device, a.Function };
        // Read until the configuration generation is stable (§4.1.4.3.1), bounded.
        for (int i = 0; i < 16; i++)
        {
            byte before = t.Generation;
            var mac = new byte[6];
            for (int b = 0; b < 6; b++)
            {
                var octet = t.ReadDeviceConfig8(b);
                if (!octet.IsOk) return octet.Error;
                mac[b] = octet.Value;
            }
            if (t.Generation != before) continue;
            return mac;
        }
        return Errors.Of(ErrorCode.Corrupted, "device configuration generation never settles");
    }

    private static ushort PowerOfTwoAtMost(int n) => (ushort)(n >= 32768 ? 32768 : 1 << (31 - int.LeadingZeroCount(Math.Max(n, 1))));

    private void CheckQueue(int queue)
    {
        if (Volatile.Read(ref _disposed) != 0) throw new KernelException(ErrorCode.Closed, $"{Name} is closed");
        if ((uint)queue >= (uint)_rx.Length) throw new KernelException(ErrorCode.OutOfRange, $"{Name} has no queue {queue}");
    }

    public async ValueTask<int> SendBatchAsync(int queue, IReadOnlyList<ReadOnlyMemory<byte>> frames, CancellationToken ct = default)
    {
        CheckQueue(queue);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _closed.Token);
        try { return await _tx[queue].SendAsync(frames, linked.Token).ConfigureAwait(false); }
        catch (OperationCanceledException) when (_closed.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            throw new KernelException(ErrorCode.Closed, $"{Name} is closed");
        }
    }

    public async ValueTask SendAsync(ReadOnlyMemory<byte> frame, CancellationToken ct = default)
    {
        int queue = _tx.Length == 1 ? 0 : (int)(FlowHash.Of(frame.Span) % (uint)_tx.Length);
        await SendBatchAsync(queue, [frame], ct).ConfigureAwait(false);
    }

    public async ValueTask<int> ReceiveBatchAsync(int queue, IReadOnlyList<Memory<byte>> buffers, Memory<int> lengths, CancellationToken ct = default)
    {
        CheckQueue(queue);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _closed.Token);
        try { return await _rx[queue].ReceiveAsync(buffers, lengths, linked.Token).ConfigureAwait(false); }
        catch (OperationCanceledException) when (_closed.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            throw new KernelException(ErrorCode.Closed, $"{Name} is closed");
        }
    }

    /// <summary>Zero-copy receive: the next frame on <paramref name="queue"/> in the DMA buffer the device wrote, kept
    /// from the device until given back (see <see cref="VirtioNetRxQueue.TakeLentAsync"/>).</summary>
    async ValueTask<Result<LentFrame>> IFrameLending.TakeLentAsync(int queue, CancellationToken ct, TenantLoanShare? share)
    {
        if (Volatile.Read(ref _disposed) != 0) return Errors.Of(ErrorCode.Closed, $"{Name} is closed");
        if ((uint)queue >= (uint)_rx.Length) return Errors.Of(ErrorCode.OutOfRange, $"{Name} has no queue {queue}");
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, _closed.Token);
        var r = await _rx[queue].TakeLentAsync(linked.Token, share).ConfigureAwait(false);
        return !r.IsOk && r.Code == ErrorCode.Cancelled && _closed.IsCancellationRequested ? Errors.Of(ErrorCode.Closed, $"{Name} is closed") : r;
    }

    Result<LentFrame> IFrameLending.TryTakeLent(int queue, TenantLoanShare? share)
    {
        if (Volatile.Read(ref _disposed) != 0) return Errors.Of(ErrorCode.Closed, $"{Name} is closed");
        if ((uint)queue >= (uint)_rx.Length) return Errors.Of(ErrorCode.OutOfRange, $"{Name} has no queue {queue}");
        return _rx[queue].TryTakeLent(share);
    }

    (int RingBuffers, int MergeBuffers) IFrameLending.LendingLimits(int queue) =>
        (uint)queue < (uint)_rx.Length ? (_rx[queue].MaxLent, _rx[queue].MergeBufferCount) : (0, 0);

    void IFrameLending.HoldRefill(int queue, bool hold)
    {
        if ((uint)queue < (uint)_rx.Length) _rx[queue].HoldRefill(hold);
    }

    /// <summary>64 KiB segments with GUEST_TSO4 (taken only with <see cref="VirtioNetOptions.LargeReceive"/>), else a frame at the MTU.</summary>
    public int LargestReceivedFrame => ((IFrameLending)this).LargestLentFrame;

    int IFrameLending.LargestLentFrame => (Features & (VirtioFeatures.NetGuestTso4 | VirtioFeatures.NetGuestTso6)) != 0
        ? VirtioNetOptions.LargeReceiveBufferSize - VirtioNetHeader.Size : Mtu + 18;

    /// <summary>The receive queue itself, for tests that step its drain / re-arm / sleep sequence one call at a time.</summary>
    internal VirtioNetRxQueue RxQueue(int queue) => _rx[queue];

    /// <summary>Buffers of <paramref name="queue"/> lent out now (zero-copy receive).</summary>
    public int LentBuffers(int queue) => _rx[queue].Lent;

    /// <summary>Takes a frame from whichever queue has one: a non-blocking sweep, then a wait on every queue at once.
    /// Meant for single consumers of the plain interface; a consumer per queue uses <see cref="ReceiveBatchAsync"/>.</summary>
    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        var lengths = new int[1];
        if (_rx.Length == 1)
        {
            await ReceiveBatchAsync(0, [buffer], lengths, ct).ConfigureAwait(false);
            return lengths[0];
        }
        while (true)
        {
            CheckQueue(0);
            for (int q = 0; q < _rx.Length; q++)
                if (_rx[q].TryTake([buffer], lengths) == 1) return lengths[0];
            using var any = CancellationTokenSource.CreateLinkedTokenSource(ct, _closed.Token);
            var waits = _rx.Select(q => q.WaitAsync(any.Token).AsTask()).ToArray();
            try { await Task.WhenAny(waits).ConfigureAwait(false); }
            finally { any.Cancel(); }
            try { await Task.WhenAll(waits).ConfigureAwait(false); }
            catch (OperationCanceledException) { }
            if (_closed.IsCancellationRequested) throw new KernelException(ErrorCode.Closed, $"{Name} is closed");
            ct.ThrowIfCancellationRequested();
        }
    }

    public NetworkQueueCounters Counters(int queue)
    {
        if ((uint)queue >= (uint)_rx.Length) throw new KernelException(ErrorCode.OutOfRange, $"{Name} has no queue {queue}");
        return new NetworkQueueCounters(_rx[queue].Frames, _rx[queue].Bursts, _rx[queue].Dropped, _tx[queue].Frames, _tx[queue].Errors);
    }

    /// <summary>Per-event counters summed over the queues: where the time of sending and receiving goes.</summary>
    public VirtioNetStats Stats => new(_tx.Select(q => q.Stats).Aggregate((a, b) => a + b), _rx.Select(q => q.Stats).Aggregate((a, b) => a + b));

    /// <summary>True when the last close found the device still running after its reset timed out: its rings and buffers
    /// were left allocated (leaked) rather than freed under a device that may still write them.</summary>
    public bool LeakedOnClose { get; private set; }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _closed.Cancel();
        // The device may use its rings and buffers until it reads back reset (virtio 1.x §4.1.4.3.2 — a write of 0 starts
        // it, it is done when the status reads 0). Without an IOMMU (the uio fallback) freed memory is reused at once, so
        // a device still running would write into someone else's pages: wait for the reset, and if it never comes, leak
        // the DMA memory instead of freeing it.
        bool quiet;
        try { quiet = (await _transport.ResetAsync(_timers, CancellationToken.None).ConfigureAwait(false)).IsOk; }
        catch (KernelException) { quiet = false; }
        if (!quiet)
        {
            LeakedOnClose = true;
            _control?.Dispose();
            foreach (var i in _interrupts) i.Dispose();
            return; // the function stays open too: closing it would give its DMA mappings back under the device
        }
        foreach (var q in _rx) q.Dispose();
        foreach (var q in _tx) await q.CloseAsync().ConfigureAwait(false);
        _control?.Dispose();
        foreach (var i in _interrupts) i.Dispose();
        _transport.Function.Dispose();
    }
}
