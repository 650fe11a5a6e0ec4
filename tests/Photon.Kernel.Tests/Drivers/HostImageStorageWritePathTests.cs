using Photon.Kernel.Hal.Host;

namespace Photon.Kernel.Tests.Drivers;

/// <summary>
/// On io_uring, <see cref="HostImageStorage"/> writes small requests itself (a pwrite on the submitting thread: ext4
/// hands every buffered ring write to an io-wq worker) and sends large ones to the ring, and it keeps one ring per CPU.
/// Both paths leave the same bytes, closing under writers ends each write done or typed Closed, and nothing is written
/// after DisposeAsync returns.
/// </summary>
public sealed class HostImageStorageWritePathTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("photon-uring-writes-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string Image(long bytes)
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".img");
        using (var f = File.Create(path)) f.SetLength(bytes);
        return path;
    }

    private static byte[] Pattern(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    [Fact]
    public async Task Small_writes_are_written_by_the_submitter_and_large_ones_go_through_the_ring()
    {
        var path = Image(1024 * 1024);
        await using var storage = HostImageStorage.Open(path, backend: HostStorageBackend.IoUring).Value;
        var small = Pattern(4096, 1);
        var large = Pattern(HostImageStorage.InlineWriteLimit + 4096, 2);

        var write = storage.WriteAsync(8192, small);
        Assert.True(write.IsCompleted, "a small write finished inside the call");
        await write;
        Assert.Equal(1, storage.InlineWrites);
        var before = storage.RingCounters;
        Assert.Equal(0, before.Inline + before.Deferred);

        await storage.WriteAsync(65536, large).AsTask().WaitAsync(Patience);
        Assert.Equal(1, storage.InlineWrites);
        var after = storage.RingCounters;
        Assert.True(after.Inline + after.Deferred >= 1, "the large write went through the ring");

        var back = new byte[small.Length];
        Assert.Equal(small.Length, await storage.ReadAsync(8192, back));
        Assert.Equal(small, back);
        back = new byte[large.Length];
        Assert.Equal(large.Length, await storage.ReadAsync(65536, back));
        Assert.Equal(large, back);
        await storage.FlushAsync();
    }

    [Fact]
    public async Task Small_writes_from_many_threads_at_once_each_land_once_whether_written_inline_or_by_the_ring()
    {
        // Four threads write small blocks at once: one at a time writes, the others' writes queue behind it (none goes to the ring). Every write is counted once and the file holds every thread's bytes.
        const int threads = 4, perThread = 400;
        var path = Image((long)threads * perThread * 4096);
        var expected = Pattern(threads * perThread * 4096, 6);
        await using (var storage = HostImageStorage.Open(path, backend: HostStorageBackend.IoUring).Value)
        {
            var writers = Enumerable.Range(0, threads).Select(t => Task.Run(async () =>
            {
                for (int i = 0; i < perThread; i++)
                {
                    long offset = ((long)i * threads + t) * 4096;
                    await storage.WriteAsync(offset, expected.AsMemory((int)offset, 4096));
                }
            })).ToArray();
            await Task.WhenAll(writers).WaitAsync(Patience);
            var ring = storage.RingCounters;
            // A thread that falls more than NearBytes behind the busy writer (a loaded machine preempts it) has its
            // write done by the far writer instead: counted there, still once.
            Assert.Equal(threads * perThread, storage.InlineWrites + storage.FarWrites + ring.Inline + ring.Deferred);
        }
        Assert.Equal(expected, await File.ReadAllBytesAsync(path));
    }

    [Fact]
    public async Task Every_cpu_gets_a_ring_and_reads_from_many_threads_get_their_own_bytes()
    {
        const int blocks = 256;
        var path = Path.Combine(_dir, "content.img");
        var content = Pattern(blocks * 4096, 3);
        await File.WriteAllBytesAsync(path, content);
        await using var storage = HostImageStorage.Open(path, backend: HostStorageBackend.IoUring).Value;
        Assert.Equal(Math.Min(Environment.ProcessorCount, HostImageStorage.MaxRings), storage.RingCount);
        storage.DisableCachedReads(); // the rings are under test, not the page-cache path in front of them
        // Eight threads read every block each, whichever CPU (ring) they happen to run on, and compare.
        var readers = Enumerable.Range(0, 8).Select(t => Task.Run(async () =>
        {
            var buf = new byte[4096];
            for (int i = 0; i < blocks; i++)
            {
                int b = (i * 7 + t * 31) % blocks;
                Assert.Equal(4096, await storage.ReadAsync(b * 4096L, buf));
                Assert.True(buf.AsSpan().SequenceEqual(content.AsSpan(b * 4096, 4096)), $"block {b} on thread {t}");
            }
        })).ToArray();
        await Task.WhenAll(readers).WaitAsync(Patience);
        var c = storage.RingCounters;
        Assert.Equal(8 * blocks, c.Inline + c.Deferred);
    }

    [Fact]
    public async Task Closing_under_writers_ends_each_write_done_or_Closed_and_every_acknowledged_write_is_in_the_file()
    {
        const int region = 4 * 1024 * 1024, writers = 4;
        var path = Image((long)region * writers);
        var storage = HostImageStorage.Open(path, backend: HostStorageBackend.IoUring).Value;
        var small = Pattern(4096, 4);
        var large = Pattern(HostImageStorage.InlineWriteLimit * 2, 5);
        // Per thread, in order: each thread's writes are sequential, so replaying them gives its region's contents.
        var acknowledged = Enumerable.Range(0, writers).Select(_ => new List<(long Offset, byte[] Data)>()).ToArray();
        int started = 0;
        // Each thread writes its own region front to back (wrapping), small and large writes alternating, until it is
        // told Closed.
        var threads = Enumerable.Range(0, writers).Select(t => Task.Run(async () =>
        {
            long off = (long)t * region;
            for (int i = 0; ; i++)
            {
                var data = i % 4 == 3 ? large : small;
                if (off + data.Length > (long)(t + 1) * region) off = (long)t * region; // wrap: later writes overwrite
                try { await storage.WriteAsync(off, data); }
                catch (KernelException e)
                {
                    Assert.Equal(ErrorCode.Closed, e.Code);
                    return;
                }
                acknowledged[t].Add((off, data));
                Interlocked.Increment(ref started);
                off += data.Length;
            }
        })).ToArray();
        var deadline = DateTime.UtcNow + Patience;
        while (Volatile.Read(ref started) < 200)
        {
            Assert.True(DateTime.UtcNow < deadline, "writers made no progress");
            await Task.Delay(1);
        }
        await storage.DisposeAsync().AsTask().WaitAsync(Patience);
        await Task.WhenAll(threads).WaitAsync(Patience);
        var late = await Assert.ThrowsAsync<KernelException>(async () => await storage.WriteAsync(0, small));
        Assert.Equal(ErrorCode.Closed, late.Code);
        Assert.True(storage.InlineWrites > 0);

        // The file is exactly the acknowledged writes replayed in order (a write that ended Closed never reached it).
        var model = new byte[region * writers];
        foreach (var list in acknowledged)
            foreach (var (offset, data) in list) data.CopyTo(model, offset);
        var file = await File.ReadAllBytesAsync(path);
        Assert.Equal(model.Length, file.Length);
        for (int i = 0; i < model.Length; i += 4096)
            Assert.True(file.AsSpan(i, 4096).SequenceEqual(model.AsSpan(i, 4096)), $"block at {i} differs from the acknowledged writes");
    }
}
