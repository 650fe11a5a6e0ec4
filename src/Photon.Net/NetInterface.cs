using Photon.Kernel.Hal;
using Photon.Net.Device;
using Photon.Net.Wire;

namespace Photon.Net;

public sealed record ArpEntry(Ipv4Address Address, string Mac, string Interface, TimeSpan Age);

/// <summary>
/// One Ethernet interface of a <see cref="NetworkStack"/>: its device, address, ARP cache (entries age out after
/// <see cref="NetworkStackOptions.ArpEntryLifetime"/>) and the frames parked while a next hop is being resolved.
/// All state is guarded by the stack's lock.
/// </summary>
public sealed class NetInterface
{
    private readonly NetworkStack _stack;
    private readonly Dictionary<Ipv4Address, ArpNeighbour> _arp = new();
    private readonly Dictionary<Ipv4Address, PendingResolution> _pending = new();
    private long _pendingBytes;
    internal readonly byte[] MacBytes;
    internal long FramesIn, FramesOut, BytesIn, BytesOut;

    private sealed class PendingResolution
    {
        public readonly Queue<(byte[] Frame, TxOffload Offload)> Frames = new();
        public TimeSpan Created, LastRequest;
        public int Attempts;
    }

    /// <summary>A neighbour's link-layer address: when it was last heard from (<see cref="Seen"/>, for ageing), when a
    /// reply to us last confirmed it (REACHABLE for <see cref="NetworkStackOptions.ArpReachableTime"/> after), and when
    /// its address was last set (locked for <see cref="NetworkStackOptions.ArpLockTime"/> after).</summary>
    private sealed class ArpNeighbour(byte[] mac, TimeSpan now)
    {
        public byte[] Mac = mac;
        public TimeSpan Seen = now, Updated = now;
        public TimeSpan? Confirmed;
    }

    internal NetInterface(NetworkStack stack, INetworkDevice device, Ipv4Cidr cidr)
    {
        _stack = stack;
        Device = device;
        Cidr = cidr;
        MacBytes = device.MacAddress.ToArray();
        Batches = DeviceBatches.For(device);
        Ipv6 = new Ipv6Interface(stack, this);
        Offloads = stack.Options.UseNicOffloads && device is INetworkOffloads o ? o.Offloads : NetworkOffloads.None;
        // TSO without checksum offload is not a combination any device offers (virtio: HOST_TSO4 requires CSUM).
        if ((Offloads & NetworkOffloads.TcpChecksum) == 0) Offloads = NetworkOffloads.None;
        ScheduleAnnouncements();
    }

    /// <summary>Transmit work the device takes over (checksums, TSO); None for devices that offer none (TAP and AF_PACKET
    /// opened without offloads, test wires) or when <see cref="NetworkStackOptions.UseNicOffloads"/> is off — then the
    /// stack does it all.</summary>
    public NetworkOffloads Offloads { get; }

    public INetworkDevice Device { get; }

    /// <summary>IPv6 on this interface (off until <see cref="NetworkStack.EnableIpv6"/>).</summary>
    public Ipv6Interface Ipv6 { get; }

    /// <summary>How the stack drives the device: bursts per receive queue, batches on transmit.</summary>
    internal INetworkBatches Batches { get; }
    public string Name => Device.Name;
    /// <summary>The interface's address and prefix; 0.0.0.0/0 while unconfigured (a DHCP client's starting point).</summary>
    public Ipv4Cidr Cidr { get; private set; }
    public bool IsConfigured => Cidr.Address != Ipv4Address.Any;
    internal void SetCidr(Ipv4Cidr cidr)
    {
        Cidr = cidr;
        ScheduleAnnouncements();
    }
    public Ipv4Address Address => Cidr.Address;
    public string MacAddress => Mac.Format(MacBytes);
    public int Mtu => Device.Mtu;
    public bool IsUp { get; internal set; } = true;
    public long FramesReceived => Interlocked.Read(ref FramesIn);
    public long FramesSent => Interlocked.Read(ref FramesOut);
    public long BytesReceived => Interlocked.Read(ref BytesIn);
    public long BytesSent => Interlocked.Read(ref BytesOut);

    internal IEnumerable<ArpEntry> ArpEntries(TimeSpan now) =>
        _arp.Select(kv => new ArpEntry(kv.Key, Mac.Format(kv.Value.Mac), Name, now - kv.Value.Seen));

    /// <summary>Neighbours being resolved and the bytes of frames waiting for them (bounded by
    /// <see cref="NetworkStackOptions.ArpMaxPending"/> and <see cref="NetworkStackOptions.ArpPendingBytes"/>).</summary>
    internal (int Neighbours, int Frames, long Bytes) PendingResolutions => (_pending.Count, _pending.Values.Sum(p => p.Frames.Count), _pendingBytes);

    internal bool AcceptsDestination(Ipv4Address a) => a == Address || a == Ipv4Address.Broadcast || a == Cidr.DirectedBroadcast;

    /// <summary>Handles an ARP packet (RFC 826 with the merge rule: only refresh entries we have, or learn the
    /// sender when the request is for us, so strangers cannot fill the cache).</summary>
    internal void HandleArp(ReadOnlySpan<byte> buffer, TimeSpan now)
    {
        if (!ArpPacket.TryParse(buffer, out var arp, out var why)) { _stack.Count(why); return; }
        var senderMac = arp.SenderMac;
        var senderIp = arp.SenderIp;
        if (_conflictWatch is { } watch && ConflictsWith(arp, watch.Address)) watch.OnConflict();
        if (senderIp == Ipv4Address.Any && arp.Operation == ArpOperation.Request && IsConfigured && arp.TargetIp == Address
            && !Mac.IsGroup(senderMac) && !senderMac.SequenceEqual(MacBytes))
        {
            // An RFC 5227 probe for our address: defend it (answer to the prober, learn nothing from a 0.0.0.0 sender).
            SendArp(ArpOperation.Reply, senderMac.ToArray(), Ipv4Address.Any);
            return;
        }
        if (Mac.IsGroup(senderMac) || senderIp == Ipv4Address.Any || senderIp == Ipv4Address.Broadcast) { _stack.Count(DropReason.BadArp); return; }
        bool forUs = arp.TargetIp == Address;
        // Only a reply sent to us confirms a neighbour (Linux: requests and broadcast replies leave it STALE). A
        // gratuitous ARP (target = sender) for a neighbour we do not know creates nothing, as with Linux's arp_accept=0.
        bool confirms = arp.Operation == ArpOperation.Reply && arp.TargetMac.SequenceEqual(MacBytes);
        if (_arp.ContainsKey(senderIp) || forUs || _pending.ContainsKey(senderIp)) Learn(senderIp, senderMac, now, confirms);
        if (arp.Operation == ArpOperation.Request && forUs) SendArp(ArpOperation.Reply, senderMac.ToArray(), senderIp);
    }

    /// <summary>Records <paramref name="ip"/> at <paramref name="mac"/> and sends what waited for it. A known neighbour's
    /// address changes only when it is not REACHABLE and not locked: a REACHABLE entry (confirmed by a reply to us within
    /// <see cref="NetworkStackOptions.ArpReachableTime"/>) cannot be taken over by a request, a gratuitous ARP or a
    /// spoofed reply, and for <see cref="NetworkStackOptions.ArpLockTime"/> after any change the first answer wins.</summary>
    private void Learn(Ipv4Address ip, ReadOnlySpan<byte> mac, TimeSpan now, bool confirms)
    {
        var o = _stack.Options;
        if (_arp.TryGetValue(ip, out var known))
        {
            if (!mac.SequenceEqual(known.Mac))
            {
                if ((known.Confirmed is { } confirmed && now - confirmed < o.ArpReachableTime) || now - known.Updated < o.ArpLockTime)
                {
                    _stack.Count(Counter.ArpOverrideRefused);
                    return;
                }
                known.Mac = mac.ToArray();
                known.Updated = now;
                known.Confirmed = null;
            }
        }
        else
        {
            if (_arp.Count >= o.ArpCacheSize) _arp.Remove(_arp.MinBy(kv => kv.Value.Seen).Key);
            _arp[ip] = known = new ArpNeighbour(mac.ToArray(), now);
        }
        known.Seen = now;
        if (confirms) known.Confirmed = now;
        if (_pending.Remove(ip, out var waiting))
            while (waiting.Frames.TryDequeue(out var parked))
            {
                _pendingBytes -= parked.Frame.Length;
                EthernetFrame.SetDestination(parked.Frame, known.Mac);
                _stack.Transmit(this, parked.Frame, parked.Offload);
            }
    }

    /// <summary>Sends a frame whose Ethernet header has room for the destination MAC, resolving <paramref name="nextHop"/>
    /// first if needed (the frame waits in a small per-neighbour queue; the oldest is dropped when it is full). A
    /// <paramref name="payload"/> by reference goes along only when the neighbour is known and the device gathers;
    /// otherwise the frame is copied whole first (a waiting frame must not hold a socket buffer's bytes).</summary>
    internal void SendToNextHop(Ipv4Address nextHop, byte[] frame, TimeSpan now, TxOffload offload = default, TxPayload payload = default)
    {
        if (!payload.IsEmpty && ((Offloads & NetworkOffloads.ScatterGather) == 0 || nextHop == Ipv4Address.Broadcast
            || nextHop == Cidr.DirectedBroadcast || !_arp.TryGetValue(nextHop, out var known) || now - known.Seen >= _stack.Options.ArpEntryLifetime))
        {
            frame = payload.Materialize(frame);
            payload = default;
        }
        EthernetFrame.SetSource(frame, MacBytes);
        if (nextHop == Ipv4Address.Broadcast || nextHop == Cidr.DirectedBroadcast)
        {
            EthernetFrame.SetDestination(frame, Mac.Broadcast);
            _stack.Transmit(this, frame, offload);
            return;
        }
        if (_arp.TryGetValue(nextHop, out var e) && now - e.Seen < _stack.Options.ArpEntryLifetime)
        {
            EthernetFrame.SetDestination(frame, e.Mac);
            _stack.Transmit(this, frame, offload, payload);
            return;
        }
        var o = _stack.Options;
        if (!_pending.TryGetValue(nextHop, out var p))
        {
            if (_pending.Count >= o.ArpMaxPending) EvictOldestPending();
            _pending[nextHop] = p = new PendingResolution { Created = now, LastRequest = now, Attempts = 1 };
            SendArp(ArpOperation.Request, Mac.Broadcast, nextHop);
        }
        if (frame.Length > o.ArpPendingBytes) { _stack.Count(Counter.ArpPendingBytesDropped); return; }
        if (p.Frames.Count >= o.ArpQueuePerNeighbour)
        {
            _pendingBytes -= p.Frames.Dequeue().Frame.Length;
            _stack.Count(Counter.ArpQueueOverflow);
        }
        while (_pendingBytes + frame.Length > o.ArpPendingBytes && DropOldestPendingFrame()) { }
        p.Frames.Enqueue((frame, offload));
        _pendingBytes += frame.Length;
    }

    /// <summary>Gives up the resolution waiting longest (its frames dropped) to make room for a new one: a flood of
    /// sends to addresses nobody answers churns the table instead of growing it.</summary>
    private void EvictOldestPending()
    {
        var (ip, oldest) = _pending.MinBy(kv => kv.Value.Created);
        foreach (var (f, _) in oldest.Frames) _pendingBytes -= f.Length;
        _pending.Remove(ip);
        _stack.Count(Counter.ArpPendingEvicted);
    }

    /// <summary>Drops the first frame of the resolution waiting longest that still holds one (false: none holds any).</summary>
    private bool DropOldestPendingFrame()
    {
        PendingResolution? oldest = null;
        foreach (var p in _pending.Values)
            if (p.Frames.Count > 0 && (oldest is null || p.Created < oldest.Created)) oldest = p;
        if (oldest is null) return false;
        _pendingBytes -= oldest.Frames.Dequeue().Frame.Length;
        _stack.Count(Counter.ArpPendingBytesDropped);
        return true;
    }

    /// <summary>Retries pending resolutions once a second, gives up after three tries (the parked frames are dropped
    /// and counted; TCP will retransmit), and ages the cache.</summary>
    internal void Tick(TimeSpan now)
    {
        List<Ipv4Address>? failed = null;
        foreach (var (ip, p) in _pending)
        {
            if (now - p.LastRequest < TimeSpan.FromSeconds(1)) continue;
            if (p.Attempts >= 3) { (failed ??= new()).Add(ip); continue; }
            p.Attempts++;
            p.LastRequest = now;
            SendArp(ArpOperation.Request, Mac.Broadcast, ip);
        }
        foreach (var ip in failed ?? [])
        {
            var gone = _pending[ip];
            _stack.Count(Counter.ArpFailed, gone.Frames.Count);
            foreach (var (f, _) in gone.Frames) _pendingBytes -= f.Length;
            _pending.Remove(ip);
        }
        AnnounceIfDue(now);
        if (_arp.Count > 0)
            foreach (var ip in _arp.Where(kv => now - kv.Value.Seen > _stack.Options.ArpEntryLifetime).Select(kv => kv.Key).ToList())
                _arp.Remove(ip);
    }

    // ---- RFC 5227 address conflict detection (the DHCP client's check of an offered address) ----

    private (Ipv4Address Address, Action OnConflict)? _conflictWatch;

    /// <summary>Calls <paramref name="onConflict"/> (under the stack's lock) whenever another host shows it uses or
    /// probes for <paramref name="candidate"/>, until <see cref="StopConflictWatch"/>. One watch at a time.</summary>
    internal void WatchForConflict(Ipv4Address candidate, Action onConflict) => _conflictWatch = (candidate, onConflict);

    internal void StopConflictWatch() => _conflictWatch = null;

    /// <summary>RFC 5227 §2.1.1: a conflict is any ARP packet from another MAC whose sender is the candidate, or another
    /// host's probe (sender 0.0.0.0) for the same candidate.</summary>
    private bool ConflictsWith(ArpPacket arp, Ipv4Address candidate) =>
        !arp.SenderMac.SequenceEqual(MacBytes)
        && (arp.SenderIp == candidate || (arp.SenderIp == Ipv4Address.Any && arp.Operation == ArpOperation.Request && arp.TargetIp == candidate));

    // ---- RFC 5227 §2.3 announcements of an address just assigned ----

    private const int Announcements = 2; // ANNOUNCE_NUM, ANNOUNCE_INTERVAL apart
    private static readonly TimeSpan AnnounceInterval = TimeSpan.FromSeconds(2);
    private int _announcementsLeft;
    private TimeSpan? _nextAnnouncement;

    /// <summary>A static address or a DHCP lease was just set: announce it on the next ticks, so neighbours holding a
    /// stale entry for it (another host had it, or our MAC changed) update theirs.</summary>
    private void ScheduleAnnouncements()
    {
        _announcementsLeft = IsConfigured ? Announcements : 0;
        _nextAnnouncement = null;
    }

    private void AnnounceIfDue(TimeSpan now)
    {
        if (_announcementsLeft == 0 || !IsConfigured || !IsUp || (_nextAnnouncement is { } due && now < due)) return;
        SendArp(ArpOperation.Request, Mac.Broadcast, Address, Address); // sender = target: a gratuitous ARP
        _stack.Count(Counter.ArpAnnouncementsSent);
        _announcementsLeft--;
        _nextAnnouncement = now + AnnounceInterval;
    }

    /// <summary>Sends an ARP probe for <paramref name="candidate"/>: a broadcast request whose sender address is 0.0.0.0,
    /// so no host's cache learns the candidate from it (RFC 5227 §2.1.1).</summary>
    internal void SendArpProbe(Ipv4Address candidate) => SendArp(ArpOperation.Request, Mac.Broadcast, candidate, Ipv4Address.Any);

    /// <summary>Whether frames are still waiting for <paramref name="nextHop"/>'s address to be resolved.</summary>
    internal bool IsResolving(Ipv4Address nextHop) => _pending.ContainsKey(nextHop);

    private static readonly byte[] UnknownMac = new byte[EthernetFrame.AddressLength];

    private void SendArp(ArpOperation op, byte[] targetMac, Ipv4Address targetIp) => SendArp(op, targetMac, targetIp, Address);

    private void SendArp(ArpOperation op, byte[] targetMac, Ipv4Address targetIp, Ipv4Address senderIp)
    {
        var frame = new byte[EthernetFrame.HeaderLength + ArpPacket.Length];
        EthernetFrame.SetDestination(frame, op == ArpOperation.Request ? Mac.Broadcast : targetMac);
        EthernetFrame.SetSource(frame, MacBytes);
        EthernetFrame.SetEtherType(frame, EtherType.Arp);
        // A request's target hardware address is what it asks for: left zero.
        ArpPacket.Emit(EthernetFrame.PayloadOf(frame), op, MacBytes, senderIp, op == ArpOperation.Reply ? targetMac : UnknownMac, targetIp);
        _stack.Transmit(this, frame);
    }

    public override string ToString() => $"{Name} {Cidr} {MacAddress} mtu {Mtu}";
}
