using System.Runtime.CompilerServices;
using static Photon.Kernel.Hal.Host.IoUring.IoUringNative;

namespace Photon.Kernel.Hal.Host.IoUring;

/// <summary>
/// One io_uring instance: the ring descriptor and its mmapped submission queue, SQE array and completion queue. Not
/// thread-safe: one thread at a time (the holder of the <see cref="IoUringFile"/>'s lock) fills SQEs, submits and reaps;
/// only a wait for completions (<see cref="Enter"/> with nothing to submit) may run beside it, which the kernel allows. Head/tail
/// indices are shared with the kernel: tails we publish are release-stores, tails the kernel publishes acquire-loads.
/// </summary>
// Safety: every pointer lies in the ring mappings, sized from what io_uring_setup reported, unmapped only in Dispose.
internal sealed unsafe class IoUringRing : IDisposable
{
    private readonly int _fd;
    private readonly void* _sqRing, _cqRing;
    private readonly nuint _sqRingSize, _cqRingSize, _sqesSize;
    private readonly Sqe* _sqes;
    private readonly uint* _sqHead, _sqTail, _cqHead, _cqTail;
    private readonly uint _sqMask, _cqMask;
    private readonly Cqe* _cqes;
    private uint _sqLocalTail;
    private bool _disposed;

    private IoUringRing(int fd, in Params p)
    {
        _fd = fd;
        SqEntries = p.SqEntries;
        CqEntries = p.CqEntries;
        _sqRingSize = p.SqOff.Array + p.SqEntries * sizeof(uint);
        _cqRingSize = (nuint)(p.CqOff.Cqes + p.CqEntries * sizeof(Cqe));
        bool single = (p.Features & FeatSingleMmap) != 0;
        if (single) _sqRingSize = _cqRingSize = Math.Max(_sqRingSize, _cqRingSize);
        _sqesSize = (nuint)(p.SqEntries * sizeof(Sqe));
        // Safety: mmap of the ring descriptor at the offsets the kernel documents, with the sizes it reported; every
        // pointer below lies inside the mapping it was computed from (offsets from p.SqOff / p.CqOff).
        _sqRing = mmap(null, _sqRingSize, ProtRead | ProtWrite, MapShared | MapPopulate, fd, OffSqRing);
        if (_sqRing == (void*)-1) throw Failure("mmap of the submission ring");
        _cqRing = single ? _sqRing : mmap(null, _cqRingSize, ProtRead | ProtWrite, MapShared | MapPopulate, fd, OffCqRing);
        if (_cqRing == (void*)-1) { int e = Errno; munmap(_sqRing, _sqRingSize); throw Failure("mmap of the completion ring", e); }
        _sqes = (Sqe*)mmap(null, _sqesSize, ProtRead | ProtWrite, MapShared | MapPopulate, fd, OffSqes);
        if (_sqes == (Sqe*)-1)
        {
            int e = Errno;
            munmap(_sqRing, _sqRingSize);
            if (!single) munmap(_cqRing, _cqRingSize);
            throw Failure("mmap of the SQE array", e);
        }
        byte* sq = (byte*)_sqRing, cq = (byte*)_cqRing;
        _sqHead = (uint*)(sq + p.SqOff.Head);
        _sqTail = (uint*)(sq + p.SqOff.Tail);
        _sqMask = *(uint*)(sq + p.SqOff.RingMask);
        _cqHead = (uint*)(cq + p.CqOff.Head);
        _cqTail = (uint*)(cq + p.CqOff.Tail);
        _cqMask = *(uint*)(cq + p.CqOff.RingMask);
        _cqes = (Cqe*)(cq + p.CqOff.Cqes);
        // The SQ index array maps ring slot i to SQE i once and for all; we then fill SQEs in ring order.
        uint* array = (uint*)(sq + p.SqOff.Array);
        for (uint i = 0; i < p.SqEntries; i++) array[i] = i;
        _sqLocalTail = *_sqTail;
    }

    public uint SqEntries { get; }
    public uint CqEntries { get; }

    /// <summary>
    /// Creates a ring of <paramref name="entries"/> submission slots. Returns the errno on failure (ENOSYS: kernel
    /// without io_uring; EPERM: disabled by sysctl kernel.io_uring_disabled or a seccomp filter; ENOMEM: memlock).
    /// </summary>
    public static IoUringRing? TryCreate(uint entries, out int errno)
    {
        var p = default(Params);
        // Safety: p is a local of exactly struct io_uring_params' size; the kernel fills it.
        int fd = Setup(entries, &p);
        if (fd < 0) { errno = Errno; return null; }
        try { errno = 0; return new IoUringRing(fd, p); }
        catch (IOException) { errno = EAGAIN; close(fd); return null; }
    }

    /// <summary>Registers one file descriptor as fixed file 0 (SQEs then name it with IOSQE_FIXED_FILE).</summary>
    public int RegisterFile(int fileFd)
    {
        int fd = fileFd;
        // Safety: a one-element array on the stack, read by the kernel during the call.
        return Register(_fd, RegisterFiles, &fd, 1) < 0 ? Errno : 0;
    }

    /// <summary>SQ slots free (the kernel consumes submissions during enter, so this is all of them after each enter).</summary>
    public uint SqSpace => SqEntries - (_sqLocalTail - Volatile.Read(ref *_sqHead));

    /// <summary>The next free SQE, zeroed; the caller fills it and calls <see cref="Publish"/> before <see cref="Enter"/>.</summary>
    public ref Sqe NextSqe()
    {
        // Safety: the caller checked SqSpace > 0, so slot (tail & mask) is not owned by the kernel; the index is masked.
        Sqe* sqe = &_sqes[_sqLocalTail & _sqMask];
        *sqe = default;
        _sqLocalTail++;
        return ref *sqe;
    }

    /// <summary>Makes the SQEs filled so far visible to the kernel (release: the SQE stores happen before the tail).</summary>
    public void Publish() => Volatile.Write(ref *_sqTail, _sqLocalTail);

    /// <summary>io_uring_enter: submits <paramref name="toSubmit"/>, optionally waits for <paramref name="minComplete"/>.
    /// Returns how many SQEs the kernel consumed, or a negative errno.</summary>
    public int Enter(uint toSubmit, uint minComplete)
    {
        int r = IoUringNative.Enter(_fd, toSubmit, minComplete, minComplete > 0 ? EnterGetEvents : 0);
        return r < 0 ? -Errno : r;
    }

    /// <summary>Takes the next completion if there is one (acquire on the kernel's tail; release on our head).</summary>
    public bool TryReap(out Cqe cqe)
    {
        uint head = *_cqHead;
        if (head == Volatile.Read(ref *_cqTail)) { cqe = default; return false; }
        // Safety: head != tail, so the slot (head & mask) holds a completion the kernel finished writing.
        cqe = _cqes[head & _cqMask];
        Volatile.Write(ref *_cqHead, head + 1);
        return true;
    }

    /// <summary>The next completion, left in place (see <see cref="Advance"/>).</summary>
    public bool TryPeek(out Cqe cqe)
    {
        uint head = *_cqHead;
        if (head == Volatile.Read(ref *_cqTail)) { cqe = default; return false; }
        // Safety: head != tail, so the slot (head & mask) holds a completion the kernel finished writing.
        cqe = _cqes[head & _cqMask];
        return true;
    }

    /// <summary>Consumes the completion <see cref="TryPeek"/> returned (release on our head).</summary>
    public void Advance() => Volatile.Write(ref *_cqHead, *_cqHead + 1);

    public bool HasCompletion => *_cqHead != Volatile.Read(ref *_cqTail);

    /// <summary>Unmaps the rings and closes the descriptor. The owner calls it only once nothing that names a caller's
    /// buffer is in flight (closing the ring cancels what is left, e.g. a poll, which names no memory).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        // Safety: the mappings were created in the constructor with these sizes and are not used after this point.
        munmap(_sqes, _sqesSize);
        if (_cqRing != _sqRing) munmap(_cqRing, _cqRingSize);
        munmap(_sqRing, _sqRingSize);
        close(_fd);
    }

    private static IOException Failure(string what, int errno = -1) =>
        new($"io_uring {what} failed: {ErrnoName(errno < 0 ? Errno : errno)}");
}
