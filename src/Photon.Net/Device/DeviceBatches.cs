using Photon.Kernel.Hal;

namespace Photon.Net.Device;

/// <summary>
/// The stack's one view of a device: <see cref="INetworkBatches"/>. A device that lends its own buffers (the NIC driver)
/// is used as it is; a HAL device that only copies into the caller's buffers (TAP, AF_PACKET, test wires) gets an
/// adapter that owns the buffers and turns the HAL's exceptions into results — so the stack has one receive loop and one
/// transmit path, and copies a frame at most once (into the socket buffer) after the device has put it in memory.
/// </summary>
internal static class DeviceBatches
{
    /// <summary>Frames taken from a copying device per wakeup, and their buffer size (the largest MTU, 9000, fits).</summary>
    internal const int Burst = 32, BufferSize = 16384;

    public static INetworkBatches For(INetworkDevice device) => device switch
    {
        INetworkBatches lends => lends,
        INetworkQueues queues => new MultiQueueAdapter(queues),
        _ => new SingleQueueAdapter(device),
    };

    /// <summary>What a HAL device's failure means to the stack: a typed error, never an exception.</summary>
    internal static KernelError ErrorOf(Exception e) => e switch
    {
        KernelException k => k.Error,
        OperationCanceledException => new KernelError(ErrorCode.Cancelled, "cancelled"),
        _ => new KernelError(ErrorCode.IoError, e.Message),
    };

    internal static bool IsDeviceFailure(Exception e) =>
        e is KernelException or OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException;
}

/// <summary>Buffers one queue's burst of a copying device, lent to the stack until released.</summary>
internal sealed class CopiedBatch : IRxBatch
{
    public readonly Memory<byte>[] Buffers = new Memory<byte>[DeviceBatches.Burst];
    public readonly int[] Lengths = new int[DeviceBatches.Burst];

    public CopiedBatch()
    {
        for (int i = 0; i < Buffers.Length; i++) Buffers[i] = new byte[DeviceBatches.BufferSize];
    }

    public int Count { get; set; }

    public ReadOnlySpan<byte> this[int index] =>
        (uint)index < (uint)Count ? Buffers[index].Span[..Lengths[index]] : throw new ArgumentOutOfRangeException(nameof(index));

    public void Release() => Count = 0;
}

/// <summary>A multi-queue HAL device: a burst per queue per wakeup (recvmmsg), a transmit batch in one call (sendmmsg).</summary>
internal sealed class MultiQueueAdapter(INetworkQueues device) : INetworkBatches
{
    private readonly CopiedBatch[] _batches = Enumerable.Range(0, device.QueueCount).Select(_ => new CopiedBatch()).ToArray();

    public int QueueCount => _batches.Length;

    public async ValueTask<Result<IRxBatch>> ReceiveAsync(int queue, CancellationToken ct = default)
    {
        var batch = _batches[queue];
        try { batch.Count = await device.ReceiveBatchAsync(queue, batch.Buffers, batch.Lengths, ct).ConfigureAwait(false); }
        catch (Exception e) when (DeviceBatches.IsDeviceFailure(e)) { return DeviceBatches.ErrorOf(e); }
        return batch;
    }

    public async ValueTask<Result<int>> TransmitAsync(IReadOnlyList<ReadOnlyMemory<byte>> frames, CancellationToken ct = default)
    {
        try { return await device.SendBatchAsync(0, frames, ct).ConfigureAwait(false); }
        catch (Exception e) when (DeviceBatches.IsDeviceFailure(e)) { return DeviceBatches.ErrorOf(e); }
    }
}

/// <summary>A plain HAL device: one frame per receive, one call per transmitted frame.</summary>
internal sealed class SingleQueueAdapter(INetworkDevice device) : INetworkBatches
{
    private readonly CopiedBatch _batch = new();

    public int QueueCount => 1;

    public async ValueTask<Result<IRxBatch>> ReceiveAsync(int queue, CancellationToken ct = default)
    {
        try { _batch.Lengths[0] = await device.ReceiveAsync(_batch.Buffers[0], ct).ConfigureAwait(false); }
        catch (Exception e) when (DeviceBatches.IsDeviceFailure(e)) { return DeviceBatches.ErrorOf(e); }
        _batch.Count = 1;
        return _batch;
    }

    public async ValueTask<Result<int>> TransmitAsync(IReadOnlyList<ReadOnlyMemory<byte>> frames, CancellationToken ct = default)
    {
        for (int i = 0; i < frames.Count; i++)
        {
            try
            {
                var send = device.SendAsync(frames[i], ct);
                if (!send.IsCompletedSuccessfully) await send.ConfigureAwait(false);
            }
            catch (Exception e) when (DeviceBatches.IsDeviceFailure(e)) { return i == 0 ? DeviceBatches.ErrorOf(e) : i; }
        }
        return frames.Count;
    }
}
