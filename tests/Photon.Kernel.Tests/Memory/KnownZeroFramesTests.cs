using Photon.Kernel.Capabilities;
using Photon.Kernel.Memory;

namespace Photon.Kernel.Tests.Memory;

/// <summary>
/// Frames are zeroed when handed out only if they were written since they were last zero: a region's next owner must
/// never see an earlier owner's bytes, whichever way they were written, and an unwritten region costs no zeroing.
/// </summary>
public sealed class KnownZeroFramesTests : IDisposable
{
    private const int Page = PhysicalMemory.PageSize;
    private static readonly Principal Owner = new("owner", "/");
    private static readonly Principal Next = new("next", "/");
    private readonly PhysicalMemory _phys = new(4 * 1024 * 1024);
    private readonly CapabilityManager _caps = new();
    private readonly MemoryManager _mm;

    public KnownZeroFramesTests() => _mm = new MemoryManager(_phys, _caps);

    public void Dispose() => _phys.Dispose();

    public static TheoryData<string> WritePaths => ["manager write", "mapping write", "mapping update"];

    [Theory]
    [MemberData(nameof(WritePaths))]
    public void Bytes_written_by_an_owner_never_reach_the_next_owner_of_the_same_frames(string path)
    {
        var r = _mm.Allocate(4 * Page, Owner).Value;
        long first = FirstFrame(r);
        // One byte at the very end of the last page, and a run across the first page boundary.
        WriteThrough(path, r, 4 * Page - 1, [0x5A]);
        WriteThrough(path, r, Page - 2, [1, 2, 3, 4]);
        _mm.Free(r, Owner).Unwrap();

        var again = _mm.Allocate(4 * Page, Next).Value;
        Assert.Equal(first, FirstFrame(again)); // the same frames, back from the frame cache
        var seen = new byte[4 * Page];
        _mm.Read(again, 0, seen, Next).Unwrap();
        Assert.True(seen.AsSpan().IndexOfAnyExcept((byte)0) < 0, $"a byte written through the {path} survived the free");
        Assert.Equal(0, _phys.DirtyFrames);
    }

    [Fact]
    public void Only_the_frames_a_write_touched_are_zeroed_again()
    {
        Assert.Equal(0, _phys.DirtyFrames);
        var r = _mm.Allocate(4 * Page, Owner).Value;
        _mm.Free(r, Owner).Unwrap();
        Assert.Equal(0, _phys.DirtyFrames); // allocated and freed unwritten: still known zero

        r = _mm.Allocate(4 * Page, Owner).Value;
        _mm.Write(r, 2 * Page + 10, "x"u8, Owner).Unwrap();
        Assert.Equal(1, _phys.DirtyFrames);
        var seen = new byte[4 * Page];
        _mm.Read(r, 0, seen, Owner).Unwrap(); // reads mark nothing
        Assert.Equal(1, _phys.DirtyFrames);
        _mm.Free(r, Owner).Unwrap();
        Assert.Equal(1, _phys.DirtyFrames); // freed dirty: zeroed when handed out, not before

        var again = _mm.Allocate(4 * Page, Next).Value;
        Assert.Equal(0, _phys.DirtyFrames);
        _mm.Read(again, 0, seen, Next).Unwrap();
        Assert.True(seen.AsSpan().IndexOfAnyExcept((byte)0) < 0);
    }

    [Fact]
    public void Dirty_frames_merged_back_into_a_larger_block_are_zeroed_for_its_owner()
    {
        // Written small blocks coalesce in the buddy lists; a larger allocation covering them must still be clean.
        var small = Enumerable.Range(0, 8).Select(_ => _mm.Allocate(Page, Owner).Value).ToList();
        foreach (var r in small) _mm.Write(r, 0, new byte[Page].Select(_ => (byte)0xEE).ToArray(), Owner).Unwrap();
        foreach (var r in small) _mm.Free(r, Owner).Unwrap();
        var big = _mm.Allocate(_phys.FreeFrames * Page, Next).Value; // every free frame, dirty ones included
        var seen = new byte[Page];
        for (long offset = 0; offset < _mm.LengthOf(big).Value; offset += Page)
        {
            _mm.Read(big, offset, seen, Next).Unwrap();
            Assert.True(seen.AsSpan().IndexOfAnyExcept((byte)0) < 0, $"page at {offset} kept an earlier owner's bytes");
        }
    }

    [Fact]
    public void A_split_region_written_through_a_half_is_zeroed_for_the_next_owner()
    {
        var r = _mm.Allocate(2 * Page, Owner).Value;
        var (low, high) = _mm.Split(r, Page, Owner).Value;
        _mm.Write(high, Page - 1, "z"u8, Owner).Unwrap();
        _mm.Free(low, Owner).Unwrap();
        _mm.Free(high, Owner).Unwrap();
        var again = _mm.Allocate(_phys.FreeFrames * Page, Next).Value;
        var seen = new byte[Page];
        for (long offset = 0; offset < _mm.LengthOf(again).Value; offset += Page)
        {
            _mm.Read(again, offset, seen, Next).Unwrap();
            Assert.True(seen.AsSpan().IndexOfAnyExcept((byte)0) < 0);
        }
    }

    private long FirstFrame(CapabilityToken region) => ((MemoryRegion)_caps.Inspect(region).Value.Object).FirstFrame;

    private void WriteThrough(string path, CapabilityToken region, long offset, byte[] bytes)
    {
        switch (path)
        {
            case "manager write":
                _mm.Write(region, offset, bytes, Owner).Unwrap();
                break;
            case "mapping write":
            {
                using var map = _mm.Map(region, Owner).Value;
                map.Write(offset, bytes).Unwrap();
                break;
            }
            default:
            {
                using var map = _mm.Map(region, Owner).Value;
                map.Update(offset, bytes.Length, bytes, static (span, b) => b.CopyTo(span)).Unwrap();
                break;
            }
        }
    }
}
