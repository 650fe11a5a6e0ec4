using Photon.Kernel.Capabilities;
using Photon.Kernel.Memory;

namespace Photon.Kernel.Tests.Memory;

public sealed class MemoryManagerTests : IDisposable
{
    private static readonly Principal Owner = new("owner", "/");
    private static readonly Principal Other = new("other", "/");
    private readonly PhysicalMemory _phys = new(16 * 1024 * 1024);
    private readonly CapabilityManager _caps = new();
    private readonly MemoryManager _mm;

    public MemoryManagerTests() => _mm = new MemoryManager(_phys, _caps);

    public void Dispose() => _phys.Dispose();

    [Fact]
    public void Regions_are_page_granular_zeroed_and_readable_through_their_capability()
    {
        var r = _mm.Allocate(5000, Owner).Value;
        Assert.Equal(8192, _mm.LengthOf(r).Value);
        var buf = new byte[8192];
        Array.Fill(buf, (byte)0xAA);
        _mm.Read(r, 0, buf).Unwrap();
        Assert.All(buf, b => Assert.Equal(0, b));
        _mm.Write(r, 100, "hello"u8).Unwrap();
        var five = new byte[5];
        _mm.Read(r, 100, five).Unwrap();
        Assert.Equal("hello"u8.ToArray(), five);
    }

    [Fact]
    public void A_region_without_a_label_is_named_after_its_owner_in_listings_and_audit_records()
    {
        // The default label is built when read, not per allocation; what readers see must not change.
        var audit = new Photon.Kernel.Audit.InMemoryAuditSink();
        var caps = new CapabilityManager(audit);
        var mm = new MemoryManager(_phys, caps);
        var r = mm.Allocate(4096, Owner).Value;
        var named = mm.Allocate(4096, Owner, "dma-ring").Value;
        Assert.Equal("region@owner", caps.Inspect(r).Value.Object.Label);
        Assert.Equal("dma-ring", caps.Inspect(named).Value.Object.Label);
        mm.Free(r, Owner).Unwrap();
        Assert.Contains(audit.Snapshot(), e => e.Action == Photon.Kernel.Audit.AuditAction.Revoke && e.ObjectLabel == "region@owner");
    }

    [Fact]
    public void Out_of_range_access_is_a_typed_error()
    {
        var r = _mm.Allocate(4096, Owner).Value;
        Assert.Equal(ErrorCode.OutOfRange, _mm.Write(r, 4090, new byte[7]).Code);
        Assert.Equal(ErrorCode.OutOfRange, _mm.Read(r, -1, new byte[1]).Code);
        Assert.Equal(ErrorCode.OutOfRange, _mm.Read(r, long.MaxValue, new byte[1]).Code);
        Assert.Equal(ErrorCode.InvalidArgument, _mm.Allocate(0, Owner).Code);
    }

    [Fact]
    public void Read_only_share_cannot_write_or_map_writable()
    {
        var r = _mm.Allocate(4096, Owner).Value;
        _mm.Write(r, 0, "data"u8).Unwrap();
        var ro = _mm.ShareReadOnly(r, Other).Value;
        var buf = new byte[4];
        _mm.Read(ro, 0, buf).Unwrap();
        Assert.Equal("data"u8.ToArray(), buf);
        Assert.Equal(ErrorCode.AccessDenied, _mm.Write(ro, 0, "x"u8).Code);
        using var map = _mm.Map(ro).Value;
        Assert.False(map.IsWritable);
        var first = new byte[1];
        map.Read(0, first).Unwrap();
        Assert.Equal((byte)'d', first[0]);
        Assert.Equal(ErrorCode.AccessDenied, map.Write(0, [1]).Code);
        Assert.Equal(ErrorCode.AccessDenied, map.Update(0, 1, 0, (span, _) => span[0] = 1).Code);
        _mm.Read(ro, 0, buf).Unwrap();
        Assert.Equal("data"u8.ToArray(), buf);
    }

    [Fact]
    public void Mapping_gives_direct_access_and_fails_after_revoke_without_use_after_free()
    {
        var r = _mm.Allocate(4096, Owner).Value;
        var map = _mm.Map(r).Value;
        map.Update(10, 1, 42, (span, v) => span[0] = (byte)v).Unwrap();
        var one = new byte[1];
        _mm.Read(r, 10, one).Unwrap();
        Assert.Equal(42, one[0]);
        long freeBefore = _phys.FreeFrames;
        _mm.Free(r).Unwrap();
        // No span outlives the capability, so nothing pins the frames: they are back at once.
        Assert.Equal(freeBefore + 1, _phys.FreeFrames);
        Assert.Equal(ErrorCode.Revoked, map.Read(0, one).Code);
        Assert.Equal(ErrorCode.Revoked, map.View(0, 1, 0, (_, _) => Assert.Fail("ran after revoke")).Code);
        Assert.False(map.IsValid);
        map.Dispose();
        Assert.Equal(ErrorCode.Closed, map.Read(0, one).Code);
    }

    [Fact]
    public void Revoking_the_capability_reclaims_the_frames()
    {
        long free = _phys.FreeFrames;
        var r = _mm.Allocate(64 * 1024, Owner).Value;
        Assert.Equal(free - 16, _phys.FreeFrames);
        var shared = _mm.ShareReadOnly(r, Other).Value;
        _caps.Revoke(r);
        Assert.Equal(free, _phys.FreeFrames);
        Assert.Equal(ErrorCode.Revoked, _mm.Read(shared, 0, new byte[1]).Code);
        Assert.Equal(0, _mm.LiveRegions);
    }

    [Fact]
    public void Double_free_is_a_typed_error()
    {
        var r = _mm.Allocate(4096, Owner).Value;
        Assert.True(_mm.Free(r).IsOk);
        // The region's capability is dead: a second free through it is refused by the capability check (the manager
        // keeps no list of freed tokens); a second free of the frames themselves is caught by the frame bitmap.
        Assert.Equal(ErrorCode.Revoked, _mm.Free(r).Code);
        var frames = _phys.Allocate(3).Value;
        Assert.True(_phys.Free(frames, 3).IsOk);
        Assert.Equal(ErrorCode.DoubleFree, _phys.Free(frames, 3).Code);
        Assert.Equal(ErrorCode.OutOfRange, _phys.Free(_phys.TotalFrames, 1).Code);
    }

    [Fact]
    public void Out_of_memory_is_a_typed_error_and_memory_is_usable_again_after_frees()
    {
        var held = new List<CapabilityToken>();
        Result<CapabilityToken> r;
        while ((r = _mm.Allocate(1024 * 1024, Owner)).IsOk) held.Add(r.Value);
        Assert.Equal(ErrorCode.OutOfMemory, r.Code);
        Assert.Equal(16, held.Count);
        foreach (var h in held) _mm.Free(h).Unwrap();
        Assert.Equal(_phys.TotalFrames, _phys.FreeFrames);
        Assert.True(_mm.Allocate(16 * 1024 * 1024, Owner).IsOk); // fully coalesced again
    }

    [Fact]
    public void Split_produces_two_regions_and_revokes_the_original_holders()
    {
        var r = _mm.Allocate(4 * 4096, Owner).Value;
        _mm.Write(r, 4096 * 3, "tail"u8).Unwrap();
        var shared = _mm.ShareReadOnly(r, Other).Value;
        var (lo, hi) = _mm.Split(r, 4096).Value;
        Assert.Equal(4096, _mm.LengthOf(lo).Value);
        Assert.Equal(3 * 4096, _mm.LengthOf(hi).Value);
        var buf = new byte[4];
        _mm.Read(hi, 2 * 4096, buf).Unwrap();
        Assert.Equal("tail"u8.ToArray(), buf);
        Assert.Equal(ErrorCode.Revoked, _mm.Read(shared, 0, buf).Code);
        Assert.Equal(ErrorCode.OutOfRange, _mm.Split(hi, 100).Code);
        long free = _phys.FreeFrames;
        _mm.Free(lo).Unwrap();
        _mm.Free(hi).Unwrap();
        Assert.Equal(free + 4, _phys.FreeFrames);
    }

    [Fact]
    public void Random_allocate_free_sequences_never_lose_or_double_count_frames()
    {
        var rng = new Random(7);
        var live = new List<(long Start, long Pages)>();
        for (int i = 0; i < 20_000; i++)
        {
            if (live.Count > 0 && rng.Next(2) == 0)
            {
                int k = rng.Next(live.Count);
                Assert.True(_phys.Free(live[k].Start, live[k].Pages).IsOk);
                live.RemoveAt(k);
            }
            else
            {
                long pages = rng.Next(1, 40);
                var a = _phys.Allocate(pages);
                if (a.IsOk) live.Add((a.Value, pages));
                else Assert.Equal(ErrorCode.OutOfMemory, a.Code);
            }
            Assert.Equal(_phys.TotalFrames - live.Sum(l => l.Pages), _phys.FreeFrames);
        }
        // No two live blocks overlap.
        var sorted = live.OrderBy(l => l.Start).ToList();
        for (int i = 1; i < sorted.Count; i++) Assert.True(sorted[i - 1].Start + sorted[i - 1].Pages <= sorted[i].Start);
    }
}
