using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Net;
using Photon.Kernel.Hal.Host;
using Photon.Net.Tcp;

namespace Photon.Net.Tests.Virtio;

/// <summary>Two virtio-net device models back to back, each under a <see cref="NicDriver"/> and a TCP/IP stack
/// (left 10.9.0.1, right 10.9.0.2; B/right is the receiver the tests look at). Disposing stops both and checks neither
/// stack dropped a frame for an internal error.</summary>
internal sealed record VirtioNetCable(VirtioNetModel A, VirtioNetModel B, VirtioNetDevice DevB, NicDriver NicA, NicDriver NicB,
    NetworkStack Left, NetworkStack Right) : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly HostTimers Timers = new(new HostClock());

    /// <param name="configureB">Adjusts B's model (offered features) before its driver negotiates.</param>
    /// <param name="optionsB">B's driver options (default: the ring size, nothing else changed).</param>
    public static async Task<VirtioNetCable> OpenAsync(byte[] macA, byte[] macB, string addressA, string addressB, ushort queueSize,
        Action<VirtioNetModel>? configureB = null, VirtioNetOptions? optionsB = null)
    {
        var a = new VirtioNetModel(macA, address: addressA);
        var b = new VirtioNetModel(macB, address: addressB);
        configureB?.Invoke(b);
        a.Transmitted = b.Inject;
        b.Transmitted = a.Inject;
        var caps = new CapabilityManager();
        var devA = (await VirtioNetDevice.OpenAsync(a.Function, Timers, new VirtioNetOptions(QueueSize: queueSize)).WaitAsync(Timeout)).Value;
        var devB = (await VirtioNetDevice.OpenAsync(b.Function, Timers, optionsB ?? new VirtioNetOptions(QueueSize: queueSize)).WaitAsync(Timeout)).Value;
        var (nicA, _) = NicDriver.Start(devA, caps).Value;
        var (nicB, _) = NicDriver.Start(devB, caps).Value;
        var options = new NetworkStackOptions { TcpMinRto = TimeSpan.FromMilliseconds(50), TcpMsl = TimeSpan.FromMilliseconds(200) };
        var left = new NetworkStack(Timers, options);
        var right = new NetworkStack(Timers, options);
        left.AddInterface(nicA, Ipv4Cidr.Parse("10.9.0.1/24").Value).Unwrap();
        right.AddInterface(nicB, Ipv4Cidr.Parse("10.9.0.2/24").Value).Unwrap();
        left.Start();
        right.Start();
        return new VirtioNetCable(a, b, devB, nicA, nicB, left, right);
    }

    /// <summary>A TCP connection from left to a listener on right's <paramref name="port"/>.</summary>
    public async Task<(TcpConnection Client, TcpConnection Server, TcpListener Listener)> ConnectAsync(ushort port)
    {
        var listener = Right.Tcp.Listen(port).Value;
        var accept = listener.AcceptAsync();
        var client = (await Left.Tcp.ConnectAsync(new IpEndpoint(TwoStacks.Ip("10.9.0.2"), port)).WaitAsync(Timeout)).Value;
        var server = (await accept.WaitAsync(Timeout)).Value;
        return (client, server, listener);
    }

    public async ValueTask DisposeAsync()
    {
        await Left.DisposeAsync();
        await Right.DisposeAsync();
        await NicA.DisposeAsync();
        await NicB.DisposeAsync();
        Assert.Equal(0, Left.Dropped(DropReason.InternalError) + Right.Dropped(DropReason.InternalError));
    }
}
