using Photon.Kernel.Diagnostics.Tracing;
using Photon.Kernel.Drivers.Net;
using Photon.Net;

namespace Photon.Cli.Vm;

/// <summary>
/// The per-event counters vm/netbench.sh reads after its transfers (issue #17, "measure where send time goes"): the
/// virtio-net driver's (frames, bytes, kicks, interrupts, reclaims, descriptors, offloads; <see cref="VirtioNetStats"/>)
/// and the TCP/IP stack's output work (segments, payload bytes copied, bytes checksummed in software, offloads), and its
/// send path: bytes the writer queued against bytes the stack took from its parked send, how often a send parked and
/// was woken, and the send buffer's growths by storage allocated outside the lock.
/// </summary>
internal static class VmNetCounters
{
    public static void Print(VirtioNetSource source, NetworkComponent network, Action<string> say)
    {
        foreach (var dev in source.Opened)
            say($"netbench counters: {dev.Name} features 0x{dev.Features:x}: {dev.Stats}");
        NetPathTimeline.Stop();
        foreach (var line in NetPathTimeline.Summary(rxVector: 0)) say("netbench " + line);
        foreach (var line in NetPathCosts.Summary()) say("netbench " + line);
        if (network.Stack is not { } stack) return;
        say("netbench counters: stack " + string.Join(", ", new[]
        {
            Counter.TcpSegmentsOut, Counter.TcpSegmentsIn, Counter.TcpRetransmits, Counter.TcpPayloadBytesCopiedOut,
            Counter.TcpChecksumBytesSoftware, Counter.TcpChecksumsOffloaded, Counter.TcpSegmentationOffloads,
            Counter.TcpChecksumsVerifiedByNic, Counter.TcpChecksumBytesVerifiedSoftware,
            Counter.TcpPayloadBytesByReference, Counter.TcpSendBytesQueuedByWriter, Counter.TcpSendBytesTakenFromParkedWriter, Counter.TcpSendsParked,
            Counter.TcpSendsWoken, Counter.TcpSendStorageGrowths, Counter.TcpSendsLent, Counter.TcpSendBytesLent,
            Counter.TcpLentBytesByReference, Counter.TcpLentSendsWaitedForReader,
        }.Select(c => $"{c}={stack[c]}")));
    }
}
