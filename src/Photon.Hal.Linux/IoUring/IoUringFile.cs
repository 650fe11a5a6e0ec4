using Microsoft.Win32.SafeHandles;
using static Photon.Kernel.Hal.Host.IoUring.IoUringNative;

namespace Photon.Kernel.Hal.Host.IoUring;

/// <summary>
/// Positional reads, writes and fsyncs on one host file through an io_uring, submitted and reaped inline: the calling
/// thread takes the ring's lock, fills an SQE, calls io_uring_enter and reaps whatever completed. What the kernel can
/// finish without blocking (a page-cache read, a buffered write the host filesystem takes at once) completes inside that
/// enter, so the caller gets an already-completed ValueTask: no wakeup, no thread hop. Requests the kernel hands to its
/// io-wq workers complete later; a ring thread, armed only while such requests are outstanding, waits for them in
/// io_uring_enter(GETEVENTS) outside the lock and reaps them (continuations then run on the thread pool). The file is a
/// registered (fixed) file. A caller's buffer stays pinned until its completion is reaped, and disposal waits for every
/// submitted operation, so the kernel never writes to memory we released.
/// Who submits what: io_uring does the waiting part of a request on behalf of the thread that submitted it — a buffered
/// read of pages not yet in memory is retried from that thread's task_work, a write or fsync that must block runs on
/// that thread's io-wq — and fails it when that thread has exited by then (-EFAULT for the read's retry, -ECANCELED for
/// io-wq work), though nothing is wrong with the buffer. Callers' threads may exit at any time (a retired pool thread, a
/// thread that ends when idle), so a caller submits only what cannot outlive its call: reads and writes with RWF_NOWAIT
/// (done at once or refused with -EAGAIN, never retried or punted). What the kernel refused, and every fsync, the ring
/// thread submits — it lives until the ring closes, which waits for every operation (docs/benchmarks.md, block17).
/// A file that refused callers' writes <see cref="RefusalsToLearn"/> times in a row (ext4 refuses every buffered one) has
/// its writes handed to the ring thread without the attempt, one in <see cref="ProbeEvery"/> still tried (block18).
/// </summary>
// Safety: the one unsafe use fixes a caller's buffer for the length of a submission (see QueueFixed).
public sealed unsafe class IoUringFile : IAsyncDisposable
{
    private const ulong WakeTag = ulong.MaxValue;
    private const int ECANCELED = 125;
    /// <summary>Result a queued-but-unsubmitted operation gets when the file is closed under it.</summary>
    public const int ClosedResult = -ECANCELED;

    private readonly IoUringRing _ring;
    private readonly SafeFileHandle _file;
    private readonly int _fd;
    private readonly bool _fixedFile;
    // Guards the SQ, the CQ head, the in-flight table and the waiting queue: the kernel shares the rings with every
    // thread of the process, and only one may fill SQEs or advance the CQ head at a time.
    private readonly Lock _gate = new();
    private readonly Queue<IoUringOperation> _waiting = new();
    // Operations only the ring thread may submit (they may wait in the kernel): fsyncs, and reads and writes a caller's
    // RWF_NOWAIT attempt could not finish.
    private readonly Queue<IoUringOperation> _forRing = new();
    private readonly System.Collections.Concurrent.ConcurrentQueue<IoUringOperation> _pool = new();
    private readonly IoUringOperation?[] _inFlight;
    private readonly Stack<int> _freeSlots;
    private readonly SemaphoreSlim _armed = new(0);
    private readonly Thread _thread;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private uint _unsubmitted;
    // The calling thread's plug: what it queues while plugged waits here, outside the shared queue and its lock, so
    // one thread's plug never holds back another's operations, and a plugged batch goes in with one lock and one enter.
    [ThreadStatic] private static PlugState? t_plug;
    // Completions a submitting caller reaped, finished by it after it leaves the lock (see FinishReaped).
    [ThreadStatic] private static List<(IoUringOperation Op, int Result)>? t_reaped;
    private bool _closing, _watching, _failed;
    // The ring thread left SQEs it prepared unsubmitted (the kernel said EAGAIN/EBUSY): a caller's enter would submit
    // them as its own, so callers leave all submitting to the ring thread until it clears this.
    private bool _ringSqesPending;
    // A wake NOP for the ring thread is posted and not yet reaped (by the ring thread: callers leave it in the CQ).
    private bool _wakePosted;
    // Callers' RWF_NOWAIT attempts are refused for this file (EOPNOTSUPP: e.g. procfs): they go to the ring thread at once.
    private bool _noWaitRefused;
    private long _ringThreadSubmissions;
    // Writes the kernel refused in a row to callers (RWF_NOWAIT: -EAGAIN). ext4 refuses every buffered one (no
    // FOP_BUFFER_WASYNC), so past RefusalsToLearn callers stop trying and hand writes to the ring thread at once, but
    // for one probe in every ProbeEvery (a filesystem that takes them, or a change: the run ends at an accepted one).
    private int _writeRefusalRun, _writesSinceProbe;
    private long _refusedWrites, _writesStraightToRing;
    internal const int RefusalsToLearn = 4;
    internal const int ProbeEvery = 64;
    private long _inlineCompletions, _deferredCompletions, _enters;

    private IoUringFile(IoUringRing ring, SafeFileHandle file)
    {
        _ring = ring;
        _file = file;
        bool added = false;
        file.DangerousAddRef(ref added);
        _fd = (int)file.DangerousGetHandle();
        _fixedFile = ring.RegisterFile(_fd) == 0;
        // One SQ slot stays free for the wake NOP of DisposeAsync; the CQ has twice the SQ's entries, so it cannot overflow.
        _inFlight = new IoUringOperation?[ring.SqEntries - 1];
        _freeSlots = new Stack<int>(Enumerable.Range(0, _inFlight.Length).Reverse());
        _thread = new Thread(ReapDeferred) { IsBackground = true, Name = "io_uring" };
        _thread.Start();
    }

    /// <summary>Operations that can be in the kernel at once (more wait in a queue in order).</summary>
    public int Capacity => _inFlight.Length;

    /// <summary>True when SQEs name the file as registered file 0 (IOSQE_FIXED_FILE), saving a file lookup per I/O.</summary>
    public bool UsesRegisteredFile => _fixedFile;

    /// <summary>True once <see cref="DisposeAsync"/> began: a <see cref="ClosedResult"/> seen before that came from the
    /// host, not from us (see <c>HostImageStorage</c>'s resubmission).</summary>
    public bool IsClosing => Volatile.Read(ref _closing);

    /// <summary>Operations whose completion a submitting caller reaped right after its own io_uring_enter (finished
    /// inside it: no wakeup, no thread hop).</summary>
    public long InlineCompletions => Interlocked.Read(ref _inlineCompletions);

    /// <summary>Operations the kernel finished later (io-wq workers, disk reads) and the ring thread reaped.</summary>
    public long DeferredCompletions => Interlocked.Read(ref _deferredCompletions);

    /// <summary>io_uring_enter calls that submitted (the ring thread's waits not counted): operations per enter is
    /// the batching achieved.</summary>
    public long SubmittingEnters => Interlocked.Read(ref _enters);

    /// <summary>Operations the ring thread submitted (fsyncs, and reads and writes that had to wait) rather than the caller.</summary>
    public long RingThreadSubmissions => Interlocked.Read(ref _ringThreadSubmissions);

    /// <summary>Callers' RWF_NOWAIT writes the kernel refused (-EAGAIN), each then submitted by the ring thread.</summary>
    public long RefusedWrites => Interlocked.Read(ref _refusedWrites);

    /// <summary>Writes handed to the ring thread without a caller's attempt, because the file refused the last
    /// <see cref="RefusalsToLearn"/> attempts in a row.</summary>
    public long WritesStraightToRing => Interlocked.Read(ref _writesStraightToRing);

    /// <summary>
    /// Sets up a ring of <paramref name="entries"/> (a power of two, 2–4096) over an open file. Fails with
    /// <see cref="ErrorCode.NotSupported"/> when the host has no usable io_uring (ENOSYS, EPERM from
    /// kernel.io_uring_disabled or a seccomp filter), which is the caller's cue to use another backend.
    /// </summary>
    public static Result<IoUringFile> Open(SafeFileHandle file, int entries = 256)
    {
        if (entries < 2 || entries > 4096 || (entries & (entries - 1)) != 0)
            return Errors.Of(ErrorCode.InvalidArgument, "ring entries must be a power of two from 2 to 4096");
        if (file.IsInvalid || file.IsClosed) return Errors.Of(ErrorCode.InvalidHandle, "file is closed");
        var ring = IoUringRing.TryCreate((uint)entries, out int errno);
        if (ring is null) return Errors.Of(ErrorCode.NotSupported, $"io_uring unavailable: {ErrnoName(errno)}");
        return new IoUringFile(ring, file);
    }

    /// <summary>pread: bytes read (0 at end of file, short near it) or a negative errno.</summary>
    public ValueTask<int> ReadAsync(long offset, Memory<byte> buffer) =>
        IsPluggedHere ? Queue(OpRead, offset, buffer.Pin(), buffer.Length) : QueueFixed(OpRead, offset, buffer);

    /// <summary>pwrite: bytes written or a negative errno.</summary>
    public ValueTask<int> WriteAsync(long offset, ReadOnlyMemory<byte> data) =>
        IsPluggedHere ? Queue(OpWrite, offset, data.Pin(), data.Length) : QueueFixed(OpWrite, offset, System.Runtime.InteropServices.MemoryMarshal.AsMemory(data));

    private bool IsPluggedHere => t_plug is { Depth: > 0 } plug && ReferenceEquals(plug.Owner, this);

    /// <summary>An operation's instance: the calling thread's spare if it is this file's (the common case: a submitter
    /// that reaped its last operation gave it back on this thread), else one from the pool, else a new one.</summary>
    private IoUringOperation Rent()
    {
        if (t_spare is { } spare && ReferenceEquals(spare.Owner, this))
        {
            t_spare = null;
            return spare;
        }
        return _pool.TryDequeue(out var op) ? op : new IoUringOperation(this);
    }

    /// <summary>
    /// Submits an unplugged read or write with the caller's buffer fixed for the call instead of pinned by a GC handle:
    /// an operation reaped inside the call (a page-cache read) is done with the buffer when this returns; one still in
    /// the kernel (or waiting for a slot, or abandoned by a failed ring) takes a lasting pin under the lock, while the
    /// buffer is still fixed, so it never moves between the SQE's address and the operation's end.
    /// </summary>
    private ValueTask<int> QueueFixed(byte opcode, long offset, Memory<byte> buffer)
    {
        var op = Rent();
        var reaped = TakeReapedList();
        bool arm;
        ValueTask<int> task;
        // Safety: the buffer is fixed for this block; the SQE's address is used by the kernel only until the operation
        // completes, which is either inside this block (reaped here) or after the lasting pin taken below (before the fix ends).
        fixed (byte* address = buffer.Span)
        {
            task = op.StartFixed(opcode, offset, (nint)address, buffer.Length);
            lock (_gate)
            {
                if (!SubmitLocked(op, reaped, out arm)) return task;
                // Still the kernel's (in flight, queued, or abandoned by a failed ring): pinned for as long as that lasts.
                // Not one already finished — e.g. queued when the ring failed in this same turn: nothing would ever
                // release a pin taken after its Finish (review: the GCHandle leaked).
                if (!op.Reaped && !op.Retired) op.Pin = buffer.Pin();
            }
        }
        if (arm) _armed.Release();
        FinishReaped(reaped);
        return task;
    }

    /// <summary>fsync, or with <paramref name="dataOnly"/> fdatasync (the data and what is needed to read it back — block
    /// allocation, size — but not timestamps; what QEMU does for a raw image's flush): 0 or a negative errno.</summary>
    public ValueTask<int> FsyncAsync(bool dataOnly = false) => Queue(OpFsync, 0, default, 0, dataOnly ? FsyncDatasync : 0);

    private sealed class PlugState
    {
        public IoUringFile? Owner;
        public int Depth, Foreign;
        public readonly List<IoUringOperation> Held = new();
    }

    /// <summary>
    /// Holds back the calling thread's operations until its matching <see cref="Unplug"/>, so what it queues in between
    /// (a driver's whole fetched batch) goes to the kernel in one io_uring_enter. Plugs nest on a thread and belong to
    /// it: other threads' operations go in at once. A plug on a second file inside the first's is a no-op.
    /// </summary>
    public void Plug()
    {
        var p = t_plug ??= new PlugState();
        if (p.Depth == 0) p.Owner = this;
        if (ReferenceEquals(p.Owner, this)) p.Depth++;
        else p.Foreign++;
    }

    /// <summary>The file the calling thread holds a plug on, if any (a storage with one ring per CPU sends the plugged
    /// thread's operations to that ring, so its batch still goes in with one enter).</summary>
    public static IoUringFile? PluggedOnThisThread => t_plug is { Depth: > 0 } p ? p.Owner : null;

    public void Unplug()
    {
        var p = t_plug;
        if (p is null || p.Depth == 0) return; // unbalanced: nothing held
        if (!ReferenceEquals(p.Owner, this))
        {
            if (p.Foreign > 0) p.Foreign--;
            return;
        }
        if (--p.Depth != 0) return;
        p.Owner = null;
        if (p.Held.Count == 0) return;
        var reaped = TakeReapedList();
        bool arm;
        lock (_gate)
        {
            foreach (var op in p.Held)
                if (_closing) op.Finish(ClosedResult);
                else EnqueueLocked(op);
            p.Held.Clear();
            if (_closing) return;
            SubmitAndReapLocked(reaped);
            arm = ArmLocked();
            if (!arm) WakeRingThreadLocked();
        }
        if (arm) _armed.Release();
        FinishReaped(reaped);
    }

    private static List<(IoUringOperation, int)> TakeReapedList()
    {
        var list = t_reaped ?? new List<(IoUringOperation, int)>();
        t_reaped = null; // a continuation run by FinishReaped that submits again gets a list of its own
        return list;
    }

    /// <summary>
    /// Finishes what a submitting caller reaped, on its own thread, after it left the lock: the waiters' continuations
    /// (a driver's request completing, its submitter's task set) run right here instead of after a thread-pool hop —
    /// the caller is a submitter, never the ring thread, and holds no lock of ours.
    /// </summary>
    private static void FinishReaped(List<(IoUringOperation Op, int Result)> reaped)
    {
        foreach (var (op, result) in reaped) op.Finish(result, inline: true);
        reaped.Clear();
        t_reaped = reaped;
    }

    private ValueTask<int> Queue(byte opcode, long offset, System.Buffers.MemoryHandle pin, int length, uint opFlags = 0)
    {
        var op = Rent();
        var task = op.Start(opcode, offset, pin, length, opFlags);
        if (t_plug is { Depth: > 0 } plug && ReferenceEquals(plug.Owner, this))
        {
            plug.Held.Add(op);
            return task;
        }
        var reaped = TakeReapedList();
        bool arm;
        lock (_gate)
        {
            if (!SubmitLocked(op, reaped, out arm)) return task;
        }
        if (arm) _armed.Release();
        FinishReaped(reaped);
        return task;
    }

    /// <summary>Under the lock: queues <paramref name="op"/>, submits what waits and reaps what completed into
    /// <paramref name="reaped"/>, and says whether the ring thread must be woken to watch what is left in the kernel.
    /// A closing file finishes the operation Closed instead and gives the reaped list back (returns false).</summary>
    private bool SubmitLocked(IoUringOperation op, List<(IoUringOperation Op, int Result)> reaped, out bool arm)
    {
        arm = false;
        if (_closing)
        {
            op.Finish(ClosedResult);
            t_reaped = reaped;
            return false;
        }
        EnqueueLocked(op);
        SubmitAndReapLocked(reaped);
        arm = ArmLocked();
        if (!arm) WakeRingThreadLocked();
        return true;
    }

    /// <summary>A read or write a caller may try (RWF_NOWAIT); anything else, or on a file that refuses RWF_NOWAIT, is
    /// the ring thread's to submit.</summary>
    private void EnqueueLocked(IoUringOperation op)
    {
        if (op.Opcode == OpWrite && _writeRefusalRun >= RefusalsToLearn && !_noWaitRefused)
        {
            // This file refuses callers' writes: an attempt would only cost an enter before the hand-off.
            if (++_writesSinceProbe < ProbeEvery)
            {
                _writesStraightToRing++;
                _forRing.Enqueue(op);
                return;
            }
            _writesSinceProbe = 0; // this one probes
        }
        if (op.Opcode is OpRead or OpWrite && !_noWaitRefused) _waiting.Enqueue(op);
        else _forRing.Enqueue(op);
    }

    /// <summary>
    /// The ring thread is watching (its loop will look at <see cref="_forRing"/> before it sleeps) but may sit in
    /// io_uring_enter waiting for a completion that is not coming: a NOP's completion ends that wait. Callers leave the
    /// NOP's CQE in the ring (see <see cref="ReapLocked"/>), so the wait ends even if it starts after the NOP completed.
    /// </summary>
    private void WakeRingThreadLocked()
    {
        // With its own SQEs pending the ring thread is not waiting (it retries every millisecond); one SQ slot stays
        // for DisposeAsync's NOP.
        if (_forRing.Count == 0 || !_watching || _wakePosted || _ringSqesPending || _ring.SqSpace < 2) return;
        ref var sqe = ref _ring.NextSqe();
        sqe.Opcode = OpNop;
        sqe.UserData = WakeTag;
        _unsubmitted++;
        _wakePosted = true;
        Submit();
    }

    internal void Return(IoUringOperation op)
    {
        // The thread that takes the result usually submits next: it keeps the instance (no shared-queue round trip).
        var previous = t_spare;
        t_spare = op;
        if (previous is not null) previous.Owner.ReturnToPool(previous);
    }

    private void ReturnToPool(IoUringOperation op)
    {
        if (!Volatile.Read(ref _closing) && _pool.Count < _inFlight.Length * 2) _pool.Enqueue(op);
    }

    /// <summary>The calling thread's last finished operation, kept for its next one (see <see cref="Rent"/>).</summary>
    [ThreadStatic] private static IoUringOperation? t_spare;

    /// <summary>
    /// Moves waiting operations into free slots, submits every prepared SQE and reaps what completed, until nothing more
    /// completes inline or nothing waits. <paramref name="byCaller"/>: a submitting caller's list for what it reaps (counted
    /// as inline, finished by the caller after the lock); null for the ring thread (finished here, continuations on the
    /// thread pool).
    /// </summary>
    private void SubmitAndReapLocked(List<(IoUringOperation, int)>? byCaller)
    {
        bool byRing = byCaller is null;
        while (true)
        {
            if (byRing)
                while (_forRing.Count > 0 && _freeSlots.Count > 0) { Prepare(_forRing.Dequeue(), byRing); _unsubmitted++; }
            // The ring thread's unsubmitted SQEs would become this caller's: leave submitting (and reaping) to it.
            if (!byRing && _ringSqesPending) return;
            while (_waiting.Count > 0 && _freeSlots.Count > 0) { Prepare(_waiting.Dequeue(), byRing); _unsubmitted++; }
            if (_unsubmitted > 0 && !Submit()) return;
            if (byRing) _ringSqesPending = _unsubmitted > 0;
            if (ReapLocked(byCaller) == 0 || (_waiting.Count == 0 && (!byRing || _forRing.Count == 0))) return;
        }
    }

    /// <summary>io_uring_enter without waiting: the kernel issues each SQE, finishing what it can at once. False when the
    /// ring failed (every caller then has its error).</summary>
    private bool Submit()
    {
        _ring.Publish();
        _enters++;
        int r = _ring.Enter(_unsubmitted, 0);
        if (EnterResultHook is { } hook) r = hook(r);
        if (r >= 0) { _unsubmitted -= (uint)r; return true; }
        if (-r is EINTR or EAGAIN or EBUSY) return true; // still prepared: the next enter (a caller's or the ring thread's) retries
        FailLocked(r);
        return false;
    }

    /// <summary>Tests only: sees each submitting enter's result and may replace it — to stand in for a ring that fails
    /// (an error other than EINTR/EAGAIN/EBUSY), which no healthy host does on demand.</summary>
    internal Func<int, int>? EnterResultHook { get; set; }

    private int ReapLocked(List<(IoUringOperation, int)>? byCaller)
    {
        int reaped = 0;
        while (_ring.TryPeek(out var cqe))
        {
            if (cqe.UserData == WakeTag)
            {
                // The ring thread's wake: a caller leaves it (and what follows) for the ring thread, whose wait it ends.
                if (byCaller is not null) break;
                _ring.Advance();
                _wakePosted = false;
                continue;
            }
            _ring.Advance();
            int slot = (int)cqe.UserData;
            var op = _inFlight[slot]!;
            _inFlight[slot] = null;
            _freeSlots.Push(slot);
            reaped++;
            if (op.NoWait && HandOffLocked(op, cqe.Res)) continue;
            op.Reaped = true;
            if (byCaller is not null)
            {
                _inlineCompletions++;
                byCaller.Add((op, cqe.Res));
            }
            else
            {
                _deferredCompletions++;
                op.Finish(cqe.Res);
            }
        }
        return reaped;
    }

    /// <summary>A caller's RWF_NOWAIT attempt that the kernel refused (-EAGAIN: it would have to wait; EOPNOTSUPP or
    /// EINVAL: the file takes no RWF_NOWAIT) or did in part: the rest goes to the ring thread, whose submission may
    /// wait. False when the result is the operation's own.</summary>
    private bool HandOffLocked(IoUringOperation op, int result)
    {
        op.NoWait = false;
        if (op.Opcode == OpWrite)
        {
            if (result == -EAGAIN) { _writeRefusalRun++; _refusedWrites++; }
            else _writeRefusalRun = 0;
        }
        if (result == -EOPNOTSUPP) _noWaitRefused = true;
        if (result is -EAGAIN or -EOPNOTSUPP or -EINVAL) { }
        else if (result > 0 && result < op.Length) op.Advance(result);
        else return false;
        _forRing.Enqueue(op);
        return true;
    }

    private int InFlightLocked => _inFlight.Length - _freeSlots.Count;

    /// <summary>True when operations are left in the kernel and the ring thread is not yet watching for them: the caller
    /// then releases it (outside the lock). The thread stops watching only under the lock, when nothing is in flight.</summary>
    private bool ArmLocked()
    {
        if (_watching || (InFlightLocked == 0 && _waiting.Count == 0 && _forRing.Count == 0)) return false;
        _watching = true;
        return true;
    }

    /// <summary>
    /// The ring thread: sleeps until a caller leaves operations in the kernel, then waits for completions in
    /// io_uring_enter(GETEVENTS) — outside the lock, so callers keep submitting and reaping meanwhile — and reaps them.
    /// </summary>
    private void ReapDeferred()
    {
        while (true)
        {
            _armed.Wait();
            while (true)
            {
                bool retry;
                lock (_gate)
                {
                    if (_failed) { _stopped.TrySetResult(); return; }
                    SubmitAndReapLocked(null);
                    if (InFlightLocked == 0 && _waiting.Count == 0 && _forRing.Count == 0)
                    {
                        _watching = false;
                        if (_closing) break;
                        goto sleep;
                    }
                    retry = _unsubmitted > 0;
                }
                // Prepared SQEs the kernel refused for now (EAGAIN/EBUSY) are retried shortly; else wait for a completion.
                if (retry) Thread.Sleep(1);
                else
                {
                    int r = _ring.Enter(0, 1);
                    if (r < 0 && -r is not (EINTR or EAGAIN or EBUSY))
                    {
                        lock (_gate) FailLocked(r);
                        _stopped.TrySetResult();
                        return;
                    }
                }
            }
            // Closing, and nothing names a caller's buffer any more: only the wake NOP (no memory) may still be queued.
            _ring.Dispose();
            _file.DangerousRelease();
            _stopped.TrySetResult();
            return;
        sleep:;
        }
    }

    /// <summary>
    /// The ring itself failed (io_uring_enter with an error other than EINTR/EAGAIN/EBUSY, which a healthy ring never
    /// returns). Callers get the error; buffers of submitted operations stay pinned and the ring stays mapped for the
    /// life of the process, since the kernel may still complete into them.
    /// </summary>
    private void FailLocked(int error)
    {
        _closing = _failed = true;
        for (int i = 0; i < _inFlight.Length; i++)
            if (_inFlight[i] is { } op) { _inFlight[i] = null; op.Abandon(error); }
        while (_waiting.TryDequeue(out var w)) w.Finish(error);
        while (_forRing.TryDequeue(out var w)) w.Finish(error);
        _armed.Release();
    }

    /// <summary>Fills an SQE for <paramref name="op"/>: a caller's read or write with RWF_NOWAIT, the ring thread's as
    /// it is.</summary>
    private void Prepare(IoUringOperation op, bool byRing)
    {
        op.NoWait = !byRing && op.Opcode is OpRead or OpWrite;
        if (byRing) _ringThreadSubmissions++;
        int slot = _freeSlots.Pop();
        _inFlight[slot] = op;
        ref var sqe = ref _ring.NextSqe();
        sqe.Opcode = op.Opcode;
        sqe.Flags = _fixedFile ? SqeFixedFile : (byte)0;
        sqe.Fd = _fixedFile ? 0 : _fd;
        sqe.Off = (ulong)op.Offset;
        sqe.Addr = (ulong)op.Address;
        sqe.Len = (uint)op.Length;
        sqe.OpFlags = op.NoWait ? op.OpFlags | RwfNoWait : op.OpFlags;
        sqe.UserData = (ulong)slot;
    }

    /// <summary>
    /// Stops taking operations (later ones fail as closed; queued, unsubmitted ones too), waits for every submitted one
    /// to complete — their buffers stay pinned until then — and tears the ring down. The file itself stays open (the
    /// caller owns it).
    /// </summary>
    public ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            if (_closing) return new ValueTask(_stopped.Task);
            _closing = true;
            while (_waiting.TryDequeue(out var op)) op.Finish(ClosedResult);
            while (_forRing.TryDequeue(out var op)) op.Finish(ClosedResult);
            // Prepared but unsubmitted (the kernel said EAGAIN/EBUSY): they go in now, so every slot's operation completes.
            // A NOP's completion wakes the ring thread if it already sits in io_uring_enter with nothing left to wait for.
            ref var sqe = ref _ring.NextSqe();
            sqe.Opcode = OpNop;
            sqe.UserData = WakeTag;
            _unsubmitted++;
            // With the ring thread's own SQEs pending, it submits (it is retrying); else they would become this thread's.
            if (!_ringSqesPending) Submit();
            _watching = true;
        }
        _armed.Release();
        return new ValueTask(_stopped.Task);
    }
}
