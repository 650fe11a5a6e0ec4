using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using static Photon.Kernel.Hal.Host.IoUring.IoUringNative;

namespace Photon.Kernel.Hal.Host;

/// <summary>
/// A read tried first as <c>preadv2(fd, iov, 1, offset, RWF_NOWAIT)</c> on the submitting thread: what the host's page
/// cache holds is copied right there, with no ring lock, SQE, <c>io_uring_enter</c> or CQE; the kernel answers EAGAIN
/// (or a short count) instead of waiting for the disk, and the caller sends the rest to the ring. A file whose
/// filesystem does not take RWF_NOWAIT (EOPNOTSUPP; EINVAL or ENOSYS from an older kernel) turns the fast path off for
/// good on its first read. The descriptor is held by a reference count: each read acquires it before the syscall and
/// releases it after; <see cref="Close"/> refuses new reads and waits for those in progress (a non-blocking read is a
/// copy of cached pages: microseconds), and only then lets the file go — so a read never reaches a closed, possibly
/// reused descriptor.
/// </summary>
// Safety: the unsafe block fixes the caller's span for one synchronous preadv2 that reads into it.
internal sealed unsafe class HostNoWaitRead
{
    /// <summary><see cref="TryRead"/>'s answer once <see cref="Close"/> began.</summary>
    public const int Closed = -1;

    private const int ClosedBit = 1 << 30;
    private readonly SafeFileHandle _file;
    private readonly int _fd;
    // Reads in progress (the low bits) and ClosedBit, in one word, so "not closed" and "counted" are one atomic step.
    private int _state;
    private volatile bool _disabled;
    private readonly PerCpuCounter _served = new();

    public HostNoWaitRead(SafeFileHandle file)
    {
        _file = file;
        bool added = false;
        file.DangerousAddRef(ref added); // released by Close: the descriptor outlives every read that acquired it
        _fd = (int)file.DangerousGetHandle();
    }

    /// <summary>Reads served (wholly or in part) from the page cache on the submitting thread.</summary>
    public long Served => _served.Value;

    /// <summary>False once the host refused RWF_NOWAIT for this file (or a test turned the path off).</summary>
    public bool Enabled => !_disabled;

    /// <summary>Tests only: the path as on a host without RWF_NOWAIT (every read goes to the ring).</summary>
    internal void Disable() => _disabled = true;

    /// <summary>
    /// Bytes copied from the page cache into <paramref name="buffer"/> (from its start): all of it, a prefix (the rest is
    /// not cached, or end of file), or 0 (nothing cached, the path is off, or an error the ring will report typed);
    /// <see cref="Closed"/> once closing began (while the path is on).
    /// </summary>
    public int TryRead(long offset, Span<byte> buffer)
    {
        if (_disabled) return 0; // the ring's read answers, Closed included
        if (Interlocked.Increment(ref _state) >= ClosedBit)
        {
            Interlocked.Decrement(ref _state);
            return Closed;
        }
        try
        {
            nint n;
            int errno;
            fixed (byte* address = buffer)
            {
                // Safety: the span is fixed for this block and the call is synchronous: the kernel is done with it on return.
                var iov = new Iovec { Base = address, Length = (nuint)buffer.Length };
                try { n = preadv2(_fd, &iov, 1, offset, RwfNoWait); }
                catch (EntryPointNotFoundException) { n = -1; Marshal.SetLastPInvokeError(ENOSYS); } // a libc without preadv2
                errno = n < 0 ? Errno : 0;
            }
            if (n > 0)
            {
                _served.Increment();
                return (int)n;
            }
            if (n < 0 && errno is EOPNOTSUPP or EINVAL or ENOSYS) _disabled = true;
            return 0; // EAGAIN: not cached; EOF; any other error: the ring's read finds it again and types it
        }
        finally { Interlocked.Decrement(ref _state); }
    }

    /// <summary>Refuses reads from now on, waits for those in progress, then releases the descriptor. Idempotent.</summary>
    public void Close()
    {
        if ((Interlocked.Or(ref _state, ClosedBit) & ClosedBit) != 0) return;
        var spin = new SpinWait();
        while (Volatile.Read(ref _state) != ClosedBit) spin.SpinOnce();
        _file.DangerousRelease();
    }
}
