using Photon.Kernel.Hal.Pci;

namespace Photon.Kernel.Drivers.Net;

/// <summary>
/// A NIC that can hand out a received frame in the DMA buffer the device wrote it into (zero-copy receive) instead of
/// copying it out: the buffer stays out of the device's ring until <see cref="LentFrame.GiveBack"/> runs, once.
/// <see cref="NicDriver.LendReceiveAsync"/> wraps it in a capability-checked <see cref="Dma.DmaLoan"/>.
/// </summary>
internal interface IFrameLending
{
    /// <summary>Waits for the next frame on <paramref name="queue"/> and lends it. Busy when the queue already lends as
    /// many buffers as it may (the device must keep some to receive into); QuotaExceeded when the frame would take
    /// <paramref name="share"/>'s tenant over its share of the queue (null: the kernel's own stack).</summary>
    ValueTask<Result<LentFrame>> TakeLentAsync(int queue, CancellationToken ct, TenantLoanShare? share = null);

    /// <summary>Lends the next frame already received on <paramref name="queue"/>, without waiting: WouldBlock when there
    /// is none, Busy at the queue's lending limit, QuotaExceeded over <paramref name="share"/>.</summary>
    Result<LentFrame> TryTakeLent(int queue, TenantLoanShare? share = null);

    /// <summary>What <paramref name="queue"/> may lend at once: ring buffers (half its ring) and merge buffers (whole
    /// frames copied out of pages that were not consecutive; none without MRG_RXBUF). Each tenant's share is cut from these.</summary>
    (int RingBuffers, int MergeBuffers) LendingLimits(int queue);

    /// <summary>Holds (or, with false, releases) the re-posting of returned buffers on <paramref name="queue"/>, so a
    /// burst of returns reaches the device in one publish.</summary>
    void HoldRefill(int queue, bool hold);

    /// <summary>The longest frame a loan may have to cover: a loan is cut to the length it is charged for, so the
    /// lender charges at least this (an MTU-sized frame; 64 KiB segments with virtio-net's GUEST_TSO4).</summary>
    int LargestLentFrame { get; }
}

/// <summary>A received frame in place: <paramref name="Frame"/> covers exactly its bytes. <paramref name="ChecksumVerified"/>:
/// the device vouched for its transport checksum (virtio-net GUEST_CSUM: DATA_VALID, or NEEDS_CSUM from a local sender),
/// so the stack need not verify it again.</summary>
internal readonly record struct LentFrame(IDmaBuffer Frame, Action GiveBack, bool ChecksumVerified = false);
