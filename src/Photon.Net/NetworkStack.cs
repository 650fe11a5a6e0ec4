using System.Buffers.Binary;
using System.Collections.Concurrent;
using Photon.Kernel.Hal;
using Photon.Kernel.Scheduling;
using Photon.Net.Tcp;
using Photon.Net.Udp;

namespace Photon.Net;

/// <summary>
/// Photon's TCP/IP stack: interfaces, ARP, IPv4 (validation, reassembly, fragmentation, forwarding), ICMP, UDP and TCP
/// over any <see cref="INetworkDevice"/>. It is poll-driven in the manner of smoltcp: protocol code is synchronous and
/// runs under one lock (<see cref="Gate"/>), driven by received frames, a periodic tick and socket calls; sockets are the
/// async boundary (their waiters complete asynchronously). Frames produced under the lock go to an outbox that one
/// drainer at a time hands to the devices, so transmit order is preserved and no device call happens under the lock.
/// </summary>
public sealed class NetworkStack : IAsyncDisposable
{
    private const byte ProtoIcmp = 1, ProtoTcp = 6, ProtoUdp = 17;
    internal readonly object Gate = new();
    private readonly IKernelTimers _timers;
    private readonly List<NetInterface> _interfaces = new();
    private readonly ConcurrentQueue<(NetInterface Nic, byte[] Frame)> _outbox = new();
    private readonly long[] _drops = new long[Enum.GetValues<DropReason>().Length];
    private readonly long[] _counters = new long[Enum.GetValues<Counter>().Length];
    private readonly Dictionary<(ushort Id, ushort Seq), TaskCompletionSource<TimeSpan>> _pings = new();
    private readonly Ipv4Reassembler _reassembler;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = new();
    private int _flushing;
    private ushort _ipId = (ushort)Random.Shared.Next();
    private ushort _pingSeq;

    public NetworkStack(IKernelTimers timers, NetworkStackOptions? options = null)
    {
        _timers = timers;
        Options = options ?? new NetworkStackOptions();
        _reassembler = new Ipv4Reassembler(this);
        Tcp = new TcpLayer(this);
        Udp = new UdpLayer(this);
    }

    public NetworkStackOptions Options { get; }
    public RoutingTable Routes { get; } = new();
    public TcpLayer Tcp { get; }
    public UdpLayer Udp { get; }
    internal TimeSpan Now => _timers.Now;

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
        while (!stop.IsCancellationRequested)
        {
            var r = await device.ReceiveAsync(queue, stop).ConfigureAwait(false);
            if (!r.IsOk) return;
            var batch = r.Value;
            lock (Gate)
                for (int i = 0; i < batch.Count; i++) HandleFrameGuarded(nic, batch[i]);
            batch.Release();
            await FlushAsync().ConfigureAwait(false);
        }
    }

    private void HandleFrameGuarded(NetInterface nic, ReadOnlySpan<byte> frame)
    {
        try { HandleFrame(nic, frame); }
        catch (Exception e) when (e is not OutOfMemoryException) { Count(DropReason.InternalError); LastInternalError = e; }
    }

    private async Task TickLoop(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try { await _timers.Delay(Options.TickInterval, stop).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            lock (Gate)
            {
                var now = Now;
                try
                {
                    foreach (var nic in _interfaces) nic.Tick(now);
                    _reassembler.Tick(now);
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
        lock (Gate) HandleFrame(nic, frame);
        _ = FlushAsync();
    }

    // ---- transmit ----

    internal void Transmit(NetInterface nic, byte[] frame) => _outbox.Enqueue((nic, frame));

    /// <summary>Hands queued frames to the devices; one drainer at a time keeps frames in order. Consecutive frames for
    /// one interface go down as one batch (one doorbell per queue on the NIC driver, one sendmmsg on AF_PACKET); the
    /// frames are the device's from then on (they are never reused here).</summary>
    internal async ValueTask FlushAsync()
    {
        var run = new List<ReadOnlyMemory<byte>>();
        while (!_outbox.IsEmpty)
        {
            if (Interlocked.Exchange(ref _flushing, 1) != 0) return;
            try
            {
                while (_outbox.TryDequeue(out var item))
                {
                    run.Clear();
                    run.Add(item.Frame);
                    while (run.Count < 64 && _outbox.TryPeek(out var next) && next.Nic == item.Nic && _outbox.TryDequeue(out next))
                        run.Add(next.Frame);
                    await SendRunAsync(item.Nic, run).ConfigureAwait(false);
                }
            }
            finally { Volatile.Write(ref _flushing, 0); }
        }
    }

    private async ValueTask SendRunAsync(NetInterface nic, List<ReadOnlyMemory<byte>> run)
    {
        var r = await nic.Batches.TransmitAsync(run).ConfigureAwait(false);
        int sent = r.IsOk ? Math.Clamp(r.Value, 0, run.Count) : 0;
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

    /// <summary>Allocates a frame with room for Ethernet and IPv4 headers before <paramref name="transportLength"/> bytes.</summary>
    internal static byte[] NewFrame(int transportLength) => new byte[34 + transportLength];

    internal (NetInterface Nic, Ipv4Address NextHop)? RouteTo(Ipv4Address destination)
    {
        if (destination == Ipv4Address.Broadcast)
            return _interfaces.FirstOrDefault(i => i.IsUp) is { } first ? (first, destination) : null;
        return Routes.Lookup(destination) is { } r ? (r.Route.Interface, r.NextHop) : null;
    }

    /// <summary>Adds the IPv4 and Ethernet headers to a frame from <see cref="NewFrame"/> and sends it (fragmenting if it
    /// exceeds the interface MTU). Returns false when there is no route. Caller holds the lock.</summary>
    internal bool SendIpv4(Ipv4Address source, Ipv4Address destination, byte protocol, byte[] frame, byte ttl = 0, bool dontFragment = false)
    {
        if (RouteTo(destination) is not { } route) { Count(DropReason.NoRoute); return false; }
        var (nic, nextHop) = route;
        int transportLength = frame.Length - 34;
        ushort id = _ipId++;
        if (20 + transportLength <= nic.Mtu)
        {
            WriteHeaders(frame, source, destination, protocol, id, 0, false, transportLength, ttl == 0 ? Options.DefaultTtl : ttl, dontFragment);
            nic.SendToNextHop(nextHop, frame, Now);
            return true;
        }
        if (dontFragment) { Count(DropReason.TooBigToSend); return false; }
        int chunk = (nic.Mtu - 20) & ~7;
        for (int offset = 0; offset < transportLength; offset += chunk)
        {
            int len = Math.Min(chunk, transportLength - offset);
            var piece = NewFrame(len);
            frame.AsSpan(34 + offset, len).CopyTo(piece.AsSpan(34));
            WriteHeaders(piece, source, destination, protocol, id, offset, offset + len < transportLength, len, ttl == 0 ? Options.DefaultTtl : ttl, false);
            nic.SendToNextHop(nextHop, piece, Now);
            Count(Counter.Fragmented);
        }
        return true;
    }

    private static void WriteHeaders(byte[] frame, Ipv4Address src, Ipv4Address dst, byte protocol, ushort id, int fragOffset, bool more,
        int payloadLength, byte ttl, bool dontFragment)
    {
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), NetInterface.EtherIpv4);
        var ip = frame.AsSpan(14, 20);
        ip[0] = 0x45;
        ip[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + payloadLength));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], id);
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], (ushort)((dontFragment ? 0x4000 : 0) | (more ? 0x2000 : 0) | (fragOffset / 8)));
        ip[8] = ttl;
        ip[9] = protocol;
        ip[10] = ip[11] = 0;
        src.Write(ip[12..]);
        dst.Write(ip[16..]);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum.Compute(ip));
    }

    /// <summary>The address this stack uses as source towards <paramref name="destination"/>.</summary>
    internal Ipv4Address? SourceFor(Ipv4Address destination) => RouteTo(destination)?.Nic.Address;

    internal bool IsLocalAddress(Ipv4Address a) => _interfaces.Any(i => i.Address == a);

    // ---- receive ----

    private void HandleFrame(NetInterface nic, ReadOnlySpan<byte> f)
    {
        Interlocked.Increment(ref nic.FramesIn);
        Interlocked.Add(ref nic.BytesIn, f.Length);
        if (f.Length < 14) { Count(DropReason.Truncated); return; }
        var dst = f[..6];
        if (!dst.SequenceEqual(nic.MacBytes) && !dst.SequenceEqual(Mac.Broadcast)) { Count(DropReason.NotForUs); return; }
        switch (BinaryPrimitives.ReadUInt16BigEndian(f[12..]))
        {
            case NetInterface.EtherArp: nic.HandleArp(f[14..], Now); break;
            case NetInterface.EtherIpv4: HandleIpv4(nic, f[14..]); break;
            default: Count(DropReason.UnsupportedEtherType); break;
        }
    }

    private void HandleIpv4(NetInterface nic, ReadOnlySpan<byte> p)
    {
        if (p.Length < 20) { Count(DropReason.Truncated); return; }
        if (p[0] >> 4 != 4) { Count(DropReason.BadVersion); return; }
        int ihl = (p[0] & 0xF) * 4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(p[2..]);
        if (ihl < 20 || total < ihl || total > p.Length) { Count(DropReason.BadLength); return; }
        if (InternetChecksum.Compute(p[..ihl]) != 0) { Count(DropReason.BadChecksum); return; }
        p = p[..total]; // Ethernet pads short frames; the IP length is the truth
        var src = Ipv4Address.Read(p[12..]);
        var dst = Ipv4Address.Read(p[16..]);
        if (src == Ipv4Address.Broadcast || (src.Value >> 28) == 0xE) { Count(DropReason.BadHeader); return; }
        byte protocol = p[9];
        if (!nic.AcceptsDestination(dst) && !IsLocalAddress(dst))
        {
            if (Options.Forwarding) Forward(p, dst);
            else Count(DropReason.NotForUs);
            return;
        }
        ushort flagsFrag = BinaryPrimitives.ReadUInt16BigEndian(p[6..]);
        bool more = (flagsFrag & 0x2000) != 0;
        int offset = (flagsFrag & 0x1FFF) * 8;
        ReadOnlySpan<byte> payload = p[ihl..];
        byte[]? whole = null;
        if (more || offset != 0)
        {
            whole = _reassembler.Add(src, dst, protocol, BinaryPrimitives.ReadUInt16BigEndian(p[4..]), offset, more, payload, Now);
            if (whole is null) return;
            payload = whole;
        }
        bool broadcast = dst == Ipv4Address.Broadcast || dst == nic.Cidr.DirectedBroadcast;
        switch (protocol)
        {
            case ProtoIcmp: HandleIcmp(nic, src, dst, payload, broadcast); break;
            case ProtoUdp: Udp.Handle(nic, src, dst, payload, broadcast); break;
            case ProtoTcp:
                if (broadcast) { Count(DropReason.NotForUs); break; }
                Tcp.Handle(src, dst, payload);
                break;
            default: Count(DropReason.UnsupportedProtocol); break;
        }
    }

    /// <summary>Router path: decrement TTL (ICMP time exceeded when it runs out) and send on by the routing table.</summary>
    private void Forward(ReadOnlySpan<byte> p, Ipv4Address dst)
    {
        var src = Ipv4Address.Read(p[12..]);
        if (p[8] <= 1)
        {
            Count(DropReason.TtlExpired);
            SendIcmpError(11, 0, src, p);
            return;
        }
        if (RouteTo(dst) is not { } route) { Count(DropReason.NoRoute); SendIcmpError(3, 0, src, p); return; }
        var frame = new byte[14 + p.Length];
        p.CopyTo(frame.AsSpan(14));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), NetInterface.EtherIpv4);
        frame[14 + 8]--;
        int ihl = (frame[14] & 0xF) * 4;
        frame[24] = frame[25] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(24), InternetChecksum.Compute(frame.AsSpan(14, ihl)));
        if (frame.Length - 14 > route.Nic.Mtu) { Count(DropReason.BadLength); return; }
        route.Nic.SendToNextHop(route.NextHop, frame, Now);
        Count(Counter.Forwarded);
    }

    // ---- ICMP ----

    private void HandleIcmp(NetInterface nic, Ipv4Address src, Ipv4Address dst, ReadOnlySpan<byte> m, bool broadcast)
    {
        if (m.Length < 8) { Count(DropReason.Truncated); return; }
        if (InternetChecksum.Compute(m) != 0) { Count(DropReason.BadChecksum); return; }
        switch (m[0])
        {
            case 8 when !broadcast:
                var frame = NewFrame(m.Length);
                m.CopyTo(frame.AsSpan(34));
                frame[34] = 0;
                frame[36] = frame[37] = 0;
                BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(36), InternetChecksum.Compute(frame.AsSpan(34)));
                if (SendIpv4(dst, src, ProtoIcmp, frame)) Count(Counter.EchoRepliesSent);
                break;
            case 0:
                var key = (BinaryPrimitives.ReadUInt16BigEndian(m[4..]), BinaryPrimitives.ReadUInt16BigEndian(m[6..]));
                if (_pings.Remove(key, out var waiter)) waiter.TrySetResult(Now);
                break;
            case 3 when m.Length >= 8 + 20:
                Tcp.HandleUnreachable(m[8..]);
                break;
            default:
                Count(DropReason.UnsupportedProtocol);
                break;
        }
    }

    /// <summary>Sends an ICMP error quoting the offending header plus 8 bytes (RFC 792); never about ICMP errors or
    /// broadcasts, so two stacks cannot bounce errors forever.</summary>
    internal void SendIcmpError(byte type, byte code, Ipv4Address to, ReadOnlySpan<byte> offending)
    {
        if (offending.Length >= 20 && offending[9] == ProtoIcmp && offending.Length > (offending[0] & 0xF) * 4
            && offending[(offending[0] & 0xF) * 4] is not (0 or 8)) return;
        if (to == Ipv4Address.Broadcast || SourceFor(to) is not { } source) return;
        int quote = Math.Min(offending.Length, (offending[0] & 0xF) * 4 + 8);
        var frame = NewFrame(8 + quote);
        frame[34] = type;
        frame[35] = code;
        offending[..quote].CopyTo(frame.AsSpan(42));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(36), InternetChecksum.Compute(frame.AsSpan(34)));
        SendIpv4(source, to, ProtoIcmp, frame);
    }

    /// <summary>Sends an ICMP echo request and waits for the reply; returns the round-trip time.</summary>
    public async Task<Result<TimeSpan>> PingAsync(Ipv4Address target, TimeSpan timeout, int payloadSize = 56, CancellationToken ct = default)
    {
        if (payloadSize is < 0 or > 65507 - 8) return Errors.Of(ErrorCode.InvalidArgument, "ping payload must be 0..65499 bytes");
        var reply = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        (ushort, ushort) key;
        TimeSpan start;
        lock (Gate)
        {
            key = (0x5048, ++_pingSeq);
            if (SourceFor(target) is not { } source) return Errors.Of(ErrorCode.Unreachable, $"no route to {target}");
            var frame = NewFrame(8 + payloadSize);
            var echo = frame.AsSpan(34);
            echo[0] = 8;
            BinaryPrimitives.WriteUInt16BigEndian(echo[4..], key.Item1);
            BinaryPrimitives.WriteUInt16BigEndian(echo[6..], key.Item2);
            for (int i = 8; i < echo.Length; i++) echo[i] = (byte)i;
            BinaryPrimitives.WriteUInt16BigEndian(echo[2..], InternetChecksum.Compute(echo));
            _pings[key] = reply;
            start = Now;
            SendIpv4(source, target, ProtoIcmp, frame);
        }
        await FlushAsync().ConfigureAwait(false);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        try
        {
            var timer = _timers.Delay(timeout, cancel.Token);
            if (await Task.WhenAny(reply.Task, timer).ConfigureAwait(false) != reply.Task)
                return Errors.Of(ErrorCode.TimedOut, $"no echo reply from {target} within {timeout.TotalMilliseconds:0} ms");
            return await reply.Task.ConfigureAwait(false) - start;
        }
        finally
        {
            cancel.Cancel();
            lock (Gate) _pings.Remove(key);
        }
    }

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
