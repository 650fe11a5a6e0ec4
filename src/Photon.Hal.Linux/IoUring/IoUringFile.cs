using System.Collections.Concurrent;
using Microsoft.Win32.SafeHandles;
using static Photon.Kernel.Hal.Host.IoUring.IoUringNative;

namespace Photon.Kernel.Hal.Host.IoUring;

/// <summary>
/// Positional reads, writes and fsyncs on one host file through an io_uring. Callers on any thread queue operations;
/// one ring thread moves everything queued into SQEs and submits the whole batch with one io_uring_enter, then reaps
/// completions and posts them to the callers (continuations on the thread pool). The file is a registered (fixed)
/// file. When idle the ring thread sleeps in io_uring_enter; a caller wakes it through an eventfd the ring polls,
/// written only when the thread announced it is going to sleep. A caller's buffer stays pinned until its completion
/// is reaped, and disposal waits for every submitted operation, so the kernel never writes to memory we released.
/// </summary>
// Safety: pointers only to stack locals passed to read/write(2) and to callers' buffers, which stay pinned (MemoryHandle) until their completion is reaped.
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
    private readonly int _wakeFd;
    private readonly ConcurrentQueue<IoUringOperation> _pending = new();
    private readonly ConcurrentQueue<IoUringOperation> _pool = new();
    private readonly IoUringOperation?[] _inFlight;
    private readonly Stack<int> _freeSlots;
    private readonly Thread _thread;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _sleeping, _plugs, _closing, _exited;

    private IoUringFile(IoUringRing ring, SafeFileHandle file, int wakeFd)
    {
        _ring = ring;
        _file = file;
        bool added = false;
        file.DangerousAddRef(ref added);
        _fd = (int)file.DangerousGetHandle();
        _fixedFile = ring.RegisterFile(_fd) == 0;
        _wakeFd = wakeFd;
        // Operations in flight never exceed the SQ size, and the CQ has twice as many entries, so it cannot overflow.
        _inFlight = new IoUringOperation?[ring.SqEntries - 1];
        _freeSlots = new Stack<int>(Enumerable.Range(0, _inFlight.Length).Reverse());
        _thread = new Thread(RingLoop) { IsBackground = true, Name = "io_uring" };
        _thread.Start();
    }

    /// <summary>Operations that can be in the kernel at once (more wait in a queue in order).</summary>
    public int Capacity => _inFlight.Length;

    /// <summary>True when SQEs name the file as registered file 0 (IOSQE_FIXED_FILE), saving a file lookup per I/O.</summary>
    public bool UsesRegisteredFile => _fixedFile;

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
        int wake = eventfd(0, EfdCloexec | EfdNonblock);
        if (wake < 0) { int e = Errno; ring.Dispose(); return Errors.Of(ErrorCode.IoError, $"eventfd: {ErrnoName(e)}"); }
        return new IoUringFile(ring, file, wake);
    }

    /// <summary>pread: bytes read (0 at end of file, short near it) or a negative errno.</summary>
    public ValueTask<int> ReadAsync(long offset, Memory<byte> buffer) => Queue(OpRead, offset, buffer.Pin(), buffer.Length);

    /// <summary>pwrite: bytes written or a negative errno.</summary>
    public ValueTask<int> WriteAsync(long offset, ReadOnlyMemory<byte> data) => Queue(OpWrite, offset, data.Pin(), data.Length);

    /// <summary>fsync: 0 or a negative errno.</summary>
    public ValueTask<int> FsyncAsync() => Queue(OpFsync, 0, default, 0);

    /// <summary>
    /// Holds back the ring thread's wakeup until the matching <see cref="Unplug"/>, so operations queued in between
    /// (a driver's whole fetched batch) go to the kernel in one io_uring_enter. Plugs nest and may overlap across threads.
    /// </summary>
    public void Plug() => Interlocked.Increment(ref _plugs);

    public void Unplug()
    {
        if (Interlocked.Decrement(ref _plugs) == 0 && !_pending.IsEmpty) Wake();
    }

    private ValueTask<int> Queue(byte opcode, long offset, System.Buffers.MemoryHandle pin, int length)
    {
        if (Volatile.Read(ref _closing) != 0)
        {
            pin.Dispose();
            return ValueTask.FromResult(ClosedResult);
        }
        if (!_pool.TryDequeue(out var op)) op = new IoUringOperation(this);
        var task = op.Start(opcode, offset, (nint)pin.Pointer, length, pin);
        _pending.Enqueue(op);
        if (Volatile.Read(ref _exited) != 0) FailPending();
        else if (Volatile.Read(ref _plugs) == 0) Wake();
        return task;
    }

    internal void Return(IoUringOperation op)
    {
        if (_pool.Count < _inFlight.Length * 2) _pool.Enqueue(op);
    }

    /// <summary>Wakes the ring thread if (and only if) it announced it is about to sleep; the CAS makes one caller do it.</summary>
    private void Wake()
    {
        if (Interlocked.CompareExchange(ref _sleeping, 0, 1) != 1) return;
        ulong one = 1;
        // Safety: write(2) of an 8-byte local to an eventfd, the only size an eventfd accepts.
        write(_wakeFd, &one, sizeof(ulong));
    }

    private void FailPending()
    {
        while (_pending.TryDequeue(out var op)) op.Finish(ClosedResult);
    }

    private void RingLoop()
    {
        uint toSubmit = 0;
        int inFlight = 0;
        ArmWakePoll();
        toSubmit++;
        while (true)
        {
            if (Volatile.Read(ref _closing) != 0) FailPending();
            else
            {
                // One SQ slot stays free for re-arming the wake poll.
                while (_freeSlots.Count > 0 && _ring.SqSpace > 1 && _pending.TryDequeue(out var op))
                {
                    Prepare(op);
                    toSubmit++;
                    inFlight++;
                }
            }
            if (toSubmit > 0 || !_ring.HasCompletion)
            {
                uint wait = 0;
                if (toSubmit == 0)
                {
                    if (Volatile.Read(ref _closing) != 0 && inFlight == 0) break;
                    if (SpinForWork()) continue;
                    // Announce the sleep, then look again: a caller that queued before seeing the announcement is seen here.
                    Interlocked.Exchange(ref _sleeping, 1);
                    bool work = (_freeSlots.Count > 0 && !_pending.IsEmpty) || (Volatile.Read(ref _closing) != 0 && inFlight == 0);
                    if (work) { Interlocked.Exchange(ref _sleeping, 0); continue; }
                    wait = 1;
                }
                _ring.Publish();
                int r = _ring.Enter(toSubmit, wait);
                if (wait != 0) Interlocked.Exchange(ref _sleeping, 0);
                if (r >= 0) toSubmit -= (uint)r;
                else if (-r is not (EINTR or EAGAIN or EBUSY)) { Abandon(r); return; }
            }
            while (_ring.TryReap(out var cqe))
            {
                if (cqe.UserData == WakeTag)
                {
                    ulong count;
                    // Safety: read(2) of 8 bytes into a local from a non-blocking eventfd (EAGAIN if already drained).
                    read(_wakeFd, &count, sizeof(ulong));
                    if (Volatile.Read(ref _closing) == 0) { ArmWakePoll(); toSubmit++; }
                    continue;
                }
                int slot = (int)cqe.UserData;
                var op = _inFlight[slot]!;
                _inFlight[slot] = null;
                _freeSlots.Push(slot);
                inFlight--;
                op.Finish(cqe.Res);
            }
        }
        // Nothing names a caller's buffer any more: only the wake poll (no memory) can still be armed.
        _ring.Dispose();
        close(_wakeFd);
        _file.DangerousRelease();
        Volatile.Write(ref _exited, 1);
        FailPending();
        _stopped.SetResult();
    }

    /// <summary>
    /// The ring itself failed (io_uring_enter with an error other than EINTR/EAGAIN/EBUSY, which a healthy ring never
    /// returns). Callers get the error; buffers of submitted operations stay pinned and the ring stays mapped for the
    /// life of the process, since the kernel may still complete into them.
    /// </summary>
    private void Abandon(int error)
    {
        Volatile.Write(ref _closing, 1);
        for (int i = 0; i < _inFlight.Length; i++)
            if (_inFlight[i] is { } op) { _inFlight[i] = null; op.Abandon(error); }
        Volatile.Write(ref _exited, 1);
        FailPending();
        _stopped.SetResult();
    }

    /// <summary>
    /// Spins (yielding the core) a little before sleeping, as the .NET thread pool's workers do: a chain of dependent
    /// requests (filesystem metadata, one after another) then finds the ring thread awake instead of paying a wakeup
    /// for every request. True when there is something to do.
    /// </summary>
    private bool SpinForWork()
    {
        var spin = new SpinWait();
        for (int i = 0; i < SpinIterations; i++)
        {
            if ((_freeSlots.Count > 0 && !_pending.IsEmpty) || _ring.HasCompletion || Volatile.Read(ref _closing) != 0) return true;
            spin.SpinOnce(sleep1Threshold: -1);
        }
        return false;
    }

    private const int SpinIterations = 64;

    private void Prepare(IoUringOperation op)
    {
        int slot = _freeSlots.Pop();
        _inFlight[slot] = op;
        ref var sqe = ref _ring.NextSqe();
        sqe.Opcode = op.Opcode;
        sqe.Flags = _fixedFile ? SqeFixedFile : (byte)0;
        sqe.Fd = _fixedFile ? 0 : _fd;
        sqe.Off = (ulong)op.Offset;
        sqe.Addr = (ulong)op.Address;
        sqe.Len = (uint)op.Length;
        sqe.UserData = (ulong)slot;
    }

    private void ArmWakePoll()
    {
        ref var sqe = ref _ring.NextSqe();
        sqe.Opcode = OpPollAdd;
        sqe.Fd = _wakeFd;
        sqe.OpFlags = PollIn;
        sqe.UserData = WakeTag;
    }

    /// <summary>
    /// Stops taking operations (later ones fail as closed; queued, unsubmitted ones too), waits for every submitted one
    /// to complete — their buffers stay pinned until then — and tears the ring down. The file itself stays open (the
    /// caller owns it).
    /// </summary>
    public ValueTask DisposeAsync()
    {
        // The ring thread either sees _closing before it sleeps or announced the sleep and is woken here.
        if (Interlocked.Exchange(ref _closing, 1) == 0) Wake();
        return new ValueTask(_stopped.Task);
    }
}
