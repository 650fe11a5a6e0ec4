using Photon.Kernel.Hal;
using Photon.Net.Device;
using Photon.Net.Wire;

namespace Photon.Net;

public enum Ipv6AddressState { Tentative, Preferred, Deprecated, Duplicate }

public enum Ipv6AddressOrigin { LinkLocal, Static, Slaac }

public sealed record Ipv6AddressInfo(Ipv6Cidr Cidr, Ipv6AddressState State, Ipv6AddressOrigin Origin);

/// <summary>
/// IPv6 on one Ethernet interface: its addresses with duplicate address detection (RFC 4862 §5.4), the link-local
/// address from the MAC's EUI-64 identifier, router solicitation and stateless autoconfiguration from router
/// advertisements (§5.5: on-link prefixes, default routers, the link MTU), the neighbour cache and the multicast groups
/// whose Ethernet frames it accepts (all-nodes and the solicited-node group of each address). Off until
/// <see cref="NetworkStack.EnableIpv6"/>. Everything learnt from the wire is bounded (addresses, prefixes, routers).
/// Guarded by the stack's lock.
/// </summary>
public sealed class Ipv6Interface
{
    private sealed class AddressEntry(Ipv6Cidr cidr, Ipv6AddressOrigin origin)
    {
        public readonly Ipv6Cidr Cidr = cidr;
        public readonly Ipv6AddressOrigin Origin = origin;
        public Ipv6AddressState State = Ipv6AddressState.Tentative;
        public int DadSent;
        public TimeSpan DadDue;
        public TimeSpan ValidUntil = TimeSpan.MaxValue, PreferredUntil = TimeSpan.MaxValue;
    }

    /// <summary>Limits on what router advertisements can make us keep.</summary>
    public const int MaxAddresses = 16, MaxPrefixes = 16, MaxRouters = 8;
    /// <summary>RFC 4862 §5.5.3 (e): an advertisement cannot cut a remaining valid lifetime below two hours.</summary>
    private static readonly TimeSpan TwoHours = TimeSpan.FromHours(2);
    private static readonly TimeSpan RouterSolicitationInterval = TimeSpan.FromSeconds(4);
    private const int MaxRouterSolicitations = 3;

    private readonly NetworkStack _stack;
    private readonly NetInterface _nic;
    private readonly List<AddressEntry> _addresses = new();
    private readonly Dictionary<Ipv6Cidr, TimeSpan> _onLink = new();
    private readonly Dictionary<Ipv6Address, TimeSpan> _routers = new();
    private readonly HashSet<uint> _groups = new(); // low 32 bits of the joined multicast groups (their 33:33 MACs)
    private int _solicitationsSent;
    private TimeSpan _nextSolicitation;
    private bool _heardRouter;

    internal Ipv6Interface(NetworkStack stack, NetInterface nic)
    {
        _stack = stack;
        _nic = nic;
        Neighbours = new NeighbourCache(this, stack);
    }

    public bool Enabled { get; private set; }
    public NeighbourCache Neighbours { get; }
    /// <summary>The hop limit of packets we send (an RA's current hop limit when it gives one).</summary>
    public byte HopLimit { get; private set; } = 64;
    /// <summary>The device MTU, or less if a router advertised less (never below 1280).</summary>
    public int Mtu { get; private set; }
    public Ipv6Address LinkLocal { get; private set; }

    public IReadOnlyList<Ipv6AddressInfo> Addresses => _addresses.Select(a => new Ipv6AddressInfo(a.Cidr, a.State, a.Origin)).ToList();
    public IReadOnlyList<Ipv6Address> DefaultRouters => _routers.Keys.ToList();
    public IReadOnlyList<Ipv6Cidr> OnLinkPrefixes => _onLink.Keys.ToList();

    internal void Enable(TimeSpan now)
    {
        if (Enabled) return;
        Enabled = true;
        Mtu = _nic.Mtu;
        LinkLocal = Ipv6Address.LinkLocal(_nic.MacBytes);
        _groups.Add((uint)Ipv6Address.AllNodes.Low);
        AddAddress(new Ipv6Cidr(LinkLocal, 64), Ipv6AddressOrigin.LinkLocal, now);
        _nextSolicitation = TimeSpan.MaxValue; // once the link-local address is ours
    }

    /// <summary>Adds an address (tentative until DAD passes); an error when it is assigned already or the table is full.</summary>
    internal Result AddAddress(Ipv6Cidr cidr, Ipv6AddressOrigin origin, TimeSpan now)
    {
        if (_addresses.Any(a => a.Cidr.Address == cidr.Address)) return Errors.Of(ErrorCode.AddressInUse, $"{cidr.Address} is assigned");
        if (_addresses.Count >= MaxAddresses) return Errors.Of(ErrorCode.QuotaExceeded, $"{_nic.Name} has {MaxAddresses} IPv6 addresses");
        var entry = new AddressEntry(cidr, origin) { DadDue = now };
        _addresses.Add(entry);
        _groups.Add((uint)cidr.Address.SolicitedNode.Low);
        if (origin == Ipv6AddressOrigin.Static && cidr.PrefixLength < 128) _onLink[new Ipv6Cidr(cidr.Network, cidr.PrefixLength)] = TimeSpan.MaxValue;
        if (_stack.Options.Ipv6DadTransmits <= 0) entry.State = Ipv6AddressState.Preferred;
        else SendDadProbe(entry, now);
        return Result.Ok;
    }

    /// <summary>Frames for the all-nodes group or a solicited-node group of ours (the multicast MAC filter).</summary>
    internal bool AcceptsGroup(ReadOnlySpan<byte> mac) =>
        Enabled && mac[0] == 0x33 && mac[1] == 0x33 && _groups.Contains((uint)(mac[2] << 24 | mac[3] << 16 | mac[4] << 8 | mac[5]));

    /// <summary>An address packets may be delivered to: one of ours that passed DAD, all-nodes, or a solicited-node
    /// group of ours (only NDP uses those).</summary>
    internal bool AcceptsDestination(Ipv6Address dst) =>
        dst == Ipv6Address.AllNodes || IsAssigned(dst) || (dst.IsMulticast && dst.High == Ipv6Address.AllNodes.High && dst.Low >> 24 == 0x1FF
            && _addresses.Any(a => a.Cidr.Address.SolicitedNode == dst));

    /// <summary>One of our addresses, usable (not tentative or duplicate).</summary>
    internal bool IsAssigned(Ipv6Address a) =>
        _addresses.Any(e => e.Cidr.Address == a && e.State is Ipv6AddressState.Preferred or Ipv6AddressState.Deprecated);

    private AddressEntry? Find(Ipv6Address a) => _addresses.FirstOrDefault(e => e.Cidr.Address == a);

    /// <summary>On-link: link-local, in a prefix of one of our static addresses, or in an advertised on-link prefix.</summary>
    internal bool IsOnLink(Ipv6Address a) => a.IsLinkLocal || a.IsMulticast || _onLink.Keys.Any(p => p.Contains(a));

    internal Ipv6Address? DefaultRouter => _routers.Count == 0 ? null : _routers.Keys.First();

    /// <summary>The source for <paramref name="dst"/> (RFC 6724 in brief): link-local for link-scope destinations,
    /// else the preferred global address with the longest prefix in common, else link-local.</summary>
    internal Ipv6Address? SourceFor(Ipv6Address dst)
    {
        bool linkScope = dst.IsLinkLocal || (dst.IsMulticast && ((dst.High >> 48) & 0xF) <= 2);
        if (!linkScope)
        {
            // RFC 6724 rule 8: of the preferred global addresses, the one sharing the longest prefix with the destination.
            var best = _addresses.Where(a => a.Origin != Ipv6AddressOrigin.LinkLocal && a.State == Ipv6AddressState.Preferred)
                .MaxBy(a => CommonPrefixLength(a.Cidr.Address, dst));
            if (best is not null) return best.Cidr.Address;
        }
        return Find(LinkLocal) is { State: Ipv6AddressState.Preferred } ? LinkLocal : null;
    }

    private static int CommonPrefixLength(Ipv6Address a, Ipv6Address b) =>
        a.High != b.High ? System.Numerics.BitOperations.LeadingZeroCount(a.High ^ b.High)
            : 64 + System.Numerics.BitOperations.LeadingZeroCount(a.Low ^ b.Low);

    // ---- Neighbor Discovery input ----

    internal void HandleNdp(NdpMessage m, Ipv6Address src, Ipv6Address dst, TimeSpan now)
    {
        switch (m.Type)
        {
            case Icmpv6Type.NeighborSolicitation: OnSolicitation(m, src, now); break;
            case Icmpv6Type.NeighborAdvertisement: OnAdvertisement(m, now); break;
            case Icmpv6Type.RouterAdvertisement: OnRouterAdvertisement(m, src, now); break;
            default: _stack.Count(DropReason.NotForUs); break; // router solicitations are for routers
        }
    }

    private void OnSolicitation(NdpMessage ns, Ipv6Address src, TimeSpan now)
    {
        if (Find(ns.Target) is not { } mine) { _stack.Count(DropReason.NotForUs); return; }
        if (mine.State == Ipv6AddressState.Tentative)
        {
            // Another node is checking the same address at the same time (RFC 4862 §5.4.3): neither may have it.
            if (src.IsUnspecified) Duplicate(mine);
            return;
        }
        if (mine.State == Ipv6AddressState.Duplicate) return;
        if (src.IsUnspecified)
        {
            // A DAD probe for an address we hold: defend it to all nodes (§7.2.4), unsolicited.
            SendNeighborAdvertisement(ns.Target, Ipv6Address.AllNodes, solicited: false);
            return;
        }
        if (ns.LinkAddress is { } mac) Neighbours.LearnFromSender(src, mac, false, now);
        SendNeighborAdvertisement(ns.Target, src, solicited: true);
    }

    private void OnAdvertisement(NdpMessage na, TimeSpan now)
    {
        if (Find(na.Target) is { } mine)
        {
            // Someone else answers for an address of ours: a tentative one is a duplicate (§5.4.4); for one we hold we
            // keep it (no defence beyond our own answers) and count it.
            if (mine.State == Ipv6AddressState.Tentative) Duplicate(mine);
            else _stack.Count(DropReason.BadNdp);
            return;
        }
        Neighbours.OnAdvertisement(na, now);
    }

    private void Duplicate(AddressEntry entry)
    {
        entry.State = Ipv6AddressState.Duplicate;
        _stack.Count(Counter.DuplicateAddresses);
    }

    private void OnRouterAdvertisement(NdpMessage ra, Ipv6Address router, TimeSpan now)
    {
        _heardRouter = true;
        if (ra.CurHopLimit != 0) HopLimit = ra.CurHopLimit;
        if (ra.LinkAddress is { } mac) Neighbours.LearnFromSender(router, mac, true, now);
        if (ra.RouterLifetime == 0) _routers.Remove(router);
        else if (_routers.ContainsKey(router) || _routers.Count < MaxRouters) _routers[router] = now + TimeSpan.FromSeconds(ra.RouterLifetime);
        if (ra.Mtu >= Ipv6Packet.MinimumMtu && ra.Mtu <= _nic.Mtu) Mtu = (int)ra.Mtu;
        foreach (var p in ra.Prefixes)
        {
            if (p.Prefix.IsLinkLocal || p.Prefix.IsMulticast || p.PreferredLifetime > p.ValidLifetime) continue;
            var cidr = new Ipv6Cidr(p.Prefix, p.PrefixLength);
            if (p.OnLink)
            {
                if (p.ValidLifetime == 0) _onLink.Remove(cidr);
                else if (_onLink.ContainsKey(cidr) || _onLink.Count < MaxPrefixes) _onLink[cidr] = Until(now, p.ValidLifetime);
            }
            if (p.Autonomous && p.PrefixLength == 64) Autoconfigure(p, now);
        }
    }

    /// <summary>SLAAC (RFC 4862 §5.5.3): the prefix plus our interface identifier, with the advertised lifetimes.</summary>
    private void Autoconfigure(NdpPrefix p, TimeSpan now)
    {
        var address = new Ipv6Address(p.Prefix.High, Ipv6Address.InterfaceId(_nic.MacBytes));
        var existing = Find(address);
        if (existing is null)
        {
            if (p.ValidLifetime == 0) return;
            if (!AddAddress(new Ipv6Cidr(address, 64), Ipv6AddressOrigin.Slaac, now).IsOk) return;
            existing = Find(address)!;
            existing.ValidUntil = Until(now, p.ValidLifetime);
        }
        else if (existing.Origin != Ipv6AddressOrigin.Slaac) return;
        else
        {
            var offered = Until(now, p.ValidLifetime);
            var remaining = existing.ValidUntil - now;
            if (offered - now > TwoHours || offered > existing.ValidUntil) existing.ValidUntil = offered;
            else if (remaining > TwoHours) existing.ValidUntil = now + TwoHours;
        }
        existing.PreferredUntil = Until(now, p.PreferredLifetime);
    }

    private static TimeSpan Until(TimeSpan now, uint seconds) => seconds == uint.MaxValue ? TimeSpan.MaxValue : now + TimeSpan.FromSeconds(seconds);

    // ---- timers ----

    internal void Tick(TimeSpan now)
    {
        if (!Enabled) return;
        for (int i = _addresses.Count - 1; i >= 0; i--)
        {
            var a = _addresses[i];
            if (a.State == Ipv6AddressState.Tentative && now >= a.DadDue)
            {
                if (a.DadSent < _stack.Options.Ipv6DadTransmits) SendDadProbe(a, now);
                else
                {
                    a.State = Ipv6AddressState.Preferred;
                    if (a.Origin == Ipv6AddressOrigin.LinkLocal && !_heardRouter) { _solicitationsSent = 0; _nextSolicitation = now; }
                }
            }
            if (a.State == Ipv6AddressState.Preferred && now >= a.PreferredUntil) a.State = Ipv6AddressState.Deprecated;
            if (now >= a.ValidUntil) { _addresses.RemoveAt(i); RebuildGroups(); }
        }
        foreach (var r in _routers.Where(r => now >= r.Value).Select(r => r.Key).ToList()) _routers.Remove(r);
        foreach (var p in _onLink.Where(p => now >= p.Value).Select(p => p.Key).ToList()) _onLink.Remove(p);
        if (!_heardRouter && _solicitationsSent < MaxRouterSolicitations && now >= _nextSolicitation)
        {
            _solicitationsSent++;
            _nextSolicitation = now + RouterSolicitationInterval;
            SendRouterSolicitation();
        }
        Neighbours.Tick(now);
    }

    private void RebuildGroups()
    {
        _groups.Clear();
        _groups.Add((uint)Ipv6Address.AllNodes.Low);
        foreach (var a in _addresses) _groups.Add((uint)a.Cidr.Address.SolicitedNode.Low);
    }

    // ---- Neighbor Discovery output ----

    private void SendDadProbe(AddressEntry a, TimeSpan now)
    {
        a.DadSent++;
        a.DadDue = now + _stack.Options.Ipv6RetransTimer;
        var frame = Ipv6Frame.New(NdpMessage.NeighborSolicitationLength(false));
        NdpMessage.EmitNeighborSolicitation(Ipv6Frame.Transport(frame), a.Cidr.Address, []);
        SendNdp(frame, Ipv6Address.Unspecified, a.Cidr.Address.SolicitedNode, null);
    }

    /// <summary>A solicitation for <paramref name="target"/>: multicast to its solicited-node group while resolving, or
    /// unicast to <paramref name="unicastTo"/> when probing a known neighbour.</summary>
    internal void SendNeighborSolicitation(Ipv6Address target, byte[]? unicastTo, Ipv6Address? preferredSource)
    {
        var source = preferredSource is { } s && IsAssigned(s) ? s : SourceFor(target);
        if (source is not { } src) return; // nothing of ours is usable yet
        var frame = Ipv6Frame.New(NdpMessage.NeighborSolicitationLength(true));
        NdpMessage.EmitNeighborSolicitation(Ipv6Frame.Transport(frame), target, _nic.MacBytes);
        SendNdp(frame, src, unicastTo is null ? target.SolicitedNode : target, unicastTo);
    }

    private void SendNeighborAdvertisement(Ipv6Address target, Ipv6Address to, bool solicited)
    {
        var frame = Ipv6Frame.New(NdpMessage.NeighborAdvertisementLength);
        NdpMessage.EmitNeighborAdvertisement(Ipv6Frame.Transport(frame), target, router: false, solicited, @override: true, _nic.MacBytes);
        if (to.IsMulticast) SendNdp(frame, target, to, null);
        else
        {
            Ipv6Layer.Fill(frame, target, to, Ipv6NextHeader.Icmpv6, NdpMessage.HopLimit);
            Neighbours.Send(to, frame, _stack.Now);
        }
    }

    private void SendRouterSolicitation()
    {
        var source = Find(LinkLocal) is { State: Ipv6AddressState.Preferred } ? LinkLocal : Ipv6Address.Unspecified;
        var withMac = !source.IsUnspecified;
        var frame = Ipv6Frame.New(NdpMessage.RouterSolicitationSize(withMac));
        NdpMessage.EmitRouterSolicitation(Ipv6Frame.Transport(frame), withMac ? _nic.MacBytes : []);
        SendNdp(frame, source, Ipv6Address.AllRouters, null);
    }

    /// <summary>Sends an NDP message with hop limit 255, to a multicast group or a known link-layer address.</summary>
    private void SendNdp(byte[] frame, Ipv6Address src, Ipv6Address dst, byte[]? mac)
    {
        Ipv6Layer.Fill(frame, src, dst, Ipv6NextHeader.Icmpv6, NdpMessage.HopLimit);
        TransmitTo(mac ?? dst.MulticastMac(), frame);
    }

    internal void TransmitTo(byte[] mac, byte[] frame, TxOffload offload = default, TxPayload payload = default)
    {
        EthernetFrame.SetDestination(frame, mac);
        EthernetFrame.SetSource(frame, _nic.MacBytes);
        _stack.Transmit(_nic, frame, offload, payload);
    }
}
