using Photon.Kernel.Boot;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Net;
using Photon.Kernel.Hal;
using Photon.Net.Dhcp;
using Photon.Net.Dns;
using Photon.Net.Sockets;
using Photon.Net.Syscalls;

namespace Photon.Net;

/// <summary>
/// Boot component: the network. Opens a platform network device (<see cref="Platform.Network"/>: a TAP device on the
/// host) with <paramref name="queues"/> hardware queues, starts the NIC driver on the kernel's queue pairs over it, runs
/// the TCP/IP stack on the kernel's timers with the interface <paramref name="address"/> (and a default route via
/// <paramref name="gateway"/>), and starts the kernel's socket service (<see cref="SocketSyscalls"/>). Processes reach
/// it only through capabilities bound under <c>/net</c>: <c>tcp</c> and <c>udp</c> (port grants for every port, which
/// init carves narrower grants from), <c>outbound</c> (connect, ping) and <c>dns</c> (the kernel's stub resolver over
/// <paramref name="dnsServers"/>, port 53; Read to look up, Manage to change the servers). With <paramref name="dhcp"/>
/// the interface starts without an address (<paramref name="address"/> only seeds the MAC) and a DHCP client runs in the
/// background: its lease sets address, prefix, default route and the resolver's servers, and is renewed until stop, when it is released. Stopping revokes them (closing every listener
/// and socket opened through them), stops the stack and the driver, and closes the device.
/// </summary>
public sealed class NetworkComponent(string device, Ipv4Cidr address, Ipv4Address? gateway = null, int queues = 2,
    IReadOnlyList<Ipv4Address>? dnsServers = null, bool dhcp = false, NetworkStackOptions? options = null) : IKernelComponent
{
    private Kernel.Boot.PhotonKernel? _kernel;
    private INetworkDevice? _device;
    private NicDriver? _driver;
    private CapabilityToken _driverCap;
    private NetworkStack? _stack;
    private bool _registered;
    private CapabilityToken _ns;
    private readonly List<CapabilityToken> _grants = new();
    private readonly List<IDisposable> _monitored = new();
    private readonly CancellationTokenSource _stopLease = new();
    private Task? _leaseKeeper;
    private DhcpClient? _dhcp;

    public string Device { get; } = device;
    /// <summary>With a value, IPv6 is on for the interface (EUI-64 link-local, SLAAC) with this static address too.</summary>
    public Ipv6Cidr? Ipv6 { get; init; }
    public Ipv4Cidr Address { get; } = address;

    public string Name => $"network {Device}";

    /// <summary>The stack once started (its counters, for diagnosis and the benchmarks).</summary>
    public NetworkStack? Stack => _stack;

    public async ValueTask<Result<string>> StartAsync(Kernel.Boot.PhotonKernel k, CancellationToken ct)
    {
        _kernel = k;
        if (k.Platform.Network is not { } source) return Errors.Of(ErrorCode.NotSupported, $"{k.Platform.Name} offers no network devices");
        var a = Address.Address.Value;
        var opened = source.Open(Device, [2, 0x50, 0x48, (byte)(a >> 16), (byte)(a >> 8), (byte)a], queues);
        if (!opened.IsOk) return opened.Error;
        _device = opened.Value;
        var driver = NicDriver.Start(_device, k.Capabilities, new NicOptions(Timers: k.Timers));
        if (!driver.IsOk) return driver.Error;
        (_driver, _driverCap) = driver.Value;
        // `photon top` and the photon.queue.in_flight gauge show the rings' depth beside the block queues.
        var nicDriver = _driver;
        for (int i = 0; i < nicDriver.TxQueueCount; i++)
        {
            int q = i;
            _monitored.Add(k.Monitor.AddQueue($"{Device}.tx{q}", () => nicDriver.TxQueues[q].Stats));
        }
        for (int i = 0; i < nicDriver.RxQueueCount; i++)
        {
            int q = i;
            _monitored.Add(k.Monitor.AddQueue($"{Device}.rx{q}", () => nicDriver.RxQueues[q].Stats));
        }
        _stack = new NetworkStack(k.Timers, options);
        var nic = dhcp ? _stack.AddUnconfiguredInterface(_driver) : _stack.AddInterface(_driver, Address);
        if (!nic.IsOk) return nic.Error;
        if (gateway is { } gw && _stack.Routes.AddDefault(gw, nic.Value) is { IsOk: false } route) return route.Error;
        _stack.Start();
        if (Ipv6 is { } v6 && _stack.AddIpv6Address(nic.Value, v6) is { IsOk: false } ipv6) return ipv6.Error;
        var resolver = DnsResolver.Create(_stack, (dnsServers ?? []).Select(a => new IpEndpoint(a, 53)).ToList(), quotas: k.Quotas);
        if (!resolver.IsOk) return resolver.Error;
        if (dhcp)
        {
            // In the background, as dhclient runs: the link's far end may come up only after boot (a TAP moved into
            // a namespace), and the lease must be renewed until stop anyway.
            _dhcp = new DhcpClient(_stack, nic.Value, resolver.Value);
            _leaseKeeper = _dhcp.MaintainAsync(_stopLease.Token);
        }

        var sockets = new SocketService(_stack, k.Capabilities) { Quota = new SocketQuota(k.Quotas) };
        var registered = SocketSyscalls.Register(k.Capabilities, sockets);
        if (!registered.IsOk) return registered.Error;
        _registered = true;
        var ns = k.Namespaces.CreateChild(k.Namespaces.RootCapability, "net");
        if (!ns.IsOk) return ns.Error;
        _ns = ns.Value;
        const Rights grantRights = Rights.Bind | Rights.Listen | Rights.Delegate | Rights.Transfer;
        foreach (var (name, grant, rights) in new[]
        {
            ("tcp", sockets.GrantPorts(TransportProtocol.Tcp, 1, ushort.MaxValue, Principal.Kernel), grantRights),
            ("udp", sockets.GrantPorts(TransportProtocol.Udp, 1, ushort.MaxValue, Principal.Kernel), grantRights),
            ("outbound", sockets.GrantNetworkAccess(Principal.Kernel), Rights.Connect | Rights.Delegate | Rights.Transfer),
            ("dns", k.Capabilities.Create(new ResolverObject(resolver.Value), Rights.Read | Rights.Manage | Rights.Delegate | Rights.Transfer, Principal.Kernel),
                Rights.Read | Rights.Manage | Rights.Delegate | Rights.Transfer),
        })
        {
            if (!grant.IsOk) return grant.Error;
            _grants.Add(grant.Value);
            var bound = k.Namespaces.Bind(_ns, name, grant.Value, rights);
            if (!bound.IsOk) return bound.Error;
        }
        await Task.CompletedTask.ConfigureAwait(false);
        string offloads = _driver.Offloads.HasFlag(NetworkOffloads.TcpSegmentation) ? ", TSO and checksum offload"
            : _driver.Offloads.HasFlag(NetworkOffloads.TcpChecksum) ? ", checksum offload" : ", no offloads";
        return $"{nic.Value}{(dhcp ? " (address by DHCP)" : "")}{(gateway is { } g ? $", default via {g}" : "")}: NIC driver ({queues} queues{offloads}) on the kernel's queue pairs, " +
               "stack on kernel timers; /net/tcp, /net/udp (port grants), /net/outbound, /net/dns" +
               (resolver.Value.Servers.Count > 0 ? $" (servers {string.Join(", ", resolver.Value.Servers)})" : "");
    }

    public async ValueTask StopAsync()
    {
        if (_kernel is not { } k) return;
        foreach (var m in _monitored) m.Dispose();
        _monitored.Clear();
        _stopLease.Cancel();
        if (_leaseKeeper is not null) { await _leaseKeeper.ConfigureAwait(false); _leaseKeeper = null; }
        // Give the address back before the stack goes (RFC 2131 §4.4.6), so the server can lease it again at once.
        if (_dhcp is not null) { await _dhcp.ReleaseAsync().ConfigureAwait(false); _dhcp = null; }
        // Revoking the grants closes every listener and UDP port opened through them.
        foreach (var g in _grants) k.Capabilities.Revoke(g);
        _grants.Clear();
        if (!_ns.IsNone)
        {
            k.Namespaces.Destroy(_ns);
            k.Namespaces.Unbind(k.Namespaces.RootCapability, "net");
            _ns = default;
        }
        if (_registered) { SocketSyscalls.Unregister(k.Capabilities); _registered = false; }
        if (_stack is not null) { await _stack.DisposeAsync().ConfigureAwait(false); _stack = null; }
        // The driver owns the device once started; before that the device is ours to close.
        if (_driver is not null) { await _driver.DisposeAsync().ConfigureAwait(false); _driver = null; _device = null; }
        if (!_driverCap.IsNone) { k.Capabilities.Revoke(_driverCap); _driverCap = default; }
        if (_device is not null) { await _device.DisposeAsync().ConfigureAwait(false); _device = null; }
        _kernel = null;
    }
}
