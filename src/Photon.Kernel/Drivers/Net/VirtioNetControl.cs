using Photon.Kernel.Drivers.Virtio;
using Photon.Kernel.Hal.Pci;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Drivers.Net;

/// <summary>
/// The virtio-net control virtqueue (virtio 1.2 §5.1.6.5), used for one command: VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET,
/// which tells a multi-queue device how many queue pairs the driver uses. A command is a three-part chain (class and
/// command, data, the device's one-byte ack); completion is polled with a bounded wait, no interrupt.
/// </summary>
internal sealed class VirtioNetControl : IDisposable
{
    private const byte ClassMq = 4, MqVqPairsSet = 0, Ok = 0;
    private readonly SplitVirtqueue _vq;
    private readonly IDmaBuffer _buffer;
    private readonly VirtioNotifier _notifier;

    private VirtioNetControl(SplitVirtqueue vq, IDmaBuffer buffer, VirtioNotifier notifier)
    {
        _vq = vq;
        _buffer = buffer;
        _notifier = notifier;
    }

    public static Result<VirtioNetControl> Create(VirtioPciTransport transport, int index)
    {
        ushort max = transport.MaxQueueSize(index);
        if (max == 0) return Errors.Of(ErrorCode.NotSupported, $"control queue {index} does not exist");
        var vq = SplitVirtqueue.Create(transport.Function, index, (ushort)Math.Min((int)max, 16));
        if (!vq.TryGet(out var ring)) return vq.Error;
        var buffer = transport.Function.AllocateDma(64);
        if (!buffer.TryGet(out var mem)) { ring.Dispose(); return buffer.Error; }
        var enabled = transport.EnableQueue(index, ring.Size, ring.DescriptorAddress, ring.DriverAreaAddress, ring.DeviceAreaAddress, VirtioPciTransport.NoVector);
        if (!enabled.TryGet(out var notifier)) { ring.Dispose(); mem.Dispose(); return enabled.Error; }
        ring.SuppressInterrupts(true);
        return new VirtioNetControl(ring, mem, notifier);
    }

    /// <summary>Sets the number of queue pairs; <c>IoError</c> if the device answers anything but OK, <c>TimedOut</c>
    /// if it does not answer within a second.</summary>
    public async Task<Result> SetQueuePairsAsync(int pairs, IKernelTimers timers, CancellationToken ct)
    {
        var m = _buffer.Memory.Span;
        m[0] = ClassMq;
        m[1] = MqVqPairsSet;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(m[8..], (ushort)pairs);
        m[16] = 0xFF;
        ulong a = _buffer.DeviceAddress;
        var added = _vq.Add([new VirtqSegment(a, 2, false), new VirtqSegment(a + 8, 2, false), new VirtqSegment(a + 16, 1, true)], 0);
        if (!added.IsOk) return added;
        _ = _vq.Publish(); // one command, then polling: always notified
        _notifier.Notify();
        var done = new VirtqCompletion[1];
        for (int i = 0; i < 1000; i++)
        {
            var polled = _vq.Poll(done);
            if (!polled.IsOk) return polled.Error;
            if (polled.Value == 1)
            {
                byte ack = _buffer.Memory.Span[16];
                return ack == Ok ? Result.Ok : Result.Fail(ErrorCode.IoError, $"device refused {pairs} queue pairs (ack {ack})");
            }
            try { await timers.Delay(TimeSpan.FromMilliseconds(1), ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { return Result.Fail(ErrorCode.Cancelled, "control command cancelled"); }
        }
        return Result.Fail(ErrorCode.TimedOut, "control queue: no answer to VQ_PAIRS_SET");
    }

    public void Dispose()
    {
        _vq.Dispose();
        _buffer.Dispose();
    }
}
