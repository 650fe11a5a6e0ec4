using Photon.Kernel.Capabilities;
using Photon.Kernel.Memory;

namespace Photon.Kernel.Tests.Memory;

/// <summary>The physical allocator's frame cache, and the one double-free detector (the frame bitmap).</summary>
public sealed class FrameCacheAndDoubleFreeTests : IDisposable
{
    private static readonly Principal Owner = new("owner", "/");
    private readonly PhysicalMemory _phys = new(4 * 1024 * 1024); // 1024 frames

    public void Dispose() => _phys.Dispose();

    [Fact]
    public void A_freed_small_block_is_cached_and_handed_out_again_zeroed()
    {
        long free = _phys.FreeFrames;
        var first = _phys.Allocate(4).Value;
        _phys.WritableFrames(first, 4, 0, 4 * PhysicalMemory.PageSize).Fill(0xAB);
        Assert.True(_phys.Free(first, 4).IsOk);
        Assert.Equal(4, _phys.CachedFrames);
        Assert.Equal(free, _phys.FreeFrames); // cached frames count as free

        var again = _phys.Allocate(4).Value;
        Assert.Equal(first, again);
        Assert.Equal(0, _phys.CachedFrames);
        Assert.True(_phys.Frames(again, 4, 0, 4 * PhysicalMemory.PageSize).IndexOfAnyExcept((byte)0) < 0);
    }

    [Fact]
    public void A_second_free_of_a_cached_block_is_a_double_free()
    {
        var f = _phys.Allocate(2).Value;
        Assert.True(_phys.Free(f, 2).IsOk);
        Assert.Equal(ErrorCode.DoubleFree, _phys.Free(f, 2).Code);
        Assert.Equal(ErrorCode.DoubleFree, _phys.Free(f + 1, 1).Code);
        Assert.Equal(2, _phys.CachedFrames); // the refused free changed nothing
    }

    [Fact]
    public void Two_freed_halves_of_a_block_merge_in_the_cache_and_come_back_as_the_whole_block()
    {
        var whole = _phys.Allocate(4).Value;
        Assert.True(_phys.Free(whole, 2).IsOk);
        Assert.True(_phys.Free(whole + 2, 2).IsOk);
        Assert.Equal(whole, _phys.Allocate(4).Value);
    }

    [Fact]
    public void Cached_frames_are_counted_free_and_merged_back_when_a_large_block_is_needed()
    {
        var frames = new List<long>();
        Result<long> r;
        while ((r = _phys.Allocate(1)).IsOk) frames.Add(r.Value);
        Assert.Equal(_phys.TotalFrames, frames.Count);
        Assert.Equal(ErrorCode.OutOfMemory, r.Code);

        // Free every even frame: no buddy is free, so the first 64 park in the cache and the rest go to the lists.
        foreach (var f in frames.Where(f => f % 2 == 0)) Assert.True(_phys.Free(f, 1).IsOk);
        Assert.Equal(64, _phys.CachedFrames);
        Assert.Equal(_phys.TotalFrames / 2, _phys.FreeFrames);
        // Fragmented: no two contiguous frames anywhere, cached or not.
        Assert.Equal(ErrorCode.OutOfMemory, _phys.Allocate(2).Code);

        // Free the rest: every frame coalesces (in the cache or the lists), and a request for all of memory drains the
        // cache back into the buddy lists instead of failing.
        foreach (var f in frames.Where(f => f % 2 == 1)) Assert.True(_phys.Free(f, 1).IsOk);
        Assert.Equal(_phys.TotalFrames, _phys.FreeFrames);
        Assert.True(_phys.CachedFrames > 0); // odd frames whose even buddies sit on the lists
        var all = _phys.Allocate(_phys.TotalFrames);
        Assert.True(all.IsOk, all.ToString());
        Assert.Equal(0, _phys.FreeFrames);
        Assert.Equal(0, _phys.CachedFrames);
        Assert.True(_phys.Free(all.Value, _phys.TotalFrames).IsOk);
        Assert.Equal(_phys.TotalFrames, _phys.FreeFrames);
    }

    [Fact]
    public void Freeing_a_region_twice_through_the_memory_manager_is_refused_and_returns_frames_once()
    {
        var caps = new CapabilityManager();
        var mm = new MemoryManager(_phys, caps);
        long free = _phys.FreeFrames;
        var region = mm.Allocate(16 * 1024, Owner).Value;
        Assert.True(mm.Free(region, Owner).IsOk);
        Assert.Equal(ErrorCode.Revoked, mm.Free(region, Owner).Code);
        Assert.Equal(free, _phys.FreeFrames);
        Assert.Equal(0, mm.LiveRegions);
    }

    [Fact]
    public void Concurrent_frees_of_one_region_succeed_exactly_once()
    {
        var caps = new CapabilityManager();
        var mm = new MemoryManager(_phys, caps);
        long free = _phys.FreeFrames;
        for (int round = 0; round < 200; round++)
        {
            var region = mm.Allocate(8 * 1024, Owner).Value;
            var results = new Result[4];
            using var go = new Barrier(results.Length);
            var threads = Enumerable.Range(0, results.Length).Select(i => new Thread(() =>
            {
                go.SignalAndWait();
                results[i] = mm.Free(region, Owner);
            })).ToArray();
            foreach (var t in threads) t.Start();
            foreach (var t in threads) t.Join();
            Assert.Equal(1, results.Count(x => x.IsOk));
            // A loser that checked before the winner revoked sees DoubleFree; one that checked after sees Revoked.
            Assert.All(results.Where(x => !x.IsOk), x => Assert.Contains(x.Code, new[] { ErrorCode.DoubleFree, ErrorCode.Revoked }));
        }
        Assert.Equal(free, _phys.FreeFrames);
        Assert.Equal(0, mm.LiveRegions);
        Assert.True(caps.VerifyInvariants().IsOk);
    }
}
