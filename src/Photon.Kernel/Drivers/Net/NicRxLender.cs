using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal;

namespace Photon.Kernel.Drivers.Net;

/// <summary>
/// One RX queue of the driver's <see cref="INetworkBatches"/> face — smoltcp's RX token for a burst. It owns a set of
/// buffers, keeps them posted on the queue pair, lends the completed ones out in posting (= arrival) order without
/// copying, and posts them again on <see cref="Release"/>. It owns more buffers than one burst, so the device keeps
/// filling some while the stack processes the others. One consumer per queue, one batch at a time.
/// </summary>
internal sealed class NicRxLender : IRxBatch
{
    private readonly NicDriver _driver;
    private readonly int _queue;
    private readonly CapabilityToken _cap;
    private readonly Principal _actor;
    private readonly CancellationTokenSource _stop = new();
    private readonly Queue<(byte[] Buffer, Task<Result<int>> Done)> _posted = new();
    private readonly List<byte[]> _idle = new();
    private readonly List<Memory<byte>> _toPost = new();
    private readonly byte[][] _lent;
    private readonly int[] _lengths;
    private readonly bool[] _verified;
    private int _count;
    private bool _lending;

    public NicRxLender(NicDriver driver, int queue, CapabilityToken cap, Principal actor)
    {
        _driver = driver;
        _queue = queue;
        _cap = cap;
        _actor = actor;
        var o = driver.Options;
        _lent = new byte[o.Batch][];
        _lengths = new int[o.Batch];
        _verified = new bool[o.Batch];
        int size = driver.MinReceiveBuffer + 4; // room for a VLAN tag
        int buffers = Math.Min(o.RxBuffersPerQueue + o.Batch, o.QueueDepth);
        for (int i = 0; i < buffers; i++) _idle.Add(new byte[size]);
    }

    public int Count => _count;

    public ReadOnlySpan<byte> this[int index] =>
        (uint)index < (uint)_count ? _lent[index].AsSpan(0, _lengths[index]) : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>The device verified the frame's transport checksum (host devices say so per copied frame).</summary>
    public bool ChecksumVerified(int index) => (uint)index < (uint)_count && _verified[index];

    /// <remarks>The state machine box is pooled: the stack's receive loop waits here once per burst.</remarks>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<Result<IRxBatch>> ReceiveAsync(CancellationToken ct)
    {
        if (_lending) return Errors.Of(ErrorCode.InvalidArgument, "the previous batch of this queue was not released");
        var posted = PostIdle();
        if (!posted.IsOk && _posted.Count == 0) return posted.Error;
        if (!_posted.TryPeek(out var head)) return Errors.Of(ErrorCode.Closed, $"{_driver.Name} has no receive buffers posted");
        if (!head.Done.IsCompleted)
        {
            // With inline completions this resumes on the thread that completed the burst (the RX controller, on the
            // device's receive thread): no thread-pool hop between a frame and the stack.
            try { await head.Done.WaitAsync(ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { return Errors.Of(ErrorCode.Cancelled, "receive cancelled"); }
        }
        _count = 0;
        while (_count < _lent.Length && _posted.TryPeek(out var p) && p.Done.IsCompleted)
        {
            var r = p.Done.Result;
            if (!r.IsOk && _count > 0) break; // hand out what arrived; the error comes with the next call
            _posted.Dequeue();
            if (!r.IsOk)
            {
                // A withdrawn buffer may still be written by the device, so only one with a real outcome is reused.
                if (r.Code != ErrorCode.Cancelled) _idle.Add(p.Buffer);
                return r.Code == ErrorCode.Cancelled ? Errors.Of(ErrorCode.Closed, $"{_driver.Name} is closed") : r.Error;
            }
            _lent[_count] = p.Buffer;
            _verified[_count] = (r.Value & NicDriver.RxChecksumVerifiedFlag) != 0;
            _lengths[_count++] = r.Value & ~NicDriver.RxChecksumVerifiedFlag;
        }
        _lending = true;
        return this;
    }

    public void Release()
    {
        if (!_lending) return;
        for (int i = 0; i < _count; i++)
        {
            _idle.Add(_lent[i]);
            _lent[i] = null!;
        }
        _count = 0;
        _lending = false;
        PostIdle(); // a failure stays visible: the buffers wait and the next ReceiveAsync reports it
    }

    /// <summary>Posts every idle buffer with one capability check and one doorbell.</summary>
    private Result PostIdle()
    {
        if (_idle.Count == 0 || _stop.IsCancellationRequested) return Result.Ok;
        _toPost.Clear();
        foreach (var b in _idle) _toPost.Add(b);
        var r = _driver.PostReceiveBatch(_cap, _queue, _toPost, _actor, _stop.Token, _driver.Options.InlineCompletions, reportChecksum: true);
        if (!r.IsOk) return r.Error;
        int n = r.Value.Count;
        for (int i = 0; i < n; i++) _posted.Enqueue((_idle[i], r.Value[i]));
        _idle.RemoveRange(0, n);
        return Result.Ok;
    }

    /// <summary>Withdraws the posted buffers (the driver completes them as cancelled, or closed when it stops).</summary>
    public void Dispose() => _stop.Cancel();
}
