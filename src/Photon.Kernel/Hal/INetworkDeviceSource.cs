namespace Photon.Kernel.Hal;

/// <summary>
/// Where the platform's network devices come from: opens one by the platform's name for it (a TAP device on the host
/// backend, created if needed) with a MAC address and a number of hardware queues. Network boot components open theirs here.
/// </summary>
public interface INetworkDeviceSource
{
    /// <summary>Opens <paramref name="name"/>; <c>AccessDenied</c> or <c>NotSupported</c> when the platform refuses
    /// (on the host: no root or CAP_NET_ADMIN).</summary>
    Result<INetworkDevice> Open(string name, ReadOnlySpan<byte> mac, int queues);
}
