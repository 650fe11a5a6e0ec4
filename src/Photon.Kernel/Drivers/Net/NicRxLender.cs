using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal;
using Photon.Kernel.Io;

namespace Photon.Kernel.Drivers.Net;

/// <summary>
/// One RX queue of the driver's <see cref="INetworkBatches"/> face — smoltcp's RX token for a burst. It owns a set of
/// buffers, keeps them posted on the queue pair, lends the completed ones out in posting (= arrival) order without
/// copying, and posts them again on <see cref="Release"/>. It owns more buffers than one burst, so the device keeps
/// filling some while the stack processes the others. One consumer per queue, one batch at a time.
/// </summary>
/// <remarks>
/// Nothing is allocated per burst (tcp17: a task, a completion source, a cancellation registration and its closure per
/// posted buffer, and a cancellable wait's promise per burst were ~400 B of each request/response round trip). The
/// buffers are posted with the queue pair's sink submission: each completion is written into this lender's table under
/// the buffer's index (<see cref="OnCompleted"/>, on the completing thread), and a parked <see cref="ReceiveAsync"/> —
/// waiting for the oldest posted buffer, the head — is woken by one reusable completion when the head completes.
/// </remarks>
internal sealed class NicRxLender : IRxBatch, IQueueCompletionSink<int>
{
    private readonly NicDriver _driver;
    private readonly int _queue;
    private readonly CapabilityToken _cap;
    private readonly Principal _actor;
    private readonly CancellationTokenSource _stop = new();
    private readonly byte[][] _buffers; // index = the cookie its completion comes back under
    private readonly Result<int>[] _results; // written by the completer before _done
    private readonly int[] _done; // 1 once the buffer's completion is in _results (set by the completer, cleared before posting)
    private readonly int[] _posted; // a ring of posted buffer indices, in posting order (the consumer's only)
    private int _postedHead, _postedCount;
    private readonly int[] _idle; // buffers to post again
    private int _idleCount;
    private readonly RxRequest[] _toPost;
    private readonly int[] _cookies;
    private readonly int[] _lent;
    private readonly int[] _lengths;
    private readonly bool[] _verified;
    private readonly HeadWait _wait = new();
    private int _waitFor = -1; // the buffer a parked ReceiveAsync waits for, or -1
    private CancellationToken _registeredFor; // the stack's token, registered once (not per wait)
    private CancellationTokenRegistration _registration;
    private int _count;
    private bool _lending;

    public NicRxLender(NicDriver driver, int queue, CapabilityToken cap, Principal actor)
    {
        _driver = driver;
        _queue = queue;
        _cap = cap;
        _actor = actor;
        var o = driver.Options;
        _lent = new int[o.Batch];
        _lengths = new int[o.Batch];
        _verified = new bool[o.Batch];
        int size = driver.MinReceiveBuffer + 4; // room for a VLAN tag
        int buffers = Math.Min(o.RxBuffersPerQueue + o.Batch, o.QueueDepth);
        _buffers = new byte[buffers][];
        _results = new Result<int>[buffers];
        _done = new int[buffers];
        _posted = new int[buffers];
        _idle = new int[buffers];
        _toPost = new RxRequest[buffers];
        _cookies = new int[buffers];
        for (int i = 0; i < buffers; i++)
        {
            _buffers[i] = new byte[size];
            _idle[_idleCount++] = i;
        }
    }

    public int Count => _count;

    public ReadOnlySpan<byte> this[int index] =>
        (uint)index < (uint)_count ? _buffers[_lent[index]].AsSpan(0, _lengths[index]) : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>The device verified the frame's transport checksum (host devices say so per copied frame).</summary>
    public bool ChecksumVerified(int index) => (uint)index < (uint)_count && _verified[index];

    /// <remarks>The state machine box is pooled: the stack's receive loop waits here once per burst.</remarks>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<Result<IRxBatch>> ReceiveAsync(CancellationToken ct)
    {
        if (_lending) return Errors.Of(ErrorCode.InvalidArgument, "the previous batch of this queue was not released");
        var posted = PostIdle();
        if (!posted.IsOk && _postedCount == 0) return posted.Error;
        if (_postedCount == 0) return Errors.Of(ErrorCode.Closed, $"{_driver.Name} has no receive buffers posted");
        int head = _posted[_postedHead];
        while (Volatile.Read(ref _done[head]) == 0)
        {
            if (ct.IsCancellationRequested) return Errors.Of(ErrorCode.Cancelled, "receive cancelled");
            RegisterCancellation(ct);
            // With inline completions this resumes on the thread that completed the burst (the RX controller, on the
            // device's receive thread): no thread-pool hop between a frame and the stack.
            long generation = _wait.Arm(runContinuationsAsynchronously: !_driver.Options.InlineCompletions);
            // Dekker with OnCompleted (both sides write, fence, then read the other's word): either the completer sees
            // whom we wait for, or we see its completion here — a wake is never lost.
            Interlocked.Exchange(ref _waitFor, head);
            if (Volatile.Read(ref _done[head]) != 0 || ct.IsCancellationRequested) _wait.TrySetResult(true, generation);
            bool woken = await _wait.AsValueTask().ConfigureAwait(false);
            Volatile.Write(ref _waitFor, -1);
            if (!woken || ct.IsCancellationRequested) return Errors.Of(ErrorCode.Cancelled, "receive cancelled");
            // A late wake meant for an earlier wait can end this one early: the loop looks at the head again.
        }
        _count = 0;
        while (_count < _lent.Length && _postedCount > 0)
        {
            int i = _posted[_postedHead];
            if (Volatile.Read(ref _done[i]) == 0) break;
            var r = _results[i];
            if (!r.IsOk && _count > 0) break; // hand out what arrived; the error comes with the next call
            _postedHead = (_postedHead + 1) % _posted.Length;
            _postedCount--;
            _results[i] = default;
            if (!r.IsOk)
            {
                // A withdrawn buffer may still be written by the device, so only one with a real outcome is reused.
                if (r.Code != ErrorCode.Cancelled) _idle[_idleCount++] = i;
                return r.Code == ErrorCode.Cancelled ? Errors.Of(ErrorCode.Closed, $"{_driver.Name} is closed") : r.Error;
            }
            _lent[_count] = i;
            _verified[_count] = (r.Value & NicDriver.RxChecksumVerifiedFlag) != 0;
            _lengths[_count++] = r.Value & ~NicDriver.RxChecksumVerifiedFlag;
        }
        _lending = true;
        return this;
    }

    /// <summary>A completion of buffer <paramref name="cookie"/> (the RX controller's thread, or a closing one): recorded,
    /// and the parked receive woken if it waits for this buffer.</summary>
    public void OnCompleted(int cookie, Result<int> result)
    {
        if ((uint)cookie >= (uint)_done.Length) return;
        _results[cookie] = result;
        Interlocked.Exchange(ref _done[cookie], 1);
        if (Volatile.Read(ref _waitFor) == cookie) _wait.TrySetResult(true, _wait.Generation);
    }

    /// <summary>The stack passes the same token to every receive: one registration for all of them, replaced only when
    /// the token changes.</summary>
    private void RegisterCancellation(CancellationToken ct)
    {
        if (!ct.CanBeCanceled || ct == _registeredFor) return;
        _registration.Dispose();
        _registeredFor = ct;
        _registration = ct.UnsafeRegister(static s => ((NicRxLender)s!).CancelWait(), this);
    }

    private void CancelWait()
    {
        if (Volatile.Read(ref _waitFor) >= 0) _wait.TrySetResult(false, _wait.Generation);
    }

    public void Release()
    {
        if (!_lending) return;
        for (int i = 0; i < _count; i++) _idle[_idleCount++] = _lent[i];
        _count = 0;
        _lending = false;
        PostIdle(); // a failure stays visible: the buffers wait and the next ReceiveAsync reports it
    }

    /// <summary>Posts every idle buffer with one capability check and one doorbell.</summary>
    private Result PostIdle()
    {
        if (_idleCount == 0 || _stop.IsCancellationRequested) return Result.Ok;
        var abandon = _stop.Token;
        for (int k = 0; k < _idleCount; k++)
        {
            int i = _idle[k];
            Volatile.Write(ref _done[i], 0); // before the post publishes it: its completion comes after
            _toPost[k] = new RxRequest(_buffers[i], abandon) { ReportsChecksum = true };
            _cookies[k] = i;
        }
        var r = _driver.PostReceiveBatch(_cap, _queue, _toPost.AsSpan(0, _idleCount), _cookies.AsSpan(0, _idleCount), this, _actor);
        if (!r.IsOk) return r.Error;
        int n = r.Value;
        for (int k = 0; k < n; k++) _posted[(_postedHead + _postedCount++) % _posted.Length] = _idle[k];
        _idleCount -= n;
        Array.Copy(_idle, n, _idle, 0, _idleCount);
        return Result.Ok;
    }

    /// <summary>Withdraws the posted buffers (the driver completes them as cancelled, or closed when it stops).</summary>
    public void Dispose()
    {
        _stop.Cancel();
        _registration.Dispose();
    }

    /// <summary>The parked receive's wake, reused: true for the head's completion, false for a cancellation.</summary>
    private sealed class HeadWait : Photon.Kernel.Scheduling.GenerationalCompletion<bool>
    {
        public new long Arm(bool runContinuationsAsynchronously) => base.Arm(runContinuationsAsynchronously);
    }
}
