using Photon.Kernel.Memory;
using Photon.Memory.Native;

namespace Photon.Kernel.Tests.Memory;

/// <summary>The unsafe arena under physical memory: its spans stay inside the page run asked for, or it throws.</summary>
public sealed class NativeArenaTests
{
    private const int Page = 4096;

    [Fact]
    public void A_fresh_arena_is_zeroed_and_page_runs_see_each_others_bytes_at_the_right_place()
    {
        using var arena = new NativeArena(8 * Page, Page);
        Assert.Equal(8, arena.PageCount);
        Assert.Equal(8L * Page, arena.Length);
        Assert.All(arena.Pages(0, 8, 0, 8 * Page).ToArray(), b => Assert.Equal(0, b));

        "frame three"u8.CopyTo(arena.Pages(3, 2, 10, 11));
        // The same bytes through a run that starts a page earlier, and through the whole arena.
        Assert.Equal("frame three"u8.ToArray(), arena.Pages(2, 2, Page + 10, 11).ToArray());
        Assert.Equal("frame three"u8.ToArray(), arena.Pages(0, 8, 3 * Page + 10, 11).ToArray());

        arena.Pages(3, 1, 0, Page).Fill(0xAA);
        arena.Pages(4, 1, 0, Page).Fill(0xBB);
        arena.Clear(3, 1);
        Assert.All(arena.Pages(3, 1, 0, Page).ToArray(), b => Assert.Equal(0, b));
        Assert.All(arena.Pages(4, 1, 0, Page).ToArray(), b => Assert.Equal(0xBB, b)); // the neighbour is untouched
    }

    [Theory]
    [InlineData(-1, 1)]             // before the arena
    [InlineData(7, 2)]              // past the end
    [InlineData(0, 0)]              // empty
    [InlineData(0, 9)]              // longer than the arena
    [InlineData(long.MaxValue, 1)]  // would overflow a byte offset
    public void Page_runs_outside_the_arena_are_refused(long firstPage, long pages)
    {
        using var arena = new NativeArena(8 * Page, Page);
        Assert.Throws<ArgumentOutOfRangeException>(() => { arena.Pages(firstPage, pages, 0, 0); });
        Assert.Throws<ArgumentOutOfRangeException>(() => arena.Clear(firstPage, pages));
    }

    [Theory]
    [InlineData(-1, 1)]             // before the run
    [InlineData(4000, 97)]          // past the run, though still inside the arena
    [InlineData(0, -1)]
    [InlineData(long.MaxValue, 1)]
    public void Bytes_outside_the_page_run_are_refused(long offset, int length)
    {
        using var arena = new NativeArena(8 * Page, Page);
        Assert.Throws<ArgumentOutOfRangeException>(() => { arena.Pages(2, 1, offset, length); });
    }

    [Theory]
    [InlineData(0, Page)]
    [InlineData(Page + 1, Page)]
    [InlineData(Page / 2, Page)]
    [InlineData(8 * Page, 3000)] // not a power of two
    [InlineData(8 * Page, 0)]
    public void Sizes_that_are_not_whole_power_of_two_pages_are_refused(long bytes, int pageSize) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new NativeArena(bytes, pageSize));

    [Fact]
    public void A_freed_arena_hands_out_no_more_spans_and_may_be_disposed_twice()
    {
        var arena = new NativeArena(2 * Page, Page);
        arena.Dispose();
        Assert.Throws<ObjectDisposedException>(() => { arena.Pages(0, 1, 0, 1); });
        Assert.Throws<ObjectDisposedException>(() => arena.Clear(0, 1));
        arena.Dispose();
    }

    [Fact]
    public void Physical_memory_hands_out_zeroed_frames_from_its_arena_even_after_they_were_written_and_freed()
    {
        using var phys = new PhysicalMemory(16 * Page);
        long first = phys.Allocate(3).Value;
        phys.WritableFrames(first, 3, 0, 3 * Page).Fill(0xCC);
        phys.Free(first, 3).Unwrap();
        long again = phys.Allocate(16).Value; // the whole arena, so it includes the dirty frames
        Assert.All(phys.Frames(again, 16, 0, 16 * Page).ToArray(), b => Assert.Equal(0, b));
        Assert.Throws<KernelException>(() => { phys.Frames(again, 16, 1, 16 * Page); });
    }
}
