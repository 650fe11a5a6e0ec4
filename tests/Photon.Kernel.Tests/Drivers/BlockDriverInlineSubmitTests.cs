using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Block;
using Photon.Kernel.Hal;

namespace Photon.Kernel.Tests.Drivers;

/// <summary>
/// The block driver's submitters drain their queue pair themselves: a request the storage finishes at once is complete
/// before its caller awaits it (no doorbell wakeup, no thread hop), and requests that arrive while another thread is
/// draining are never left unseen.
/// </summary>
public sealed class BlockDriverInlineSubmitTests
{
    /// <summary>Storage in memory that finishes every request synchronously, and counts them.</summary>
    private sealed class MemoryStorage(int bytes) : IBlockStorage
    {
        private readonly byte[] _data = new byte[bytes];
        public int Reads, Writes, Flushes;
        public string Name => "memory";
        public long Length => _data.Length;
        public bool IsReadOnly => false;

        public ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken ct = default)
        {
            Interlocked.Increment(ref Reads);
            lock (_data) _data.AsSpan((int)offset, buffer.Length).CopyTo(buffer.Span);
            return new(buffer.Length);
        }

        public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken ct = default)
        {
            Interlocked.Increment(ref Writes);
            lock (_data) data.Span.CopyTo(_data.AsSpan((int)offset));
            return default;
        }

        public ValueTask FlushAsync(CancellationToken ct = default)
        {
            Interlocked.Increment(ref Flushes);
            return default;
        }

        public ValueTask DisposeAsync() => default;
    }

    [Fact]
    public async Task A_request_the_storage_finishes_at_once_is_complete_before_its_caller_awaits()
    {
        var storage = new MemoryStorage(1 << 20);
        var (dev, cap) = NvmeBlockDevice.Start(storage, new CapabilityManager(), new NvmeOptions(QueuePairs: 2, QueueDepth: 8)).Value;
        var data = Enumerable.Range(0, 4096).Select(i => (byte)i).ToArray();
        var write = dev.WriteAsync(cap, 8, data);
        Assert.True(write.IsCompleted, "a write to synchronous storage waited for a wakeup");
        Assert.True((await write).IsOk);
        var buf = new byte[4096];
        var read = dev.ReadAsync(cap, 8, buf);
        Assert.True(read.IsCompleted, "a read from synchronous storage waited for a wakeup");
        Assert.True((await read).IsOk);
        Assert.Equal(data, buf);
        var flush = dev.FlushAsync(cap);
        Assert.True(flush.IsCompleted);
        Assert.True((await flush).IsOk);
        Assert.Equal(1, storage.Flushes);
        await dev.DisposeAsync();
    }

    [Fact]
    public async Task Requests_from_many_threads_racing_each_others_drains_all_complete_with_their_own_bytes()
    {
        var storage = new MemoryStorage(16 << 20);
        var (dev, cap) = NvmeBlockDevice.Start(storage, new CapabilityManager(), new NvmeOptions(QueuePairs: 2, QueueDepth: 16, FetchBatch: 2)).Value;
        const int Threads = 8, PerThread = 2_000;
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        // Real threads, so submissions overlap the draining of the same queue pair by another thread (its requests are
        // then left to that drainer, which must look at the ring again before it stops).
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            var buf = new byte[512];
            for (int i = 0; i < PerThread && failures.IsEmpty; i++)
            {
                long lba = t * PerThread + i;
                var mine = BitConverter.GetBytes(lba).Concat(new byte[504]).ToArray();
                try
                {
                    var w = dev.WriteAsync(cap, lba, mine).WaitAsync(TimeSpan.FromSeconds(60)).GetAwaiter().GetResult();
                    var r = dev.ReadAsync(cap, lba, buf).WaitAsync(TimeSpan.FromSeconds(60)).GetAwaiter().GetResult();
                    if (!w.IsOk || !r.IsOk) failures.Enqueue($"lba {lba}: write {w}, read {r}");
                    else if (BitConverter.ToInt64(buf) != lba) failures.Enqueue($"lba {lba} read back {BitConverter.ToInt64(buf)}");
                }
                catch (TimeoutException) { failures.Enqueue($"lba {lba}: request never completed (left unseen)"); }
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        foreach (var t in threads) Assert.True(t.Join(TimeSpan.FromSeconds(180)), "a submitter hung");
        Assert.Empty(failures);
        Assert.Equal(Threads * PerThread, storage.Writes);
        Assert.Equal(Threads * PerThread, storage.Reads);
        Assert.Equal(2L * Threads * PerThread, dev.Queues.Sum(q => q.Stats.Completed));
        await dev.DisposeAsync();
    }

    [Fact]
    public async Task A_batch_larger_than_a_submitter_drains_is_finished_by_the_controller_loop()
    {
        var storage = new MemoryStorage(1 << 20);
        var caps = new CapabilityManager();
        // A fetch batch of 2: the submitter drains a few batches itself and must hand the rest to the controller loop.
        var (dev, cap) = NvmeBlockDevice.Start(storage, caps, new NvmeOptions(QueuePairs: 1, QueueDepth: 64, FetchBatch: 2)).Value;
        var buffers = Enumerable.Range(0, 40).Select(_ => new byte[512]).ToArray();
        var batch = dev.Queues[0].SubmitBatch(buffers.Select((b, i) => new BlockCommand(BlockOp.Read, i, b, default)).ToList(), cap, Rights.Read).Value;
        var results = await Task.WhenAll(batch).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.All(results, r => Assert.True(r.IsOk));
        Assert.Equal(40, storage.Reads);
        await dev.DisposeAsync();
    }

    [Fact]
    public async Task Closing_the_device_under_submitters_ends_every_request_done_or_closed()
    {
        var storage = new MemoryStorage(1 << 20);
        var (dev, cap) = NvmeBlockDevice.Start(storage, new CapabilityManager(), new NvmeOptions(QueuePairs: 2, QueueDepth: 8)).Value;
        using var go = new ManualResetEventSlim();
        var submitters = Enumerable.Range(0, 4).Select(t => Task.Run(async () =>
        {
            var buf = new byte[512];
            var outcomes = new List<Result>();
            go.Wait();
            for (int i = 0; i < 500; i++) outcomes.Add(await dev.ReadAsync(cap, i % 64, buf));
            return outcomes;
        })).ToArray();
        go.Set();
        await dev.DisposeAsync();
        var all = (await Task.WhenAll(submitters).WaitAsync(TimeSpan.FromSeconds(60))).SelectMany(o => o).ToList();
        Assert.Equal(2_000, all.Count);
        Assert.All(all, r => Assert.True(r.IsOk || r.Error.Code == ErrorCode.Closed, r.IsOk ? "" : r.Error.Message));
    }
}
