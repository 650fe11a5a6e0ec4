using Photon.Kernel.Drivers.Virtio;
using Photon.Kernel.Hal.Pci;

namespace Photon.Kernel.Drivers.Net;

/// <summary>
/// One transmit virtqueue: a DMA pool of one slot per ring entry; a frame is copied behind a zeroed header into a free
/// slot, and a batch is published with one notification. Sent slots are reclaimed lazily, on the next send, with TX
/// interrupts suppressed; only a sender that finds the ring full turns them on and sleeps.
/// </summary>
internal sealed class VirtioNetTxQueue : IDisposable
{
    private readonly SplitVirtqueue _vq;
    private readonly IDmaBuffer _pool;
    private readonly int _slotSize;
    private readonly VirtioNotifier _notifier;
    private readonly DeviceWait _wait;
    private readonly Stack<int> _idle = new();
    private readonly VirtqCompletion[] _scratch;
    private readonly SemaphoreSlim _senders = new(1, 1);
    private long _frames, _errors, _bytes, _publishes, _descriptors, _reclaimed, _fullWaits, _largest;
    private bool _disposed;

    private VirtioNetTxQueue(SplitVirtqueue vq, IDmaBuffer pool, int slotSize, VirtioNotifier notifier, DeviceWait wait)
    {
        _vq = vq;
        _pool = pool;
        _slotSize = slotSize;
        _notifier = notifier;
        _wait = wait;
        _scratch = new VirtqCompletion[vq.Size];
        for (int i = vq.Size - 1; i >= 0; i--) _idle.Push(i);
    }

    public static Result<VirtioNetTxQueue> Create(VirtioPciTransport transport, int index, ushort size, int slotSize, ushort vector, DeviceWait wait)
    {
        var vq = SplitVirtqueue.Create(transport.Function, index, size);
        if (!vq.TryGet(out var ring)) return vq.Error;
        var pool = transport.Function.AllocateDma(size * slotSize);
        if (!pool.TryGet(out var slots)) { ring.Dispose(); return pool.Error; }
        var enabled = transport.EnableQueue(index, size, ring.DescriptorAddress, ring.DriverAreaAddress, ring.DeviceAreaAddress, vector);
        if (!enabled.TryGet(out var notifier)) { ring.Dispose(); slots.Dispose(); return enabled.Error; }
        ring.SuppressInterrupts(true);
        return new VirtioNetTxQueue(ring, slots, slotSize, notifier, wait);
    }

    public long Frames => Interlocked.Read(ref _frames);
    public long Errors => Interlocked.Read(ref _errors);
    public int MaxFrame => _slotSize - VirtioNetHeader.Size;

    /// <summary>Queues <paramref name="frames"/> in order; see <c>INetworkQueues.SendBatchAsync</c> for the contract.</summary>
    public async ValueTask<int> SendAsync(IReadOnlyList<ReadOnlyMemory<byte>> frames, CancellationToken ct)
    {
        if (frames.Count == 0) return 0;
        await _senders.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            while (true)
            {
                if (_disposed) throw new KernelException(ErrorCode.Closed, "transmit queue closed");
                int sent = TrySend(frames);
                if (sent > 0) return sent;
                _vq.SuppressInterrupts(false);
                try
                {
                    Reclaim();
                    if (_idle.Count == 0)
                    {
                        Interlocked.Increment(ref _fullWaits);
                        await _wait.WaitAsync(ct).ConfigureAwait(false);
                    }
                }
                finally { _vq.SuppressInterrupts(true); }
            }
        }
        finally { _senders.Release(); }
    }

    private int TrySend(IReadOnlyList<ReadOnlyMemory<byte>> frames)
    {
        Reclaim();
        int sent = 0;
        var pool = _pool.Memory.Span;
        foreach (var frame in frames)
        {
            if (frame.Length < 14 || frame.Length > MaxFrame)
            {
                Interlocked.Increment(ref _errors);
                if (sent == 0) throw new KernelException(ErrorCode.InvalidArgument, $"frame of {frame.Length} bytes (14 to {MaxFrame})");
                break;
            }
            if (_idle.Count == 0) break;
            int slot = _idle.Pop();
            var into = pool.Slice(slot * _slotSize, _slotSize);
            VirtioNetHeader.WriteEmpty(into);
            frame.Span.CopyTo(into[VirtioNetHeader.Size..]);
            var seg = new VirtqSegment(_pool.DeviceAddress + (ulong)(slot * _slotSize), (uint)(VirtioNetHeader.Size + frame.Length), DeviceWrites: false);
            var added = _vq.Add([seg], slot);
            if (!added.IsOk)
            {
                _idle.Push(slot);
                if (sent == 0 && added.Code != ErrorCode.WouldBlock) throw added.Error.ToException();
                break;
            }
            sent++;
            _bytes += frame.Length;
            _descriptors++;
            if (frame.Length > _largest) _largest = frame.Length;
        }
        if (sent > 0)
        {
            _vq.Publish();
            _publishes++;
            if (_vq.DeviceWantsNotify) _notifier.Notify();
            Interlocked.Add(ref _frames, sent);
        }
        return sent;
    }

    private void Reclaim()
    {
        var polled = _vq.Poll(_scratch);
        if (!polled.TryGet(out int n)) throw polled.Error.ToException();
        for (int i = 0; i < n; i++) _idle.Push(_scratch[i].Cookie);
        _reclaimed += n;
    }

    /// <summary>What this queue did so far (read without the senders' lock: each figure is a plain 64-bit counter).</summary>
    public VirtioNetTxStats Stats => new(Frames, Volatile.Read(ref _bytes), Volatile.Read(ref _publishes), _notifier.Notifications,
        Volatile.Read(ref _descriptors), Volatile.Read(ref _reclaimed), Volatile.Read(ref _fullWaits), _wait.Wakeups, Volatile.Read(ref _largest));

    /// <summary>Frees the rings once no sender is inside (senders blocked on a full ring must have been cancelled).</summary>
    public async ValueTask CloseAsync()
    {
        await _senders.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed) return;
            _disposed = true;
            _vq.Dispose();
            _pool.Dispose();
        }
        finally { _senders.Release(); }
    }

    public void Dispose() => CloseAsync().AsTask().GetAwaiter().GetResult();
}
