using Microsoft.Win32.SafeHandles;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Block;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Hal.Host.IoUring;

namespace Photon.Kernel.Tests.Drivers;

/// <summary>
/// The host storage backends (io_uring and the thread-pool fallback) give the same bytes and the same typed errors,
/// on real files: a model of the image checked after random concurrent writes, short reads at end of file, real
/// EBADF/EIO from the kernel, and teardown with I/O in flight.
/// </summary>
public sealed class IoUringStorageTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("photon-uring-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string Image(long bytes)
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".img");
        using (var f = File.Create(path)) f.SetLength(bytes);
        return path;
    }

    public static TheoryData<HostStorageBackend> Backends => new() { HostStorageBackend.IoUring, HostStorageBackend.ThreadPool };

    [Fact]
    public void PreferIoUring_picks_io_uring_on_a_host_that_has_it_and_so_does_the_default()
    {
        var storage = HostImageStorage.Open(Image(4096), backend: HostStorageBackend.PreferIoUring).Value;
        Assert.Equal(HostStorageBackend.IoUring, storage.Backend);
        Assert.Null(storage.FallbackReason);
        storage.DisposeAsync().AsTask().Wait();
        if (Environment.GetEnvironmentVariable(HostStorageBackends.EnvironmentVariable) is not null) return;
        var byDefault = HostImageStorage.Open(Image(4096)).Value;
        Assert.Equal(HostStorageBackend.IoUring, byDefault.Backend);
        byDefault.DisposeAsync().AsTask().Wait();
    }

    [Fact]
    public async Task A_page_cache_read_completes_inside_the_submitting_call_with_no_wakeup()
    {
        var path = Image(64 * 1024);
        var bytes = new byte[64 * 1024];
        new Random(4).NextBytes(bytes);
        await File.WriteAllBytesAsync(path, bytes);
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        await using var ring = IoUringFile.Open(handle).Value;
        var buf = new byte[4096];
        // The file was just written, so its pages are cached: the kernel finishes the read within io_uring_enter and the
        // ValueTask is already complete when ReadAsync returns (what makes a chain of dependent requests cheap).
        int inline = 0;
        for (int i = 0; i < 16; i++)
        {
            var read = ring.ReadAsync(i * 4096L, buf);
            if (read.IsCompleted) inline++;
            Assert.Equal(4096, await read);
            Assert.True(buf.AsSpan().SequenceEqual(bytes.AsSpan(i * 4096, 4096)));
        }
        Assert.True(inline > 0, "no cached read completed inline");
        Assert.True(ring.InlineCompletions >= inline);
    }

    [Fact]
    public async Task Io_uring_and_the_thread_pool_leave_identical_bytes_after_the_same_concurrent_random_io()
    {
        // The same seeded mix of overlapping-free random writes and reads, 64 at a time, on one image per backend,
        // while other tasks read what they wrote: both images end byte-identical and every read saw its own write.
        const int size = 8 * 1024 * 1024;
        var images = new Dictionary<HostStorageBackend, string>();
        foreach (var backend in new[] { HostStorageBackend.IoUring, HostStorageBackend.ThreadPool })
        {
            var path = Image(size);
            images[backend] = path;
            await using var storage = HostImageStorage.Open(path, backend: backend).Value;
            Assert.Equal(backend, storage.Backend);
            var rng = new Random(23);
            var slots = Enumerable.Range(0, size / 4096).OrderBy(_ => rng.Next()).Take(1024).ToArray();
            var lengths = slots.Select(_ => rng.Next(1, 4097)).ToArray();
            await Parallel.ForEachAsync(Enumerable.Range(0, slots.Length), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, _) =>
            {
                var data = new byte[lengths[i]];
                new Random(i).NextBytes(data);
                long off = slots[i] * 4096L;
                await storage.WriteAsync(off, data);
                var back = new byte[data.Length];
                Assert.Equal(data.Length, await storage.ReadAsync(off, back));
                Assert.Equal(data, back);
            });
            await storage.FlushAsync();
        }
        var viaUring = await File.ReadAllBytesAsync(images[HostStorageBackend.IoUring]);
        var viaPool = await File.ReadAllBytesAsync(images[HostStorageBackend.ThreadPool]);
        Assert.True(viaUring.AsSpan().SequenceEqual(viaPool));
    }

    [Fact]
    public async Task Closing_while_many_threads_submit_ends_every_request_done_or_closed_and_never_hangs()
    {
        var path = Image(8 * 1024 * 1024);
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        var ring = IoUringFile.Open(handle, entries: 16).Value;
        var data = new byte[4096];
        using var stop = new CancellationTokenSource();
        var results = new System.Collections.Concurrent.ConcurrentBag<int>();
        // Eight threads submit writes and reads back to back (inline submission from every one of them) while the ring
        // is closed under them; each request must end as done or ClosedResult, and later ones as ClosedResult.
        var submitters = Enumerable.Range(0, 8).Select(t => Task.Run(async () =>
        {
            var buf = new byte[4096];
            for (int i = 0; ; i++)
            {
                long off = (t * 256 + i % 256) * 4096L;
                var w = ring.WriteAsync(off, data);
                var r = ring.ReadAsync(off, buf);
                int wr = await w, rd = await r;
                results.Add(wr);
                results.Add(rd);
                if (wr == IoUringFile.ClosedResult && rd == IoUringFile.ClosedResult) return i;
            }
        })).ToArray();
        while (results.Count < 200) await Task.Delay(1);
        await ring.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromMinutes(2));
        await Task.WhenAll(submitters).WaitAsync(TimeSpan.FromMinutes(2));
        Assert.All(results, n => Assert.True(n == 4096 || n == IoUringFile.ClosedResult, $"result {n}"));
        Assert.Contains(IoUringFile.ClosedResult, results);
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Random_concurrent_writes_then_reads_match_a_model_of_the_image(HostStorageBackend backend)
    {
        const int size = 4 * 1024 * 1024;
        var path = Image(size);
        var storage = HostImageStorage.Open(path, backend: backend).Value;
        Assert.Equal(backend, storage.Backend);
        var model = new byte[size];
        var rng = new Random(11);
        // Non-overlapping 1-8 KiB extents at random offsets, issued 400 at a time (more than the 255 the ring holds).
        var extents = Enumerable.Range(0, size / 8192).Select(i => (Offset: i * 8192L + rng.Next(0, 64), Length: rng.Next(1, 8193 - 64)))
            .OrderBy(_ => rng.Next()).Take(400).ToArray();
        foreach (var (off, len) in extents) rng.NextBytes(model.AsSpan((int)off, len));
        await Task.WhenAll(extents.Select(e => storage.WriteAsync(e.Offset, model.AsMemory((int)e.Offset, e.Length)).AsTask()));
        await storage.FlushAsync();
        var reads = extents.Select(async e =>
        {
            var buf = new byte[e.Length];
            Assert.Equal(e.Length, await storage.ReadAsync(e.Offset, buf));
            return (e, buf);
        }).ToArray();
        foreach (var (e, buf) in await Task.WhenAll(reads)) Assert.True(buf.AsSpan().SequenceEqual(model.AsSpan((int)e.Offset, e.Length)));
        await storage.DisposeAsync();
        Assert.True((await File.ReadAllBytesAsync(path)).AsSpan().SequenceEqual(model));
    }

    [Fact]
    public async Task A_tiny_ring_wraps_many_times_and_queues_what_does_not_fit()
    {
        var path = Image(1024 * 1024);
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        await using var ring = IoUringFile.Open(handle, entries: 8).Value;
        Assert.Equal(7, ring.Capacity);
        var model = new byte[1024 * 1024];
        new Random(5).NextBytes(model);
        // 256 writes of 4 KiB, all at once: 36 trips around an 8-slot ring, 249 waiting in the queue at the start.
        var writes = Enumerable.Range(0, 256).Select(i => ring.WriteAsync(i * 4096L, model.AsMemory(i * 4096, 4096)).AsTask()).ToArray();
        Assert.All(await Task.WhenAll(writes), n => Assert.Equal(4096, n));
        Assert.Equal(0, await ring.FsyncAsync());
        var back = new byte[model.Length];
        var reads = Enumerable.Range(0, 256).Select(i => ring.ReadAsync(i * 4096L, back.AsMemory(i * 4096, 4096)).AsTask()).ToArray();
        Assert.All(await Task.WhenAll(reads), n => Assert.Equal(4096, n));
        Assert.True(back.AsSpan().SequenceEqual(model));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Reads_at_end_of_file_are_short_and_past_it_empty(HostStorageBackend backend)
    {
        var path = Path.Combine(_dir, "odd.img");
        var bytes = new byte[5000];
        new Random(2).NextBytes(bytes);
        await File.WriteAllBytesAsync(path, bytes);
        await using var storage = HostImageStorage.Open(path, readOnly: true, backend: backend).Value;
        var buf = new byte[4096];
        Assert.Equal(5000 - 4096, await storage.ReadAsync(4096, buf));
        Assert.True(buf.AsSpan(0, 904).SequenceEqual(bytes.AsSpan(4096)));
        Assert.Equal(0, await storage.ReadAsync(5000, buf));
        Assert.Equal(0, await storage.ReadAsync(1L << 40, buf));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task Hostile_offsets_are_a_typed_InvalidArgument_on_both_backends(HostStorageBackend backend)
    {
        await using var storage = HostImageStorage.Open(Image(8192), backend: backend).Value;
        foreach (long off in new[] { -1L, long.MinValue, long.MaxValue - 100 })
        {
            var r = await Assert.ThrowsAsync<KernelException>(async () => await storage.ReadAsync(off, new byte[512]));
            Assert.Equal(ErrorCode.InvalidArgument, r.Code);
            var w = await Assert.ThrowsAsync<KernelException>(async () => await storage.WriteAsync(off, new byte[512]));
            Assert.Equal(ErrorCode.InvalidArgument, w.Code);
        }
        // The image still works afterwards.
        await storage.WriteAsync(0, new byte[] { 7 });
        var one = new byte[1];
        Assert.Equal(1, await storage.ReadAsync(0, one));
        Assert.Equal(7, one[0]);
    }

    [Fact]
    public async Task A_write_on_a_read_only_descriptor_completes_with_EBADF()
    {
        var path = Image(8192);
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        await using var ring = IoUringFile.Open(handle).Value;
        Assert.Equal(-9, await ring.WriteAsync(0, new byte[512]));
        Assert.Equal(512, await ring.ReadAsync(0, new byte[512]));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async Task A_host_EIO_is_a_typed_IoError_and_the_backend_keeps_working(HostStorageBackend backend)
    {
        // Reading an unmapped address of /proc/self/mem is a real EIO from the kernel.
        await using var storage = HostImageStorage.Open("/proc/self/mem", readOnly: true, backend: backend).Value;
        var e = await Assert.ThrowsAsync<KernelException>(async () => await storage.ReadAsync(0, new byte[512]));
        Assert.Equal(ErrorCode.IoError, e.Code);
        if (backend == HostStorageBackend.IoUring) Assert.Contains("EIO", e.Message);
        Assert.Equal(ErrorCode.IoError, (await Assert.ThrowsAsync<KernelException>(async () => await storage.ReadAsync(4096, new byte[8]))).Code);
    }

    [Fact]
    public async Task Closing_with_io_in_flight_retires_every_request_before_it_returns_and_then_refuses_new_ones()
    {
        var path = Image(16 * 1024 * 1024);
        var bytes = new byte[16 * 1024 * 1024];
        new Random(9).NextBytes(bytes);
        await File.WriteAllBytesAsync(path, bytes);
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        var ring = IoUringFile.Open(handle).Value;
        var buffers = Enumerable.Range(0, 1024).Select(_ => new byte[64 * 1024]).ToArray();
        var reads = buffers.Select((b, i) => ring.ReadAsync(i % 256 * 65536L, b)).ToArray();
        // Close once the ring is under way: some reads done, up to 255 in the kernel, the rest still queued.
        while (!reads.Any(r => r.IsCompleted)) await Task.Delay(1);
        await ring.DisposeAsync();
        // Disposal returned only after every submitted read completed (its buffer unpinned after the kernel was done
        // with it); the ones still queued were failed as closed; none is left hanging.
        Assert.All(reads, r => Assert.True(r.IsCompleted));
        for (int i = 0; i < reads.Length; i++)
        {
            int n = await reads[i];
            if (n == IoUringFile.ClosedResult) continue;
            Assert.Equal(65536, n);
            Assert.True(buffers[i].AsSpan().SequenceEqual(bytes.AsSpan(i % 256 * 65536, 65536)));
        }
        Assert.Equal(IoUringFile.ClosedResult, await ring.ReadAsync(0, new byte[512]));
        Assert.Equal(IoUringFile.ClosedResult, await ring.FsyncAsync());
    }

    [Fact]
    public async Task Closing_the_storage_under_load_ends_each_request_as_done_or_Closed()
    {
        var path = Image(4 * 1024 * 1024);
        var storage = HostImageStorage.Open(path, backend: HostStorageBackend.IoUring).Value;
        var reads = Enumerable.Range(0, 512).Select(i => storage.ReadAsync(i * 8192L, new byte[8192]).AsTask()).ToArray();
        await Task.WhenAny(reads);
        await storage.DisposeAsync();
        foreach (var r in reads)
        {
            try { Assert.Equal(8192, await r); }
            catch (KernelException e) { Assert.Equal(ErrorCode.Closed, e.Code); }
        }
        var late = await Assert.ThrowsAsync<KernelException>(async () => await storage.ReadAsync(0, new byte[512]));
        Assert.Equal(ErrorCode.Closed, late.Code);
    }

    [Fact]
    public async Task The_block_driver_over_io_uring_reads_back_what_it_wrote_at_full_queue_depth()
    {
        var caps = new CapabilityManager();
        var storage = HostImageStorage.Open(Image(8 * 1024 * 1024), backend: HostStorageBackend.IoUring).Value;
        var (dev, cap) = NvmeBlockDevice.Start(storage, caps, new NvmeOptions(QueuePairs: 2, QueueDepth: 256)).Value;
        static byte[] Block(long lba) { var b = new byte[4096]; new Random((int)lba).NextBytes(b); return b; }
        var lbas = Enumerable.Range(0, 1024).Select(i => (i * 7919L) % 2048 * 8).Distinct().ToArray();
        Assert.All(await Task.WhenAll(lbas.Select(l => dev.WriteAsync(cap, l, Block(l)))), r => Assert.True(r.IsOk));
        Assert.True((await dev.FlushAsync(cap)).IsOk);
        var back = await Task.WhenAll(lbas.Select(async l => { var b = new byte[4096]; (await dev.ReadAsync(cap, l, b)).Unwrap(); return (l, b); }));
        Assert.All(back, x => Assert.Equal(Block(x.l), x.b));
        await dev.DisposeAsync();
        await storage.DisposeAsync();
    }

    [Theory]
    [InlineData(HostStorageBackend.Auto, null, HostStorageBackend.PreferIoUring)]
    [InlineData(HostStorageBackend.Auto, "auto", HostStorageBackend.PreferIoUring)]
    [InlineData(HostStorageBackend.Auto, "threadpool", HostStorageBackend.ThreadPool)]
    [InlineData(HostStorageBackend.Auto, " IO_URING ", HostStorageBackend.IoUring)]
    [InlineData(HostStorageBackend.IoUring, "threadpool", HostStorageBackend.IoUring)]
    public void The_environment_chooses_only_when_the_caller_did_not(HostStorageBackend asked, string? env, HostStorageBackend expected) =>
        Assert.Equal(expected, HostStorageBackends.Resolve(asked, env).Value);

    [Fact]
    public void A_misspelt_backend_in_the_environment_is_an_error_not_a_silent_default() =>
        Assert.Equal(ErrorCode.InvalidArgument, HostStorageBackends.Resolve(HostStorageBackend.Auto, "uring2").Error.Code);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(8192)]
    [InlineData(int.MinValue)]
    public void Hostile_ring_sizes_are_refused(int entries)
    {
        using var handle = File.OpenHandle(Image(4096), FileMode.Open, FileAccess.Read);
        Assert.Equal(ErrorCode.InvalidArgument, IoUringFile.Open(handle, entries).Error.Code);
    }
}
