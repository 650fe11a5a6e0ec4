using System.Diagnostics;
using System.Runtime.CompilerServices;
using Photon.Kernel.Hal.Host.IoUring;

namespace Photon.Kernel.Tests.Drivers;

/// <summary>
/// A ring that fails (io_uring_enter with an error a healthy ring never returns) while a caller's operation is still
/// queued in that caller's own lock turn: the operation ends with the error, and its buffer — fixed by the caller for
/// the call, never seen by the kernel — must not be left pinned. The failure is injected (<c>EnterResultHook</c>); the
/// queueing is real: a FIFO refuses callers' RWF_NOWAIT reads, so a read of it is queued for the ring thread, and the
/// caller's enter that wakes that thread is the one that fails.
/// </summary>
public sealed class IoUringFailedRingTests : IDisposable
{
    private const int EBADF = 9;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("photon-uring-fail-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string Fifo()
    {
        var path = Path.Combine(_dir, "fifo");
        using var mkfifo = Process.Start(new ProcessStartInfo("mkfifo", path) { UseShellExecute = false })!;
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
        return path;
    }

    [Fact]
    public async Task An_operation_queued_when_the_ring_fails_in_the_same_turn_ends_with_the_error_and_leaves_its_buffer_unpinned()
    {
        var path = Fifo();
        // Read-write: opening a FIFO so does not wait for a writer, and the test can write to it itself.
        using var fifo = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        var ring = IoUringFile.Open(fifo, 8).Value;
        // An operation the ring thread keeps in the kernel (a read of the empty FIFO): from now on it watches, so a
        // caller's hand-off posts it a wake-up NOP.
        var first = ring.ReadAsync(0, new byte[16]);
        var deadline = Stopwatch.StartNew();
        while (ring.RingThreadSubmissions == 0 && deadline.Elapsed < Patience) Thread.Sleep(1);
        Assert.Equal(1, ring.RingThreadSubmissions);

        // The FIFO refused the first read's RWF_NOWAIT attempt (EOPNOTSUPP: this file's reads now go to the ring thread
        // at once), so the caller's only enter is the wake-up NOP for the ring thread: that one "fails".
        int caller = Environment.CurrentManagedThreadId, enters = 0;
        ring.EnterResultHook = r => Environment.CurrentManagedThreadId == caller && ++enters == 1 ? -EBADF : r;
        var (second, buffer) = ReadIntoAFreshBuffer(ring);
        ring.EnterResultHook = null;

        Assert.Equal(1, enters);
        Assert.Equal(-EBADF, await second.AsTask().WaitAsync(Patience));
        Assert.Equal(-EBADF, await first.AsTask().WaitAsync(Patience)); // abandoned: still the kernel's, pinned for good
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.False(buffer.IsAlive, "the queued read's buffer is still pinned (a leaked GCHandle keeps it alive)");

        // Lets the abandoned read complete, so the ring thread sees the failure and stops.
        using (var writer = new FileStream(path, FileMode.Open, FileAccess.Write)) writer.WriteByte(1);
        await ring.DisposeAsync().AsTask().WaitAsync(Patience);
    }

    /// <summary>Not inlined: the buffer's only reference is the one the read's pin would keep.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (ValueTask<int> Read, WeakReference Buffer) ReadIntoAFreshBuffer(IoUringFile ring)
    {
        var buffer = new byte[4096];
        return (ring.ReadAsync(0, buffer), new WeakReference(buffer));
    }
}
