using System.Runtime.CompilerServices;
using System.Collections.Concurrent;
using Photon.Kernel.Diagnostics.Metrics;
using Photon.Kernel.Diagnostics.Tracing;
using Photon.Kernel.Hal;
using Photon.Kernel.Scheduling;
using Photon.Net.Device;
using Photon.Net.Sockets;
using Photon.Net.Tcp;
using Photon.Net.Udp;
using Photon.Net.Wire;

namespace Photon.Net;

/// <summary>
/// Photon's TCP/IP stack: interfaces, ARP, IPv4 (validation, reassembly, fragmentation, forwarding), ICMP, UDP and TCP
/// over any <see cref="INetworkDevice"/>, driven through <see cref="INetworkBatches"/>. This file is the frame loop: it
/// receives bursts, demultiplexes Ethernet to ARP (<see cref="NetInterface"/>) and IPv4 (<see cref="Ipv4Layer"/>,
/// which hands on to <see cref="IcmpLayer"/>, <see cref="UdpLayer"/> and <see cref="TcpLayer"/>), ticks the timers and
/// drains the outbox; headers are read and written only through the views in <c>Wire/</c>. It is poll-driven in the
/// manner of smoltcp: protocol code is synchronous and runs under one lock (<see cref="Gate"/>), driven by received
/// frames, a periodic tick and socket calls; sockets are the async boundary (their waiters complete asynchronously).
/// Frames produced under the lock go to an outbox that one drainer at a time hands to the devices, so transmit order is
/// preserved and no device call happens under the lock.
/// </summary>
public sealed partial class NetworkStack : IAsyncDisposable
{
    internal readonly object Gate = new();
    private readonly IKernelTimers _timers;
    private readonly List<NetInterface> _interfaces = new();
    private readonly ConcurrentQueue<(NetInterface Nic, byte[] Frame, TxOffload Offload, TxPayload Payload)> _outbox = new();
    private readonly long[] _drops = new long[Enum.GetValues<DropReason>().Length];
    private readonly long[] _counters = new long[Enum.GetValues<Counter>().Length];
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = new();
    private int _flushing;

    public NetworkStack(IKernelTimers timers, NetworkStackOptions? options = null)
    {
        _timers = timers;
        Options = options ?? new NetworkStackOptions();
        Ipv4 = new Ipv4Layer(this);
        Icmp = new IcmpLayer(this, timers);
        Tcp = new TcpLayer(this);
        Udp = new UdpLayer(this);
    }

    public NetworkStackOptions Options { get; }
    public RoutingTable Routes { get; } = new();
    public TcpLayer Tcp { get; }
    internal Ipv4Layer Ipv4 { get; }
    internal IcmpLayer Icmp { get; }
    public UdpLayer Udp { get; }
    internal TimeSpan Now => _timers.Now;
    internal IKernelTimers Timers => _timers;

    public IReadOnlyList<NetInterface> Interfaces { get { lock (Gate) return _interfaces.ToList(); } }

    /// <summary>The last exception a receive or tick hit (see <see cref="DropReason.InternalError"/>), for diagnosis.</summary>
    public Exception? LastInternalError { get; private set; }

    public long Dropped(DropReason reason) => Interlocked.Read(ref _drops[(int)reason]);
    public long DroppedTotal => _drops.Sum();
    public long this[Counter c] => Interlocked.Read(ref _counters[(int)c]);
    public IReadOnlyDictionary<string, long> Statistics =>
        Enum.GetValues<DropReason>().Select(r => ($"drop.{r}", Dropped(r)))
            .Concat(Enum.GetValues<Counter>().Select(c => ($"{c}", this[c])))
            .Where(x => x.Item2 != 0).ToDictionary(x => x.Item1, x => x.Item2);

    internal void Count(DropReason reason) => Interlocked.Increment(ref _drops[(int)reason]);
    internal void Count(Counter c, long n = 1) => Interlocked.Add(ref _counters[(int)c], n);

    public IReadOnlyList<ArpEntry> ArpCache
    {
        get { lock (Gate) return _interfaces.SelectMany(i => i.ArpEntries(Now)).OrderBy(e => e.Address.Value).ToList(); }
    }

    /// <summary>Adds an interface with an address and its on-link route, and starts receiving on it if the stack runs.</summary>
    public Result<NetInterface> AddInterface(INetworkDevice device, Ipv4Cidr address)
    {
        if (device.MacAddress.Length != 6) return Errors.Of(ErrorCode.InvalidArgument, "a NIC needs a 6-byte MAC address");
        if (device.Mtu is < 576 or > 9000) return Errors.Of(ErrorCode.InvalidArgument, $"MTU {device.Mtu} outside 576..9000");
        if (address.Address == Ipv4Address.Any || address.PrefixLength is 0 or > 30)
            return Errors.Of(ErrorCode.InvalidArgument, $"{address} is not a usable interface address");
        NetInterface nic;
        lock (Gate)
        {
            if (_interfaces.Any(i => i.Name == device.Name)) return Errors.Of(ErrorCode.AlreadyExists, $"interface {device.Name} exists");
            if (_interfaces.Any(i => i.Address == address.Address)) return Errors.Of(ErrorCode.AddressInUse, $"{address.Address} is assigned");
            nic = new NetInterface(this, device, address);
            _interfaces.Add(nic);
            if (_started) _loops.Add(ReceiveLoop(nic, _stop.Token));
        }
        var route = Routes.Add(new Route(new Ipv4Cidr(address.Network, address.PrefixLength), null, nic, 0));
        if (!route.IsOk) return route.Error;
        return nic;
    }

    /// <summary>Adds an interface without an address (0.0.0.0/0, no routes): until <see cref="Configure"/> gives it one
    /// it sends from 0.0.0.0 to the limited broadcast and takes broadcasts — what a DHCP client starts from.</summary>
    public Result<NetInterface> AddUnconfiguredInterface(INetworkDevice device)
    {
        if (device.MacAddress.Length != 6) return Errors.Of(ErrorCode.InvalidArgument, "a NIC needs a 6-byte MAC address");
        if (device.Mtu is < 576 or > 9000) return Errors.Of(ErrorCode.InvalidArgument, $"MTU {device.Mtu} outside 576..9000");
        lock (Gate)
        {
            if (_interfaces.Any(i => i.Name == device.Name)) return Errors.Of(ErrorCode.AlreadyExists, $"interface {device.Name} exists");
            var nic = new NetInterface(this, device, new Ipv4Cidr(Ipv4Address.Any, 0));
            _interfaces.Add(nic);
            if (_started) _loops.Add(ReceiveLoop(nic, _stop.Token));
            return nic;
        }
    }

    /// <summary>Gives <paramref name="nic"/> a new address (its old on-link route replaced) and, with
    /// <paramref name="gateway"/>, the default route through it (replacing any default route); checked before anything
    /// changes. A DHCP lease is applied this way.</summary>
    public Result Configure(NetInterface nic, Ipv4Cidr address, Ipv4Address? gateway)
    {
        if (address.Address == Ipv4Address.Any || address.PrefixLength is 0 or > 30)
            return Errors.Of(ErrorCode.InvalidArgument, $"{address} is not a usable interface address");
        if (gateway is { } gw && (!address.Contains(gw) || gw == address.Address))
            return Errors.Of(ErrorCode.Unreachable, $"gateway {gw} is not a neighbour on {address}");
        lock (Gate)
        {
            if (!_interfaces.Contains(nic)) return Errors.Of(ErrorCode.NotFound, $"{nic.Name} is not an interface of this stack");
            if (_interfaces.Any(i => i != nic && i.Address == address.Address)) return Errors.Of(ErrorCode.AddressInUse, $"{address.Address} is assigned");
            Routes.RemoveInterface(nic);
            nic.SetCidr(address);
        }
        var onLink = Routes.Add(new Route(new Ipv4Cidr(address.Network, address.PrefixLength), null, nic, 0));
        if (!onLink.IsOk) return onLink;
        if (gateway is { } g)
        {
            Routes.Remove(new Ipv4Cidr(Ipv4Address.Any, 0)); // NotFound when there was none
            return Routes.AddDefault(g, nic);
        }
        return Result.Ok;
    }

    /// <summary>Takes <paramref name="nic"/>'s address and routes away (an expired lease): back to 0.0.0.0/0.</summary>
    public void Unconfigure(NetInterface nic)
    {
        lock (Gate)
        {
            Routes.RemoveInterface(nic);
            nic.SetCidr(new Ipv4Cidr(Ipv4Address.Any, 0));
        }
    }

    private bool _started;

    /// <summary>Starts a receive loop per interface and the protocol tick (timers: RTO, TIME_WAIT, ARP, reassembly).</summary>
    public void Start()
    {
        lock (Gate)
        {
            if (_started) return;
            _started = true;
            foreach (var nic in _interfaces) _loops.Add(ReceiveLoop(nic, _stop.Token));
            _loops.Add(TickLoop(_stop.Token));
        }
    }

    private Task ReceiveLoop(NetInterface nic, CancellationToken stop) =>
        Task.WhenAll(Enumerable.Range(0, nic.Batches.QueueCount).Select(q => ReceiveLoop(nic, q, stop)));

    /// <summary>One receive queue: each wakeup takes the burst of frames waiting (in the device's buffers when it lends
    /// them), processes it in place under one lock acquisition, hands the buffers back, and sends the answers to the
    /// whole burst in one flush. A closed device or a stopping stack ends the loop.</summary>
    private async Task ReceiveLoop(NetInterface nic, int queue, CancellationToken stop)
    {
        await Task.Yield();
        var device = nic.Batches;
        var resumes = new List<PendingCalls<bool>.Resume>(); // this loop's own: each receive queue has one
        while (!stop.IsCancellationRequested)
        {
            var r = await device.ReceiveAsync(queue, stop).ConfigureAwait(false);
            if (!r.IsOk) return;
            var batch = r.Value;
            if (KernelTrace.Enabled) KernelTrace.Instant(TracePoint.NicReceive, batch.Count, 0, nic.Name);
            KernelMetrics.NicFrames(batch.Count, received: true);
            NetPathTimeline.Mark(NetPathEvent.StackBatch, batch.Count);
            lock (Gate)
            {
                BurstResumes = resumes;
                try
                {
                    for (int i = 0; i < batch.Count; i++)
                    {
                        RxChecksumVerified = batch.ChecksumVerified(i);
                        if (!batch.View(i, (Stack: this, Nic: nic), static (frame, s) => s.Stack.HandleFrameGuarded(s.Nic, frame)).IsOk)
                            Count(DropReason.RxLoanRevoked);
                    }
                    RxChecksumVerified = false;
                    FlushBurstAcksGuarded();
                }
                finally { BurstResumes = null; } // never left pointing at a list nobody drains
            }
            batch.Release();
            await FlushAsync().ConfigureAwait(false);
            if (resumes.Count > 0) ResumeAfterBurst(resumes);
            NetPathTimeline.Mark(NetPathEvent.StackDone);
        }
    }

    /// <summary>Receives woken by the burst being handled now whose sockets asked to be resumed on the receiving thread
    /// (<see cref="TcpConnection.ResumeReceivesInline"/>), completed once the lock is released; null outside a burst.
    /// Guarded by <see cref="Gate"/>: set and cleared inside one lock acquisition by the burst's owner.</summary>
    internal List<PendingCalls<bool>.Resume>? BurstResumes { get; private set; }

    /// <summary>At most this many receives resumed on the receiving thread per burst; the rest are posted, so one burst's
    /// sockets cannot hold the receive thread from the next burst for long.</summary>
    internal const int InlineResumesPerBurst = 8;

    /// <summary>Outside the lock, on the receiving thread: resumes the burst's inline receives (their replies go to the
    /// device from here, with the ACK for the request riding on them).</summary>
    private void ResumeAfterBurst(List<PendingCalls<bool>.Resume> resumes)
    {
        int inline = Math.Min(resumes.Count, InlineResumesPerBurst);
        // Counted first: a resumed caller may look at the counters before this thread gets back here.
        Interlocked.Add(ref _counters[(int)Counter.TcpReceivesResumedInline], inline);
        Interlocked.Add(ref _counters[(int)Counter.TcpReceivesResumedLater], resumes.Count - inline);
        PendingCalls<bool>.ResumeAll(resumes, InlineResumesPerBurst);
    }

    /// <summary>The NIC vouched for the transport checksum of the frame being handled now (receive checksum offload).
    /// Set around one frame's synchronous handling under <see cref="Gate"/>, so the flag cannot outlive its frame; IPv4
    /// ignores it for reassembled datagrams (a fragment's flag says nothing of the whole).</summary>
    internal bool RxChecksumVerified { get; private set; }

    private void HandleFrameGuarded(NetInterface nic, ReadOnlySpan<byte> frame)
    {
        try { HandleFrame(nic, frame); }
        catch (Exception e) when (e is not OutOfMemoryException) { Count(DropReason.InternalError); LastInternalError = e; }
    }

    private void FlushBurstAcksGuarded()
    {
        try { Tcp.FlushBurstAcks(); }
        catch (Exception e) when (e is not OutOfMemoryException) { Count(DropReason.InternalError); LastInternalError = e; }
    }

    private async Task TickLoop(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            // On a timer that resumes us on its own thread when there is one: a tick that wakes a pool worker makes it
            // spin (sched_yield) before sleeping again — more CPU than the round trips between two ticks (tcp15).
            try { await (_timers is IInlineTimers inline ? inline.DelayInline(Options.TickInterval, stop) : _timers.Delay(Options.TickInterval, stop)).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            NetPathTimeline.Mark(NetPathEvent.Tick);
            lock (Gate)
            {
                var now = Now;
                try
                {
                    foreach (var nic in _interfaces) nic.Tick(now);
                    Ipv4.Tick(now);
                    _ipv6?.Tick(now);
                    Tcp.Tick(now);
                }
                catch (Exception e) when (e is not OutOfMemoryException) { Count(DropReason.InternalError); LastInternalError = e; }
            }
            await FlushAsync().ConfigureAwait(false);
            try { Ticked?.Invoke(); }
            catch (Exception e) when (e is not OutOfMemoryException) { Count(DropReason.InternalError); LastInternalError = e; }
        }
    }

    /// <summary>Raised after every tick, outside the stack's lock (the socket layer's revocation sweep runs here).</summary>
    internal event Action? Ticked;

    /// <summary>Feeds one frame as if <paramref name="nic"/> had received it (fuzzers and tests use this).</summary>
    public void InjectFrame(NetInterface nic, ReadOnlySpan<byte> frame)
    {
        var resumes = new List<PendingCalls<bool>.Resume>();
        lock (Gate)
        {
            BurstResumes = resumes;
            try { HandleFrame(nic, frame); }
            finally { BurstResumes = null; }
            Tcp.FlushBurstAcks();
        }
        _ = FlushAsync();
        if (resumes.Count > 0) ResumeAfterBurst(resumes);
    }

    /// <summary>As <see cref="InjectFrame(NetInterface, ReadOnlySpan{byte})"/>, with the device's word that the frame's
    /// transport checksum was verified (what a lending device's batch says): the fuzzers' way past the checksum check.</summary>
    internal void InjectFrame(NetInterface nic, ReadOnlySpan<byte> frame, bool checksumVerified)
    {
        var resumes = new List<PendingCalls<bool>.Resume>();
        lock (Gate)
        {
            RxChecksumVerified = checksumVerified;
            BurstResumes = resumes;
            try { HandleFrame(nic, frame); }
            finally { RxChecksumVerified = false; BurstResumes = null; }
            Tcp.FlushBurstAcks();
        }
        _ = FlushAsync();
        if (resumes.Count > 0) ResumeAfterBurst(resumes);
    }

    // ---- transmit ----

    /// <summary>Queues a frame; one with an <paramref name="offload"/> request goes to the device as an
    /// <see cref="OffloadedFrame"/> (only ever for an interface whose device offered that offload).
    /// With a <paramref name="payload"/> (only for a device offering <see cref="NetworkOffloads.ScatterGather"/>) the frame
    /// is its headers and the payload follows by reference.</summary>
    internal void Transmit(NetInterface nic, byte[] frame, TxOffload offload = default, TxPayload payload = default) =>
        _outbox.Enqueue((nic, frame, offload, payload));

    private static ReadOnlyMemory<byte> TxToken(byte[] frame, TxOffload offload, TxPayload payload) =>
        !payload.IsEmpty ? OffloadedFrame.WrapGathered(frame, payload.First, payload.Second, offload, payload.Lease)
        : offload.IsNone ? frame : OffloadedFrame.Wrap(frame, offload);

    /// <summary>Hands queued frames to the devices; one drainer at a time keeps frames in order. Consecutive frames for
    /// one interface go down as one batch (one doorbell per queue on the NIC driver, one sendmmsg on AF_PACKET); the
    /// frames are the device's from then on (they are never reused here). Nothing queued (a receive that found data, a
    /// burst that answered nothing) costs no state machine; a flush whose device takes the batch at once completes
    /// synchronously without allocating (the run list is the drainer's, reused; the state machine box is pooled).</summary>
    internal ValueTask FlushAsync() => _outbox.IsEmpty ? default : DrainOutboxAsync();

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask DrainOutboxAsync()
    {
        while (!_outbox.IsEmpty)
        {
            if (Interlocked.Exchange(ref _flushing, 1) != 0) return;
            var run = _flushRun; // only the drainer (holder of _flushing) touches it
            try
            {
                // No TryPeek: a peek marks ConcurrentQueue's segment preserved for observation, and the next enqueue then
                // allocates a fresh segment (~100 B per flush, issue #11's round-trip heap count). The frame that ends a
                // run (another interface, or a full run) is carried to the next run instead.
                bool have = _outbox.TryDequeue(out var item);
                while (have)
                {
                    var nic = item.Nic;
                    run.Clear();
                    run.Add(TxToken(item.Frame, item.Offload, item.Payload));
                    have = false;
                    while (_outbox.TryDequeue(out var next))
                    {
                        if (next.Nic != nic || run.Count >= 64) { item = next; have = true; break; }
                        run.Add(TxToken(next.Frame, next.Offload, next.Payload));
                    }
                    await SendRunAsync(nic, run).ConfigureAwait(false);
                    if (!have) have = _outbox.TryDequeue(out item);
                }
            }
            finally
            {
                run.Clear(); // the frames are the device's now: hold no references to them
                Volatile.Write(ref _flushing, 0);
            }
        }
    }

    /// <summary>The batch being handed to a device by the drainer of <see cref="FlushAsync"/> (guarded by <c>_flushing</c>).</summary>
    private readonly List<ReadOnlyMemory<byte>> _flushRun = new(64);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendRunAsync(NetInterface nic, List<ReadOnlyMemory<byte>> run)
    {
        long started = KernelTrace.Enabled ? KernelTrace.Now : 0;
        var r = await nic.Batches.TransmitAsync(run).ConfigureAwait(false);
        int sent = r.IsOk ? Math.Clamp(r.Value, 0, run.Count) : 0;
        if (KernelTrace.Enabled && started != 0) KernelTrace.Complete(TracePoint.NicTransmit, started, sent, run.Sum(f => (long)f.Length), nic.Name);
        KernelMetrics.NicFrames(sent, received: false);
        for (int i = 0; i < run.Count; i++)
        {
            if (i < sent)
            {
                Interlocked.Increment(ref nic.FramesOut);
                Interlocked.Add(ref nic.BytesOut, run[i].Length);
            }
            else Count(DropReason.TxError);
        }
    }

    internal (NetInterface Nic, Ipv4Address NextHop)? RouteTo(Ipv4Address destination)
    {
        if (destination == Ipv4Address.Broadcast)
            return _interfaces.FirstOrDefault(i => i.IsUp) is { } first ? (first, destination) : null;
        return Routes.Lookup(destination) is { } r ? (r.Route.Interface, r.NextHop) : null;
    }

    /// <summary>The address this stack uses as source towards <paramref name="destination"/>.</summary>
    internal Ipv4Address? SourceFor(Ipv4Address destination) => RouteTo(destination)?.Nic.Address;

    /// <summary>Asked for every packet: a loop, as a lambda capturing <paramref name="a"/> allocated per call.</summary>
    internal bool IsLocalAddress(Ipv4Address a)
    {
        foreach (var i in _interfaces)
            if (i.Address == a) return true;
        return false;
    }

    // ---- receive ----

    private void HandleFrame(NetInterface nic, ReadOnlySpan<byte> buffer)
    {
        Interlocked.Increment(ref nic.FramesIn);
        Interlocked.Add(ref nic.BytesIn, buffer.Length);
        if (!EthernetFrame.TryParse(buffer, out var frame, out var why)) { Count(why); return; }
        var dst = frame.Destination;
        if (!dst.SequenceEqual(nic.MacBytes) && !dst.SequenceEqual(Mac.Broadcast) && !nic.Ipv6.AcceptsGroup(dst)) { Count(DropReason.NotForUs); return; }
        switch (frame.EtherType)
        {
            case EtherType.Arp: nic.HandleArp(frame.Payload, Now); break;
            case EtherType.Ipv4: Ipv4.Handle(nic, frame.Payload); break;
            case EtherType.Ipv6: Ipv6.Handle(nic, frame.Payload); break;
            default: Count(DropReason.UnsupportedEtherType); break;
        }
    }

    /// <summary>Sends an ICMP echo request and waits for the reply; returns the round-trip time.</summary>
    public Task<Result<TimeSpan>> PingAsync(Ipv4Address target, TimeSpan timeout, int payloadSize = 56, CancellationToken ct = default) =>
        Icmp.PingAsync(target, timeout, payloadSize, ct);

    public async ValueTask DisposeAsync()
    {
        lock (Gate) Tcp.AbortAll();
        await FlushAsync().ConfigureAwait(false);
        _stop.Cancel();
        Task[] loops;
        lock (Gate) loops = _loops.ToArray();
        try { await Task.WhenAll(loops).ConfigureAwait(false); } catch (OperationCanceledException) { }
    }
}
