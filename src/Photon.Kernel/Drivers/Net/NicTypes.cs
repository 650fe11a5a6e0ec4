using Photon.Kernel.Hal;
using Photon.Kernel.Io;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Drivers.Net;

/// <summary>A transmit request as it sits in a TX submission ring: one Ethernet frame (header included, no FCS). The
/// frame's memory belongs to the driver until the request completes.</summary>
public readonly record struct TxRequest(ReadOnlyMemory<byte> Frame);

/// <summary>A receive buffer posted to an RX submission ring; the driver completes it with the length of the frame it
/// put there. A buffer whose <paramref name="Abandon"/> token is cancelled before a frame arrives is handed back unused.</summary>
public readonly record struct RxRequest(Memory<byte> Buffer, CancellationToken Abandon = default)
{
    /// <summary>The poster reads <see cref="NicDriver.RxChecksumVerifiedFlag"/> in the completed length (the stack's face):
    /// the device's word that the frame's transport checksum was verified rides there. Others get plain lengths.</summary>
    internal bool ReportsChecksum { get; init; }
}

/// <summary>How transmitted frames are spread over the TX queue pairs.</summary>
public enum TxSteering
{
    /// <summary>By a hash of the flow (IPv4/IPv6 addresses, protocol and TCP/UDP ports; MACs and EtherType otherwise),
    /// so the frames of one flow stay on one queue and in order.</summary>
    FlowHash,
    /// <summary>Each frame on the next queue (no ordering between frames of a flow).</summary>
    RoundRobin,
}

/// <param name="TxQueues">TX queue pairs; 0: one per hardware queue. RX queue pairs are always one per hardware queue.</param>
/// <param name="QueueDepth">Entries per ring (a power of two).</param>
/// <param name="Batch">Most requests a controller fetches (and hands to the device) at once.</param>
/// <param name="RxBuffersPerQueue">Buffers each face (the stack's lending one, a copying <see cref="INetworkDevice"/> one) keeps
/// posted on each RX queue; the lending face owns <see cref="Batch"/> more, for the burst the stack is working on.</param>
/// <param name="Steering">TX queue choice for requests that don't name a queue.</param>
/// <param name="OwnsDevice">Dispose the HAL device with the driver.</param>
/// <param name="LendToStack">On a device that lends its receive buffers (virtio-net), the stack's face reads each frame
/// in the device's DMA buffer through a <see cref="Dma.DmaLoan"/> (<see cref="NicLoanBatch"/>) instead of a copy in the
/// driver's own buffers.</param>
/// <param name="DirectTransmit">On a device with one transmit queue, the stack's face hands each batch to the device on
/// its own thread (capability-checked) instead of through the TX queue pair's controller task.</param>
/// <param name="InlineCompletions">No thread-pool hop between the device and the stack: the stack's receive loop is resumed
/// on the thread that completed its burst (the device's receive thread), and a submitter drains its TX queue pair and
/// hands the frames to the device itself (the queue's controller task only for what a busy device leaves behind) — as
/// <see cref="DirectTransmit"/> does for one queue, but through the queue pair, so its counters and ordering hold.</param>
/// <param name="Timers">The kernel's timers, for the stack's face to back off on while another consumer holds the
/// queue's lending limit (without them it backs off on the calling kernel task's scheduler, or yields).</param>
public sealed record NicOptions(int TxQueues = 0, int QueueDepth = 256, int Batch = 32, int RxBuffersPerQueue = 32,
    TxSteering Steering = TxSteering.FlowHash, bool OwnsDevice = true, bool LendToStack = true, bool DirectTransmit = true,
    IKernelTimers? Timers = null, bool InlineCompletions = true);

/// <summary>Counters of one TX or RX queue pair: frames and bytes moved, device batches (Frames / Batches is the
/// mean batch size), frames the device refused, and the ring's own counters.</summary>
public sealed record NicQueueStats(int Queue, long Frames, long Bytes, long Batches, long Errors, QueuePairStats Ring);

/// <summary>Counters of a <see cref="NicDriver"/>.</summary>
/// <param name="DeviceDrops">Frames the HAL device dropped because a receive ring was full (or a frame too large).</param>
public sealed record NicStats(IReadOnlyList<NicQueueStats> Tx, IReadOnlyList<NicQueueStats> Rx, long DeviceDrops)
{
    public long TxFrames => Tx.Sum(q => q.Frames);
    public long TxBytes => Tx.Sum(q => q.Bytes);
    public long TxBatches => Tx.Sum(q => q.Batches);
    public long TxErrors => Tx.Sum(q => q.Errors);
    public long RxFrames => Rx.Sum(q => q.Frames);
    public long RxBytes => Rx.Sum(q => q.Bytes);
    public long RxBatches => Rx.Sum(q => q.Batches);
    /// <summary>Submissions that found their ring full (back-pressure).</summary>
    public long RingFull => Tx.Sum(q => q.Ring.RingFull) + Rx.Sum(q => q.Ring.RingFull);
    /// <summary>Requests refused by the capability check.</summary>
    public long Denied => Tx.Sum(q => q.Ring.Denied) + Rx.Sum(q => q.Ring.Denied);
    public long Drops => DeviceDrops;
}
