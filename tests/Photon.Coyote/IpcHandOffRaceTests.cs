using Microsoft.Coyote.SystematicTesting;
using Microsoft.Coyote.Specifications;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Ipc;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Scheduling;
using Photon.Kernel.Syscalls;

namespace Photon.Coyote;

/// <summary>
/// The IPC direct hand-off (a byte-only send completing a kernel task's parked receive, which then resumes through
/// <see cref="KernelScheduler.Post(IKernelWorkItem, TaskPriority)"/>) racing the receive's cancellation, on
/// Coyote-controlled CPUs. Invariant: the message is received exactly once — handed to the receive, or queued for the
/// next one when the cancellation won — never lost and never both; the receive ends (no lost wake-up).
/// </summary>
public static class IpcHandOffRaceTests
{
    [Test]
    public static async Task HandOffRacingCancel_IsDeliveredExactlyOnce()
    {
        InterleavingPoints.Enable();
        var cpus = new ControlledProcessors(2);
        var scheduler = new KernelScheduler(cpus, new FrozenClock(), new SchedulerOptions(Workers: 2, Name: "coyote"));
        using var physical = new PhysicalMemory(1024 * 1024);
        var caps = new CapabilityManager();
        var namespaces = new NamespaceManager(caps);
        var processes = new ProcessManager(caps, namespaces, new MemoryManager(physical, caps));
        var channels = new ChannelSyscalls(new IpcManager(caps, namespaces, scheduler));
        var sender = processes.Spawn("sender", namespaces.RootCapability).Value.Process;
        var receiver = processes.Spawn("receiver", namespaces.RootCapability).Value.Process;
        var (sendEnd, theirs) = channels.CreateChannel(sender).Value;
        var receiveEnd = receiver.AddHandle(sender.Handles.Remove(theirs).Value).Value;

        using var cts = new CancellationTokenSource();
        var receive = scheduler.Spawn(async () => await channels.ReceiveAsync(receiver, receiveEnd, cts.Token), "receiver").Completion;
        var send = Task.Run(() => channels.TrySend(sender, sendEnd, [42]));
        var cancel = Task.Run(cts.Cancel);
        var sent = await send;
        await cancel;
        var got = await receive;

        Specification.Assert(sent.IsOk, $"send failed: {sent.Code}");
        var next = channels.TryReceive(receiver, receiveEnd);
        if (got.IsOk)
        {
            Specification.Assert(got.Value.Data is [42], "the receive got another message");
            Specification.Assert(next.Code == ErrorCode.WouldBlock, $"handed over and also queued ({next.Code})");
        }
        else
        {
            Specification.Assert(got.Code == ErrorCode.Cancelled, $"receive failed {got.Code}");
            Specification.Assert(next.IsOk && next.Value.Data is [42], $"cancelled, and the message was not queued ({next.Code})");
        }
        await scheduler.DisposeAsync();
        foreach (var loop in cpus.Loops) await loop;
    }
    /// <summary>
    /// A kernel-task receive into its own buffer (try, then park) racing a send and the close of the sending end. The
    /// message is either handed over while parked or found by a try; a close after the send leaves it queued for the
    /// receive (Closed only once the inbox is empty). So: a send that succeeded is received exactly once, a refused one
    /// (its end closed) leaves the receive Closed, and the receive always ends (no lost wake-up between try and park).
    /// </summary>
    [Test]
    public static async Task ReceiveIntoRacingSendAndClose_ReceivesTheSentMessageOnce()
    {
        InterleavingPoints.Enable();
        var cpus = new ControlledProcessors(2);
        var scheduler = new KernelScheduler(cpus, new FrozenClock(), new SchedulerOptions(Workers: 2, Name: "coyote"));
        using var physical = new PhysicalMemory(1024 * 1024);
        var caps = new CapabilityManager();
        var namespaces = new NamespaceManager(caps);
        var processes = new ProcessManager(caps, namespaces, new MemoryManager(physical, caps));
        var channels = new ChannelSyscalls(new IpcManager(caps, namespaces, scheduler));
        var sender = processes.Spawn("sender", namespaces.RootCapability).Value.Process;
        var receiver = processes.Spawn("receiver", namespaces.RootCapability).Value.Process;
        var (sendEnd, theirs) = channels.CreateChannel(sender).Value;
        var receiveEnd = receiver.AddHandle(sender.Handles.Remove(theirs).Value).Value;

        var buffer = new byte[8];
        var receive = scheduler.Spawn(async () => await channels.ReceiveIntoAsync(receiver, receiveEnd, buffer), "receiver").Completion;
        var send = Task.Run(() => channels.TrySend(sender, sendEnd, [42, 43]));
        var close = Task.Run(() => channels.Close(sender, sendEnd));
        var sent = await send;
        await close;
        var got = await receive;

        if (sent.IsOk)
        {
            Specification.Assert(got.IsOk && got.Value.Length == 2 && buffer[0] == 42 && buffer[1] == 43,
                $"a sent message was not received ({got.Code})");
            var next = channels.TryReceiveInto(receiver, receiveEnd, buffer);
            Specification.Assert(next.Code == ErrorCode.Closed, $"received once and still there ({next.Code})");
        }
        else
        {
            // Closing its own end first takes the handle out of the sender's table: the send then names no handle.
            Specification.Assert(sent.Code is ErrorCode.Closed or ErrorCode.InvalidHandle, $"send failed {sent.Code}");
            Specification.Assert(got.Code == ErrorCode.Closed, $"nothing was sent, and the receive ended {got.Code}");
        }
        Specification.Assert(receiver.Get<ChannelEndpoint>(receiveEnd, Rights.None).Value.Waiters == 0,
            "a waiter was left parked");
        await scheduler.DisposeAsync();
        foreach (var loop in cpus.Loops) await loop;
    }

    /// <summary>
    /// A kernel-task receive of a message (<see cref="ChannelSyscalls.ReceiveAsync"/>) racing a send and its own
    /// cancellation with a disposed message kept on the endpoint (ipc13: the hand-off or the try refills it): the message
    /// is received exactly once — by the receive, or queued for the next one when the cancellation won.
    /// </summary>
    [Test]
    public static async Task KeptMessageHandOffRacingCancel_IsDeliveredExactlyOnce()
    {
        InterleavingPoints.Enable();
        var cpus = new ControlledProcessors(2);
        var scheduler = new KernelScheduler(cpus, new FrozenClock(), new SchedulerOptions(Workers: 2, Name: "coyote"));
        using var physical = new PhysicalMemory(1024 * 1024);
        var caps = new CapabilityManager();
        var namespaces = new NamespaceManager(caps);
        var processes = new ProcessManager(caps, namespaces, new MemoryManager(physical, caps));
        var channels = new ChannelSyscalls(new IpcManager(caps, namespaces, scheduler));
        var sender = processes.Spawn("sender", namespaces.RootCapability).Value.Process;
        var receiver = processes.Spawn("receiver", namespaces.RootCapability).Value.Process;
        var (sendEnd, theirs) = channels.CreateChannel(sender).Value;
        var receiveEnd = receiver.AddHandle(sender.Handles.Remove(theirs).Value).Value;
        // A message received and disposed first: the endpoint keeps it for the next one of its size.
        Specification.Assert(channels.TrySend(sender, sendEnd, [1]).IsOk, "first send");
        var earlier = channels.TryReceive(receiver, receiveEnd).Value;
        earlier.Dispose();

        using var cts = new CancellationTokenSource();
        var receive = scheduler.Spawn(async () => await channels.ReceiveAsync(receiver, receiveEnd, cts.Token), "receiver").Completion;
        var send = Task.Run(() => channels.TrySend(sender, sendEnd, [42]));
        var cancel = Task.Run(cts.Cancel);
        var sent = await send;
        await cancel;
        var got = await receive;

        Specification.Assert(sent.IsOk, $"send failed: {sent.Code}");
        var next = channels.TryReceive(receiver, receiveEnd);
        if (got.IsOk)
        {
            Specification.Assert(got.Value.Data is [42], "the receive got another message");
            Specification.Assert(next.Code == ErrorCode.WouldBlock, $"handed over and also queued ({next.Code})");
        }
        else
        {
            Specification.Assert(got.Code == ErrorCode.Cancelled, $"receive failed {got.Code}");
            Specification.Assert(next.IsOk && next.Value.Data is [42], $"cancelled, and the message was not queued ({next.Code})");
        }
        Specification.Assert(receiver.Get<ChannelEndpoint>(receiveEnd, Rights.None).Value.Waiters == 0, "a waiter was left parked");
        await scheduler.DisposeAsync();
        foreach (var loop in cpus.Loops) await loop;
    }
}
