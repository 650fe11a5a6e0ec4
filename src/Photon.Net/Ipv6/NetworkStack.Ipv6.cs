namespace Photon.Net;

/// <summary>The stack's IPv6 surface: turning IPv6 on for an interface, static addresses, ping, and what the layers
/// need to find each other. IPv6 is per interface and off until asked for, so IPv4-only setups see no NDP traffic.</summary>
public sealed partial class NetworkStack
{
    private Ipv6Layer? _ipv6;

    internal Ipv6Layer Ipv6 => _ipv6 ??= new Ipv6Layer(this);

    /// <summary>The interfaces, for layers already under <see cref="Gate"/>.</summary>
    internal List<NetInterface> InterfacesUnlocked => _interfaces;

    /// <summary>Turns IPv6 on for <paramref name="nic"/>: its EUI-64 link-local address (after DAD), router solicitation
    /// and SLAAC from the advertisements it hears.</summary>
    public Result EnableIpv6(NetInterface nic)
    {
        lock (Gate)
        {
            if (!_interfaces.Contains(nic)) return Errors.Of(ErrorCode.NotFound, $"{nic.Name} is not an interface of this stack");
            _ = Ipv6;
            nic.Ipv6.Enable(Now);
        }
        _ = FlushAsync();
        return Result.Ok;
    }

    /// <summary>Adds a static IPv6 address (usable once DAD passes) with its prefix on-link; turns IPv6 on if needed.</summary>
    public Result AddIpv6Address(NetInterface nic, Ipv6Cidr address)
    {
        var a = address.Address;
        if (a.IsUnspecified || a.IsMulticast || a.IsLoopback || a.IsIpv4Mapped || address.PrefixLength is < 1 or > 128)
            return Errors.Of(ErrorCode.InvalidArgument, $"{address} is not a usable interface address");
        lock (Gate)
        {
            if (!_interfaces.Contains(nic)) return Errors.Of(ErrorCode.NotFound, $"{nic.Name} is not an interface of this stack");
            if (_interfaces.Any(i => i.Ipv6.Addresses.Any(x => x.Cidr.Address == a))) return Errors.Of(ErrorCode.AddressInUse, $"{a} is assigned");
            _ = Ipv6;
            nic.Ipv6.Enable(Now);
            var added = nic.Ipv6.AddAddress(address, Ipv6AddressOrigin.Static, Now);
            if (!added.IsOk) return added;
        }
        _ = FlushAsync();
        return Result.Ok;
    }

    /// <summary>The IPv6 addresses of every interface, with their DAD state and origin.</summary>
    public IReadOnlyList<(string Interface, Ipv6AddressInfo Address)> Ipv6Addresses
    {
        get { lock (Gate) return _interfaces.SelectMany(i => i.Ipv6.Addresses.Select(a => (i.Name, a))).ToList(); }
    }

    /// <summary>The IPv6 neighbour caches of every interface (the IPv6 counterpart of <see cref="ArpCache"/>).</summary>
    public IReadOnlyList<NeighbourEntry> Ipv6Neighbours
    {
        get { lock (Gate) return _interfaces.SelectMany(i => i.Ipv6.Neighbours.Entries).ToList(); }
    }

    internal bool IsLocalIpv6Address(Ipv6Address a) => _interfaces.Any(i => i.Ipv6.IsAssigned(a));

    /// <summary>True while some interface holds a preferred IPv6 address beyond link-local scope (the resolver asks
    /// for AAAA records only then).</summary>
    internal bool HasGlobalIpv6Address
    {
        get
        {
            lock (Gate)
                return _interfaces.Any(i => i.Ipv6.Enabled && i.Ipv6.Addresses.Any(a => a.State == Ipv6AddressState.Preferred && !a.Cidr.Address.IsLinkLocal));
        }
    }

    /// <summary>Sends an ICMPv6 echo request and waits for the reply; returns the round-trip time.</summary>
    public Task<Result<TimeSpan>> Ping6Async(Ipv6Address target, TimeSpan timeout, int payloadSize = 56, CancellationToken ct = default) =>
        Ipv6.Icmp.PingAsync(target, timeout, payloadSize, ct);
}
