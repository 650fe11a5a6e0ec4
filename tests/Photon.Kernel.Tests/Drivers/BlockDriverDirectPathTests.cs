using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Block;
using Photon.Kernel.Hal;
using Photon.Kernel.Hal.Host;

namespace Photon.Kernel.Tests.Drivers;

/// <summary>
/// On storage that finishes requests inline (<see cref="IInlineBlockStorage"/>: io_uring), the block driver serves reads
/// and writes straight from the submitter, without a queue-pair tag or slot. The path keeps what the ring gave: the
/// capability check on every request, typed errors for bad ranges and storage failures, a bound on requests in flight,
/// Closed for a request still in the storage when the device closes, cancellation, and flushes through the ring.
/// </summary>
public sealed class BlockDriverDirectPathTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("photon-block-direct-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private HostImageStorage Image(long bytes)
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".img");
        return HostImageStorage.Create(path, bytes, HostStorageBackend.IoUring).Value;
    }

    /// <summary>Storage that claims to finish inline but holds every read until released (a cold page-cache read), or
    /// fails as told.</summary>
    private sealed class HeldStorage : IBlockStorage, IInlineBlockStorage
    {
        public readonly List<TaskCompletionSource<int>> Held = new();
        public Exception? FailWith;
        public int Reads;
        public bool CompletesInline => true;
        public string Name => "held";
        public long Length => 1 << 20;
        public bool IsReadOnly => false;

        public ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken ct = default)
        {
            Interlocked.Increment(ref Reads);
            if (FailWith is { } e) throw e;
            var tcs = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (Held) Held.Add(tcs);
            return new(tcs.Task);
        }

        public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken ct = default) =>
            FailWith is { } e ? ValueTask.FromException(e) : default;

        public ValueTask FlushAsync(CancellationToken ct = default) => default;
        public ValueTask DisposeAsync() => default;

        public void ReleaseAll(int result)
        {
            lock (Held) foreach (var t in Held) t.TrySetResult(result);
        }
    }

    [Fact]
    public async Task Reads_and_writes_on_io_uring_skip_the_queue_pairs_and_flushes_go_through_them()
    {
        await using var storage = Image(1 << 20);
        var (dev, cap) = NvmeBlockDevice.Start(storage, new CapabilityManager(), new NvmeOptions(QueuePairs: 2, QueueDepth: 8)).Value;
        Assert.True(dev.ServesDirect);
        for (int i = 0; i < 64; i++)
        {
            var data = Enumerable.Repeat((byte)(i + 1), 4096).ToArray();
            Assert.True((await dev.WriteAsync(cap, i * 8, data)).IsOk);
        }
        var buf = new byte[4096];
        for (int i = 0; i < 64; i++)
        {
            var read = dev.ReadAsync(cap, i * 8, buf);
            Assert.True((await read).IsOk);
            Assert.All(buf, b => Assert.Equal((byte)(i + 1), b));
        }
        Assert.Equal(128, dev.DirectRequests);
        Assert.Equal(0, dev.Queues.Sum(q => q.Stats.Submitted));
        Assert.True((await dev.FlushAsync(cap)).IsOk);
        Assert.Equal(1, dev.Queues.Sum(q => q.Stats.Submitted));
        await dev.DisposeAsync();
    }

    [Fact]
    public async Task Ranges_past_the_end_huge_negative_and_misaligned_are_typed_errors_on_the_direct_path()
    {
        await using var storage = Image(1 << 20);
        var (dev, cap) = NvmeBlockDevice.Start(storage, new CapabilityManager()).Value;
        var buf = new byte[4096];
        foreach (long lba in new[] { dev.SectorCount, dev.SectorCount - 1, -1, long.MinValue, long.MaxValue, long.MaxValue / 512 })
        {
            Assert.False((await dev.ReadAsync(cap, lba, buf)).IsOk, $"read at {lba}");
            Assert.False((await dev.WriteAsync(cap, lba, buf)).IsOk, $"write at {lba}");
        }
        Assert.False((await dev.ReadAsync(cap, 0, new byte[100])).IsOk);
        Assert.False((await dev.WriteAsync(cap, 0, new byte[100])).IsOk);
        // The storage refuses ranges no file can have by name, on its inline read path too.
        var e = await Assert.ThrowsAsync<KernelException>(async () => await storage.ReadAsync(-4096, buf));
        Assert.Equal(ErrorCode.InvalidArgument, e.Error.Code);
        e = await Assert.ThrowsAsync<KernelException>(async () => await storage.ReadAsync(long.MaxValue - 10, buf));
        Assert.Equal(ErrorCode.InvalidArgument, e.Error.Code);
        e = await Assert.ThrowsAsync<KernelException>(async () => await storage.WriteAsync(-1, buf));
        Assert.Equal(ErrorCode.InvalidArgument, e.Error.Code);
        // At the file's end the storage reads nothing (the driver above refuses such a range before it gets here).
        Assert.Equal(0, await storage.ReadAsync(1 << 20, buf));
        Assert.Equal(0, dev.DirectRequests);
        await dev.DisposeAsync();
    }

    /// <summary>Runs <paramref name="act"/> on a dedicated thread once the lanes have completed 400 requests.</summary>
    private static Task AfterLanesStarted(int[] completed, Action act) => Task.Factory.StartNew(() =>
    {
        var until = DateTime.UtcNow + Patience;
        while (Volatile.Read(ref completed[0]) < 400 && DateTime.UtcNow < until) Thread.Sleep(1);
        act();
    }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    [Fact]
    public async Task Wrong_rights_and_a_capability_revoked_while_lanes_read_are_refused_by_type()
    {
        await using var storage = Image(1 << 20);
        var caps = new CapabilityManager();
        var (dev, cap) = NvmeBlockDevice.Start(storage, caps).Value;
        var readOnly = caps.Derive(cap, Rights.Read, Principal.Kernel).Value;
        Assert.Equal(ErrorCode.AccessDenied, (await dev.WriteAsync(readOnly, 0, new byte[512])).Code);
        var other = caps.Create(new GenericObject("other"), Rights.All, Principal.Kernel).Value;
        Assert.Equal(ErrorCode.WrongObjectType, (await dev.ReadAsync(other, 0, new byte[512])).Code);

        var lane = caps.Derive(cap, Rights.Read, Principal.Kernel).Value;
        var completed = new int[1];
        var lanes = Enumerable.Range(0, 4).Select(l => Task.Run(async () =>
        {
            var buf = new byte[4096];
            var outcomes = new List<Result>();
            // Read until refused (bounded by time, not a count: on a loaded machine the revoking thread may not run
            // while the lanes do a million inline reads; a path that never refuses still fails the test, not hangs it).
            var until = DateTime.UtcNow + Patience;
            for (int i = 0; DateTime.UtcNow < until; i++)
            {
                var r = await dev.ReadAsync(lane, (i % 256) * 8, buf);
                outcomes.Add(r);
                Interlocked.Increment(ref completed[0]);
                if (!r.IsOk) break;
                if (outcomes.Count > 4096) outcomes.RemoveRange(0, 2048); // only the last outcomes matter; bounded memory
            }
            return outcomes;
        })).ToArray();
        // Revoke once every lane has got going (a count, not a time), from a thread of its own: the lanes complete
        // inline and never yield, so a continuation queued behind them on the thread pool would not run until they end.
        var revoked = AfterLanesStarted(completed, () => Assert.True(caps.Revoke(lane).IsOk));
        var all = await Task.WhenAll(lanes).WaitAsync(2 * Patience);
        await revoked.WaitAsync(Patience);
        foreach (var outcomes in all)
        {
            Assert.All(outcomes.Take(outcomes.Count - 1), r => Assert.True(r.IsOk));
            Assert.Equal(ErrorCode.Revoked, outcomes[^1].Code);
        }
        Assert.Equal(ErrorCode.Revoked, (await dev.ReadAsync(lane, 0, new byte[512])).Code);
        Assert.True(dev.Queues[0].Stats.Denied >= 2 + 4 + 1);
        Assert.Equal(0, dev.Queues.Sum(q => q.Stats.Submitted));
        await dev.DisposeAsync();
    }

    [Fact]
    public async Task A_direct_request_still_in_the_storage_when_the_device_closes_ends_Closed()
    {
        var storage = new HeldStorage();
        var (dev, cap) = NvmeBlockDevice.Start(storage, new CapabilityManager()).Value;
        var read = dev.ReadAsync(cap, 0, new byte[512]);
        Assert.False(read.IsCompleted);
        Assert.Equal(1, dev.DirectRequests);
        await dev.DisposeAsync();
        Assert.Equal(ErrorCode.Closed, (await read.WaitAsync(Patience)).Code);
        Assert.Equal(ErrorCode.Closed, (await dev.ReadAsync(cap, 0, new byte[512])).Code);
        Assert.Equal(ErrorCode.Closed, (await dev.WriteAsync(cap, 0, new byte[512])).Code);
        storage.ReleaseAll(512); // the storage finishing later disturbs nothing
        Assert.Equal(1, storage.Reads);
    }

    [Fact]
    public async Task Requests_in_flight_beyond_the_pairs_depth_wait_in_the_ring()
    {
        var storage = new HeldStorage();
        var (dev, cap) = NvmeBlockDevice.Start(storage, new CapabilityManager(), new NvmeOptions(QueuePairs: 1, QueueDepth: 4)).Value;
        var reads = Enumerable.Range(0, 6).Select(i => dev.ReadAsync(cap, i, new byte[512])).ToList();
        Assert.Equal(4, dev.DirectRequests);
        Assert.Equal(2, dev.Queues[0].Stats.Submitted);
        Assert.All(reads, r => Assert.False(r.IsCompleted));
        // The ring's two reach the storage through its device side; then every request finishes.
        var started = DateTime.UtcNow;
        while (Volatile.Read(ref storage.Reads) < 6 && DateTime.UtcNow - started < Patience) await Task.Yield();
        storage.ReleaseAll(512);
        Assert.All(await Task.WhenAll(reads).WaitAsync(Patience), r => Assert.True(r.IsOk));
        // With those done, the next request is direct again.
        var next = dev.ReadAsync(cap, 0, new byte[512]);
        Assert.Equal(5, dev.DirectRequests);
        storage.ReleaseAll(512);
        Assert.True((await next.WaitAsync(Patience)).IsOk);
        await dev.DisposeAsync();
    }

    [Fact]
    public async Task A_cancellable_request_takes_the_ring_and_its_cancellation_ends_it_there()
    {
        var storage = new HeldStorage();
        var (dev, cap) = NvmeBlockDevice.Start(storage, new CapabilityManager()).Value;
        using var cts = new CancellationTokenSource();
        var read = dev.ReadAsync(cap, 0, new byte[512], ct: cts.Token);
        Assert.Equal(0, dev.DirectRequests);
        cts.Cancel();
        Assert.Equal(ErrorCode.Cancelled, (await read.WaitAsync(Patience)).Code);
        Assert.Equal(1, dev.Queues.Sum(q => q.Stats.Cancelled));
        storage.ReleaseAll(512);
        await dev.DisposeAsync();
    }

    [Fact]
    public async Task Storage_failures_and_short_reads_on_the_direct_path_are_typed()
    {
        var storage = new HeldStorage { FailWith = new KernelException(ErrorCode.IoError, "disk on fire") };
        var (dev, cap) = NvmeBlockDevice.Start(storage, new CapabilityManager()).Value;
        Assert.Equal(ErrorCode.IoError, (await dev.ReadAsync(cap, 0, new byte[512])).Code);
        Assert.Equal(ErrorCode.IoError, (await dev.WriteAsync(cap, 0, new byte[512])).Code);
        storage.FailWith = new IOException("EIO");
        Assert.Equal(ErrorCode.IoError, (await dev.ReadAsync(cap, 0, new byte[512])).Code);
        Assert.Equal(ErrorCode.IoError, (await dev.WriteAsync(cap, 0, new byte[512])).Code);
        storage.FailWith = null;
        var shortRead = dev.ReadAsync(cap, 0, new byte[512]);
        storage.ReleaseAll(100);
        Assert.Equal(ErrorCode.IoError, (await shortRead.WaitAsync(Patience)).Code);
        await dev.DisposeAsync();
    }

    [Fact]
    public async Task Closing_the_device_and_its_storage_under_direct_readers_and_writers_ends_each_done_or_closed()
    {
        var storage = Image(1 << 20);
        var (dev, cap) = NvmeBlockDevice.Start(storage, new CapabilityManager()).Value;
        var completed = new int[1];
        var lanes = Enumerable.Range(0, 4).Select(l => Task.Run(async () =>
        {
            var buf = new byte[4096];
            var outcomes = new List<Result>();
            var until = DateTime.UtcNow + Patience; // until refused, bounded by time (see the revoke test)
            for (int i = 0; DateTime.UtcNow < until; i++)
            {
                var r = l % 2 == 0 ? await dev.ReadAsync(cap, (i % 256) * 8, buf) : await dev.WriteAsync(cap, (i % 256) * 8, buf);
                outcomes.Add(r);
                Interlocked.Increment(ref completed[0]);
                if (!r.IsOk) break;
                if (outcomes.Count > 4096) outcomes.RemoveRange(0, 2048);
            }
            return outcomes;
        })).ToArray();
        var closing = AfterLanesStarted(completed, () => { dev.DisposeAsync().AsTask().Wait(); storage.DisposeAsync().AsTask().Wait(); });
        var all = await Task.WhenAll(lanes).WaitAsync(2 * Patience);
        await closing.WaitAsync(Patience);
        foreach (var outcomes in all)
        {
            Assert.All(outcomes.Take(outcomes.Count - 1), r => Assert.True(r.IsOk));
            Assert.Equal(ErrorCode.Closed, outcomes[^1].Code);
        }
    }
}
