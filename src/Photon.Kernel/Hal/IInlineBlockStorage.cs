namespace Photon.Kernel.Hal;

/// <summary>
/// Storage whose reads and small writes usually finish inside the call, on the calling thread (io_uring page-cache
/// reads completed inside their io_uring_enter, small writes done as a pwrite by the caller). A driver may then serve
/// such a request straight from its submitter, without a queue-pair tag, slot or wakeup: nothing waits for a device
/// to pick it up, so the ring's bookkeeping would only add cost. A request that does not finish at once is awaited as
/// usual.
/// </summary>
public interface IInlineBlockStorage
{
    /// <summary>True when requests are expected to finish inside the call (false, e.g., on a thread-pool fallback).</summary>
    bool CompletesInline { get; }

    /// <summary>
    /// True when every request the storage accepted ends by itself, soon — written, failed, or Closed when the storage
    /// closes — so a driver may simply await one that did not finish at once instead of racing it against its own
    /// close (HostImageStorage: a write queued behind another writer is written by it within a batch). False by default.
    /// </summary>
    bool EndsEveryRequest => false;
}
