using System.Buffers;
using System.Threading.Tasks.Sources;

namespace Photon.Kernel.Hal.Host.IoUring;

/// <summary>
/// One read, write or fsync on its way through the ring: what to put in the SQE, the pin that keeps the caller's buffer
/// in place until the completion is reaped, and the awaitable the caller waits on. Pooled: the instance goes back to
/// its <see cref="IoUringFile"/> once the caller has taken the result (the version token catches a stale await).
/// </summary>
// Safety: the one unsafe use takes a pinned buffer's address for the SQE; the pin is released only in Finish, after the kernel is done.
internal sealed unsafe class IoUringOperation : IValueTaskSource<int>
{
    // Continuations run on the thread pool, never on the ring thread (a caller that blocks must not stall the ring);
    // only a submitter that reaped the completion itself runs them inline (Finish).
    private ManualResetValueTaskSourceCore<int> _core = new() { RunContinuationsAsynchronously = true };
    private readonly IoUringFile _owner;

    public IoUringOperation(IoUringFile owner) => _owner = owner;

    public IoUringFile Owner => _owner;

    /// <summary>Set under the ring's lock when its completion is reaped (a submitter that reaped its own operation
    /// inside its enter never needs to pin the buffer beyond that call).</summary>
    public bool Reaped;

    /// <summary>Set by <see cref="Finish"/>: the operation is over and its pin released — reaped, or ended before the
    /// kernel saw it (closed, or a ring that failed while it waited). Not by <see cref="Abandon"/> (the kernel may still
    /// use the buffer). A submitter that fixed its buffer takes a lasting pin only for an operation that is neither.</summary>
    public bool Retired;

    public byte Opcode;
    public long Offset;
    public nint Address;
    public int Length;
    /// <summary>The SQE's per-opcode flags (fsync_flags: IORING_FSYNC_DATASYNC).</summary>
    public uint OpFlags;
    /// <summary>Holds the caller's buffer pinned from submission until the completion is reaped.</summary>
    public MemoryHandle Pin;
    /// <summary>Submitted by a caller with RWF_NOWAIT (it may not wait in the kernel: see IoUringFile); cleared when
    /// the ring thread submits it.</summary>
    public bool NoWait;
    /// <summary>Bytes a caller's RWF_NOWAIT attempt already moved; the ring thread does the rest (Offset, Address and
    /// Length advanced past them), and the result reported includes them.</summary>
    public int Done;

    public ValueTask<int> Start(byte opcode, long offset, MemoryHandle pin, int length, uint opFlags)
    {
        OpFlags = opFlags;
        Opcode = opcode;
        Offset = offset;
        // Safety: only the address of the pinned buffer is taken (for the SQE); nothing is read or written through it here.
        Address = (nint)pin.Pointer;
        Length = length;
        Pin = pin;
        Reaped = false;
        Retired = false;
        NoWait = false;
        Done = 0;
        _core.RunContinuationsAsynchronously = true;
        return new ValueTask<int>(this, _core.Version);
    }

    /// <summary>Starts an operation on a buffer the caller keeps fixed (pinned for the call) at <paramref name="address"/>;
    /// the caller takes a lasting <see cref="Pin"/> before it lets go of it unless the operation was reaped by then.</summary>
    public ValueTask<int> StartFixed(byte opcode, long offset, nint address, int length)
    {
        var task = Start(opcode, offset, default, length, 0);
        Address = address;
        return task;
    }

    /// <summary>Called once per operation, by whoever retires it: releases the pin first, then wakes the caller — on the
    /// thread pool, or with <paramref name="inline"/> on this thread (a submitter that reaped it, outside the ring's lock).</summary>
    public void Finish(int result, bool inline = false)
    {
        Retired = true;
        Pin.Dispose();
        Pin = default;
        _core.RunContinuationsAsynchronously = !inline;
        _core.SetResult(WithDone(result));
    }

    /// <summary>Completes the caller without releasing the pin (the kernel may still write to the buffer). Only a failed
    /// ring abandons, and it never reaps again: if this object is reused, <see cref="Start"/> overwrites <see cref="Pin"/>
    /// without disposing it, which is on purpose — the abandoned buffer stays pinned for the life of the process, as
    /// <c>IoUringFile.FailLocked</c> promises.</summary>
    public void Abandon(int result) => _core.SetResult(WithDone(result));

    /// <summary>Moves past the <paramref name="bytes"/> a RWF_NOWAIT attempt did, for the ring thread to do the rest.</summary>
    public void Advance(int bytes)
    {
        Done += bytes;
        Offset += bytes;
        Address += bytes;
        Length -= bytes;
    }

    // As pread/pwrite: what a first part moved counts, and an error after it is the short count, not the error.
    private int WithDone(int result) => Done == 0 ? result : result < 0 ? Done : Done + result;

    public int GetResult(short token)
    {
        try { return _core.GetResult(token); }
        finally
        {
            _core.Reset();
            _owner.Return(this);
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
