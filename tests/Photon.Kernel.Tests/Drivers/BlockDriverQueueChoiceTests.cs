using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Block;
using Photon.Kernel.Hal;

namespace Photon.Kernel.Tests.Drivers;

/// <summary>
/// A submitting thread has a home queue pair, but requests beyond that pair's depth go to the others: one thread can
/// keep every pair's depth in flight, so queue depth is the device's, not one pair's.
/// </summary>
public sealed class BlockDriverQueueChoiceTests
{
    /// <summary>Storage whose reads all wait for one gate (requests stay in flight until the test opens it).</summary>
    private sealed class GatedStorage : IBlockStorage
    {
        public readonly TaskCompletionSource Gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int Started;
        public string Name => "gated";
        public long Length => 1 << 20;
        public bool IsReadOnly => false;

        public async ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken ct = default)
        {
            Interlocked.Increment(ref Started);
            await Gate.Task.ConfigureAwait(false);
            buffer.Span.Fill((byte)(offset / 512));
            return buffer.Length;
        }

        public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken ct = default) => default;
        public ValueTask FlushAsync(CancellationToken ct = default) => default;
        public ValueTask DisposeAsync() => default;
    }

    [Fact]
    public async Task One_thread_fills_every_pair_before_any_request_waits_for_ring_space()
    {
        const int pairs = 4, depth = 8;
        var storage = new GatedStorage();
        var (dev, cap) = NvmeBlockDevice.Start(storage, new CapabilityManager(), new NvmeOptions(QueuePairs: pairs, QueueDepth: depth)).Value;
        var buffers = Enumerable.Range(0, pairs * depth).Select(_ => new byte[512]).ToArray();
        // All submitted from this one thread, none completing: only spreading over the pairs puts all 32 in the storage.
        var reads = buffers.Select((b, i) => dev.ReadAsync(cap, i, b)).ToArray();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (Volatile.Read(ref storage.Started) < pairs * depth)
        {
            Assert.True(DateTime.UtcNow < deadline, $"only {storage.Started} of {pairs * depth} reads reached the storage");
            await Task.Delay(1);
        }
        Assert.All(dev.Queues, q => Assert.Equal(depth, q.Stats.InFlight));
        Assert.All(dev.Queues, q => Assert.Equal(0, q.Stats.RingFull));
        storage.Gate.SetResult();
        var results = await Task.WhenAll(reads).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.All(results, r => Assert.True(r.IsOk));
        for (int i = 0; i < buffers.Length; i++) Assert.All(buffers[i], x => Assert.Equal((byte)i, x));
        await dev.DisposeAsync();
    }
}
