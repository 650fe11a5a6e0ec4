using Microsoft.Coyote.SystematicTesting;
using Microsoft.Coyote.Specifications;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Ipc;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Syscalls;

namespace Photon.Coyote;

/// <summary>
/// IPC with handle moves (the real syscall layer, <see cref="ChannelSyscalls"/>) racing receive and close.
/// Invariant: a moved handle is in exactly one place after any interleaving — still the sender's (send refused),
/// in transit (queued), or the receiver's — or, when the channel closed under it, destroyed (its last capability
/// revoked), never in two places and never leaked; two sends racing to move the same handle cannot both win.
/// </summary>
public static class IpcHandleMoveRaceTests
{
    private sealed class World : IDisposable
    {
        public readonly PhysicalMemory Physical = new(1024 * 1024);
        public readonly CapabilityManager Caps;
        public readonly ProcessManager Processes;
        public readonly IpcManager Ipc;
        public readonly SyscallTable Sys;
        public readonly Process Sender, Receiver;

        public World()
        {
            Caps = new CapabilityManager();
            var namespaces = new NamespaceManager(Caps);
            Processes = new ProcessManager(Caps, namespaces, new MemoryManager(Physical, Caps));
            Ipc = new IpcManager(Caps, namespaces, new NoTimers());
            Sys = new SyscallTable(Processes, Ipc);
            var tenant = namespaces.CreateChild(namespaces.RootCapability, "t").Value;
            Sender = Processes.Spawn("sender", tenant).Value.Process;
            Receiver = Processes.Spawn("receiver", tenant).Value.Process;
        }

        /// <summary>A fresh object the sender holds with the right to move it.</summary>
        public (GenericObject Object, Handle Handle) Give(Process p, string label)
        {
            var obj = new GenericObject(label);
            var token = Caps.Create(obj, Rights.Read | Rights.Transfer, p.Principal).Value;
            return (obj, p.AddHandle(token).Value);
        }

        /// <summary>Moves one end of a fresh channel into the receiver (what a spawner does).</summary>
        public (Handle SendEnd, Handle ReceiveEnd) Channel()
        {
            var (a, b) = Sys.Channels.CreateChannel(Sender).Value;
            var token = Sender.Handles.Remove(b).Value;
            var moved = Caps.MoveForKernel(token, Receiver.Principal, Receiver.Principal).Value;
            return (a, Receiver.AddHandle(moved).Value);
        }

        public void Dispose() => Physical.Dispose();
    }

    private sealed class NoTimers : Photon.Kernel.Scheduling.IKernelTimers
    {
        public TimeSpan Now => TimeSpan.Zero;
        public Task Delay(TimeSpan due, CancellationToken cancellationToken = default) => Task.Delay(due, cancellationToken);
    }

    [Test]
    public static async Task MoveRacingReceiveAndClose_HandleIsInExactlyOnePlace()
    {
        InterleavingPoints.Enable();
        using var w = new World();
        var (sendEnd, receiveEnd) = w.Channel();
        var (obj, h) = w.Give(w.Sender, "moved");
        Result sent = Result.Ok;
        Handle received = Handle.Invalid;

        var send = Task.Run(() => { sent = w.Sys.Channels.TrySend(w.Sender, sendEnd, "take this"u8, [new(h, TransferMode.Move)]); });
        var receive = Task.Run(() =>
        {
            var m = w.Sys.Channels.TryReceive(w.Receiver, receiveEnd);
            if (m.IsOk && m.Value.Handles.Count == 1) received = m.Value.Handles[0];
            else if (!m.IsOk) Specification.Assert(m.Code is ErrorCode.WouldBlock or ErrorCode.Closed or ErrorCode.InvalidHandle, $"receive: {m}");
        });
        var close = Task.Run(() => w.Sys.Handles.Close(w.Receiver, receiveEnd));
        await send; await receive; await close;

        bool atSender = w.Sender.TokenOf(h).IsOk;
        bool atReceiver = received != Handle.Invalid && w.Receiver.Get<GenericObject>(received, Rights.Read).IsOk;
        var peer = w.Sender.Get<ChannelEndpoint>(sendEnd, Rights.None);
        int places = (atSender ? 1 : 0) + (atReceiver ? 1 : 0);
        Specification.Assert(places <= 1, "the moved handle is held by sender and receiver at once");
        Specification.Assert(atSender == !sent.IsOk, $"send {(sent.IsOk ? "succeeded" : sent.Code.ToString())} but sender holds it: {atSender}");
        if (atReceiver) Specification.Assert(ReferenceEquals(w.Receiver.Get<GenericObject>(received, Rights.Read).Value, obj), "received another object");
        // Not held by a process: it was queued into an endpoint that is now closed (dropped and revoked), so it must
        // be gone — no capability to it may survive anywhere.
        Specification.Assert(obj.LiveCapabilities == places, $"{obj.LiveCapabilities} live capabilities for {places} holders");
        var inv = w.Caps.VerifyInvariants();
        Specification.Assert(inv.IsOk, $"capability invariants: {inv}");
        _ = peer;
    }

    [Test]
    public static async Task TwoSendsMovingOneHandle_OnlyOneWins()
    {
        InterleavingPoints.Enable();
        using var w = new World();
        var (sendEnd, receiveEnd) = w.Channel();
        var (obj, h) = w.Give(w.Sender, "contested");
        Result first = Result.Ok, second = Result.Ok;
        var a = Task.Run(() => { first = w.Sys.Channels.TrySend(w.Sender, sendEnd, "a"u8, [new(h, TransferMode.Move)]); });
        var b = Task.Run(() => { second = w.Sys.Channels.TrySend(w.Sender, sendEnd, "b"u8, [new(h, TransferMode.Move)]); });
        await a; await b;
        Specification.Assert(first.IsOk != second.IsOk, $"both or neither won: {first} / {second}");
        var loser = first.IsOk ? second : first;
        Specification.Assert(loser.Code == ErrorCode.InvalidHandle, $"the losing send failed with {loser.Code}");
        Specification.Assert(!w.Sender.TokenOf(h).IsOk, "the sender still holds a moved handle");
        var m = w.Sys.Channels.TryReceive(w.Receiver, receiveEnd);
        Specification.Assert(m.IsOk && m.Value.Handles.Count == 1 && m.Value.Handles[0] != Handle.Invalid, $"receive: {m}");
        Specification.Assert(obj.LiveCapabilities == 1, $"{obj.LiveCapabilities} live capabilities after one move");
        Specification.Assert(w.Caps.VerifyInvariants().IsOk, "capability invariants");
    }

    /// <summary>
    /// Deterministic replay of the bug Coyote found: the receiver closes its end after the send reserved a place
    /// (the first seam point of a send with handles) and so after the moved handle left the sender's table. The send
    /// used to fail with Closed although the sender no longer held the handle.
    /// </summary>
    [Test]
    public static void Replay_CloseAfterReserve_SendSucceedsAndHandleIsGone()
    {
        InterleavingPoints.Enable();
        using var w = new World();
        var (sendEnd, receiveEnd) = w.Channel();
        var (obj, h) = w.Give(w.Sender, "moved");
        bool fired = false;
        InterleavingPoints.Script = () =>
        {
            if (fired) return;
            fired = true;
            w.Sys.Handles.Close(w.Receiver, receiveEnd).Unwrap();
        };
        var sent = w.Sys.Channels.TrySend(w.Sender, sendEnd, "take this"u8, [new(h, TransferMode.Move)]);
        InterleavingPoints.Script = null;
        Specification.Assert(fired, "the scripted close did not run inside the send");
        Specification.Assert(sent.IsOk, $"send reported {sent} after the handle had left the sender");
        Specification.Assert(!w.Sender.TokenOf(h).IsOk, "the sender still holds the moved handle");
        Specification.Assert(obj.LiveCapabilities == 0, $"{obj.LiveCapabilities} capabilities survive a drop at close");
        Specification.Assert(w.Caps.VerifyInvariants().IsOk, "capability invariants");
    }
}
