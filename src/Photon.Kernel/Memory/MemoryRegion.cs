using Photon.Kernel.Capabilities;

namespace Photon.Kernel.Memory;

/// <summary>
/// A page-granular run of physical frames, reachable only through capabilities. When the last capability to it is
/// revoked the frames go back to the allocator. Every access — copy or mapping — happens under the region's gate
/// after the capability it goes through has been re-checked, so reclaiming (which takes the gate) never frees frames
/// under an access in progress, and no access begins once the capability is gone.
/// </summary>
public sealed class MemoryRegion : KernelObject
{
    public override ObjectKind Kind => ObjectKind.MemoryRegion;

    private readonly MemoryManager _manager;

    internal MemoryRegion(MemoryManager manager, long firstFrame, long pages, string? label, bool ownsFrames = true)
        : base(label)
    {
        _manager = manager;
        FirstFrame = firstFrame;
        Pages = pages;
        OwnsFrames = ownsFrames;
    }

    public long FirstFrame { get; }

    /// <summary>Who the frames are charged to (for quotas and reports).</summary>
    public Principal Owner { get; init; }
    public long Pages { get; }
    public long Length => Pages * PhysicalMemory.PageSize;

    /// <summary>True once the region is gone: its frames went back to the allocator or to the halves of a split.</summary>
    public bool IsReclaimed { get; private set; }

    /// <summary>Whether reclaiming returns the frames: false for a split's halves until the split commits, and for
    /// the original once its frames belong to the halves. Changed only under <see cref="Gate"/>.</summary>
    internal bool OwnsFrames { get; set; }

    /// <summary>The region's monitor: the region object itself (a thin lock in its header), not a separate
    /// <see cref="Lock"/> — one object less per region (40 B on the allocate/free path). Only kernel code holds
    /// region objects (processes hold tokens), so nothing outside the memory manager locks on it.</summary>
    internal object Gate => this;

    protected override string DefaultLabel() => $"region@{Owner.Name}";

    protected override void OnLastCapabilityRevoked()
    {
        bool returnFrames;
        lock (Gate)
        {
            if (IsReclaimed) return;
            IsReclaimed = true;
            returnFrames = OwnsFrames;
            OwnsFrames = false;
        }
        if (returnFrames) _manager.ReturnFrames(this);
    }
}
