namespace Photon.Kernel.Hal.Host.Net;

/// <summary>The host's network devices: a device's name is a TAP interface (created, IFF_MULTI_QUEUE with several queues).</summary>
public sealed class HostNetworkSource : INetworkDeviceSource
{
    public Result<INetworkDevice> Open(string name, ReadOnlySpan<byte> mac, int queues)
    {
        var tap = TapDevice.Open(name, mac, queues);
        if (!tap.IsOk) return tap.Error;
        return tap.Value;
    }
}
