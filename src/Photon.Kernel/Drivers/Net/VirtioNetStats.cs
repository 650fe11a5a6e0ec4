namespace Photon.Kernel.Drivers.Net;

/// <summary>
/// What one virtio-net transmit queue did (issue #17, "measure where send time goes"): frames and bytes handed to the
/// device, ring publishes (one per burst), doorbell writes (kicks: each one a trap into the emulated device), descriptors
/// used, buffers reclaimed, how often a sender found the ring full and slept, interrupts taken, and the largest frame
/// (above the MTU only with TSO). Offloads: frames whose TCP checksum the device filled, frames it segmented. Withdrawn:
/// frames dropped unread because the lent memory they carried had gone back to its sender (<c>TxLease</c>, vm18).
/// </summary>
public readonly record struct VirtioNetTxStats(long Frames, long Bytes, long Publishes, long Kicks, long Descriptors, long Reclaimed,
    long RingFullWaits, long Interrupts, long LargestFrame, long ChecksumOffloads = 0, long SegmentationOffloads = 0, long Withdrawn = 0)
{
    public static VirtioNetTxStats operator +(VirtioNetTxStats a, VirtioNetTxStats b) => new(a.Frames + b.Frames, a.Bytes + b.Bytes,
        a.Publishes + b.Publishes, a.Kicks + b.Kicks, a.Descriptors + b.Descriptors, a.Reclaimed + b.Reclaimed,
        a.RingFullWaits + b.RingFullWaits, a.Interrupts + b.Interrupts, Math.Max(a.LargestFrame, b.LargestFrame),
        a.ChecksumOffloads + b.ChecksumOffloads, a.SegmentationOffloads + b.SegmentationOffloads, a.Withdrawn + b.Withdrawn);
}

/// <summary>What one virtio-net receive queue did: frames, bursts (frames taken per wake-up), refill kicks, interrupts;
/// frames whose checksum the device vouched for (GUEST_CSUM), frames dropped for a header that broke the contract, and
/// frames above the MTU (GUEST_TSO4's large TCP segments) with the longest; and wake-ups whose consumer resumed on the
/// interrupt line itself (<see cref="VirtioNetOptions.ReceiveOnInterruptLine"/>); with MRG_RXBUF, frames that filled
/// several page buffers, lent in place or copied into a merge buffer.</summary>
public readonly record struct VirtioNetRxStats(long Frames, long Bursts, long Kicks, long Interrupts, long ChecksumsVerified = 0, long BadHeaders = 0,
    long LargeFrames = 0, long LargestFrame = 0, long LineResumes = 0, long MergedInPlace = 0, long MergedCopied = 0)
{
    public static VirtioNetRxStats operator +(VirtioNetRxStats a, VirtioNetRxStats b) =>
        new(a.Frames + b.Frames, a.Bursts + b.Bursts, a.Kicks + b.Kicks, a.Interrupts + b.Interrupts,
            a.ChecksumsVerified + b.ChecksumsVerified, a.BadHeaders + b.BadHeaders, a.LargeFrames + b.LargeFrames,
            Math.Max(a.LargestFrame, b.LargestFrame), a.LineResumes + b.LineResumes, a.MergedInPlace + b.MergedInPlace, a.MergedCopied + b.MergedCopied);
}

/// <summary>Both directions of a <see cref="VirtioNetDevice"/>, summed over its queues, with the per-frame ratios the
/// benchmark prints.</summary>
public readonly record struct VirtioNetStats(VirtioNetTxStats Tx, VirtioNetRxStats Rx)
{
    private static string Per(long n, long frames) => frames == 0 ? "-" : $"{(double)n / frames:0.###}";

    public override string ToString() =>
        $"tx {Tx.Frames} frames, {Tx.Bytes} bytes (avg {(Tx.Frames == 0 ? 0 : Tx.Bytes / Tx.Frames)}, max {Tx.LargestFrame}), " +
        $"{Tx.Publishes} publishes, {Tx.Kicks} kicks ({Per(Tx.Kicks, Tx.Frames)}/frame), {Tx.Descriptors} descriptors, " +
        $"{Tx.Reclaimed} reclaimed, {Tx.RingFullWaits} ring-full waits, {Tx.Interrupts} tx interrupts ({Per(Tx.Interrupts, Tx.Frames)}/frame), " +
        $"csum offloaded {Tx.ChecksumOffloads}, tso {Tx.SegmentationOffloads}, withdrawn {Tx.Withdrawn}; " +
        $"rx {Rx.Frames} frames in {Rx.Bursts} bursts, {Rx.Kicks} kicks ({Per(Rx.Kicks, Rx.Frames)}/frame), {Rx.Interrupts} interrupts ({Per(Rx.Interrupts, Rx.Frames)}/frame), " +
        $"csum verified by device {Rx.ChecksumsVerified}, bad headers {Rx.BadHeaders}, large {Rx.LargeFrames} (max {Rx.LargestFrame}), " +
        $"resumed on the interrupt line {Rx.LineResumes}, merged frames in place {Rx.MergedInPlace}, copied {Rx.MergedCopied}";
}
