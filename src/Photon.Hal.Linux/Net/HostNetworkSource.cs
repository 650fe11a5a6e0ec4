namespace Photon.Kernel.Hal.Host.Net;

/// <summary>The host's network devices: a device's name is a TAP interface (created, IFF_MULTI_QUEUE with several
/// queues). With <paramref name="offloads"/> (the default) the TAP is opened with IFF_VNET_HDR, so the stack sends 64 KiB
/// TSO segments with partial checksums and takes Linux's coalesced segments whole; a kernel that refuses gives a plain
/// TAP (<see cref="TapDevice.OffloadStatus"/> says why).</summary>
public sealed class HostNetworkSource(bool offloads = true) : INetworkDeviceSource
{
    public Result<INetworkDevice> Open(string name, ReadOnlySpan<byte> mac, int queues)
    {
        var tap = TapDevice.Open(name, mac, queues, offloads);
        if (!tap.IsOk) return tap.Error;
        return tap.Value;
    }
}
