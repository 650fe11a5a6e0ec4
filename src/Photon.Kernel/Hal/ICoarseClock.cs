namespace Photon.Kernel.Hal;

/// <summary>
/// A cheap, coarse companion of an <see cref="IClock"/> (Linux: <c>CLOCK_MONOTONIC_COARSE</c>, about a quarter of a
/// precise read's cost): its reading changes once per <see cref="CoarseResolution"/>. The scheduler reads it after each
/// work item and takes a precise reading only when it has changed, so a run of short items costs one precise read per
/// coarse tick instead of one per item. Optional: a clock without it is read precisely after every item.
/// </summary>
public interface ICoarseClock
{
    /// <summary>A monotonic reading that advances in steps of <see cref="CoarseResolution"/>. If two readings are equal,
    /// less than one resolution (plus the host's tick lag) passed between the first and the second.</summary>
    long CoarseTicks { get; }

    /// <summary>The step of <see cref="CoarseTicks"/>: the most a skipped precise read can lag.</summary>
    TimeSpan CoarseResolution { get; }
}
