using Photon.Kernel.Capabilities;

namespace Photon.Kernel.Memory;

/// <summary>
/// Hands out capability-scoped memory regions. Every access goes through a capability check: reading needs
/// <see cref="Rights.Read"/>, writing <see cref="Rights.Write"/>, mapping <see cref="Rights.Map"/>, splitting and
/// freeing <see cref="Rights.Manage"/>. Sharing derives a read-only capability; revoking a region's capabilities
/// reclaims its frames.
/// </summary>
public sealed class MemoryManager
{
    /// <summary>Rights of a freshly allocated region's capability.</summary>
    public const Rights OwnerRights = Rights.Read | Rights.Write | Rights.Map | Rights.Delegate | Rights.Manage | Rights.Transfer;

    private readonly PhysicalMemory _physical;
    private readonly CapabilityManager _caps;
    // Live regions and their pages in one word, so an allocation or a free updates both with one atomic add:
    // regions in the bits from RegionShift up, pages below (2^38 pages is 1 PiB, beyond any arena).
    private const int RegionShift = 38;
    private const long PagesMask = (1L << RegionShift) - 1;
    private long _regionsAndPages;

    public MemoryManager(PhysicalMemory physical, CapabilityManager caps)
    {
        _physical = physical;
        _caps = caps;
    }

    public PhysicalMemory Physical => _physical;
    public long LiveRegions => Interlocked.Read(ref _regionsAndPages) >> RegionShift;
    public long UsedBytes => (Interlocked.Read(ref _regionsAndPages) & PagesMask) * PhysicalMemory.PageSize;

    /// <summary>Optional per-principal quota hook: called with the pages to charge (negative to refund).</summary>
    internal Func<Principal, long, Result>? Quota { get; set; }

    /// <summary>Allocates a zeroed region of at least <paramref name="bytes"/> (rounded up to whole pages).</summary>
    internal Result<CapabilityToken> Allocate(long bytes, Principal owner, string? label = null)
    {
        if (bytes <= 0) return Errors.Of(ErrorCode.InvalidArgument, "region size must be positive");
        if (bytes > _physical.TotalBytes) return Errors.Of(ErrorCode.OutOfMemory, $"{bytes} bytes exceed physical memory");
        long pages = (bytes + PhysicalMemory.PageSize - 1) / PhysicalMemory.PageSize;
        if (Quota is { } quota)
        {
            var q = quota(owner, pages);
            if (!q.IsOk) return q.Error;
        }
        var frames = _physical.Allocate(pages);
        if (!frames.IsOk)
        {
            Quota?.Invoke(owner, -pages);
            return frames.Error;
        }
        var region = new MemoryRegion(this, frames.Value, pages, label) { Owner = owner }; // default label built when read
        var cap = _caps.Create(region, OwnerRights, owner);
        if (!cap.IsOk)
        {
            _physical.Free(frames.Value, pages);
            Quota?.Invoke(owner, -pages);
            return cap.Error;
        }
        Interlocked.Add(ref _regionsAndPages, (1L << RegionShift) + pages);
        return cap.Value;
    }

    internal Result<long> LengthOf(CapabilityToken region, Principal actor = default)
    {
        var r = _caps.Check<MemoryRegion>(region, Rights.None, actor);
        return r.IsOk ? r.Value.Length : r.Error;
    }

    /// <summary>Copies bytes out of the region (needs <see cref="Rights.Read"/>).</summary>
    internal Result Read(CapabilityToken region, long offset, Span<byte> destination, Principal actor = default)
    {
        var r = Open(region, Rights.Read, offset, destination.Length, actor);
        if (!r.IsOk) return r.Error;
        var mr = r.Value;
        lock (mr.Gate)
        {
            if (mr.IsReclaimed || !mr.OwnsFrames) return Result.Fail(ErrorCode.Revoked, $"{mr} was reclaimed");
            _physical.Frames(mr.FirstFrame, mr.Pages, offset, destination.Length).CopyTo(destination);
        }
        return Result.Ok;
    }

    /// <summary>Copies bytes into the region (needs <see cref="Rights.Write"/>).</summary>
    internal Result Write(CapabilityToken region, long offset, ReadOnlySpan<byte> source, Principal actor = default)
    {
        var r = Open(region, Rights.Write, offset, source.Length, actor);
        if (!r.IsOk) return r.Error;
        var mr = r.Value;
        lock (mr.Gate)
        {
            if (mr.IsReclaimed || !mr.OwnsFrames) return Result.Fail(ErrorCode.Revoked, $"{mr} was reclaimed");
            source.CopyTo(_physical.WritableFrames(mr.FirstFrame, mr.Pages, offset, source.Length));
        }
        return Result.Ok;
    }

    /// <summary>Maps the region for zero-copy access through <paramref name="region"/> (needs <see cref="Rights.Map"/>;
    /// writable only with <see cref="Rights.Write"/> too). The mapping dies with that capability.</summary>
    internal Result<RegionMapping> Map(CapabilityToken region, Principal actor = default)
    {
        var r = _caps.Check<MemoryRegion>(region, Rights.Map, actor);
        if (!r.IsOk) return r.Error;
        // Read-only is a property of the capability, not a refusal: look at its rights without recording a denial.
        var info = _caps.Inspect(region);
        bool writable = info.IsOk && info.Value.Rights.Includes(Rights.Map | Rights.Write);
        return new RegionMapping(_physical, _caps, r.Value, region, actor, writable);
    }

    /// <summary>Derives a read-only (Read|Map) capability for <paramref name="to"/> (needs <see cref="Rights.Delegate"/>).</summary>
    internal Result<CapabilityToken> ShareReadOnly(CapabilityToken region, Principal to, Principal actor = default)
    {
        var r = _caps.Check<MemoryRegion>(region, Rights.Delegate, actor);
        if (!r.IsOk) return r.Error;
        return _caps.Derive(region, Rights.Read | Rights.Map, to, actor);
    }

    /// <summary>
    /// Splits a region at a page boundary into two new regions whose frames stay charged to the original's owner.
    /// Needs <see cref="Rights.Manage"/>; every capability to the original (and everything derived from it, including
    /// mappings) is revoked, so no old holder keeps access to either half. The halves' capabilities go to
    /// <paramref name="actor"/> (held by and charged to it) with exactly the rights of the capability it split through:
    /// splitting never widens rights. All or nothing: if either half cannot be issued (e.g. the capability quota) the
    /// original is untouched.
    /// </summary>
    internal Result<(CapabilityToken Low, CapabilityToken High)> Split(CapabilityToken region, long atBytes, Principal actor = default)
    {
        var r = _caps.Check<MemoryRegion>(region, Rights.Manage, actor);
        if (!r.IsOk) return r.Error;
        var mr = r.Value;
        if (atBytes <= 0 || atBytes >= mr.Length || atBytes % PhysicalMemory.PageSize != 0)
            return Errors.Of(ErrorCode.OutOfRange, $"split point {atBytes} must be a page boundary inside the {mr.Length}-byte region");
        var through = _caps.Inspect(region);
        if (!through.IsOk) return through.Error;
        var rights = through.Value.Rights;
        long lowPages = atBytes / PhysicalMemory.PageSize;
        var owner = mr.Owner;
        var holder = actor.Name is null ? owner : actor;
        // The halves do not own their frames until the split commits, so undoing them frees nothing.
        var low = new MemoryRegion(this, mr.FirstFrame, lowPages, mr.Label + "[lo]", ownsFrames: false) { Owner = owner };
        var high = new MemoryRegion(this, mr.FirstFrame + lowPages, mr.Pages - lowPages, mr.Label + "[hi]", ownsFrames: false) { Owner = owner };
        var lowCap = _caps.Create(low, rights, holder);
        if (!lowCap.IsOk) return lowCap.Error;
        var highCap = _caps.Create(high, rights, holder);
        if (!highCap.IsOk)
        {
            _caps.Revoke(lowCap.Value, actor);
            return highCap.Error;
        }
        lock (mr.Gate)
        {
            if (mr.IsReclaimed || !mr.OwnsFrames)
            {
                _caps.Revoke(lowCap.Value, actor);
                _caps.Revoke(highCap.Value, actor);
                return Errors.Of(ErrorCode.Revoked, $"{mr} is gone");
            }
            // Commit: the frames now belong to the halves; the original's reclaim returns nothing.
            mr.OwnsFrames = false;
            lock (low.Gate) low.OwnsFrames = true;
            lock (high.Gate) high.OwnsFrames = true;
        }
        Interlocked.Add(ref _regionsAndPages, 1L << RegionShift); // two halves replace one region
        _caps.RevokeFromRoot(region, actor);
        return (lowCap.Value, highCap.Value);
    }

    /// <summary>
    /// Frees a region: revokes every capability to it (needs <see cref="Rights.Manage"/>), which reclaims it.
    /// The manager keeps no record of freed tokens: the frame bitmap in <see cref="PhysicalMemory"/> is the one
    /// double-free detector. A free through a capability that is already dead reports what the capability check says
    /// (Revoked, or Stale once its slot was recycled) — the kernel cannot tell a token freed before from one revoked or
    /// moved away, and does not guess; two frees racing on one live capability report <see cref="ErrorCode.DoubleFree"/>
    /// for the loser. (Through the syscall layer the first free closes the handle: the second is an invalid handle.)
    /// </summary>
    internal Result Free(CapabilityToken region, Principal actor = default)
    {
        // The lock-free check alone on the common path; the full check reports (and audits) why it failed.
        if (!_caps.TryCheckFast(region, Rights.Manage, out var obj) || obj is not MemoryRegion)
        {
            var r = _caps.Check<MemoryRegion>(region, Rights.Manage, actor);
            if (!r.IsOk) return r.Error;
        }
        var reclaimed = _caps.RevokeFromRoot(region, actor);
        // A concurrent free (or revoke) of the same region got there first: ours is the second free.
        if (!reclaimed.IsOk && reclaimed.Code is not (ErrorCode.Revoked or ErrorCode.StaleCapability)) return reclaimed.Error;
        if (!reclaimed.IsOk || reclaimed.Value == 0) return Result.Fail(ErrorCode.DoubleFree, $"{region} was freed concurrently");
        return Result.Ok;
    }

    /// <summary>Called by a region when it is reclaimed.</summary>
    internal void ReturnFrames(MemoryRegion region)
    {
        var freed = _physical.Free(region.FirstFrame, region.Pages);
        if (!freed.IsOk) throw new InvalidOperationException($"memory manager invariant broken: {freed}");
        Interlocked.Add(ref _regionsAndPages, -((1L << RegionShift) + region.Pages));
        Quota?.Invoke(region.Owner, -region.Pages);
    }

    private Result<MemoryRegion> Open(CapabilityToken region, Rights rights, long offset, int length, Principal actor)
    {
        var r = _caps.Check<MemoryRegion>(region, rights, actor);
        if (!r.IsOk) return r.Error;
        if (offset < 0 || length < 0 || offset > r.Value.Length - length)
            return Errors.Of(ErrorCode.OutOfRange, $"bytes {offset}..{offset + length} are outside the {r.Value.Length}-byte region");
        return r.Value;
    }
}
