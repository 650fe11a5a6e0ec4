using System.Buffers;
using Photon.Kernel.Drivers.Net;

namespace Photon.Kernel.Hal.Host.Net;

/// <summary>
/// One hardware queue of a host network device: a descriptor, a HAL-owned receive thread that polls it and, per
/// wakeup, reads a burst of frames (up to <see cref="Budget"/>, like a NAPI poll) into a bounded ring (<see cref="HostRxRing"/>)
/// and then wakes the reader once, on this thread, so the stack handles the burst here without a thread-pool hop;
/// when the ring is full, frames are dropped and counted, as a NIC does. The kernel side takes frames one at a time or in
/// batches. Subclasses say how a burst is read and how a batch is written. A frame waits in the ring in a pooled buffer
/// together with what the device said of its checksum (virtio_net_hdr with offloads on), so the stack can read it in
/// place (<see cref="HostRxBatch"/>) and skip a checksum the host already vouched for.
/// </summary>
internal abstract class HostFrameQueue
{
    /// <summary>Most frames read per wakeup before polling again.</summary>
    public const int Budget = 64;

    private readonly HostRxRing _rx;
    private readonly Thread _reader;
    private volatile bool _stopping;
    private long _rxFrames, _rxBursts, _rxDropped, _txFrames, _txErrors, _rxBadHeaders, _rxLarge, _txLarge, _txWithdrawn;
    private long _waitCalls, _readCalls, _writeCalls;
    private int _closed, _fdClosed;
    private bool _closeOnExit;
    private int _users; // transmits in progress; the sign bit is set once closed

    protected HostFrameQueue(int fd, string threadName, int ringSize = 1024)
    {
        Fd = fd;
        _rx = new HostRxRing(ringSize);
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = threadName };
    }

    protected int Fd { get; }

    public NetworkQueueCounters Counters => new(Interlocked.Read(ref _rxFrames), Interlocked.Read(ref _rxBursts),
        Interlocked.Read(ref _rxDropped), Interlocked.Read(ref _txFrames), Interlocked.Read(ref _txErrors));

    /// <summary>Frames dropped because their virtio_net_hdr was malformed (see <see cref="VirtioNetHeader.ReadFromHost"/>).</summary>
    public long RxBadHeaders => Interlocked.Read(ref _rxBadHeaders);
    /// <summary>Frames received longer than the MTU allows a plain frame: coalesced (GRO/GSO) TCP segments.</summary>
    public long RxLargeFrames => Interlocked.Read(ref _rxLarge);
    /// <summary>Frames sent longer than the MTU allows a plain frame: TSO segments the host cut.</summary>
    public long TxLargeFrames => Interlocked.Read(ref _txLarge);

    /// <summary>Frames dropped unread because the lent memory they carried had gone back to its sender (<c>TxLease</c>).</summary>
    public long TxWithdrawn => Interlocked.Read(ref _txWithdrawn);

    /// <summary>Host system calls this queue made: waits (poll), reads (recvmmsg/read) and writes (sendmmsg/write) —
    /// what a request/response round trip costs in syscalls, printed by the network bench.</summary>
    public (long Waits, long Reads, long Writes) HostCalls =>
        (Interlocked.Read(ref _waitCalls), Interlocked.Read(ref _readCalls), Interlocked.Read(ref _writeCalls));

    protected void CountRead() => Interlocked.Increment(ref _readCalls);
    protected void CountWrite() => Interlocked.Increment(ref _writeCalls);
    private short Poll(short events, int timeoutMs)
    {
        Interlocked.Increment(ref _waitCalls);
        return LinuxNet.Poll(Fd, events, timeoutMs);
    }

    public void Start() => _reader.Start();

    /// <summary>Reads what is waiting (at most <paramref name="budget"/> frames) without blocking, handing each frame
    /// to <see cref="Deliver"/>. Returns the number of frames read (0: nothing waiting), or a negative errno.</summary>
    protected abstract int ReadBurst(int budget);

    /// <summary>Blocks until frames arrive (for at most <see cref="WaitMilliseconds"/>), then reads what is waiting, as
    /// <see cref="ReadBurst"/> does. Returns the frames read, 0 when the wait ran out, or a negative errno. The default
    /// is poll(2) then a read: two syscalls per wake; a device that can block in the read itself (AF_PACKET's
    /// recvmmsg with MSG_WAITFORONE) overrides it with one.</summary>
    protected virtual int WaitAndReadBurst(int budget)
    {
        short ev = Poll(LinuxNet.POLLIN, WaitMilliseconds);
        if (ev == 0) return 0;
        if ((ev & LinuxNet.POLLNVAL) != 0) return -LinuxNet.EBADF;
        return ReadBurst(budget);
    }

    /// <summary>The longest a receive thread sleeps before it looks at its stop flag again: how long a close may wait
    /// for the thread (poll's timeout, or the blocking read's SO_RCVTIMEO).</summary>
    internal const int WaitMilliseconds = 100;

    /// <summary>How many frames one <see cref="ReadBurst"/> asks the host for at most (recvmmsg's vector); 1 for a
    /// device read a frame at a time, where a short read says nothing.</summary>
    protected virtual int FramesPerRead => 1;

    /// <summary>Writes frames in order; returns how many went out, or throws (a <see cref="KernelException"/>) if the
    /// first one fails.</summary>
    protected abstract int WriteBatch(IReadOnlyList<ReadOnlyMemory<byte>> frames);

    /// <summary>Transmits frames in order (see <see cref="WriteBatch"/>); <see cref="ErrorCode.Closed"/> once closed.
    /// Close waits for transmits in progress, so a closed (and possibly reused) descriptor is never written.</summary>
    public int SendBatch(IReadOnlyList<ReadOnlyMemory<byte>> frames)
    {
        while (true)
        {
            int s = Volatile.Read(ref _users);
            if (s < 0) throw new KernelException(ErrorCode.Closed, "network device is closed");
            if (Interlocked.CompareExchange(ref _users, s + 1, s) == s) break;
        }
        try { return WriteBatch(frames); }
        finally { Interlocked.Decrement(ref _users); }
    }

    protected void Deliver(ReadOnlySpan<byte> frame) => Deliver(frame, default);

    /// <summary>Copies a frame into a pooled buffer and queues it on the RX ring with its checksum state.</summary>
    protected void Deliver(ReadOnlySpan<byte> frame, RxChecksumInfo checksum)
    {
        Interlocked.Increment(ref _rxFrames);
        var buffer = ArrayPool<byte>.Shared.Rent(frame.Length);
        frame.CopyTo(buffer);
        if (!_rx.TryWrite(new HostRxFrame(buffer, frame.Length, checksum)))
        {
            ArrayPool<byte>.Shared.Return(buffer);
            Interlocked.Increment(ref _rxDropped);
        }
    }

    protected void CountDropped() => Interlocked.Increment(ref _rxDropped);
    protected void CountBadHeader()
    {
        Interlocked.Increment(ref _rxBadHeaders);
        Interlocked.Increment(ref _rxDropped);
    }
    protected void CountLargeReceived() => Interlocked.Increment(ref _rxLarge);
    protected void CountLargeSent() => Interlocked.Increment(ref _txLarge);
    protected void CountSent(int frames) => Interlocked.Add(ref _txFrames, frames);
    protected void CountSendError() => Interlocked.Increment(ref _txErrors);
    protected void CountWithdrawn() => Interlocked.Increment(ref _txWithdrawn);

    /// <summary>Opt-in busy-poll (Linux's SO_BUSY_POLL, for the device rather than one socket): after a burst, this
    /// thread keeps reading without blocking for up to this many microseconds before it sleeps in poll(2) again, so a
    /// request that arrives soon after the last reply is taken without a poll and a thread wake-up. 0 (the default):
    /// off. It spends CPU for latency — worth it only on a host with a core to spare.</summary>
    public int BusyPollMicroseconds
    {
        get => Volatile.Read(ref _busyPollMicros);
        set => Volatile.Write(ref _busyPollMicros, value is >= 0 and <= MaxBusyPollMicroseconds ? value
            : throw new ArgumentOutOfRangeException(nameof(value), $"0..{MaxBusyPollMicroseconds} µs"));
    }

    public const int MaxBusyPollMicroseconds = HostNetworkDevice.MaxBusyPollMicroseconds;
    private int _busyPollMicros;
    private long _busyPollHits, _busyPollMisses;

    /// <summary>Busy-poll windows that found frames (no poll(2) needed for them), and windows that ran out and fell back
    /// to poll(2).</summary>
    public (long Hits, long Misses) BusyPolls => (Interlocked.Read(ref _busyPollHits), Interlocked.Read(ref _busyPollMisses));

    /// <summary>Reads without blocking until frames come or the window ends: true when a burst was read and published.</summary>
    private bool BusyPoll(int micros)
    {
        long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + micros * System.Diagnostics.Stopwatch.Frequency / 1_000_000;
        var spin = new SpinWait();
        while (!_stopping)
        {
            int r = ReadBurst(Budget);
            if (r > 0)
            {
                Interlocked.Increment(ref _busyPollHits);
                // A full vector may have more behind it: the normal burst loop takes the rest after the next poll,
                // which returns at once (poll is level-triggered).
                Interlocked.Increment(ref _rxBursts);
                _rx.Publish();
                return true;
            }
            if (r < 0 && -r != LinuxNet.EAGAIN && -r != LinuxNet.EINTR) break; // a hard error: let poll report it
            if (System.Diagnostics.Stopwatch.GetTimestamp() >= deadline) break;
            spin.SpinOnce(sleep1Threshold: -1); // pause between reads, never yield the core to sleep
        }
        Interlocked.Increment(ref _busyPollMisses);
        return false;
    }

    private void ReadLoop()
    {
        bool busy = false; // a burst was just handled: busy-poll before sleeping, if asked to
        while (!_stopping)
        {
            if (busy && BusyPollMicroseconds is > 0 and var micros && BusyPoll(micros)) continue;
            busy = false;
            int total = 0;
            bool first = true;
            while (total < Budget && !_stopping)
            {
                int asked = Math.Min(Budget - total, FramesPerRead);
                int r = first ? WaitAndReadBurst(Budget) : ReadBurst(Budget - total);
                if (first && r == -LinuxNet.EBADF) { _stopping = true; break; } // the descriptor is gone
                if (first && r == 0) break; // the wait ran out: look at the stop flag
                first = false;
                if (r > 0)
                {
                    total += r;
                    // A read that came back short drained the socket: poll again rather than pay a read for EAGAIN
                    // (one syscall per request/response round trip; poll is level-triggered, so nothing is missed).
                    if (r < asked) break;
                    continue;
                }
                // A hard error (interface gone or down): don't spin on a descriptor that keeps reporting it.
                if (r < 0 && -r != LinuxNet.EAGAIN && -r != LinuxNet.EINTR && total == 0) Thread.Sleep(10);
                break;
            }
            if (total > 0)
            {
                Interlocked.Increment(ref _rxBursts);
                _rx.Publish(); // the reader handles the burst now, on this thread
                busy = true;
            }
        }
        _rx.Complete();
        if (Volatile.Read(ref _closeOnExit)) CloseDescriptor(); // closed from this thread: see Close
    }

    public bool TryReceive(Span<byte> buffer, out int length)
    {
        if (_rx.TryRead(out var frame))
        {
            length = frame.CopyOut(buffer);
            return true;
        }
        length = 0;
        return false;
    }

    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken ct)
    {
        while (true)
        {
            if (_rx.TryRead(out var frame)) return frame.CopyOut(buffer.Span);
            if (!await _rx.WaitToReadAsync(ct).ConfigureAwait(false)) throw new KernelException(ErrorCode.Closed, "network device is closed");
        }
    }

    public ValueTask<int> ReceiveBatchAsync(IReadOnlyList<Memory<byte>> buffers, Memory<int> lengths, CancellationToken ct) =>
        ReceiveBatchAsync(buffers, lengths, default, ct);

    /// <summary>Copies a burst into <paramref name="buffers"/>; with <paramref name="checksumVerified"/> (as long as the
    /// burst) each frame's checksum verdict from the host is reported there instead of being acted on in the copy.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> ReceiveBatchAsync(IReadOnlyList<Memory<byte>> buffers, Memory<int> lengths, Memory<bool> checksumVerified, CancellationToken ct)
    {
        int max = Math.Min(buffers.Count, lengths.Length);
        bool report = !checksumVerified.IsEmpty;
        if (report) max = Math.Min(max, checksumVerified.Length);
        if (max == 0) return 0;
        while (true)
        {
            int n = 0;
            while (n < max && _rx.TryRead(out var frame))
            {
                lengths.Span[n] = frame.CopyOut(buffers[n].Span, report, out bool verified);
                if (report) checksumVerified.Span[n] = verified;
                n++;
            }
            if (n > 0) return n;
            if (!await _rx.WaitToReadAsync(ct).ConfigureAwait(false))
                throw new KernelException(ErrorCode.Closed, "network device is closed");
        }
    }

    /// <summary>Lends up to <paramref name="into"/>'s capacity of the frames waiting, in their pooled buffers (no copy);
    /// waits for the first. <see cref="ErrorCode.Closed"/> once closed.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<Result<IRxBatch>> LendBatchAsync(HostRxBatch into, CancellationToken ct)
    {
        while (true)
        {
            into.Fill(_rx);
            if (into.Count > 0) return into;
            try
            {
                if (!await _rx.WaitToReadAsync(ct).ConfigureAwait(false)) return Errors.Of(ErrorCode.Closed, "network device is closed");
            }
            catch (OperationCanceledException) { return Errors.Of(ErrorCode.Cancelled, "cancelled"); }
        }
    }

    /// <summary>Receives one frame from whichever queue has one first (the plain <see cref="INetworkDevice"/> path).</summary>
    public static async ValueTask<int> ReceiveAnyAsync(HostFrameQueue[] queues, Memory<byte> buffer, CancellationToken ct)
    {
        if (queues.Length == 1) return await queues[0].ReceiveAsync(buffer, ct).ConfigureAwait(false);
        int start = 0;
        while (true)
        {
            for (int k = 0; k < queues.Length; k++)
                if (queues[(start + k) % queues.Length].TryReceive(buffer.Span, out int n)) return n;
            start++;
            using var any = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var waits = new Task<bool>[queues.Length];
            for (int k = 0; k < queues.Length; k++) waits[k] = queues[k]._rx.WaitToReadAsync(any.Token).AsTask();
            var first = await Task.WhenAny(waits).ConfigureAwait(false);
            any.Cancel();
            ct.ThrowIfCancellationRequested();
            try
            {
                if (!await first.ConfigureAwait(false)) throw new KernelException(ErrorCode.Closed, "network device is closed");
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested) { } // another queue's wait, cancelled by us
        }
    }

    /// <summary>Asks the receive thread to stop (it notices within one poll interval).</summary>
    public void RequestStop() => _stopping = true;

    /// <summary>Waits for the receive thread, then closes the descriptor. Idempotent. Called on the receive thread
    /// itself (code resumed there by a burst closed the device), it cannot wait for itself: the thread closes the
    /// descriptor as it leaves its loop, so a reused descriptor number is never polled.</summary>
    public virtual void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        _stopping = true;
        bool self = Thread.CurrentThread == _reader;
        if (!self && _reader.IsAlive) _reader.Join();
        _rx.Complete();
        while (true)
        {
            int s = Volatile.Read(ref _users);
            if (Interlocked.CompareExchange(ref _users, s | int.MinValue, s) == s) break;
        }
        var spin = new SpinWait();
        while ((Volatile.Read(ref _users) & int.MaxValue) != 0) spin.SpinOnce();
        if (self && _reader.IsAlive) Volatile.Write(ref _closeOnExit, true);
        else CloseDescriptor();
    }

    private void CloseDescriptor()
    {
        if (Interlocked.Exchange(ref _fdClosed, 1) == 0) LinuxNet.close(Fd);
    }
}
