using Photon.Kernel.Capabilities;

namespace Photon.Net.Sockets;

public enum TransportProtocol { Tcp, Udp }

/// <summary>
/// The right to use a range of ports: a capability to it with <see cref="Rights.Listen"/> lets its holder listen on a
/// TCP port in the range, with <see cref="Rights.Bind"/> bind a UDP port. The kernel binds grants into namespaces
/// (e.g. /tenant-a/http); a process that cannot look one up cannot open a port. Every socket opened through a grant
/// capability lives under it in the derivation tree (see <see cref="SocketObject"/>), so revoking that capability or
/// any ancestor closes the socket.
/// </summary>
public sealed class PortGrant : KernelObject
{
    public override ObjectKind Kind => ObjectKind.PortGrant;

    internal PortGrant(TransportProtocol protocol, ushort low, ushort high, Action onDestroyed)
        : base($"{protocol.ToString().ToLowerInvariant()}:{low}-{high}")
    {
        Protocol = protocol;
        Low = low;
        High = high;
        OnDestroyed = onDestroyed;
    }

    private Action OnDestroyed { get; }

    public TransportProtocol Protocol { get; }
    public ushort Low { get; }
    public ushort High { get; }
    public bool Covers(TransportProtocol p, ushort port) => p == Protocol && port >= Low && port <= High;

    // The whole grant is gone: its sockets' tethers died with it, so sweep now rather than at the next interval.
    protected override void OnLastCapabilityRevoked() => OnDestroyed();
}

/// <summary>The right to reach out: <see cref="Rights.Connect"/> opens TCP connections to remote endpoints and binds
/// ephemeral UDP ports. Sockets opened through it live under the capability used, like <see cref="PortGrant"/>'s.</summary>
public sealed class NetworkAccess : KernelObject
{
    public override ObjectKind Kind => ObjectKind.NetworkAccess;

    public NetworkAccess(string label) : base(label) { }

    internal Action? OnDestroyed { get; init; }

    protected override void OnLastCapabilityRevoked() => OnDestroyed?.Invoke();
}
