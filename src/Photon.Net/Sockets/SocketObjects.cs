using Photon.Kernel.Capabilities;
using Photon.Net.Tcp;
using Photon.Net.Udp;

namespace Photon.Net.Sockets;

/// <summary>
/// A socket as a kernel object. Its own capability names a new object, so it cannot be a derived child of the grant
/// capability the socket was opened through (the capability manager derives only capabilities to the same object).
/// Instead the kernel holds a rights-less <em>tether</em> derived from that grant capability: the tether sits in the
/// derivation tree where the socket belongs, and when it dies — the grant capability or any ancestor was revoked — the
/// socket is retired: its capability and every copy are revoked and the socket is reset. <see cref="SocketService"/>
/// notices a dead tether on the socket's next use and in a periodic sweep (there is no per-capability revocation
/// callback to tell it at once).
/// </summary>
public abstract class SocketObject(string label) : KernelObject(label)
{
    private SocketService? _service;
    private volatile bool _retired;

    /// <summary>The socket's root capability (the one its opener's handle holds).</summary>
    internal CapabilityToken Capability { get; private set; }

    /// <summary>The kernel-held capability derived from the grant capability the socket was opened through.</summary>
    internal CapabilityToken Tether { get; private set; }

    /// <summary>True once the socket was closed because its grant was revoked (it was reset, not closed gracefully).</summary>
    internal bool Retired => _retired;

    internal void Attach(SocketService service, CapabilityToken capability, CapabilityToken tether)
    {
        _service = service;
        Capability = capability;
        Tether = tether;
    }

    internal void MarkRetired() => _retired = true;

    protected sealed override void OnLastCapabilityRevoked()
    {
        _service?.Forget(this);
        Shut(reset: _retired);
    }

    /// <summary>Closes the underlying socket: gracefully when its last handle was closed, with a reset when it was retired.</summary>
    internal abstract void Shut(bool reset);
}

/// <summary>A listening TCP port; its capability (Read) is what accepting needs.</summary>
public sealed class ListenerObject : SocketObject
{
    public override ObjectKind Kind => ObjectKind.TcpListener;

    internal ListenerObject(TcpListener listener, CapabilityToken through) : base($"tcp-listen:{listener.Port}")
    {
        Listener = listener;
        Through = through;
    }

    public TcpListener Listener { get; }

    /// <summary>The grant capability the listener was opened through: accepted connections are tethered to it too, so
    /// they live under the grant (and survive the listener's own close, as accepted sockets do).</summary>
    internal CapabilityToken Through { get; }

    internal override void Shut(bool reset) => _ = Listener.DisposeAsync().AsTask();
}

/// <summary>A TCP connection: Read to receive, Write to send. Closing its last capability closes it gracefully (FIN
/// after queued data) and ends pending calls; retiring it resets it.</summary>
public sealed class ConnectionObject(TcpConnection connection) : SocketObject($"tcp:{connection.Local}->{connection.Remote}")
{
    public override ObjectKind Kind => ObjectKind.TcpConnection;

    public TcpConnection Connection { get; } = connection;

    internal override void Shut(bool reset) => _ = reset ? Connection.AbortAsync() : Connection.ReleaseAsync();
}

/// <summary>A bound UDP port.</summary>
public sealed class UdpSocketObject(UdpSocket socket) : SocketObject($"udp:{socket.Port}")
{
    public override ObjectKind Kind => ObjectKind.UdpSocket;

    public UdpSocket Socket { get; } = socket;

    /// <summary>The tenant whose ephemeral port this is (bound to port 0), given back when the socket shuts.</summary>
    internal SocketAccount? EphemeralPortOf { get; init; }

    private int _shut;

    internal override void Shut(bool reset)
    {
        if (Interlocked.Exchange(ref _shut, 1) != 0) return;
        EphemeralPortOf?.ReturnEphemeralPort();
        _ = Socket.DisposeAsync().AsTask();
    }
}
