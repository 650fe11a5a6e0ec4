using Photon.Kernel.Hal;
using Photon.Kernel.Scheduling;
using Photon.Net;

namespace Photon.Fuzz.Targets;

/// <summary>A NIC for fuzz targets that inject frames straight into the stack: what the stack sends is discarded and
/// nothing is ever received from it.</summary>
internal sealed class DiscardDevice(string name, ReadOnlyMemory<byte> mac) : INetworkDevice
{
    public string Name => name;
    public ReadOnlyMemory<byte> MacAddress => mac;
    public int Mtu => 1500;
    public ValueTask SendAsync(ReadOnlyMemory<byte> frame, CancellationToken ct = default) => ValueTask.CompletedTask;
    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        await Task.Delay(Timeout.Infinite, ct);
        return 0;
    }
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>Time stands still: retransmission timers never fire, so one input's outcome depends only on its bytes.</summary>
internal sealed class FrozenTimers : IKernelTimers
{
    public TimeSpan Now => TimeSpan.Zero;
    public Task Delay(TimeSpan due, CancellationToken cancellationToken = default) => Task.Delay(Timeout.Infinite, cancellationToken);
}
