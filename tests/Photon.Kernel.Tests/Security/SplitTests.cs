using Photon.Kernel.Capabilities;
using Photon.Kernel.Memory;
using Photon.Kernel.Processes;
using Photon.Kernel.Quotas;
using static Photon.Kernel.Tests.Security.MappingRevocationTests;

namespace Photon.Kernel.Tests.Security;

/// <summary>
/// Issue #9, items 2 and 18: splitting a region kills every old capability and mapping to it, so recycled frames can
/// never be read through them; and a split the capability quota refuses changes nothing at all.
/// </summary>
public sealed class SplitTests : IDisposable
{
    private const int Page = PhysicalMemory.PageSize;
    private readonly SecurityKernel _k = new();

    public void Dispose() => _k.Dispose();

    private static long FirstFrame(Process p, Handle h) => p.Get<MemoryRegion>(h, Rights.None).Value.FirstFrame;

    // ---- item 2 ----

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_read_only_mapping_never_reads_a_secret_written_into_recycled_frames(bool split)
    {
        var a = _k.Spawn("a", _k.Tenant("tenant-a"));
        var b = _k.Spawn("b", _k.Tenant("tenant-b"));
        var c = _k.Spawn("c", _k.Tenant("tenant-c"));
        var region = a.AllocateMemory(4 * Page).Value;
        a.WriteMemory(region, 0, Fill(4 * Page, 0x11)).Unwrap();
        long frames = FirstFrame(a, region);
        var view = a.Delegate(region, b, Rights.Read | Rights.Map).Value;
        using var m = b.MapMemory(view).Value;
        Assert.False(m.IsWritable);
        var before = new byte[4];
        m.Read(0, before).Unwrap();
        Assert.Equal(Fill(4, 0x11), before);

        if (split)
        {
            var (lo, hi) = a.SplitMemory(region, 2 * Page).Value;
            // The split alone already kills the old mapping (the frames now belong to the halves).
            AssertEveryAccessRevoked(m);
            a.FreeMemory(lo).Unwrap();
            a.FreeMemory(hi).Unwrap();
        }
        else a.FreeMemory(region).Unwrap();

        // Another tenant gets the same frames (the buddy allocator hands the coalesced block back) and writes a secret.
        var secret = c.AllocateMemory(4 * Page).Value;
        Assert.Equal(frames, FirstFrame(c, secret));
        c.WriteMemory(secret, 0, Fill(4 * Page, 0x5E)).Unwrap();

        var seen = Fill(4 * Page, 0);
        Assert.Equal(ErrorCode.Revoked, m.Read(0, seen).Code);
        Assert.DoesNotContain((byte)0x5E, seen);
        bool lent = false;
        Assert.Equal(ErrorCode.Revoked, m.View(0, 4 * Page, 0, (_, _) => lent = true).Code);
        Assert.False(lent);
        Assert.False(m.IsValid);
        Assert.Equal(ErrorCode.Revoked, b.ReadMemory(view, 0, seen).Code);
        Assert.DoesNotContain((byte)0x5E, seen);
        Assert.Equal(ErrorCode.Revoked, b.MapMemory(view).Code);
    }

    [Fact]
    public void The_owner_own_mapping_dies_with_a_split_and_each_half_maps_only_its_own_frames()
    {
        var a = _k.Spawn("a", _k.Tenant("tenant-a"));
        var region = a.AllocateMemory(4 * Page).Value;
        using var whole = a.MapMemory(region).Value;
        whole.Write(0, Fill(4 * Page, 0x11)).Unwrap();
        var (lo, hi) = a.SplitMemory(region, Page).Value;
        AssertEveryAccessRevoked(whole);
        Assert.Equal(ErrorCode.InvalidHandle, a.ReadMemory(region, 0, new byte[1]).Code);
        using var low = a.MapMemory(lo).Value;
        using var high = a.MapMemory(hi).Value;
        Assert.Equal(Page, low.Length);
        Assert.Equal(3 * Page, high.Length);
        Assert.Equal(ErrorCode.OutOfRange, low.Read(Page, new byte[1]).Code);
        var buf = new byte[3 * Page];
        high.Read(0, buf).Unwrap();
        Assert.All(buf, x => Assert.Equal(0x11, x));
    }

    [Theory]
    [InlineData(Rights.Manage)]
    [InlineData(Rights.Manage | Rights.Read)]
    [InlineData(Rights.Manage | Rights.Read | Rights.Map)]
    public void A_split_never_gives_the_splitter_more_rights_than_its_capability_had(Rights delegated)
    {
        var a = _k.Spawn("a", _k.Tenant("tenant-a"));
        var b = _k.Spawn("b", _k.Tenant("tenant-b"));
        var region = a.AllocateMemory(4 * Page).Value;
        a.WriteMemory(region, 0, Fill(4 * Page, 0x11)).Unwrap();
        var inB = a.Delegate(region, b, delegated).Value;

        var (lo, hi) = b.SplitMemory(inB, 2 * Page).Value;

        foreach (var h in new[] { lo, hi })
        {
            Assert.Equal(delegated, _k.Sys.Handles.Inspect(b, h).Value.Rights);
            Assert.Equal(ErrorCode.AccessDenied, b.WriteMemory(h, 0, "overwrite"u8).Code);
            Assert.Equal(ErrorCode.AccessDenied, b.Duplicate(h, Rights.Read).Code);
            Assert.Equal(delegated.HasFlag(Rights.Map) ? ErrorCode.None : ErrorCode.AccessDenied, b.MapMemory(h).Code);
            if (b.MapMemory(h) is { IsOk: true } m)
            {
                Assert.False(m.Value.IsWritable);
                Assert.Equal(ErrorCode.AccessDenied, m.Value.Write(0, "overwrite"u8).Code);
            }
        }
        // Splitting a half again cannot widen them either.
        var (q, _) = b.SplitMemory(hi, Page).Value;
        Assert.Equal(delegated, _k.Sys.Handles.Inspect(b, q).Value.Rights);
        Assert.Equal(ErrorCode.Revoked, a.ReadMemory(region, 0, new byte[1]).Code); // the owner handed over Manage
    }

    // ---- item 18 ----

    /// <summary>Headroom 0: the low half is refused; 1: the high half is refused after the low one was issued.</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void A_split_refused_by_the_capability_quota_leaves_frames_quota_and_region_untouched(int headroom)
    {
        var a = _k.Spawn("a", _k.Tenant("tenant-a"));
        var region = a.AllocateMemory(4 * Page).Value;
        var data = Enumerable.Range(0, 4 * Page).Select(i => (byte)(i * 7)).ToArray();
        a.WriteMemory(region, 0, data).Unwrap();
        using var mapping = a.MapMemory(region).Value;
        var usage = _k.Quotas.Usage("/tenant-a");
        _k.Quotas.SetLimits("/tenant-a", new QuotaLimits(Capabilities: usage.Capabilities + headroom)).Unwrap();
        var footprint = _k.Footprint();
        long liveRegions = _k.Memory.LiveRegions, usedBytes = _k.Memory.UsedBytes;

        Assert.Equal(ErrorCode.QuotaExceeded, a.SplitMemory(region, 2 * Page).Code);

        Assert.Equal(footprint, _k.Footprint());
        Assert.Equal(liveRegions, _k.Memory.LiveRegions);
        Assert.Equal(usedBytes, _k.Memory.UsedBytes);
        Assert.Equal(usage, _k.Quotas.Usage("/tenant-a"));
        // The original is still there, with its data, through its handle and its mapping.
        var back = new byte[4 * Page];
        a.ReadMemory(region, 0, back).Unwrap();
        Assert.Equal(data, back);
        Assert.True(mapping.IsValid);
        mapping.Read(0, back).Unwrap();
        Assert.Equal(data, back);
        Assert.True(_k.Caps.VerifyInvariants().IsOk);
        var frames = FrameProbe.FreeMap(_k.Physical);
        var mr = a.Get<MemoryRegion>(region, Rights.None).Value;
        for (long f = mr.FirstFrame; f < mr.FirstFrame + mr.Pages; f++) Assert.False(frames[f], $"frame {f} of a live region is free");

        // With room, the same split goes through and the halves hold the data.
        _k.Quotas.SetLimits("/tenant-a", new QuotaLimits()).Unwrap();
        var (lo, hi) = a.SplitMemory(region, 2 * Page).Value;
        var half = new byte[2 * Page];
        a.ReadMemory(hi, 0, half).Unwrap();
        Assert.Equal(data[(2 * Page)..], half);
        a.ReadMemory(lo, 0, half).Unwrap();
        Assert.Equal(data[..(2 * Page)], half);
    }
}
