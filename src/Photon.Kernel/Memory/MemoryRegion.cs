using Photon.Kernel.Capabilities;

namespace Photon.Kernel.Memory;

/// <summary>
/// A page-granular run of physical frames, reachable only through capabilities. When the last capability to it is
/// revoked the frames go back to the allocator — immediately, or when the last mapping is released (a mapped region is
/// never freed under its user).
/// </summary>
public sealed class MemoryRegion : KernelObject
{
    private readonly MemoryManager _manager;
    private int _mappings;
    private bool _reclaimPending;

    internal MemoryRegion(MemoryManager manager, long firstFrame, long pages, string label)
        : base(ObjectKind.MemoryRegion, label)
    {
        _manager = manager;
        FirstFrame = firstFrame;
        Pages = pages;
    }

    public long FirstFrame { get; }

    /// <summary>Who the frames are charged to (for quotas and reports).</summary>
    public Principal Owner { get; init; }
    public long Pages { get; }
    public long Length => Pages * PhysicalMemory.PageSize;

    /// <summary>True once the frames have gone back to the allocator (or to the halves of a split).</summary>
    public bool IsReclaimed { get; private set; }

    /// <summary>Set by <see cref="MemoryManager.Split"/>: the frames now belong to the two halves.</summary>
    internal bool FramesTransferred { get; set; }

    internal Lock Gate { get; } = new();

    internal bool TryAddMapping()
    {
        lock (Gate)
        {
            if (IsDestroyed || IsReclaimed) return false;
            _mappings++;
            return true;
        }
    }

    internal void ReleaseMapping()
    {
        bool reclaim;
        lock (Gate)
        {
            _mappings--;
            reclaim = _mappings == 0 && _reclaimPending;
        }
        if (reclaim) Reclaim();
    }

    protected override void OnLastCapabilityRevoked()
    {
        lock (Gate)
        {
            if (_mappings > 0) { _reclaimPending = true; return; }
        }
        Reclaim();
    }

    private void Reclaim()
    {
        lock (Gate)
        {
            if (IsReclaimed) return;
            IsReclaimed = true;
            _reclaimPending = false;
        }
        if (!FramesTransferred) _manager.ReturnFrames(this);
    }
}

/// <summary>
/// Direct access to a region's bytes for a holder of <see cref="Rights.Map"/>. Dispose to unmap. Access after the
/// region's capabilities were revoked fails with <see cref="ErrorCode.Revoked"/> (like an unmapped page faulting),
/// but the frames stay valid until the mapping is disposed, so there is never a use-after-free.
/// </summary>
public sealed class RegionMapping : IDisposable
{
    private readonly PhysicalMemory _physical;
    private MemoryRegion? _region;

    internal RegionMapping(PhysicalMemory physical, MemoryRegion region, bool writable)
    {
        _physical = physical;
        _region = region;
        IsWritable = writable;
        Length = region.Length;
    }

    public bool IsWritable { get; }
    public long Length { get; }

    /// <summary>True while the mapping is open and the region has not been revoked.</summary>
    public bool IsValid => _region is { IsDestroyed: false };

    public ReadOnlySpan<byte> ReadOnlySpan => Access(writable: false);

    /// <summary>Writable span; fails with <see cref="ErrorCode.AccessDenied"/> on a read-only mapping.</summary>
    public Span<byte> Span => Access(writable: true);

    private Span<byte> Access(bool writable)
    {
        var region = _region ?? throw new KernelException(ErrorCode.Closed, "mapping was disposed");
        if (region.IsDestroyed) throw new KernelException(ErrorCode.Revoked, $"{region} was revoked while mapped");
        if (writable && !IsWritable) throw new KernelException(ErrorCode.AccessDenied, "mapping is read-only");
        // Regions are page-aligned runs well under 2 GiB in practice; larger ones must be accessed via Read/Write.
        if (region.Length > int.MaxValue) throw new KernelException(ErrorCode.NotSupported, "region too large to map as one span");
        return _physical.Frames(region.FirstFrame, region.Pages, 0, (int)region.Length);
    }

    public void Dispose()
    {
        var region = Interlocked.Exchange(ref _region, null);
        region?.ReleaseMapping();
    }
}
