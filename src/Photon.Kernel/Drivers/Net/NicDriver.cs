using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal;
using Photon.Kernel.Diagnostics;
using Photon.Kernel.Io;

namespace Photon.Kernel.Drivers.Net;

/// <summary>
/// The NIC driver: a kernel object over a HAL network device with N TX and N RX queue pairs on the unified
/// <see cref="QueuePair{TRequest,TResult}"/>, like virtio-net or an NVMe controller. Transmit: a request carries a
/// frame; it goes to a TX queue chosen by <see cref="FlowHash"/> (or round-robin, or by the caller), and that queue's
/// controller loop drains the ring in batches and hands each batch to the device (one sendmmsg-style call when the
/// device has <see cref="INetworkQueues"/>). Receive: the consumer posts empty buffers as RX submissions; each RX queue's
/// controller takes the posted buffers in batches, waits for the device's matching hardware queue to have frames, fills
/// as many buffers as there are frames, and completes each with its frame's length. Every request is capability-checked
/// (<see cref="Rights.Write"/> to transmit, <see cref="Rights.Read"/> to post receive buffers).
/// The network stack drives the driver through <see cref="INetworkBatches"/> (acting with a capability derived from the
/// one <see cref="Start"/> returns, so revoking that one silences it too): each RX queue lends bursts of frames in the
/// driver's own posted buffers (<see cref="NicRxLender"/>, no copy), and a transmit batch is steered and submitted with
/// one capability check and one doorbell per queue, the frames' memory passing to the driver. The driver is also a plain
/// <see cref="INetworkDevice"/> (<see cref="NicDeviceView"/>, which copies and throws as that interface requires);
/// <see cref="Open"/> gives that face to another capability holder. Disposing stops the controllers, then closes every
/// ring: pending requests fail with <see cref="ErrorCode.Closed"/>.
/// </summary>
public sealed class NicDriver : KernelObject, INetworkDevice, INetworkBatches, INetworkOffloads
{
    public override ObjectKind Kind => ObjectKind.NetworkInterface;

    private sealed class QueueCounters
    {
        public long Frames, Bytes, Batches, Errors;
    }

    private readonly INetworkDevice _device;
    private readonly INetworkQueues? _multi;
    private readonly NicOptions _options;
    private readonly QueuePair<TxRequest, int>[] _tx;
    private readonly QueuePair<RxRequest, int>[] _rx;
    private readonly QueueCounters[] _txCounters, _rxCounters;
    private readonly TxDrain[] _txDrains;
    private readonly Task[] _controllers;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<NicDeviceView> _views = new();
    private readonly Lock _viewsLock = new();
    private NicDeviceView? _self;
    private NicRxLender?[]? _lenders;
    private NicLoanBatch?[]? _loanBatches;
    private readonly CapabilityManager _caps;
    private readonly NicFrameLoans _loans;
    private int _nextTx;
    private int _disposed;

    private NicDriver(INetworkDevice device, CapabilityManager caps, NicOptions options) : base(device.Name)
    {
        _device = device;
        _caps = caps;
        _loans = new NicFrameLoans(caps);
        _multi = device as INetworkQueues;
        _options = options;
        int hw = HardwareQueues;
        _tx = new QueuePair<TxRequest, int>[options.TxQueues == 0 ? hw : options.TxQueues];
        _rx = new QueuePair<RxRequest, int>[hw];
        _txCounters = new QueueCounters[_tx.Length];
        _rxCounters = new QueueCounters[_rx.Length];
        _txDrains = new TxDrain[_tx.Length];
        for (int i = 0; i < _tx.Length; i++)
        {
            _tx[i] = new QueuePair<TxRequest, int>(options.QueueDepth, caps, this);
            _txCounters[i] = new();
            _txDrains[i] = new TxDrain(options.Batch);
            int q = i;
            if (options.InlineCompletions) _tx[i].DriveInline(() => DrainTx(q));
        }
        for (int i = 0; i < _rx.Length; i++) { _rx[i] = new QueuePair<RxRequest, int>(options.QueueDepth, caps, this); _rxCounters[i] = new(); }
        _controllers = new Task[_tx.Length + _rx.Length];
        for (int i = 0; i < _tx.Length; i++) _controllers[i] = TxController(i, _stop.Token);
        for (int i = 0; i < _rx.Length; i++) _controllers[_tx.Length + i] = RxController(i, _stop.Token);
    }

    public string Name => Label;
    public ReadOnlyMemory<byte> MacAddress => _device.MacAddress;
    public int Mtu => _device.Mtu;
    public INetworkDevice Device => _device;
    public int HardwareQueues => _multi?.QueueCount ?? 1;
    public int TxQueueCount => _tx.Length;
    public int RxQueueCount => _rx.Length;
    public IReadOnlyList<QueuePair<TxRequest, int>> TxQueues => _tx;
    public IReadOnlyList<QueuePair<RxRequest, int>> RxQueues => _rx;
    internal NicOptions Options => _options;
    /// <summary>Smallest receive buffer the driver accepts: a full frame at the device's MTU, or the device's largest
    /// received frame when it hands over coalesced segments (a host device with offloads: 64 KiB) — a smaller buffer
    /// would cut them.</summary>
    public int MinReceiveBuffer => Math.Max(_device.Mtu + 14, LargestReceivedFrame);

    /// <summary>The device's, passed through (an MTU-sized frame for a device without <see cref="INetworkOffloads"/>).</summary>
    public int LargestReceivedFrame => _device is INetworkOffloads o ? o.LargestReceivedFrame : _device.Mtu + 14;

    public NicStats Stats
    {
        get
        {
            long drops = 0;
            if (_multi is not null)
                for (int i = 0; i < _multi.QueueCount; i++)
                    try { drops += _multi.Counters(i).RxDropped; } catch (KernelException) { }
            return new NicStats(
                _tx.Select((q, i) => Snapshot(i, _txCounters[i], q.Stats)).ToArray(),
                _rx.Select((q, i) => Snapshot(i, _rxCounters[i], q.Stats)).ToArray(), drops);
        }
    }

    private static NicQueueStats Snapshot(int i, QueueCounters c, QueuePairStats ring) =>
        new(i, Interlocked.Read(ref c.Frames), Interlocked.Read(ref c.Bytes), Interlocked.Read(ref c.Batches), Interlocked.Read(ref c.Errors), ring);

    /// <summary>Starts the driver and its controller loops over <paramref name="device"/>. Returns the driver and an
    /// all-rights capability to it.</summary>
    public static Result<(NicDriver Driver, CapabilityToken Capability)> Start(INetworkDevice device, CapabilityManager caps,
        NicOptions? options = null, Principal owner = default)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(caps);
        options ??= new NicOptions();
        if (options.TxQueues is < 0 or > 64) return Errors.Of(ErrorCode.InvalidArgument, "0 (one per hardware queue) to 64 TX queue pairs");
        if (options.Batch < 1) return Errors.Of(ErrorCode.InvalidArgument, "the batch size must be positive");
        if (options.RxBuffersPerQueue < 1 || options.RxBuffersPerQueue > options.QueueDepth)
            return Errors.Of(ErrorCode.InvalidArgument, "1 to QueueDepth receive buffers per queue");
        if (device.MacAddress.Length != 6) return Errors.Of(ErrorCode.InvalidArgument, "the device has no 6-byte MAC address");
        if (device.Mtu is < 68 or > 65521) return Errors.Of(ErrorCode.InvalidArgument, $"MTU {device.Mtu} is out of range");
        if (device is INetworkQueues { QueueCount: < 1 or > 64 } m)
            return Errors.Of(ErrorCode.InvalidArgument, $"{m.QueueCount} hardware queues (1..64 supported)");
        if (owner.Name is null) owner = Principal.Kernel;
        NicDriver driver;
        try { driver = new NicDriver(device, caps, options); }
        catch (KernelException e) { return e.Error; }
        var cap = caps.Create(driver, Rights.Read | Rights.Write | Rights.Delegate | Rights.Manage, owner);
        var own = cap.IsOk ? caps.Derive(cap.Value, Rights.Read | Rights.Write, new Principal($"nic:{device.Name}", owner.Namespace), owner) : default;
        if (!cap.IsOk || !own.IsOk)
        {
            driver.StopAsync(disposeDevice: false).AsTask().GetAwaiter().GetResult();
            return cap.IsOk ? own.Error : cap.Error;
        }
        driver._self = new NicDeviceView(driver, own.Value, owner);
        driver._lenders = new NicRxLender?[driver._rx.Length];
        driver._loanBatches = new NicLoanBatch?[driver._rx.Length];
        return (driver, cap.Value);
    }

    // ---- transmit ----

    /// <summary>Transmits one frame on the TX queue its flow hashes to (or the next one, with round-robin steering);
    /// completes once the device has taken it. Needs <see cref="Rights.Write"/>.</summary>
    public Task<Result> SendAsync(CapabilityToken cap, ReadOnlyMemory<byte> frame, Principal actor = default, CancellationToken ct = default) =>
        SendOnQueueAsync(cap, PickTxQueue(frame), frame, actor, ct);

    /// <summary>Transmits one frame on TX queue <paramref name="queue"/>.</summary>
    public async Task<Result> SendOnQueueAsync(CapabilityToken cap, int queue, ReadOnlyMemory<byte> frame, Principal actor = default,
        CancellationToken ct = default)
    {
        if ((uint)queue >= (uint)_tx.Length) return Errors.Of(ErrorCode.OutOfRange, $"{Name} has TX queues 0..{_tx.Length - 1}");
        if (!IsValidFrame(frame)) return Errors.Of(ErrorCode.InvalidArgument, $"frame of {frame.Length} bytes (MTU {Mtu})");
        var r = await _tx[queue].SubmitAsync(new TxRequest(frame), cap, Rights.Write, actor, ct).ConfigureAwait(false);
        return r.AsResult();
    }

    /// <summary>
    /// Transmits a batch: frames are steered to their queues, each queue's share is submitted with one capability check
    /// and one doorbell (waiting for ring space when it is full, in order). Returns how many frames were transmitted,
    /// or the error if none was (a bad frame fails the whole batch before anything is sent).
    /// </summary>
    public Task<Result<int>> SendBatchAsync(CapabilityToken cap, IReadOnlyList<ReadOnlyMemory<byte>> frames, Principal actor = default,
        CancellationToken ct = default) => SubmitBatchAsync(cap, frames, actor, untilSent: true, ct);

    /// <summary>Steers <paramref name="frames"/> to their TX queues and submits each queue's share; with
    /// <paramref name="untilSent"/> waits for the device to take them, else only for room in the rings.</summary>
    private async Task<Result<int>> SubmitBatchAsync(CapabilityToken cap, IReadOnlyList<ReadOnlyMemory<byte>> frames, Principal actor, bool untilSent,
        CancellationToken ct)
    {
        for (int i = 0; i < frames.Count; i++)
            if (!IsValidFrame(frames[i])) return Errors.Of(ErrorCode.InvalidArgument, $"frame {i} of {frames[i].Length} bytes (MTU {Mtu})");
        if (frames.Count == 0) return 0;
        if (_tx.Length == 1) // the common case needs no grouping
        {
            var all = new TxRequest[frames.Count];
            for (int i = 0; i < all.Length; i++) all[i] = new TxRequest(frames[i]);
            var (n, e) = await SubmitTxGroup(0, all, cap, actor, ct, untilSent).ConfigureAwait(false);
            return n == 0 && e is { } err ? err : n;
        }
        var groups = new List<TxRequest>?[_tx.Length];
        foreach (var f in frames) (groups[PickTxQueue(f)] ??= new()).Add(new TxRequest(f));
        var perQueue = new List<Task<(int Sent, KernelError? Error)>>();
        for (int q = 0; q < groups.Length; q++)
            if (groups[q] is { } g) perQueue.Add(SubmitTxGroup(q, g.ToArray(), cap, actor, ct, untilSent));
        int sent = 0;
        KernelError? first = null;
        foreach (var (s, e) in await Task.WhenAll(perQueue).ConfigureAwait(false))
        {
            sent += s;
            first ??= e;
        }
        return sent == 0 && first is { } error ? error : sent;
    }

    /// <summary>Submits one queue's share of a batch, waiting for ring space when it is full; with
    /// <paramref name="untilSent"/> also for the device to take every frame (else it counts frames in the ring).</summary>
    private async Task<(int Sent, KernelError? Error)> SubmitTxGroup(int q, TxRequest[] group, CapabilityToken cap, Principal actor, CancellationToken ct,
        bool untilSent)
    {
        var queue = _tx[q];
        var inFlight = new List<Task<Result<int>>>(group.Length);
        int oldest = 0, next = 0;
        KernelError? error = null;
        while (next < group.Length)
        {
            var sub = queue.SubmitBatch(new ArraySegment<TxRequest>(group, next, group.Length - next), cap, Rights.Write, actor, ct);
            if (sub.IsOk)
            {
                inFlight.AddRange(sub.Value);
                next += sub.Value.Count;
                continue;
            }
            if (sub.Code != ErrorCode.WouldBlock) { error = sub.Error; break; }
            // Ring full: wait for one of ours to complete (freeing a slot), or, with none in flight, submit one and wait.
            if (oldest < inFlight.Count) await inFlight[oldest++].ConfigureAwait(false);
            else inFlight.Add(Task.FromResult(await queue.SubmitAsync(group[next++], cap, Rights.Write, actor, ct).ConfigureAwait(false)));
        }
        if (!untilSent) return (next, next == 0 ? error : null);
        int sent = 0;
        foreach (var r in await Task.WhenAll(inFlight).ConfigureAwait(false))
            if (r.IsOk) sent++;
            else error ??= r.Error;
        return (sent, error);
    }

    /// <summary>Queues a frame without waiting: <see cref="ErrorCode.WouldBlock"/> when its TX ring is full. The task
    /// completes when the device has taken the frame; the frame's memory must stay untouched until then.</summary>
    public Result<Task<Result<int>>> TrySubmitTx(CapabilityToken cap, ReadOnlyMemory<byte> frame, Principal actor = default)
    {
        if (!IsValidFrame(frame)) return Errors.Of(ErrorCode.InvalidArgument, $"frame of {frame.Length} bytes (MTU {Mtu})");
        return _tx[PickTxQueue(frame)].TrySubmit(new TxRequest(frame), cap, Rights.Write, actor);
    }

    /// <summary>A frame fits the MTU — or is a TSO frame (up to a 64 KiB IPv4 packet) for a device that segments.</summary>
    private bool IsValidFrame(ReadOnlyMemory<byte> frame)
    {
        if (frame.Length >= 14 && frame.Length <= Mtu + 14) return true;
        if (frame.Length <= 14 || OffloadedFrame.TryGet(frame) is not { IsOk: true, Value: { SegmentSize: > 0 } o }) return false;
        // An IPv6 TSO frame is the 40-byte IPv6 header plus up to 65,535 bytes of payload; an IPv4 one at most 65,535 in all.
        return o.Ipv6
            ? frame.Length <= 14 + 40 + ushort.MaxValue && (Offloads & NetworkOffloads.Tcp6Segmentation) != 0
            : frame.Length <= 14 + ushort.MaxValue && (Offloads & NetworkOffloads.TcpSegmentation) != 0;
    }

    /// <summary>The device's transmit offloads, passed through: the driver hands frames (and their offload requests) to
    /// the device untouched.</summary>
    public NetworkOffloads Offloads => _device is INetworkOffloads o ? o.Offloads : NetworkOffloads.None;

    /// <summary>The TX queue for <paramref name="frame"/>; a gathered frame is hashed over its headers (where the flow's
    /// addresses and ports are), so it is not copied together just to be steered.</summary>
    private int PickTxQueue(ReadOnlyMemory<byte> frame)
    {
        if (_tx.Length == 1) return 0;
        if (_options.Steering == TxSteering.RoundRobin) return (int)((uint)Interlocked.Increment(ref _nextTx) % (uint)_tx.Length);
        var headers = OffloadedFrame.TryGetGatheredHeaders(frame, out var h) ? h : frame.Span;
        return (int)(FlowHash.Of(headers) % (uint)_tx.Length);
    }

    // ---- receive ----

    /// <summary>Posts <paramref name="buffer"/> (at least <see cref="MinReceiveBuffer"/> bytes) to RX queue
    /// <paramref name="queue"/>; completes with the length of the frame the device put in it. Needs
    /// <see cref="Rights.Read"/>. Cancelling withdraws the buffer (completes with <see cref="ErrorCode.Cancelled"/>).</summary>
    public Task<Result<int>> PostReceiveAsync(CapabilityToken cap, int queue, Memory<byte> buffer, Principal actor = default,
        CancellationToken ct = default)
    {
        var v = CheckRx(queue, buffer.Length);
        return v.IsOk ? _rx[queue].SubmitAsync(new RxRequest(buffer, ct), cap, Rights.Read, actor, ct) : Task.FromResult(Result<int>.Fail(v.Error));
    }

    /// <summary>Posts several buffers to one RX queue with one capability check and one doorbell (stops at a full ring).</summary>
    public Result<IReadOnlyList<Task<Result<int>>>> PostReceiveBatch(CapabilityToken cap, int queue, IReadOnlyList<Memory<byte>> buffers,
        Principal actor = default, CancellationToken ct = default)
    {
        return PostReceiveBatch(cap, queue, buffers, actor, ct, resumeInline: false);
    }

    /// <summary>Set in a completed receive's length, for requests that asked (<see cref="RxRequest.ReportsChecksum"/>),
    /// when the device verified the frame's TCP/UDP checksum; frame lengths never come near it.</summary>
    internal const int RxChecksumVerifiedFlag = 1 << 30;

    /// <summary>The same, with the completions resuming their awaiters on the completing thread when
    /// <paramref name="resumeInline"/> (the stack's face under <see cref="NicOptions.InlineCompletions"/>).</summary>
    internal Result<IReadOnlyList<Task<Result<int>>>> PostReceiveBatch(CapabilityToken cap, int queue, IReadOnlyList<Memory<byte>> buffers,
        Principal actor, CancellationToken ct, bool resumeInline, bool reportChecksum = false)
    {
        for (int i = 0; i < buffers.Count; i++) // not foreach: an IReadOnlyList's enumerator is a box per post
        {
            var v = CheckRx(queue, buffers[i].Length);
            if (!v.IsOk) return v.Error;
        }
        var requests = new RxRequest[buffers.Count];
        for (int i = 0; i < requests.Length; i++) requests[i] = new RxRequest(buffers[i], ct) { ReportsChecksum = reportChecksum };
        return _rx[queue].SubmitBatch(requests, cap, Rights.Read, actor, ct, resumeInline);
    }

    /// <summary>The stack's face posting its own buffers (<see cref="NicRxLender"/>): each completion goes to
    /// <paramref name="sink"/> under the buffer's cookie, on the completing thread — no task, completion source or
    /// cancellation registration per buffer. The requests carry their withdrawal token (<see cref="RxRequest.Abandon"/>).</summary>
    internal Result<int> PostReceiveBatch(CapabilityToken cap, int queue, ReadOnlySpan<RxRequest> requests, ReadOnlySpan<int> cookies,
        IQueueCompletionSink<int> sink, Principal actor)
    {
        for (int i = 0; i < requests.Length; i++)
        {
            var v = CheckRx(queue, requests[i].Buffer.Length);
            if (!v.IsOk) return v.Error;
        }
        return _rx[queue].SubmitBatch(requests, cookies, sink, cap, Rights.Read, actor);
    }

    private Result CheckRx(int queue, int length)
    {
        if ((uint)queue >= (uint)_rx.Length) return Result.Fail(ErrorCode.OutOfRange, $"{Name} has RX queues 0..{_rx.Length - 1}");
        if (length < MinReceiveBuffer) return Result.Fail(ErrorCode.InvalidArgument, $"receive buffers hold a full frame: at least {MinReceiveBuffer} bytes");
        return Result.Ok;
    }

    /// <summary>Zero-copy receive: waits for the next frame on RX queue <paramref name="queue"/> and lends it, in the DMA
    /// buffer the device wrote, to <paramref name="actor"/> as a Read-only <see cref="Dma.DmaLoan"/> (needs
    /// <see cref="Rights.Read"/>; charged one receive buffer to the actor's tenant). The device gets the buffer back only
    /// when the loan ends; at most half a queue's buffers are lent at once (Busy beyond), and one tenant holds at most
    /// half of those and half the queue's merge buffers (QuotaExceeded beyond: its <see cref="TenantLoanShare"/>, so it
    /// cannot starve another tenant's receive loans); stopping the NIC revokes every loan. NotSupported on a device that cannot lend (host devices copy). A queue lent from should not also feed the
    /// stack: both would take its frames.</summary>
    public async Task<Result<CapabilityToken>> LendReceiveAsync(CapabilityToken cap, int queue, Dma.DmaLender lender, Principal actor = default,
        CancellationToken ct = default)
    {
        var checkedCap = _caps.Check(cap, Rights.Read, actor);
        if (!checkedCap.IsOk) return checkedCap.Error;
        if (!ReferenceEquals(checkedCap.Value, this)) return Errors.Of(ErrorCode.WrongObjectType, $"capability does not name {Name}");
        if ((uint)queue >= (uint)_rx.Length) return Errors.Of(ErrorCode.OutOfRange, $"{Name} has RX queues 0..{_rx.Length - 1}");
        if (Volatile.Read(ref _disposed) != 0) return Errors.Of(ErrorCode.Closed, $"{Name} is closed");
        if (_device is not IFrameLending lending) return Errors.Of(ErrorCode.NotSupported, $"{Name} cannot lend receive buffers (its frames are copied)");
        return await _loans.LendAsync(lending, queue, Math.Max(MinReceiveBuffer, lending.LargestLentFrame), $"rx-loan {Name}#{queue}", lender, actor, ct).ConfigureAwait(false);
    }

    /// <summary>Frames the stack's face read through DMA loans (<see cref="NicOptions.LendToStack"/>), and the most
    /// it held at once on one queue.</summary>
    public long StackLoans => _loanBatches?.Sum(b => b?.LentTotal ?? 0) ?? 0;
    public int StackLoansPeak => _loanBatches?.Max(b => b?.PeakHeld ?? 0) ?? 0;

    /// <summary>Zero-copy receive loans not yet ended.</summary>
    public int OutstandingLoans => _loans.Outstanding;

    /// <summary>An <see cref="INetworkDevice"/> face that acts with <paramref name="cap"/> (Write to send, Read to
    /// receive; errors are thrown as <see cref="KernelException"/>). It keeps receive buffers posted on every RX queue once
    /// it starts receiving, so frames are shared between faces that receive at the same time.</summary>
    public INetworkDevice Open(CapabilityToken cap, Principal actor = default)
    {
        var view = new NicDeviceView(this, cap, actor);
        lock (_viewsLock) _views.Add(view);
        return view;
    }

    // ---- INetworkBatches (the stack's face) ----

    int INetworkBatches.QueueCount => _rx.Length;

    /// <summary>Lends the frames waiting on RX queue <paramref name="queue"/>, in the driver's own buffers.</summary>
    ValueTask<Result<IRxBatch>> INetworkBatches.ReceiveAsync(int queue, CancellationToken ct)
    {
        if (_self is not { } self || _lenders is not { } lenders) return ValueTask.FromResult(Result<IRxBatch>.Fail(ErrorCode.Closed, $"{Name} did not start"));
        if ((uint)queue >= (uint)lenders.Length) return ValueTask.FromResult(Result<IRxBatch>.Fail(ErrorCode.OutOfRange, $"{Name} has RX queues 0..{lenders.Length - 1}"));
        if (Volatile.Read(ref _disposed) != 0) return ValueTask.FromResult(Result<IRxBatch>.Fail(ErrorCode.Closed, $"{Name} is closed"));
        if (_options.LendToStack && _device is IFrameLending lending && _loanBatches is { } loanBatches)
        {
            var burst = loanBatches[queue] ??= new NicLoanBatch(_loans, lending, queue, _caps, self.Actor, _options.Batch,
                Math.Max(MinReceiveBuffer, lending.LargestLentFrame), $"rx-loan {Name}#{queue}", _options.Timers);
            return burst.ReceiveAsync(ct);
        }
        var lender = lenders[queue] ??= new NicRxLender(this, queue, self.Capability, self.Actor);
        return lender.ReceiveAsync(ct);
    }

    /// <summary>Steers the frames to their TX queues and submits each queue's share with one capability check and one
    /// doorbell; returns once they are in the rings (the frames' memory is the driver's from here on).</summary>
    ValueTask<Result<int>> INetworkBatches.TransmitAsync(IReadOnlyList<ReadOnlyMemory<byte>> frames, CancellationToken ct) =>
        _self is not { } self ? ValueTask.FromResult(Result<int>.Fail(ErrorCode.Closed, $"{Name} did not start"))
        : _options.DirectTransmit && _multi is not null && _tx.Length == 1 ? TransmitDirectAsync(self, frames, ct)
        : new(SubmitBatchAsync(self.Capability, frames, self.Actor, untilSent: false, ct));

    /// <summary>The stack's transmit on a one-queue multi-queue device (<see cref="NicOptions.DirectTransmit"/>): after the
    /// same capability check and frame checks, the batch goes to the device on the caller's thread instead of through the
    /// TX queue pair and its controller task — one thread wake-up less between a received burst and its ACKs. The stack
    /// flushes one batch at a time, so its frames stay in order; other faces keep the queue pair.</summary>
    private async ValueTask<Result<int>> TransmitDirectAsync(NicDeviceView self, IReadOnlyList<ReadOnlyMemory<byte>> frames, CancellationToken ct)
    {
        for (int i = 0; i < frames.Count; i++)
            if (!IsValidFrame(frames[i])) return Errors.Of(ErrorCode.InvalidArgument, $"frame {i} of {frames[i].Length} bytes (MTU {Mtu})");
        if (frames.Count == 0) return 0;
        var allowed = _caps.Check(self.Capability, Rights.Write, self.Actor);
        if (!allowed.IsOk) return allowed.Error;
        if (Volatile.Read(ref _disposed) != 0) return Errors.Of(ErrorCode.Closed, $"{Name} is closed");
        var counters = _txCounters[0];
        int done = 0;
        try
        {
            while (done < frames.Count)
            {
                var rest = frames.Count == 1 || done == 0 ? frames : frames.Skip(done).ToList();
                int sent = await _multi!.SendBatchAsync(0, rest, ct).ConfigureAwait(false);
                if (sent <= 0 || sent > rest.Count) throw new KernelException(ErrorCode.IoError, $"device reported {sent} frames sent");
                long bytes = 0;
                for (int i = done; i < done + sent; i++) bytes += frames[i].Length;
                Interlocked.Add(ref counters.Bytes, bytes);
                Interlocked.Add(ref counters.Frames, sent);
                done += sent;
            }
            Interlocked.Increment(ref counters.Batches);
            return done;
        }
        catch (Exception e) when (e is KernelException or OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            Interlocked.Increment(ref counters.Errors);
            if (done > 0) return done;
            return e is KernelException k ? k.Error : Errors.Of(e is OperationCanceledException ? ErrorCode.Cancelled : ErrorCode.IoError, e.Message);
        }
    }

    // ---- INetworkDevice (a copying face for consumers of the plain interface) ----

    /// <summary>Transmits through the TX queues (INetworkDevice); throws <see cref="KernelException"/> on failure.</summary>
    public ValueTask SendAsync(ReadOnlyMemory<byte> frame, CancellationToken ct = default) => Self.SendAsync(frame, ct);

    /// <summary>Receives the next frame from any RX queue (INetworkDevice); throws <see cref="KernelException"/>
    /// (<see cref="ErrorCode.Closed"/> once disposed). Do not mix with the <see cref="INetworkBatches"/> face: both
    /// would take frames from the same queues.</summary>
    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken ct = default) => Self.ReceiveAsync(buffer, ct);

    private NicDeviceView Self => _self ?? throw new KernelException(ErrorCode.Closed, $"{Name} did not start");

    internal void Forget(NicDeviceView view)
    {
        lock (_viewsLock) _views.Remove(view);
    }

    // ---- controllers ----

    /// <summary>What the thread draining one TX queue works on: the batch it fetched and how far the device took it.
    /// Owned by whoever holds <see cref="Draining"/> (a submitter, the queue's controller, or an unfinished device call).</summary>
    private sealed class TxDrain(int batch)
    {
        public int Draining; // 1 while someone drains this queue: frames go to the device in ring order, one drainer at a time
        public readonly Submission<TxRequest>[] Fetched = new Submission<TxRequest>[batch];
        public readonly ReadOnlyMemory<byte>[] Frames = new ReadOnlyMemory<byte>[batch];
        public int Count, Done;
        public ValueTask<int> Pending; // a device call that did not finish at once
    }

    /// <summary>The TX queue's controller: without <see cref="NicOptions.InlineCompletions"/> it drains on every doorbell;
    /// with them submitters drain (<see cref="DrainTx"/>) and the doorbell only rings on close.</summary>
    private async Task TxController(int index, CancellationToken stop)
    {
        var queue = _tx[index];
        await Task.Yield();
        while (!stop.IsCancellationRequested)
        {
            try { await queue.WaitForDoorbellAsync(stop).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
            DrainTx(index);
        }
    }

    /// <summary>
    /// Hands what is in TX queue <paramref name="index"/>'s ring to the device on this thread, unless another thread is
    /// already draining it (that one re-checks the ring after it lets go, so nothing submitted meanwhile is left behind).
    /// A device call that does not finish at once (a full device ring) is finished by a continuation that keeps the
    /// queue until it is done; other queues are not held up by it.
    /// </summary>
    private void DrainTx(int index)
    {
        var d = _txDrains[index];
        while (Interlocked.CompareExchange(ref d.Draining, 1, 0) == 0)
        {
            InterleavingSeam.Point();
            if (!DrainHeld(index, d))
            {
                _ = FinishTxAsync(index, d);
                return;
            }
            Interlocked.Exchange(ref d.Draining, 0); // a full fence: the re-check below cannot read the ring before the release
            if (_tx[index].PendingSubmissions == 0) return;
        }
    }

    /// <summary>Drains and transmits until the ring is empty (true), or a device call is still running (false; it is in
    /// <see cref="TxDrain.Pending"/>). Every fetched submission is completed exactly once: sent, or failed typed.</summary>
    private bool DrainHeld(int index, TxDrain d)
    {
        var queue = _tx[index];
        var counters = _txCounters[index];
        int hw = index % HardwareQueues;
        while (true)
        {
            if (d.Done == d.Count)
            {
                Array.Clear(d.Frames, 0, d.Count);
                d.Count = d.Done = 0;
                int n = queue.DrainSubmissions(d.Fetched);
                if (n == 0) return true;
                for (int i = 0; i < n; i++) d.Frames[i] = d.Fetched[i].Request.Frame;
                d.Count = n;
                Interlocked.Increment(ref counters.Batches);
            }
            ValueTask<int> call;
            if (Volatile.Read(ref _disposed) != 0)
                call = ValueTask.FromException<int>(new KernelException(ErrorCode.Closed, $"{Name} is shutting down"));
            else
                call = Transmit(hw, new ArraySegment<ReadOnlyMemory<byte>>(d.Frames, d.Done, d.Count - d.Done), _stop.Token);
            if (!call.IsCompleted)
            {
                d.Pending = call;
                return false;
            }
            Account(index, d, call);
        }
    }

    private async Task FinishTxAsync(int index, TxDrain d)
    {
        do
        {
            var call = d.Pending;
            d.Pending = default;
            int sent = 0;
            Exception? error = null;
            try { sent = await call.ConfigureAwait(false); }
            catch (Exception e) { error = e; }
            Account(index, d, sent, error);
        }
        while (!DrainHeld(index, d));
        Interlocked.Exchange(ref d.Draining, 0);
        if (_tx[index].PendingSubmissions > 0) DrainTx(index);
    }

    /// <summary>Reads a device call that finished at once (consumed exactly once) and accounts for it.</summary>
    private void Account(int index, TxDrain d, ValueTask<int> call)
    {
        int sent = 0;
        Exception? error = null;
        try { sent = call.GetAwaiter().GetResult(); }
        catch (Exception e) { error = e; }
        Account(index, d, sent, error);
    }

    /// <summary>Completes the frames a finished device call took, or fails the first of them with a typed error.</summary>
    private void Account(int index, TxDrain d, int sent, Exception? error)
    {
        var queue = _tx[index];
        var counters = _txCounters[index];
        if (error is null && (sent <= 0 || sent > d.Count - d.Done))
            error = new KernelException(ErrorCode.IoError, $"device reported {sent} frames sent");
        if (error is null)
        {
            for (int i = d.Done; i < d.Done + sent; i++)
            {
                Interlocked.Add(ref counters.Bytes, d.Frames[i].Length);
                queue.Complete(d.Fetched[i].Tag, d.Frames[i].Length);
            }
            Interlocked.Add(ref counters.Frames, sent);
            d.Done += sent;
            return;
        }
        var failure = error switch
        {
            KernelException k => k.Error,
            OperationCanceledException => Errors.Of(ErrorCode.Closed, $"{Name} is shutting down"),
            _ => Errors.Of(ErrorCode.IoError, error.Message),
        };
        Interlocked.Increment(ref counters.Errors);
        queue.Complete(d.Fetched[d.Done].Tag, failure);
        d.Done++;
    }

    private async ValueTask<int> Transmit(int hw, ArraySegment<ReadOnlyMemory<byte>> frames, CancellationToken stop)
    {
        if (_multi is not null) return await _multi.SendBatchAsync(hw, frames, stop).ConfigureAwait(false);
        await _device.SendAsync(frames[0], stop).ConfigureAwait(false);
        return 1;
    }

    private async Task RxController(int index, CancellationToken stop)
    {
        var queue = _rx[index];
        var counters = _rxCounters[index];
        var fetched = new Submission<RxRequest>[_options.Batch];
        var posted = new PostedRxBuffers(_options.QueueDepth); // posted buffers not yet filled, in posting order
        var lengths = new int[_options.Batch];
        var verified = new bool[_options.Batch]; // the device's checksum verdict per frame (host devices copy, so it rides the length)
        var tags = new ushort[_options.QueueDepth]; // a burst's completions, posted together (QueuePair.Complete(tags, results))
        var results = new Result<int>[_options.QueueDepth];
        // The linked source for the common case, every buffer withdrawn by one token (the stack's face's): kept from
        // burst to burst until it fires, instead of a new linked source and two registrations per burst.
        (CancellationToken For, CancellationTokenSource? Source) withdrawWake = default;
        await Task.Yield();
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (posted.Count == 0) await queue.WaitForDoorbellAsync(stop).ConfigureAwait(false);
            }
            catch (OperationCanceledException) { break; }
            int n;
            while ((n = queue.DrainSubmissions(fetched)) > 0) posted.Add(fetched.AsSpan(0, n));
            // Hand withdrawn buffers back untouched (their completion only frees the tag); each distinct token is asked
            // once, and the buffers are scanned only when one fired — nothing is withdrawn on almost every pass.
            if (posted.AnyWithdrawn())
            {
                int withdrawn = posted.TakeWithdrawn(tags);
                for (int i = 0; i < withdrawn; i++) queue.Complete(tags[i], Errors.Of(ErrorCode.Cancelled, "receive buffer withdrawn"));
            }
            if (posted.Count == 0) continue;
            int take = Math.Min(posted.Count, _options.Batch);
            var buffers = posted.Front(take);
            int got;
            // Wait for frames until stopped, or until a consumer withdraws one of the posted buffers.
            using var wake = WakeOnWithdraw(stop, posted, ref withdrawWake);
            try
            {
                var ct = wake?.Token ?? withdrawWake.Source?.Token ?? stop;
                got = _multi is not null
                    ? await _multi.ReceiveBatchAsync(index, buffers, lengths, verified, ct).ConfigureAwait(false)
                    : await ReceiveOne(buffers[0], lengths, verified, ct).ConfigureAwait(false);
                if (got < 0 || got > take) throw new KernelException(ErrorCode.IoError, $"device reported {got} frames received");
            }
            catch (OperationCanceledException) when (!stop.IsCancellationRequested) { continue; }
            catch (OperationCanceledException) { break; }
            catch (Exception e) when (e is KernelException or IOException or ObjectDisposedException or InvalidOperationException)
            {
                var error = e is KernelException k ? k.Error : Errors.Of(ErrorCode.IoError, e.Message);
                int failed = posted.TakeAll(tags);
                for (int i = 0; i < failed; i++) results[i] = error;
                queue.Complete(tags.AsSpan(0, failed), results.AsSpan(0, failed));
                Interlocked.Increment(ref counters.Errors);
                // The device is gone (or broke its rings and needs a reset): so is this queue.
                if (error.Code is ErrorCode.Closed or ErrorCode.Corrupted) { queue.Close(); break; }
                continue;
            }
            if (got == 0) continue;
            Interlocked.Increment(ref counters.Batches);
            long bytes = 0;
            for (int i = 0; i < got; i++)
            {
                ref readonly var p = ref posted[i];
                bytes += lengths[i];
                tags[i] = p.Tag;
                results[i] = verified[i] && p.Request.ReportsChecksum ? lengths[i] | RxChecksumVerifiedFlag : lengths[i];
            }
            Interlocked.Add(ref counters.Bytes, bytes);
            Interlocked.Add(ref counters.Frames, got);
            posted.RemoveFront(got);
            // The whole burst at once, oldest woken last: a consumer resumed inline (the stack's face) runs here, on
            // the device's receive thread, and finds every frame of the burst ready.
            queue.Complete(tags.AsSpan(0, got), results.AsSpan(0, got));
        }
        withdrawWake.Source?.Dispose();
    }

    /// <summary>A token that fires when the controller stops or a consumer withdraws one of the posted buffers (any of
    /// them, not only those being filled: a withdrawn one is then handed back at once). Returns a source for the caller to
    /// dispose when the buffers carry several tokens; when they share one, returns null and leaves it in
    /// <paramref name="cached"/> (reused while that token is the one and nothing fired).</summary>
    private static CancellationTokenSource? WakeOnWithdraw(CancellationToken stop, PostedRxBuffers posted,
        ref (CancellationToken For, CancellationTokenSource? Source) cached)
    {
        int distinct = posted.TokenCount;
        if (distinct == 0) { cached.Source?.Dispose(); cached = default; return null; }
        if (distinct == 1)
        {
            var a = posted.Token(0);
            if (cached.Source is { IsCancellationRequested: false } && cached.For == a) return null;
            cached.Source?.Dispose();
            cached = (a, CancellationTokenSource.CreateLinkedTokenSource(stop, a));
            return null;
        }
        if (distinct == 2) return CancellationTokenSource.CreateLinkedTokenSource(stop, posted.Token(0), posted.Token(1));
        var all = new CancellationToken[distinct + 1];
        for (int i = 0; i < distinct; i++) all[i] = posted.Token(i);
        all[distinct] = stop;
        return CancellationTokenSource.CreateLinkedTokenSource(all);
    }

    private async ValueTask<int> ReceiveOne(Memory<byte> buffer, int[] lengths, bool[] verified, CancellationToken stop)
    {
        verified[0] = false;
        lengths[0] = await _device.ReceiveAsync(buffer, stop).ConfigureAwait(false);
        return 1;
    }

    // ---- shutdown ----

    /// <summary>Stops the controllers, fails every pending request with <see cref="ErrorCode.Closed"/>, and (with
    /// <see cref="NicOptions.OwnsDevice"/>) disposes the HAL device.</summary>
    public ValueTask DisposeAsync() => StopAsync(_options.OwnsDevice);

    private async ValueTask StopAsync(bool disposeDevice)
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stop.Cancel();
        _loans.RevokeAll(); // before the device frees the buffers the loans view
        // Controllers first, so no device call is still filling a buffer whose request is about to fail.
        try { await Task.WhenAll(_controllers).ConfigureAwait(false); } catch (OperationCanceledException) { }
        foreach (var q in _tx) q.Close();
        foreach (var q in _rx) q.Close();
        NicDeviceView[] views;
        lock (_viewsLock) views = _views.ToArray();
        foreach (var l in _lenders ?? []) l?.Dispose();
        if (_self is not null) await _self.DisposeAsync().ConfigureAwait(false);
        foreach (var v in views) await v.DisposeAsync().ConfigureAwait(false);
        if (disposeDevice) await _device.DisposeAsync().ConfigureAwait(false);
    }

    private readonly record struct RxFrame(byte[] Buffer, int Length);
}
