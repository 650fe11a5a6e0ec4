using Photon.Kernel.Hal.Host;

namespace Photon.Kernel.Tests.Drivers;

/// <summary>
/// <see cref="HostImageStorage"/>'s small writes on io_uring (<c>HostWriteCombiner</c>): one writer at a time, writes
/// that find it busy queue behind it and are written by it, adjacent ones as one pwritev. The tests build a batch on
/// purpose by holding the writer (<see cref="HostImageStorage.HoldWriter"/>), so what is in one batch is known, then
/// check the bytes in the file, each write's own result, the order of overlapping writes, and closing under a batch.
/// </summary>
public sealed class HostWriteCombinerTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("photon-write-combiner-").FullName;

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
    public async Task Adjacent_writes_queued_behind_the_writer_land_byte_exact_in_one_pwritev()
    {
        const int blocks = 32;
        var path = Image(blocks * 4096 + 8192);
        var expected = Pattern(blocks * 4096, 1);
        await using var storage = HostImageStorage.Open(path, backend: HostStorageBackend.IoUring).Value;
        var pending = new List<ValueTask>();
        using (storage.HoldWriter())
        {
            // Submitted out of order (odd blocks, then even ones backwards): the batch is written in offset order.
            foreach (int b in Enumerable.Range(0, blocks).Where(b => b % 2 == 1).Concat(Enumerable.Range(0, blocks).Where(b => b % 2 == 0).Reverse()))
            {
                var w = storage.WriteAsync(4096 + b * 4096L, expected.AsMemory(b * 4096, 4096));
                Assert.False(w.IsCompleted, "a write behind a busy writer waits for it");
                pending.Add(w);
            }
        }
        foreach (var w in pending) await w.AsTask().WaitAsync(Patience);
        Assert.Equal((1L, (long)blocks), storage.VectoredWrites);
        Assert.Equal(blocks, storage.QueuedWrites);
        Assert.Equal(blocks, storage.InlineWrites);
        var ring = storage.RingCounters;
        Assert.Equal(0, ring.Inline + ring.Deferred);
        var file = await File.ReadAllBytesAsync(path);
        Assert.True(file.AsSpan(0, 4096).SequenceEqual(new byte[4096]), "nothing before the first block");
        Assert.True(file.AsSpan(4096, expected.Length).SequenceEqual(expected), "the blocks, in place");
        Assert.True(file.AsSpan(4096 + expected.Length).SequenceEqual(new byte[4096]), "nothing after the last block");
    }

    [Fact]
    public async Task Overlapping_and_duplicate_writes_in_one_batch_land_in_submission_order()
    {
        var path = Image(64 * 1024);
        await using var storage = HostImageStorage.Open(path, backend: HostStorageBackend.IoUring).Value;
        // (offset, length, seed) in submission order: a duplicate of the same block, a write over two blocks that the
        // next one partly overwrites, a neighbour of it, and a later write back over the start.
        var writes = new (long Offset, int Length, int Seed)[]
        {
            (0, 4096, 10), (0, 4096, 11), (4096, 8192, 12), (8192, 4096, 13), (12288, 4096, 14), (2048, 4096, 15), (12288, 512, 16),
        };
        var model = new byte[64 * 1024];
        var pending = new List<ValueTask>();
        using (storage.HoldWriter())
            foreach (var (offset, length, seed) in writes)
            {
                var data = Pattern(length, seed);
                data.CopyTo(model, offset);
                pending.Add(storage.WriteAsync(offset, data));
            }
        foreach (var w in pending) await w.AsTask().WaitAsync(Patience);
        Assert.Equal(writes.Length, storage.QueuedWrites);
        Assert.Equal(model, await File.ReadAllBytesAsync(path));
    }

    /// <summary>The largest file size the temp directory's filesystem allows (ext4 with 4 KiB blocks: 16 TiB - 4 KiB),
    /// found by writing one byte at a time; past it a write is refused with EFBIG, and a write across it is short.</summary>
    private static long MaxFileSize(string path)
    {
        using var h = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        long lo = 1L << 30, hi = 1L << 60;
        while (hi - lo > 1)
        {
            long mid = lo + (hi - lo) / 2;
            try { RandomAccess.Write(h, new byte[1], mid); lo = mid; }
            catch (Exception e) when (e is IOException or ArgumentOutOfRangeException) { hi = mid; } // EFBIG (.NET maps it to the latter)
        }
        RandomAccess.SetLength(h, 1 << 20);
        return hi;
    }

    [Fact]
    public async Task An_error_in_the_middle_of_a_coalesced_write_completes_each_write_with_its_own_result()
    {
        var path = Image(1 << 20);
        long max = MaxFileSize(path);
        Assert.True(max < 1L << 60, "the temp directory's filesystem has a file size limit (ext4 here)");
        await using var storage = HostImageStorage.Open(path, backend: HostStorageBackend.IoUring).Value;
        var blocks = Enumerable.Range(0, 4).Select(i => Pattern(4096, 20 + i)).ToArray();
        var elsewhere = Pattern(4096, 30);
        var pending = new ValueTask[5];
        using (storage.HoldWriter())
        {
            // Four adjacent blocks across the limit: the pwritev is short after two, the other two are refused.
            for (int i = 0; i < 4; i++) pending[i] = storage.WriteAsync(max - 8192 + i * 4096L, blocks[i]);
            pending[4] = storage.WriteAsync(8192, elsewhere);
        }
        await pending[0].AsTask().WaitAsync(Patience);
        await pending[1].AsTask().WaitAsync(Patience);
        await pending[4].AsTask().WaitAsync(Patience);
        for (int i = 2; i < 4; i++)
        {
            var e = await Assert.ThrowsAsync<KernelException>(() => pending[i].AsTask().WaitAsync(Patience));
            Assert.Equal(ErrorCode.IoError, e.Code);
            Assert.Contains("EFBIG", e.Message);
        }
        Assert.Equal((1L, 2L), storage.VectoredWrites);
        var back = new byte[8192];
        Assert.Equal(8192, await storage.ReadAsync(max - 8192, back));
        Assert.True(back.AsSpan(0, 4096).SequenceEqual(blocks[0]) && back.AsSpan(4096).SequenceEqual(blocks[1]));
        var other = new byte[4096];
        Assert.Equal(4096, await storage.ReadAsync(8192, other));
        Assert.Equal(elsewhere, other);
    }

    [Fact]
    public async Task Writes_queued_when_closing_begins_end_Closed_and_never_reach_the_file()
    {
        var path = Image(1 << 20);
        var storage = HostImageStorage.Open(path, backend: HostStorageBackend.IoUring).Value;
        var data = Pattern(4096, 40);
        var pending = new List<ValueTask>();
        Task closing;
        using (storage.HoldWriter())
        {
            for (int i = 0; i < 16; i++) pending.Add(storage.WriteAsync(i * 4096L, data));
            closing = Task.Run(async () => await storage.DisposeAsync());
            // Until the close is under way, a new write still queues (and then ends Closed with the rest); once it is,
            // a new write is refused at once.
            var deadline = DateTime.UtcNow + Patience;
            while (true)
            {
                var w = storage.WriteAsync(1 << 19, data);
                if (w.IsFaulted)
                {
                    var refused = await Assert.ThrowsAsync<KernelException>(async () => await w);
                    Assert.Equal(ErrorCode.Closed, refused.Code);
                    break;
                }
                pending.Add(w);
                Assert.True(DateTime.UtcNow < deadline, "closing never began");
                Thread.Sleep(1);
            }
            Assert.False(closing.IsCompleted, "closing waits for the queued writes");
        }
        foreach (var w in pending)
        {
            var e = await Assert.ThrowsAsync<KernelException>(() => w.AsTask().WaitAsync(Patience));
            Assert.Equal(ErrorCode.Closed, e.Code);
        }
        await closing.WaitAsync(Patience);
        Assert.Equal(0, storage.InlineWrites);
        Assert.Equal(new byte[1 << 20], await File.ReadAllBytesAsync(path));
    }

    [Fact]
    public async Task A_write_far_from_a_busy_writer_lands_beside_it_and_is_acknowledged_only_once_in_the_file()
    {
        var path = Image(64L << 20);
        await using var storage = HostImageStorage.Open(path, backend: HostStorageBackend.IoUring).Value;
        var first = Pattern(4096, 70);
        var second = Pattern(4096, 71);
        const long far = 32L << 20; // beyond NearBytes from the held writer's write
        var back = new byte[4096];
        using (storage.HoldWriterAt(0))
        {
            // Done while the writer is still busy: beside it, not behind it.
            await storage.WriteAsync(far, first).AsTask().WaitAsync(Patience);
            Assert.Equal(1, storage.FarWrites);
            Assert.True(File.ReadAllBytes(path).AsSpan((int)far, 4096).SequenceEqual(first), "acknowledged: in the file");
            // Submitted after the first one's completion: lands after it, though both take the far path.
            await storage.WriteAsync(far, second).AsTask().WaitAsync(Patience);
            // A flush begun after both completions covers them (fdatasync, after their pwrites returned).
            await storage.FlushAsync().AsTask().WaitAsync(Patience);
            Assert.Equal(4096, await storage.ReadAsync(far, back));
            Assert.Equal(second, back);
        }
        Assert.Equal(2, storage.FarWrites);
        Assert.Equal(0, storage.InlineWrites);
        var ring = storage.RingCounters;
        Assert.Equal(0, storage.RingWriteAttempts.Refused + storage.RingWriteAttempts.StraightToRing);
        Assert.Equal(1, ring.Inline + ring.Deferred); // the flush alone (the read was a page-cache copy)
    }

    [Fact]
    public async Task Closing_while_lanes_write_far_apart_ends_each_write_done_or_Closed_and_done_ones_are_in_the_file()
    {
        const int lanes = 16, perLane = 200;
        var path = Image(256L << 20);
        var storage = HostImageStorage.Open(path, backend: HostStorageBackend.IoUring).Value;
        var done = new System.Collections.Concurrent.ConcurrentBag<(long Offset, byte Value)>();
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tasks = Enumerable.Range(0, lanes).Select(lane => Task.Run(async () =>
        {
            var rng = new Random(lane);
            await go.Task;
            for (int i = 0; i < perLane; i++)
            {
                long offset = rng.NextInt64(0, (256L << 20) / 4096) * 4096; // scattered: far from each other
                byte value = (byte)(1 + (lane * perLane + i) % 255);
                var data = new byte[4096];
                Array.Fill(data, value);
                try
                {
                    await storage.WriteAsync(offset, data);
                    done.Add((offset, value));
                }
                catch (KernelException e) when (e.Code == ErrorCode.Closed) { return; }
            }
        })).ToArray();
        go.SetResult();
        while (done.Count < lanes * perLane / 4) await Task.Delay(1);
        await storage.DisposeAsync().AsTask().WaitAsync(Patience);
        await Task.WhenAll(tasks).WaitAsync(Patience);
        // Each acknowledged write is in the file unless a later acknowledged one (another lane's) took its block.
        var file = await File.ReadAllBytesAsync(path);
        var last = new Dictionary<long, HashSet<byte>>();
        foreach (var (offset, value) in done) (last.TryGetValue(offset, out var set) ? set : last[offset] = new HashSet<byte>()).Add(value);
        foreach (var (offset, values) in last)
        {
            byte b = file[offset];
            Assert.Contains(b, values);
            Assert.True(file.AsSpan((int)offset, 4096).IndexOfAnyExcept(b) < 0, $"block at {offset} is one write's bytes whole");
        }
    }

    [Fact]
    public async Task After_concurrent_writes_a_lone_writer_is_written_at_once_again()
    {
        var path = Image(1 << 20);
        await using var storage = HostImageStorage.Open(path, backend: HostStorageBackend.IoUring).Value;
        var data = Pattern(4096, 50);
        ValueTask a, b;
        using (storage.HoldWriter())
        {
            a = storage.WriteAsync(0, data);
            b = storage.WriteAsync(4096, data);
        }
        await a;
        await b;
        // Writes were concurrent: the next ones are deferred to a drain (so later ones may join), until a few batches of
        // one in a row show writes come one at a time; then a write is done inside its call again.
        bool atOnce = false;
        for (int i = 2; i < 64 && !atOnce; i++)
        {
            var w = storage.WriteAsync(i * 4096L, data);
            atOnce = w.IsCompletedSuccessfully;
            await w.AsTask().WaitAsync(Patience);
        }
        Assert.True(atOnce, "a lone writer's write finished inside its call again");
    }

    [Fact]
    public async Task Many_lanes_of_small_writes_leave_every_byte_and_count_each_write_once()
    {
        // The bench's shape: 32 lanes, lane k writing blocks k, k+32, ... (neighbours come from different lanes), some
        // lanes with 8 KiB writes, repeated over the same range so later rounds overwrite earlier ones.
        const int lanes = 32, blocks = 2048, rounds = 3;
        var path = Image(blocks * 4096L + 4096);
        var final = Pattern(blocks * 4096 + 4096, 60);
        await using (var storage = HostImageStorage.Open(path, backend: HostStorageBackend.IoUring).Value)
        {
            long writes = 0;
            for (int round = 0; round < rounds; round++)
            {
                var source = round == rounds - 1 ? final : Pattern(final.Length, 61 + round);
                var tasks = Enumerable.Range(0, lanes).Select(lane => Task.Run(async () =>
                {
                    int n = 0;
                    for (int b = lane; b < blocks; b += lanes, n++)
                    {
                        int length = lane % 4 == 3 ? 8192 : 4096; // overlaps its neighbour: order within a round is free, the last round's bytes must win over the earlier rounds'
                        await storage.WriteAsync(b * 4096L, source.AsMemory(b * 4096, length));
                    }
                    return n;
                })).ToArray();
                writes += (await Task.WhenAll(tasks).WaitAsync(Patience)).Sum();
            }
            var ring = storage.RingCounters; // a write far from the busy writer's goes to the far writer, not the ring
            Assert.Equal(writes, storage.InlineWrites + storage.FarWrites);
            Assert.Equal(0, ring.Inline + ring.Deferred);
            Assert.True(storage.VectoredWrites.Writes <= storage.QueuedWrites);
        }
        // Within the last round, 8 KiB writes overlap the next block's 4 KiB write with the same bytes (one source).
        var file = await File.ReadAllBytesAsync(path);
        Assert.True(file.AsSpan(0, blocks * 4096).SequenceEqual(final.AsSpan(0, blocks * 4096)), "the last round's bytes everywhere");
    }
}
