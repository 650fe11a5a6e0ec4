using System.Buffers.Binary;
using Photon.Kernel.Hal;
using Photon.Net.Device;

namespace Photon.Net;

public sealed record ArpEntry(Ipv4Address Address, string Mac, string Interface, TimeSpan Age);

/// <summary>
/// One Ethernet interface of a <see cref="NetworkStack"/>: its device, address, ARP cache (entries age out after
/// <see cref="NetworkStackOptions.ArpEntryLifetime"/>) and the frames parked while a next hop is being resolved.
/// All state is guarded by the stack's lock.
/// </summary>
public sealed class NetInterface
{
    internal const ushort EtherArp = 0x0806, EtherIpv4 = 0x0800;
    private readonly NetworkStack _stack;
    private readonly Dictionary<Ipv4Address, (byte[] Mac, TimeSpan Seen)> _arp = new();
    private readonly Dictionary<Ipv4Address, PendingResolution> _pending = new();
    internal readonly byte[] MacBytes;
    internal long FramesIn, FramesOut, BytesIn, BytesOut;

    private sealed class PendingResolution
    {
        public readonly Queue<byte[]> Frames = new();
        public TimeSpan LastRequest;
        public int Attempts;
    }

    internal NetInterface(NetworkStack stack, INetworkDevice device, Ipv4Cidr cidr)
    {
        _stack = stack;
        Device = device;
        Cidr = cidr;
        MacBytes = device.MacAddress.ToArray();
        Batches = DeviceBatches.For(device);
    }

    public INetworkDevice Device { get; }

    /// <summary>How the stack drives the device: bursts per receive queue, batches on transmit.</summary>
    internal INetworkBatches Batches { get; }
    public string Name => Device.Name;
    public Ipv4Cidr Cidr { get; }
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

    internal bool AcceptsDestination(Ipv4Address a) => a == Address || a == Ipv4Address.Broadcast || a == Cidr.DirectedBroadcast;

    /// <summary>Handles an ARP packet (RFC 826 with the merge rule: only refresh entries we have, or learn the
    /// sender when the request is for us, so strangers cannot fill the cache).</summary>
    internal void HandleArp(ReadOnlySpan<byte> p, TimeSpan now)
    {
        if (p.Length < 28) { _stack.Count(DropReason.Truncated); return; }
        if (BinaryPrimitives.ReadUInt16BigEndian(p) != 1 || BinaryPrimitives.ReadUInt16BigEndian(p[2..]) != EtherIpv4 || p[4] != 6 || p[5] != 4)
        { _stack.Count(DropReason.BadArp); return; }
        ushort op = BinaryPrimitives.ReadUInt16BigEndian(p[6..]);
        if (op is not (1 or 2)) { _stack.Count(DropReason.BadArp); return; }
        var senderMac = p[8..14];
        var senderIp = Ipv4Address.Read(p[14..]);
        var targetIp = Ipv4Address.Read(p[24..]);
        if ((senderMac[0] & 1) != 0 || senderIp == Ipv4Address.Any || senderIp == Ipv4Address.Broadcast) { _stack.Count(DropReason.BadArp); return; }
        bool forUs = targetIp == Address;
        if (_arp.ContainsKey(senderIp) || forUs || _pending.ContainsKey(senderIp)) Learn(senderIp, senderMac.ToArray(), now);
        if (op == 1 && forUs) SendArp(2, senderMac.ToArray(), senderIp);
    }

    private void Learn(Ipv4Address ip, byte[] mac, TimeSpan now)
    {
        _arp[ip] = (mac, now);
        if (_pending.Remove(ip, out var waiting))
            while (waiting.Frames.TryDequeue(out var frame))
            {
                mac.CopyTo(frame, 0);
                _stack.Transmit(this, frame);
            }
    }

    /// <summary>Sends a frame whose Ethernet header has room for the destination MAC, resolving <paramref name="nextHop"/>
    /// first if needed (the frame waits in a small per-neighbour queue; the oldest is dropped when it is full).</summary>
    internal void SendToNextHop(Ipv4Address nextHop, byte[] frame, TimeSpan now)
    {
        MacBytes.CopyTo(frame, 6);
        if (nextHop == Ipv4Address.Broadcast || nextHop == Cidr.DirectedBroadcast)
        {
            Mac.Broadcast.CopyTo(frame, 0);
            _stack.Transmit(this, frame);
            return;
        }
        if (_arp.TryGetValue(nextHop, out var e) && now - e.Seen < _stack.Options.ArpEntryLifetime)
        {
            e.Mac.CopyTo(frame, 0);
            _stack.Transmit(this, frame);
            return;
        }
        if (!_pending.TryGetValue(nextHop, out var p))
        {
            _pending[nextHop] = p = new PendingResolution { LastRequest = now, Attempts = 1 };
            SendArp(1, Mac.Broadcast, nextHop);
        }
        if (p.Frames.Count >= _stack.Options.ArpQueuePerNeighbour) { p.Frames.Dequeue(); _stack.Count(Counter.ArpQueueOverflow); }
        p.Frames.Enqueue(frame);
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
            SendArp(1, Mac.Broadcast, ip);
        }
        foreach (var ip in failed ?? [])
        {
            _stack.Count(Counter.ArpFailed, _pending[ip].Frames.Count);
            _pending.Remove(ip);
        }
        if (_arp.Count > 0)
            foreach (var ip in _arp.Where(kv => now - kv.Value.Seen > _stack.Options.ArpEntryLifetime).Select(kv => kv.Key).ToList())
                _arp.Remove(ip);
    }

    private void SendArp(ushort op, byte[] targetMac, Ipv4Address targetIp)
    {
        var frame = new byte[42];
        (op == 1 ? Mac.Broadcast : targetMac).CopyTo(frame, 0);
        MacBytes.CopyTo(frame, 6);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), EtherArp);
        var a = frame.AsSpan(14);
        BinaryPrimitives.WriteUInt16BigEndian(a, 1);
        BinaryPrimitives.WriteUInt16BigEndian(a[2..], EtherIpv4);
        a[4] = 6;
        a[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(a[6..], op);
        MacBytes.CopyTo(a[8..]);
        Address.Write(a[14..]);
        if (op == 2) targetMac.CopyTo(a[18..]);
        targetIp.Write(a[24..]);
        _stack.Transmit(this, frame);
    }

    public override string ToString() => $"{Name} {Cidr} {MacAddress} mtu {Mtu}";
}
