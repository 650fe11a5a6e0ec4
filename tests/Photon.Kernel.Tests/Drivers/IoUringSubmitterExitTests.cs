using System.Runtime.InteropServices;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Hal.Host.IoUring;

namespace Photon.Kernel.Tests.Drivers;

/// <summary>
/// io_uring runs the part of a request that had to wait on behalf of the thread that submitted it: a buffered read of
/// pages not in the page cache is retried from that thread's task_work once the disk has read them, and a write or
/// fsync the filesystem cannot do without blocking goes to that thread's io-wq. When the submitter has exited by then,
/// the kernel fails the request — -EFAULT for the read's retry (io_uring's <c>io_should_terminate_tw</c>: the task is
/// exiting, or a kernel thread runs its work), -ECANCELED for the io-wq work — though the buffer is valid and pinned.
/// Thread-pool threads retire, and test runners and kernel tasks run on threads that end, so these provoke it for real:
/// each request starts on a thread that exits as soon as the call returns, the data it reads is evicted from the page
/// cache first, and every request must still complete with the file's bytes, without the host cancelling any.
/// </summary>
public sealed class IoUringSubmitterExitTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("photon-uring-exit-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private const int PosixFadvDontNeed = 4;

    [DllImport("libc")]
    private static extern int posix_fadvise(int fd, long offset, long length, int advice);

    /// <summary>Writes the file back and drops all of its pages from the host's page cache.</summary>
    private static void Evict(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        RandomAccess.FlushToDisk(handle);
        Assert.Equal(0, posix_fadvise((int)handle.DangerousGetHandle(), 0, 0, PosixFadvDontNeed));
    }

    /// <summary>Runs <paramref name="start"/> on a new thread that exits as soon as the call returns (the request is
    /// then still in the kernel, waiting for the disk).</summary>
    private static Task<T> FromAThreadThatExits<T>(Func<Task<T>> start)
    {
        Task<T>? task = null;
        var thread = new Thread(() => task = start()) { IsBackground = true };
        thread.Start();
        thread.Join();
        return task!;
    }

    [Fact]
    public async Task Reads_of_uncached_pages_whose_submitting_thread_exited_return_the_files_bytes()
    {
        const int Block = 64 * 1024, Blocks = 64;
        var path = Path.Combine(_dir, "read.img");
        var content = new byte[Block * Blocks];
        new Random(11).NextBytes(content);
        await File.WriteAllBytesAsync(path, content);
        await using var storage = HostImageStorage.Open(path, backend: HostStorageBackend.IoUring).Value;
        var failures = new List<string>();
        for (int round = 0; round < 4; round++)
        {
            Evict(path);
            var reads = new List<(int Block, byte[] Buffer, Task<int> Read)>();
            for (int b = 0; b < Blocks; b += 4)
            {
                var buffer = new byte[Block];
                int block = (b + round) % Blocks;
                reads.Add((block, buffer, FromAThreadThatExits(async () => await storage.ReadAsync((long)block * Block, buffer))));
            }
            foreach (var (block, buffer, read) in reads)
            {
                try
                {
                    Assert.Equal(Block, await read.WaitAsync(Patience));
                    Assert.True(buffer.AsSpan().SequenceEqual(content.AsSpan(block * Block, Block)), $"block {block} bytes");
                }
                catch (KernelException e) { failures.Add($"round {round} block {block}: {e.Message}"); }
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.Equal(0, storage.HostCancellations);
        Assert.True(storage.RingThreadSubmissions > 0, "the evicted reads waited in the kernel (submitted by the ring thread)");
    }

    [Fact]
    public async Task Many_threads_mixing_cached_and_evicted_ring_reads_get_every_byte_and_none_waits_forever()
    {
        // Stress for the hand-off: reads the kernel refuses to callers (evicted pages) go to the ring thread while other
        // callers' reads complete inline and reap around the ring thread's wake NOP; each read must end, with its bytes.
        const int Block = 16 * 1024, Blocks = 256;
        var path = Path.Combine(_dir, "mixed.img");
        var content = new byte[Block * Blocks];
        new Random(13).NextBytes(content);
        await File.WriteAllBytesAsync(path, content);
        await using var storage = HostImageStorage.Open(path, backend: HostStorageBackend.IoUring).Value;
        storage.DisableCachedReads(); // every read through the ring, cached or not
        for (int round = 0; round < 3; round++)
        {
            Evict(path);
            var lanes = Enumerable.Range(0, 8).Select(lane => Task.Run(async () =>
            {
                var buffer = new byte[Block];
                for (int i = 0; i < 64; i++)
                {
                    int block = (i * 37 + lane * 11 + round * 5) % Blocks;
                    Assert.Equal(Block, await storage.ReadAsync((long)block * Block, buffer));
                    Assert.True(buffer.AsSpan().SequenceEqual(content.AsSpan(block * Block, Block)), $"lane {lane} block {block}");
                }
            })).ToArray();
            await Task.WhenAll(lanes).WaitAsync(Patience);
        }
        var ring = storage.RingCounters;
        Assert.Equal(3 * 8 * 64, ring.Inline + ring.Deferred);
        Assert.Equal(0, storage.HostCancellations);
        Assert.True(storage.RingThreadSubmissions > 0, "some reads were handed to the ring thread");
        Assert.True(ring.Inline > 0, "some reads completed inside their caller's enter");
    }

    [Fact]
    public async Task Ring_writes_and_flushes_whose_submitting_thread_exited_are_not_cancelled_by_the_host()
    {
        // Larger than what HostImageStorage writes through its combiner, so each write is a ring operation (on ext4, an
        // io-wq one: ext4 takes no non-blocking buffered writes).
        int size = HostImageStorage.InlineWriteLimit * 2;
        const int Writes = 16;
        var path = Path.Combine(_dir, "write.img");
        var storage = HostImageStorage.Create(path, (long)size * Writes, HostStorageBackend.IoUring).Value;
        try
        {
            var data = new byte[size * Writes];
            new Random(12).NextBytes(data);
            var writes = new List<Task<int>>();
            for (int i = 0; i < Writes; i++)
            {
                int at = i * size;
                writes.Add(FromAThreadThatExits(async () => { await storage.WriteAsync(at, data.AsMemory(at, size)); return 0; }));
            }
            await Task.WhenAll(writes).WaitAsync(Patience);
            await FromAThreadThatExits(async () => { await storage.FlushAsync(); return 0; }).WaitAsync(Patience);
            Assert.Equal(0, storage.HostCancellations);
            await storage.DisposeAsync();
            Assert.Equal(data, await File.ReadAllBytesAsync(path));
        }
        finally { await storage.DisposeAsync(); }
    }

    [Fact]
    public async Task Writes_a_file_refuses_to_callers_go_straight_to_the_ring_thread_and_survive_their_threads_exit()
    {
        // Ring writes (larger than the combiner's) one after another, each from a thread that exits at once. ext4 refuses
        // callers' RWF_NOWAIT buffered writes: after RefusalsToLearn refusals in a row the ring thread gets them without
        // the attempt, one in ProbeEvery still tried. A filesystem that takes them never learns.
        int size = HostImageStorage.InlineWriteLimit * 2;
        const int Writes = 80;
        var path = Path.Combine(_dir, "learn.img");
        var storage = HostImageStorage.Create(path, (long)size * Writes, HostStorageBackend.IoUring).Value;
        try
        {
            var data = new byte[size * Writes];
            new Random(14).NextBytes(data);
            for (int i = 0; i < Writes; i++)
            {
                int at = i * size;
                await FromAThreadThatExits(async () => { await storage.WriteAsync(at, data.AsMemory(at, size)); return 0; }).WaitAsync(Patience);
            }
            var (refused, straight) = storage.RingWriteAttempts;
            if (refused > 0)
            {
                // Writes go to one ring here only when the host has one CPU; with several, each ring learns on its own.
                Assert.True(refused >= IoUringFile.RefusalsToLearn, $"{refused} refused");
                Assert.True(straight > 0, "later writes went to the ring thread without an attempt");
                Assert.True(refused <= storage.RingCount * (IoUringFile.RefusalsToLearn + Writes / IoUringFile.ProbeEvery + 1),
                    $"{refused} refused of {Writes}: the file's refusals were learned");
            }
            else Assert.Equal(0, straight);
            await FromAThreadThatExits(async () => { await storage.FlushAsync(); return 0; }).WaitAsync(Patience);
            Assert.Equal(0, storage.HostCancellations);
            await storage.DisposeAsync();
            Assert.Equal(data, await File.ReadAllBytesAsync(path));
        }
        finally { await storage.DisposeAsync(); }
    }

    [Fact]
    public async Task Concurrent_learned_writes_from_exiting_threads_all_land_and_none_is_cancelled()
    {
        // Stress for the learned path: 8 threads at a time, each exiting right after submitting its ring write, while the
        // file's refusal run is being learned and probed; every write ends Ok, the host cancels none, every byte lands.
        int size = HostImageStorage.InlineWriteLimit * 2;
        const int Writes = 256, AtOnce = 8;
        var path = Path.Combine(_dir, "learn-many.img");
        var storage = HostImageStorage.Create(path, (long)size * Writes, HostStorageBackend.IoUring).Value;
        try
        {
            var data = new byte[size * Writes];
            new Random(15).NextBytes(data);
            for (int first = 0; first < Writes; first += AtOnce)
            {
                var batch = new List<Task<int>>();
                for (int i = first; i < first + AtOnce; i++)
                {
                    int at = i * size;
                    batch.Add(FromAThreadThatExits(async () => { await storage.WriteAsync(at, data.AsMemory(at, size)); return 0; }));
                }
                await Task.WhenAll(batch).WaitAsync(Patience);
            }
            var (refused, straight) = storage.RingWriteAttempts;
            Assert.True(refused == 0 || straight > 0, $"{refused} refused, {straight} straight to the ring thread");
            Assert.Equal(0, storage.HostCancellations);
            await storage.DisposeAsync();
            Assert.Equal(data, await File.ReadAllBytesAsync(path));
        }
        finally { await storage.DisposeAsync(); }
    }
}
