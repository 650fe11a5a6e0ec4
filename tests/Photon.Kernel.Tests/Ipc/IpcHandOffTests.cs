using System.Text;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Ipc;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Syscalls;

namespace Photon.Kernel.Tests.Ipc;

/// <summary>
/// Direct hand-off (issue #11): a byte-only send to a receiver parked on an empty inbox completes that receive itself,
/// and the parked waiter is reused. What a user relies on: every message sent is received exactly once, in order, or
/// the send fails with a typed error; a cancelled or closed receive never gets a message meant for a later one.
/// </summary>
public sealed class IpcHandOffTests : IDisposable
{
    private readonly PhysicalMemory _phys = new(8 * 1024 * 1024);
    private readonly CapabilityManager _caps = new();
    private readonly NamespaceManager _ns;
    private readonly ProcessManager _pm;
    private readonly IpcManager _manager;
    private readonly ChannelSyscalls _ipc;

    public IpcHandOffTests()
    {
        _ns = new NamespaceManager(_caps);
        _pm = new ProcessManager(_caps, _ns, new MemoryManager(_phys, _caps));
        _manager = new IpcManager(_caps, _ns, new HostTimers(new HostClock()));
        _ipc = new ChannelSyscalls(_manager);
    }

    public void Dispose() => _phys.Dispose();

    private (Process A, Handle Ha, Process B, Handle Hb) Pair(int depth = IpcManager.DefaultDepth)
    {
        var a = _pm.Spawn("a", _ns.RootCapability).Value.Process;
        var b = _pm.Spawn("b", _ns.RootCapability).Value.Process;
        var (x, y) = _ipc.CreateChannel(a, depth).Value;
        return (a, x, b, b.AddHandle(a.Handles.Remove(y).Value).Value);
    }

    private static ChannelEndpoint Endpoint(Process p, Handle h) => p.Get<ChannelEndpoint>(h, Rights.None).Value;

    [Fact]
    public async Task A_send_to_a_parked_receiver_completes_it_with_a_copy_and_queues_nothing()
    {
        var (a, ha, b, hb) = Pair();
        var pending = _ipc.ReceiveAsync(b, hb);
        Assert.False(pending.IsCompleted);
        Assert.Equal(1, Endpoint(b, hb).Waiters);
        var payload = "hand-off"u8.ToArray();
        Assert.True(_ipc.TrySend(a, ha, payload).IsOk);
        payload[0] = (byte)'X'; // the receiver got its own copy at send time
        Assert.Equal(0, Endpoint(b, hb).Pending);
        var got = await pending;
        Assert.Equal("hand-off", Encoding.UTF8.GetString(got.Value.Data));
        Assert.Empty(got.Value.Handles);
        Assert.Equal(0, Endpoint(b, hb).Waiters);
        Assert.Equal(_manager.MessagesSent, _manager.MessagesReceived);
    }

    [Fact]
    public async Task Reused_waiter_after_a_cancelled_receive_gets_only_later_messages_in_order()
    {
        var (a, ha, b, hb) = Pair();
        for (int round = 0; round < 1000; round++)
        {
            using (var cts = new CancellationTokenSource())
            {
                var cancelled = _ipc.ReceiveAsync(b, hb, cts.Token);
                cts.Cancel();
                Assert.Equal(ErrorCode.Cancelled, (await cancelled).Code);
            }
            // The same (pooled) waiter parks again; two receivers at once get one message each, oldest first.
            var first = _ipc.ReceiveAsync(b, hb);
            var second = _ipc.ReceiveAsync(b, hb);
            Assert.True(_ipc.TrySend(a, ha, BitConverter.GetBytes(2 * round)).IsOk);
            Assert.True(_ipc.TrySend(a, ha, BitConverter.GetBytes(2 * round + 1)).IsOk);
            Assert.Equal(2 * round, BitConverter.ToInt32((await first).Value.Data));
            Assert.Equal(2 * round + 1, BitConverter.ToInt32((await second).Value.Data));
        }
        Assert.Equal(0, Endpoint(b, hb).Waiters);
        Assert.Equal(0, Endpoint(b, hb).Pending);
    }

    [Fact]
    public async Task Hand_off_racing_cancel_delivers_every_message_exactly_once()
    {
        var (a, ha, b, hb) = Pair();
        const int Rounds = 5_000;
        int delivered = 0;
        for (int i = 0; i < Rounds; i++)
        {
            using var cts = new CancellationTokenSource();
            var receive = _ipc.ReceiveAsync(b, hb, cts.Token);
            var send = Task.Run(() => _ipc.TrySend(a, ha, BitConverter.GetBytes(i)));
            cts.Cancel();
            Assert.True((await send).IsOk);
            var r = await receive;
            if (r.IsOk)
            {
                Assert.Equal(i, BitConverter.ToInt32(r.Value.Data));
                delivered++;
                Assert.Equal(ErrorCode.WouldBlock, _ipc.TryReceive(b, hb).Code); // not also queued
            }
            else
            {
                Assert.Equal(ErrorCode.Cancelled, r.Code);
                Assert.Equal(i, BitConverter.ToInt32(_ipc.TryReceive(b, hb).Value.Data)); // queued instead
                delivered++;
            }
        }
        Assert.Equal(Rounds, delivered);
        Assert.Equal(0, Endpoint(b, hb).Waiters);
        Assert.Equal(_manager.MessagesSent, _manager.MessagesReceived);
    }

    [Fact]
    public async Task Hand_off_racing_close_either_delivers_or_fails_typed()
    {
        const int Rounds = 2_000;
        for (int i = 0; i < Rounds; i++)
        {
            var (a, ha, b, hb) = Pair();
            var receive = _ipc.ReceiveAsync(b, hb);
            var send = Task.Run(() => _ipc.TrySend(a, ha, BitConverter.GetBytes(i)));
            // Alternate which side goes away: the sender's end (the receiver sees Closed) or the receiver's own
            // handle (its receive fails with the handle's error; the sender sees Closed).
            var closed = i % 2 == 0 ? _ipc.Close(a, ha) : _ipc.Close(b, hb);
            Assert.True(closed.IsOk);
            var sent = await send;
            var got = await receive.AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.NotEqual(ErrorCode.WouldBlock, got.Code);
            Assert.NotEqual(ErrorCode.WouldBlock, sent.Code);
            if (got.IsOk)
            {
                Assert.True(sent.IsOk);
                Assert.Equal(i, BitConverter.ToInt32(got.Value.Data));
            }
            else if (sent.IsOk && i % 2 == 0)
            {
                // Queued just after the receive saw the peer closed: still there for the next receive, once.
                Assert.Equal(ErrorCode.Closed, got.Code);
                Assert.Equal(i, BitConverter.ToInt32(_ipc.TryReceive(b, hb).Value.Data));
                Assert.Equal(ErrorCode.Closed, _ipc.TryReceive(b, hb).Code);
            }
            // Otherwise the send failed typed, or it was queued on an endpoint whose last handle then closed (dropped
            // with it, as any queued message is).
        }
    }

    [Fact]
    public async Task A_message_with_a_capability_reaches_a_parked_receiver_through_the_queue()
    {
        var (a, ha, b, hb) = Pair();
        var (x, y) = _ipc.CreateChannel(a).Value;
        var pending = _ipc.ReceiveAsync(b, hb);
        Assert.True(_ipc.TrySend(a, ha, "cap"u8, [new HandleTransfer(y, TransferMode.Move)]).IsOk);
        var got = await pending.AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        var moved = Assert.Single(got.Value.Handles);
        Assert.True(_ipc.TrySend(a, x, "through"u8).IsOk);
        Assert.Equal("through", Encoding.UTF8.GetString(_ipc.TryReceive(b, moved).Value.Data));
    }

    [Fact]
    public async Task A_receive_whose_handle_closes_while_parked_fails_typed_and_is_handed_nothing()
    {
        var (a, ha, b, hb) = Pair();
        var pending = _ipc.ReceiveAsync(b, hb);
        Assert.True(_ipc.Close(b, hb).IsOk); // the receiver's handle is gone while it waits
        var sent = _ipc.TrySend(a, ha, "late"u8);
        var got = await pending.AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(got.IsOk);
        Assert.NotEqual(ErrorCode.WouldBlock, got.Code);
        Assert.Equal(ErrorCode.Closed, sent.Code);
    }
}
