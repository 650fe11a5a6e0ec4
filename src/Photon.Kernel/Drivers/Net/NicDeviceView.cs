using System.Buffers;
using System.Threading.Channels;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal;

namespace Photon.Kernel.Drivers.Net;

/// <summary>
/// The driver's plain <see cref="INetworkDevice"/> face, for consumers of that interface (tests, tools; the network stack
/// uses <see cref="INetworkBatches"/>): it sends through the TX queues, and keeps buffers posted on every RX queue (one
/// pump per queue, awaiting its buffers in posting order so a queue's frames come out in arrival order). The interface
/// receives into the caller's buffer and reports failure by throwing, so this face copies each frame once more and turns
/// the driver's results into <see cref="KernelException"/>s.
/// </summary>
internal sealed class NicDeviceView(NicDriver driver, CapabilityToken cap, Principal actor) : INetworkDevice
{
    private readonly record struct RxFrame(byte[] Buffer, int Length);

    private readonly Channel<RxFrame> _inbox = Channel.CreateBounded<RxFrame>(
        new BoundedChannelOptions(driver.Options.RxBuffersPerQueue * driver.RxQueueCount) { FullMode = BoundedChannelFullMode.Wait });
    private readonly CancellationTokenSource _stop = new();
    private Task[]? _pumps;
    private readonly Lock _lock = new();
    private bool _disposed;

    /// <summary>The capability this face acts with, and for whom (audit).</summary>
    internal CapabilityToken Capability => cap;
    internal Principal Actor => actor;

    public string Name => driver.Name;
    public ReadOnlyMemory<byte> MacAddress => driver.MacAddress;
    public int Mtu => driver.Mtu;

    /// <summary>Like a NIC's transmit entry point: the frame is copied into a driver buffer and the call returns
    /// once the request is in a TX ring (the capability check and validation errors are thrown here); device
    /// errors after that are counted in <see cref="NicStats.TxErrors"/>. A full ring makes the caller wait for
    /// the frame's completion (back-pressure).</summary>
    public ValueTask SendAsync(ReadOnlyMemory<byte> frame, CancellationToken ct = default)
    {
        var copy = ArrayPool<byte>.Shared.Rent(Math.Max(frame.Length, 1));
        frame.Span.CopyTo(copy);
        var owned = copy.AsMemory(0, frame.Length);
        var sub = driver.TrySubmitTx(cap, owned, actor);
        if (sub.IsOk)
        {
            _ = ReturnWhenDone(sub.Value, copy);
            return ValueTask.CompletedTask;
        }
        if (sub.Code != ErrorCode.WouldBlock)
        {
            ArrayPool<byte>.Shared.Return(copy);
            return ValueTask.FromException(sub.Error.ToException());
        }
        return SendWhenRoomAsync(owned, copy, ct);
    }

    private async ValueTask SendWhenRoomAsync(ReadOnlyMemory<byte> owned, byte[] copy, CancellationToken ct)
    {
        var r = await driver.SendAsync(cap, owned, actor, ct).ConfigureAwait(false);
        // A cancelled request may still be in the ring; its buffer then goes to the garbage collector, not the pool.
        if (r.Code != ErrorCode.Cancelled) ArrayPool<byte>.Shared.Return(copy);
        if (!r.IsOk) throw r.Error.ToException();
    }

    private static async Task ReturnWhenDone(Task<Result<int>> done, byte[] copy)
    {
        await done.ConfigureAwait(false);
        ArrayPool<byte>.Shared.Return(copy);
    }

    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        EnsurePumps();
        RxFrame f;
        try { f = await _inbox.Reader.ReadAsync(ct).ConfigureAwait(false); }
        catch (ChannelClosedException e) { throw e.InnerException as KernelException ?? new KernelException(ErrorCode.Closed, $"{Name} is closed"); }
        int n = Math.Min(f.Length, buffer.Length);
        f.Buffer.AsSpan(0, n).CopyTo(buffer.Span);
        ArrayPool<byte>.Shared.Return(f.Buffer);
        return n;
    }

    private void EnsurePumps()
    {
        if (Volatile.Read(ref _pumps) is not null) return;
        lock (_lock)
        {
            if (_pumps is not null) return;
            if (_disposed) throw new KernelException(ErrorCode.Closed, $"{Name} is closed");
            var pumps = new Task[driver.RxQueueCount];
            for (int q = 0; q < pumps.Length; q++) pumps[q] = Pump(q, _stop.Token);
            Volatile.Write(ref _pumps, pumps);
        }
    }

    private async Task Pump(int queue, CancellationToken stop)
    {
        await Task.Yield();
        var posted = new Queue<(byte[] Buffer, Task<Result<int>> Done)>();
        int size = driver.MinReceiveBuffer + 4; // room for a VLAN tag
        KernelError? failure = null;
        try
        {
            while (true)
            {
                while (posted.Count < driver.Options.RxBuffersPerQueue)
                {
                    var buf = ArrayPool<byte>.Shared.Rent(size);
                    posted.Enqueue((buf, driver.PostReceiveAsync(cap, queue, buf, actor, stop)));
                }
                var (b, done) = posted.Dequeue();
                var r = await done.ConfigureAwait(false);
                if (!r.IsOk)
                {
                    if (r.Code != ErrorCode.Cancelled) ArrayPool<byte>.Shared.Return(b);
                    failure = r.Code == ErrorCode.Cancelled ? Errors.Of(ErrorCode.Closed, $"{Name} is closed") : r.Error;
                    break;
                }
                await _inbox.Writer.WriteAsync(new RxFrame(b, r.Value), stop).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) { failure = Errors.Of(ErrorCode.Closed, $"{Name} is closed"); }
        catch (ChannelClosedException) { }
        _inbox.Writer.TryComplete(new KernelException(failure ?? Errors.Of(ErrorCode.Closed, $"{Name} is closed")));
        // Withdraw what is still posted. A withdrawn (cancelled) buffer may still be written by the device, so only
        // buffers that came back with a real outcome return to the pool.
        if (!stop.IsCancellationRequested) await _stop.CancelAsync().ConfigureAwait(false);
        while (posted.Count > 0)
        {
            var (b, done) = posted.Dequeue();
            var r = await done.ConfigureAwait(false);
            if (r.Code != ErrorCode.Cancelled) ArrayPool<byte>.Shared.Return(b);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Task[]? pumps;
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            pumps = _pumps;
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        if (pumps is not null) await Task.WhenAll(pumps).ConfigureAwait(false);
        _inbox.Writer.TryComplete(new KernelException(ErrorCode.Closed, $"{Name} is closed"));
        driver.Forget(this);
    }
}
