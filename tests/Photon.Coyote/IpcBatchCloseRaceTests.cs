using Microsoft.Coyote.Specifications;
using Microsoft.Coyote.SystematicTesting;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Ipc;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Syscalls;

namespace Photon.Coyote;

/// <summary>
/// The packed batched send and the batched receive into the caller's buffer (the real syscall layer) racing the close
/// of the receiving end. Invariants after any interleaving: the messages received are a prefix of those sent, each
/// once and in order; every message a send reported as queued is either received or dropped by the close (counted);
/// and once both ends are closed no byte stays charged to the sender's tenant (queued, pooled and in-flight charges
/// all refunded).
/// </summary>
public static class IpcBatchCloseRaceTests
{
    private sealed class NoTimers : Photon.Kernel.Scheduling.IKernelTimers
    {
        public TimeSpan Now => TimeSpan.Zero;
        public Task Delay(TimeSpan due, CancellationToken cancellationToken = default) => Task.Delay(due, cancellationToken);
    }

    [Test]
    public static async Task BatchSendAndReceiveRacingClose_EveryMessageOnceInOrderAndNothingStaysCharged()
    {
        InterleavingPoints.Enable();
        using var physical = new PhysicalMemory(1024 * 1024);
        var caps = new CapabilityManager();
        var namespaces = new NamespaceManager(caps);
        var processes = new ProcessManager(caps, namespaces, new MemoryManager(physical, caps));
        var ipc = new IpcManager(caps, namespaces, new NoTimers());
        var sys = new ChannelSyscalls(ipc);
        long charged = 0;
        ipc.MemoryQuota = (_, bytes) => { Interlocked.Add(ref charged, bytes); return Result.Ok; };
        var sender = processes.Spawn("sender", namespaces.RootCapability).Value.Process;
        var receiver = processes.Spawn("receiver", namespaces.RootCapability).Value.Process;
        var (sendEnd, b) = sys.CreateChannel(sender, depth: 4).Value;
        var receiveEnd = receiver.AddHandle(sender.Handles.Remove(b).Value).Value;

        // Six 4-byte messages numbered 0..5, sent as two batches of three (the inbox holds four).
        var packed = new byte[24];
        for (int i = 0; i < 6; i++) BitConverter.TryWriteBytes(packed.AsSpan(i * 4), i);
        var lengths = new[] { 4, 4, 4, 4, 4, 4 };
        int queued = 0;
        var received = new List<int>();

        var send = Task.Run(() =>
        {
            int offset = 0;
            for (int attempt = 0; attempt < 3 && queued < 6; attempt++)
            {
                var r = sys.TrySendPacked(sender, sendEnd, packed.AsSpan(offset), lengths.AsSpan(queued, Math.Min(3, 6 - queued)));
                if (!r.IsOk)
                {
                    Specification.Assert(r.Code is ErrorCode.WouldBlock or ErrorCode.Closed, $"send: {r.Code}");
                    continue;
                }
                queued += r.Value;
                offset += 4 * r.Value;
            }
        });
        var receive = Task.Run(() =>
        {
            var buffer = new byte[32];
            var got = new int[8];
            for (int attempt = 0; attempt < 3; attempt++)
            {
                var r = sys.TryReceiveBatchInto(receiver, receiveEnd, buffer, got);
                if (!r.IsOk)
                {
                    Specification.Assert(r.Code is ErrorCode.WouldBlock or ErrorCode.Closed or ErrorCode.InvalidHandle, $"receive: {r.Code}");
                    continue;
                }
                for (int i = 0; i < r.Value; i++)
                {
                    Specification.Assert(got[i] == 4, $"a message of {got[i]} bytes");
                    received.Add(BitConverter.ToInt32(buffer, i * 4));
                }
            }
        });
        var close = Task.Run(() => sys.Close(receiver, receiveEnd));
        await send; await receive; await close;

        for (int i = 0; i < received.Count; i++)
            Specification.Assert(received[i] == i, $"received {string.Join(",", received)}: not the first messages in order");
        Specification.Assert(received.Count <= queued, $"received {received.Count} of {queued} queued");
        Specification.Assert(ipc.MessagesSent == queued, $"{ipc.MessagesSent} counted sent, {queued} reported queued");
        Specification.Assert(ipc.MessagesReceived + ipc.MessagesDropped == queued,
            $"{ipc.MessagesReceived} received + {ipc.MessagesDropped} dropped for {queued} queued");
        sys.Close(sender, sendEnd);
        Specification.Assert(Interlocked.Read(ref charged) == 0, $"{charged} bytes still charged after both ends closed");
    }
}
