namespace Photon.Net;

/// <summary>One route: packets to <see cref="Destination"/> leave through <see cref="Interface"/>, to
/// <see cref="Gateway"/> when set (else directly to the destination, an on-link route).</summary>
public sealed record Route(Ipv4Cidr Destination, Ipv4Address? Gateway, NetInterface Interface, int Metric)
{
    public bool IsDefault => Destination.PrefixLength == 0;
    public override string ToString() =>
        $"{Destination.Network}/{Destination.PrefixLength} {(Gateway is { } g ? $"via {g}" : "on-link")} dev {Interface.Name} metric {Metric}";
}

/// <summary>
/// The IPv4 routing table: longest-prefix match, then lowest metric. On-link routes are added when an interface gets
/// its address; a default route (0.0.0.0/0) names the gateway. Reads take a snapshot (copy-on-write), so lookups on the
/// packet path never contend with route changes.
/// </summary>
public sealed class RoutingTable
{
    private readonly object _gate = new();
    private Route[] _routes = [];

    public IReadOnlyList<Route> Routes => _routes;

    public Result Add(Route route)
    {
        if (route.Gateway is { } gw && !route.Interface.Cidr.Contains(gw))
            return Errors.Of(ErrorCode.Unreachable, $"gateway {gw} is not on {route.Interface.Name}'s subnet {route.Interface.Cidr}");
        if (route.Metric < 0) return Errors.Of(ErrorCode.InvalidArgument, "metric must be non-negative");
        lock (_gate)
        {
            var normalized = route with { Destination = new Ipv4Cidr(route.Destination.Network, route.Destination.PrefixLength) };
            if (_routes.Any(r => r.Destination == normalized.Destination && r.Interface == normalized.Interface && r.Gateway == normalized.Gateway))
                return Errors.Of(ErrorCode.AlreadyExists, $"route {normalized} exists");
            _routes = _routes.Append(normalized)
                .OrderByDescending(r => r.Destination.PrefixLength).ThenBy(r => r.Metric).ToArray();
        }
        return Result.Ok;
    }

    public Result AddDefault(Ipv4Address gateway, NetInterface via, int metric = 0) =>
        Add(new Route(new Ipv4Cidr(Ipv4Address.Any, 0), gateway, via, metric));

    public Result Remove(Ipv4Cidr destination)
    {
        lock (_gate)
        {
            var net = new Ipv4Cidr(destination.Network, destination.PrefixLength);
            var kept = _routes.Where(r => r.Destination != net).ToArray();
            if (kept.Length == _routes.Length) return Errors.Of(ErrorCode.NotFound, $"no route to {destination}");
            _routes = kept;
        }
        return Result.Ok;
    }

    internal void RemoveInterface(NetInterface nic)
    {
        lock (_gate) _routes = _routes.Where(r => r.Interface != nic).ToArray();
    }

    /// <summary>Longest-prefix match. Returns the route and the next hop (gateway, or the destination itself).</summary>
    public (Route Route, Ipv4Address NextHop)? Lookup(Ipv4Address destination)
    {
        foreach (var r in _routes) // sorted by prefix length descending, then metric: the first match wins
            if (r.Destination.Contains(destination) && r.Interface.IsUp)
                return (r, r.Gateway ?? destination);
        return null;
    }
}
