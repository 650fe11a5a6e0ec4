using Photon.Kernel.Hal.Host;
using Photon.Kernel.Hal.Host.IoUring;

namespace Photon.Kernel.Tests.Drivers;

/// <summary>
/// io_uring ties a request the kernel could not finish at once to the thread that submitted it: when that thread exits
/// (a retired thread-pool thread, say) the request completes with -ECANCELED although nobody closed the ring. The ring
/// therefore lets callers submit only what cannot wait (RWF_NOWAIT) and has its own thread submit the rest, so no
/// request outlives its submitter (see IoUringFile; <see cref="IoUringSubmitterExitTests"/> for the -EFAULT variant).
/// Should the host cancel one all the same, <see cref="HostImageStorage"/> submits it again (reads, writes at an offset
/// and fsyncs are idempotent), up to 8 times, then reports a typed I/O error. Provoked for real with a FIFO: a read of
/// an empty FIFO waits in the kernel (poll-armed) while the thread that asked for it exits.
/// </summary>
public sealed class IoUringHostCancelTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("photon-uring-cancel-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string Fifo()
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".fifo");
        using var mkfifo = System.Diagnostics.Process.Start("mkfifo", path)!;
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
        return path;
    }

    /// <summary>Starts <paramref name="start"/> on a new thread that exits as soon as the call returns (the I/O is
    /// still in the kernel then), and waits until the host thread is gone from /proc (a managed Join returns before
    /// the host thread has finished exiting).</summary>
    private static async Task<Task<T>> FromAThreadThatExitsAsync<T>(Func<Task<T>> start)
    {
        Task<T>? task = null;
        string? tid = null;
        var thread = new Thread(() =>
        {
            tid = Path.GetFileName(new DirectoryInfo("/proc/thread-self").ResolveLinkTarget(false)!.FullName);
            task = start();
        }) { IsBackground = true };
        thread.Start();
        thread.Join();
        var deadline = DateTime.UtcNow + Patience;
        while (Directory.Exists($"/proc/self/task/{tid}"))
        {
            Assert.True(DateTime.UtcNow < deadline, $"host thread {tid} still exists");
            await Task.Delay(1);
        }
        return task!;
    }

    [Fact]
    public async Task Reads_that_wait_in_the_kernel_after_their_caller_exited_are_not_cancelled_and_get_their_data()
    {
        var fifo = Fifo();
        var storage = HostImageStorage.Open(fifo, backend: HostStorageBackend.IoUring).Value;
        // The storage holds the FIFO open for reading and writing, so a writer's open does not wait for a reader.
        var writer = new FileStream(fifo, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
        Task<int>? read = null;
        try
        {
            Assert.Equal(HostStorageBackend.IoUring, storage.Backend);
            const int Rounds = 20;
            for (int round = 0; round < Rounds; round++)
            {
                var buffer = new byte[64];
                read = await FromAThreadThatExitsAsync(async () => await storage.ReadAsync(0, buffer));
                // Nothing to read yet: the read waits in the kernel, submitted by the ring's thread (its caller has exited).
                Assert.False(read.IsCompleted);
                var data = new byte[64];
                new Random(round).NextBytes(data);
                writer.Write(data);
                Assert.Equal(64, await read.WaitAsync(Patience));
                Assert.Equal(data, buffer);
            }
            // Before the ring thread submitted what waits, the host cancelled every one of these at least once.
            Assert.Equal(0, storage.HostCancellations);
        }
        finally
        {
            // A read still in the kernel (a failed round) would hold the storage's disposal: feed it, then close.
            if (read is { IsCompleted: false }) writer.Write(new byte[64]);
            await writer.DisposeAsync();
            await storage.DisposeAsync();
        }
    }

    [Theory]
    [InlineData("read")]
    [InlineData("write")]
    [InlineData("flush")]
    public async Task A_request_the_host_cancels_8_times_completes_and_one_cancelled_9_times_is_a_typed_io_error(string op)
    {
        var path = Path.Combine(_dir, op + ".img");
        // Larger than what HostImageStorage writes inline (small writes never reach the ring), so the write is a ring operation.
        var bytes = new byte[4096 + HostImageStorage.InlineWriteLimit + 4096];
        new Random(7).NextBytes(bytes);
        await File.WriteAllBytesAsync(path, bytes);
        await using var storage = HostImageStorage.Open(path, backend: HostStorageBackend.IoUring).Value;
        storage.DisableCachedReads(); // a cached read would never reach the ring whose cancellation is under test
        Task Run() => op switch
        {
            "read" => storage.ReadAsync(4096, new byte[4096]).AsTask(),
            "write" => storage.WriteAsync(4096, bytes.AsMemory(4096)).AsTask(),
            _ => storage.FlushAsync().AsTask(),
        };

        // The host's cancellation, stood in for: the next n completions say -ECANCELED (the ring is open).
        int cancelNext = 8;
        storage.RingResultHook = r => Interlocked.Decrement(ref cancelNext) >= 0 ? IoUringFile.ClosedResult : r;
        await Run().WaitAsync(Patience);
        Assert.Equal(8, storage.HostCancellations);

        if (op == "read")
        {
            var back = new byte[4096];
            cancelNext = 8;
            Assert.Equal(4096, await storage.ReadAsync(0, back).AsTask().WaitAsync(Patience));
            Assert.Equal(bytes.AsSpan(0, 4096).ToArray(), back);
        }

        cancelNext = 9;
        long before = storage.HostCancellations;
        var e = await Assert.ThrowsAsync<KernelException>(() => Run().WaitAsync(Patience));
        Assert.Equal(ErrorCode.IoError, e.Code);
        Assert.Contains("cancelled by the host 9 times", e.Message);
        Assert.Equal(before + 9, storage.HostCancellations);

        // The storage is still usable afterwards.
        storage.RingResultHook = null;
        await Run().WaitAsync(Patience);
    }
}
