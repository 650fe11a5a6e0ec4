namespace Photon.Kernel.Hal;

/// <summary>
/// A network interface as the platform offers it: raw Ethernet frames in and out. On the host backend this is a Linux
/// TAP device; on metal, a NIC's descriptor rings. The stack above never sees how frames move.
/// </summary>
public interface INetworkDevice : IAsyncDisposable
{
    string Name { get; }

    /// <summary>The interface's 6-byte MAC address.</summary>
    ReadOnlyMemory<byte> MacAddress { get; }

    int Mtu { get; }

    /// <summary>Transmits one Ethernet frame (header included, no FCS).</summary>
    ValueTask SendAsync(ReadOnlyMemory<byte> frame, CancellationToken ct = default);

    /// <summary>Waits for the next received frame and copies it into <paramref name="buffer"/>; returns its length.</summary>
    ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken ct = default);
}
