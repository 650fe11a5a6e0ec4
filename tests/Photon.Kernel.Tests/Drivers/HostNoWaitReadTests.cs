using System.Runtime.InteropServices;
using Photon.Kernel.Hal.Host;

namespace Photon.Kernel.Tests.Drivers;

/// <summary>
/// On io_uring, <see cref="HostImageStorage"/> tries each read first as preadv2(RWF_NOWAIT) on the submitting thread
/// (<see cref="HostNoWaitRead"/>): cached bytes are copied there with no ring round trip, the rest goes to the ring.
/// These check the bytes on every path, that the fast path really served the reads it should (counted), and that a
/// read after or racing close is a typed Closed and never reaches a closed descriptor.
/// </summary>
public sealed class HostNoWaitReadTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("photon-nowait-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>A file of random bytes just written (so its pages sit in the host's page cache).</summary>
    private string CachedFile(int length, int seed, out byte[] content)
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".img");
        content = new byte[length];
        new Random(seed).NextBytes(content);
        File.WriteAllBytes(path, content);
        return path;
    }

    private const int PosixFadvDontNeed = 4;

    [DllImport("libc")]
    private static extern int posix_fadvise(int fd, long offset, long length, int advice);

    /// <summary>Leaves only the first <paramref name="cached"/> bytes of <paramref name="path"/> in the page cache: the whole
    /// file is written back and dropped (a partial range would keep the large folios it overlaps), then its head written
    /// again with the same bytes (a whole-page write caches the pages without reading the rest).</summary>
    private static void CacheOnlyHead(string path, byte[] content, int cached)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        RandomAccess.FlushToDisk(handle);
        Assert.Equal(0, posix_fadvise((int)handle.DangerousGetHandle(), 0, 0, PosixFadvDontNeed));
        RandomAccess.Write(handle, content.AsSpan(0, cached), 0);
    }

    private static HostImageStorage OpenUring(string path) => HostImageStorage.Open(path, backend: HostStorageBackend.IoUring).Value;

    [Fact]
    public async Task Cached_reads_are_served_by_the_submitter_with_the_files_bytes_and_no_ring_round_trip()
    {
        var path = CachedFile(64 * 1024, 1, out var content);
        await using var storage = OpenUring(path);
        Assert.True(storage.ReadsCacheFirst);
        var buf = new byte[4096];
        for (int i = 0; i < 16; i++)
        {
            var read = storage.ReadAsync(i * 4096L, buf);
            Assert.True(read.IsCompletedSuccessfully, $"block {i} finished inside the call");
            Assert.Equal(4096, await read);
            Assert.Equal(content.AsSpan(i * 4096, 4096).ToArray(), buf);
        }
        Assert.Equal(16, storage.CachedReads);
        var ring = storage.RingCounters;
        Assert.Equal(0, ring.Inline + ring.Deferred);
        Assert.Equal(0, ring.Enters);
    }

    [Fact]
    public async Task A_read_partly_cached_and_partly_not_returns_all_of_its_bytes()
    {
        const int cachedPart = 16 * 1024;
        var path = CachedFile(4 * 1024 * 1024, 2, out var content);
        CacheOnlyHead(path, content, cachedPart);
        await using var storage = OpenUring(path);
        // One read over the boundary: the cached head is copied by the submitter, the evicted tail read through the ring.
        var buf = new byte[64 * 1024];
        Assert.Equal(buf.Length, await storage.ReadAsync(cachedPart - 8192, buf).AsTask().WaitAsync(Patience));
        Assert.Equal(content.AsSpan(cachedPart - 8192, buf.Length).ToArray(), buf);
        Assert.Equal(1, storage.CachedReads);
        var ring = storage.RingCounters;
        Assert.True(ring.Inline + ring.Deferred >= 1, "the uncached tail went through the ring");
        // And the file's end: a read running past it is short by exactly the bytes that do not exist.
        var tail = new byte[8192];
        Assert.Equal(4096, await storage.ReadAsync(content.Length - 4096, tail).AsTask().WaitAsync(Patience));
        Assert.Equal(content.AsSpan(content.Length - 4096).ToArray(), tail.AsSpan(0, 4096).ToArray());
    }

    [Fact]
    public async Task A_read_after_close_is_Closed_even_when_the_descriptor_number_is_reused()
    {
        var path = CachedFile(16 * 1024, 3, out _);
        var storage = OpenUring(path);
        Assert.Equal(4096, await storage.ReadAsync(0, new byte[4096]));
        long served = storage.CachedReads;
        await storage.DisposeAsync();
        // Other files now take the lowest free descriptor numbers, among them the one the storage had: a read that still
        // used that number would read one of them instead of failing.
        var others = Enumerable.Range(0, 8).Select(i => File.OpenHandle(CachedFile(16 * 1024, 10 + i, out _), FileMode.Open)).ToList();
        try
        {
            for (int i = 0; i < 4; i++)
            {
                var e = await Assert.ThrowsAsync<KernelException>(async () => await storage.ReadAsync(i * 4096L, new byte[4096]));
                Assert.Equal(ErrorCode.Closed, e.Code);
            }
            Assert.Equal(served, storage.CachedReads);
        }
        finally { others.ForEach(h => h.Dispose()); }
    }

    [Fact]
    public async Task Closing_while_many_threads_read_ends_each_read_with_the_right_bytes_or_Closed()
    {
        const int blocks = 64;
        var path = CachedFile(blocks * 4096, 4, out var content);
        for (int round = 0; round < 20; round++)
        {
            var storage = OpenUring(path);
            int reads = 0;
            var readers = Enumerable.Range(0, 8).Select(t => Task.Run(async () =>
            {
                var buf = new byte[4096];
                for (int i = 0; ; i++)
                {
                    int b = (i * 7 + t * 13) % blocks;
                    buf.AsSpan().Clear();
                    try
                    {
                        Assert.Equal(4096, await storage.ReadAsync(b * 4096L, buf));
                        Assert.True(buf.AsSpan().SequenceEqual(content.AsSpan(b * 4096, 4096)), $"block {b}, thread {t}, round {round}");
                        Interlocked.Increment(ref reads);
                    }
                    catch (KernelException e)
                    {
                        Assert.Equal(ErrorCode.Closed, e.Code);
                        // Once closed, closed for good.
                        var again = await Assert.ThrowsAsync<KernelException>(async () => await storage.ReadAsync(0, buf));
                        Assert.Equal(ErrorCode.Closed, again.Code);
                        return;
                    }
                }
            })).ToArray();
            while (Volatile.Read(ref reads) < 64 * (round % 4 + 1)) await Task.Yield();
            await storage.DisposeAsync().AsTask().WaitAsync(Patience);
            await Task.WhenAll(readers).WaitAsync(Patience);
            Assert.True(storage.CachedReads > 0, "the readers went through the page-cache path");
        }
    }

    [Fact]
    public async Task With_the_fast_path_off_every_read_goes_through_the_ring_and_returns_the_same_bytes()
    {
        const int cachedPart = 16 * 1024;
        var path = CachedFile(4 * 1024 * 1024, 5, out var content);
        CacheOnlyHead(path, content, cachedPart);
        await using var storage = OpenUring(path);
        storage.DisableCachedReads();
        Assert.False(storage.ReadsCacheFirst);
        var buf = new byte[4096];
        for (int i = 0; i < 32; i++)
        {
            Assert.Equal(4096, await storage.ReadAsync(i * 4096L, buf).AsTask().WaitAsync(Patience));
            Assert.Equal(content.AsSpan(i * 4096, 4096).ToArray(), buf);
        }
        var across = new byte[32 * 1024];
        Assert.Equal(across.Length, await storage.ReadAsync(cachedPart - 8192, across).AsTask().WaitAsync(Patience));
        Assert.Equal(content.AsSpan(cachedPart - 8192, across.Length).ToArray(), across);
        Assert.Equal(0, storage.CachedReads);
        var ring = storage.RingCounters;
        Assert.Equal(33, ring.Inline + ring.Deferred);
        await storage.DisposeAsync();
        Assert.Equal(ErrorCode.Closed, (await Assert.ThrowsAsync<KernelException>(async () => await storage.ReadAsync(0, buf))).Code);
    }

    [Fact]
    public async Task A_file_the_host_refuses_RWF_NOWAIT_for_turns_the_fast_path_off_and_reads_keep_their_typed_errors()
    {
        // procfs takes no RWF_NOWAIT (EOPNOTSUPP): the first read turns the path off and the ring's read answers, here
        // with the real EIO of an unmapped address of /proc/self/mem.
        await using var storage = HostImageStorage.Open("/proc/self/mem", readOnly: true, backend: HostStorageBackend.IoUring).Value;
        Assert.True(storage.ReadsCacheFirst);
        var e = await Assert.ThrowsAsync<KernelException>(async () => await storage.ReadAsync(0, new byte[512]));
        Assert.Equal(ErrorCode.IoError, e.Code);
        Assert.False(storage.ReadsCacheFirst);
        Assert.Equal(0, storage.CachedReads);
    }
}
