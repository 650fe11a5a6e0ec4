using System.Text;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Ipc;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Scheduling;
using Photon.Kernel.Syscalls;
using Photon.Kernel.Tests.Scheduling;

namespace Photon.Kernel.Tests.Ipc;

/// <summary>
/// Direct hand-off (issue #11): a byte-only send to a kernel task parked on an empty inbox completes that receive
/// itself, the receive resumes on a kernel CPU (queued through the kernel scheduler, never the host thread pool), and
/// the parked waiter is reused. What a user relies on: every message sent is received exactly once, in order, or the
/// send fails with a typed error; a cancelled or closed receive never gets a message meant for a later one.
/// </summary>
public sealed class IpcHandOffTests() : IpcKernelTestBase(cpus: 2, "hand-off test")
{
    [Fact]
    public async Task A_send_to_a_parked_kernel_receiver_completes_it_with_a_copy_on_a_kernel_cpu_and_queues_nothing()
    {
        var (a, ha, b, hb) = Pair();
        var received = OnKernel(async () =>
        {
            var m = await _ipc.ReceiveAsync(b, hb);
            return (Message: m, ResumedOnKernelCpu: _scheduler.IsKernelThread && KernelTask.Current is not null);
        });
        Assert.True(await Wait.Until(() => Endpoint(b, hb).Waiters == 1, Timeout));
        var payload = "hand-off"u8.ToArray();
        Assert.True(_ipc.TrySend(a, ha, payload).IsOk);
        payload[0] = (byte)'X'; // the receiver got its own copy at send time
        Assert.Equal(0, Endpoint(b, hb).Pending); // handed over, never queued
        var (got, onKernel) = await received;
        Assert.Equal("hand-off", Encoding.UTF8.GetString(got.Value.Data));
        Assert.Empty(got.Value.Handles);
        Assert.True(onKernel);
        Assert.Equal(0, Endpoint(b, hb).Waiters);
        Assert.Equal(_manager.MessagesSent, _manager.MessagesReceived);
    }

    [Fact]
    public async Task Ping_pong_between_two_kernel_tasks_delivers_every_message_in_order()
    {
        var (a, ha, b, hb) = Pair();
        const int Rounds = 20_000;
        var echo = OnKernel(async () =>
        {
            for (int i = 0; i < Rounds; i++)
            {
                var m = await _ipc.ReceiveAsync(b, hb);
                if (!m.IsOk) return m.Code;
                var sent = await _ipc.SendAsync(b, hb, m.Value.Data);
                if (!sent.IsOk) return sent.Code;
            }
            return ErrorCode.None;
        });
        var client = OnKernel(async () =>
        {
            for (int i = 0; i < Rounds; i++)
            {
                var sent = await _ipc.SendAsync(a, ha, BitConverter.GetBytes(i));
                if (!sent.IsOk) return -1;
                var back = await _ipc.ReceiveAsync(a, ha);
                if (!back.IsOk || BitConverter.ToInt32(back.Value.Data) != i) return i;
            }
            return Rounds;
        });
        Assert.Equal(Rounds, await client);
        Assert.Equal(ErrorCode.None, await echo);
        Assert.Equal(_manager.MessagesSent, _manager.MessagesReceived);
    }

    [Fact]
    public async Task Reused_waiter_after_a_cancelled_receive_gets_only_later_messages_in_order()
    {
        var (a, ha, b, hb) = Pair();
        var failures = await OnKernel(async () =>
        {
            var bad = new List<string>();
            for (int round = 0; round < 1000; round++)
            {
                using (var cts = new CancellationTokenSource())
                {
                    var cancelled = _ipc.ReceiveAsync(b, hb, cts.Token);
                    cts.Cancel();
                    var c = await cancelled;
                    if (c.Code != ErrorCode.Cancelled) bad.Add($"round {round}: cancelled receive gave {c.Code}");
                }
                // The same (pooled) waiter parks again; two receivers at once get one message each, oldest first.
                var first = _ipc.ReceiveAsync(b, hb);
                var second = _ipc.ReceiveAsync(b, hb);
                _ipc.TrySend(a, ha, BitConverter.GetBytes(2 * round)).Unwrap();
                _ipc.TrySend(a, ha, BitConverter.GetBytes(2 * round + 1)).Unwrap();
                int x = BitConverter.ToInt32((await first).Value.Data), y = BitConverter.ToInt32((await second).Value.Data);
                if (x != 2 * round || y != 2 * round + 1) bad.Add($"round {round}: got {x}, {y}");
            }
            return bad;
        });
        Assert.Empty(failures);
        Assert.Equal(0, Endpoint(b, hb).Waiters);
        Assert.Equal(0, Endpoint(b, hb).Pending);
    }

    [Fact]
    public async Task Hand_off_racing_cancel_delivers_every_message_exactly_once()
    {
        var (a, ha, b, hb) = Pair();
        const int Rounds = 3_000;
        var failures = await OnKernel(async () =>
        {
            var bad = new List<string>();
            for (int i = 0; i < Rounds; i++)
            {
                using var cts = new CancellationTokenSource();
                var receive = _ipc.ReceiveAsync(b, hb, cts.Token);
                int n = i;
                var send = Task.Run(() => _ipc.TrySend(a, ha, BitConverter.GetBytes(n)));
                var cancel = Task.Run(cts.Cancel);
                var r = await receive;
                await cancel;
                if (!(await send).IsOk) { bad.Add($"round {i}: send failed"); continue; }
                if (r.IsOk)
                {
                    if (BitConverter.ToInt32(r.Value.Data) != i) bad.Add($"round {i}: received another round's message");
                    if (_ipc.TryReceive(b, hb).Code != ErrorCode.WouldBlock) bad.Add($"round {i}: handed over and also queued");
                }
                else if (r.Code != ErrorCode.Cancelled) bad.Add($"round {i}: receive failed {r.Code}");
                else if (_ipc.TryReceive(b, hb) is var queued && (!queued.IsOk || BitConverter.ToInt32(queued.Value.Data) != i))
                    bad.Add($"round {i}: cancelled receive, and the message was not queued either ({queued.Code})");
            }
            return bad;
        });
        Assert.Empty(failures);
        Assert.Equal(0, Endpoint(b, hb).Waiters);
        Assert.Equal(_manager.MessagesSent, _manager.MessagesReceived);
    }

    [Fact]
    public async Task Hand_off_racing_close_either_delivers_once_or_fails_typed()
    {
        const int Rounds = 1_000;
        for (int i = 0; i < Rounds; i++)
        {
            var (a, ha, b, hb) = Pair();
            var receive = OnKernel(async () => await _ipc.ReceiveAsync(b, hb));
            int n = i;
            var send = Task.Run(() => _ipc.TrySend(a, ha, BitConverter.GetBytes(n)));
            // Alternate which side goes away: the sender's end (the receiver sees Closed) or the receiver's own handle
            // (its receive fails with the handle's error; the sender sees Closed).
            Assert.True((i % 2 == 0 ? _ipc.Close(a, ha) : _ipc.Close(b, hb)).IsOk);
            var sent = await send;
            var got = await receive;
            Assert.NotEqual(ErrorCode.WouldBlock, got.Code);
            Assert.NotEqual(ErrorCode.WouldBlock, sent.Code);
            if (got.IsOk)
            {
                Assert.True(sent.IsOk);
                Assert.Equal(i, BitConverter.ToInt32(got.Value.Data));
                if (i % 2 == 0) Assert.Equal(ErrorCode.Closed, _ipc.TryReceive(b, hb).Code); // not delivered twice
            }
            else if (sent.IsOk && i % 2 == 0)
            {
                // Queued just before the receive saw the peer closed: still there for the next receive, once.
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
        var received = OnKernel(async () => await _ipc.ReceiveAsync(b, hb));
        Assert.True(await Wait.Until(() => Endpoint(b, hb).Waiters == 1, Timeout));
        Assert.True(_ipc.TrySend(a, ha, "cap"u8, [new HandleTransfer(y, TransferMode.Move)]).IsOk);
        var got = await received;
        var moved = Assert.Single(got.Value.Handles);
        Assert.True(_ipc.TrySend(a, x, "through"u8).IsOk);
        Assert.Equal("through", Encoding.UTF8.GetString(_ipc.TryReceive(b, moved).Value.Data));
    }

    [Fact]
    public async Task A_receive_whose_handle_closes_while_parked_fails_typed_and_is_handed_nothing()
    {
        var (a, ha, b, hb) = Pair();
        var received = OnKernel(async () => await _ipc.ReceiveAsync(b, hb));
        Assert.True(await Wait.Until(() => Endpoint(b, hb).Waiters == 1, Timeout));
        Assert.True(_ipc.Close(b, hb).IsOk); // the receiver's handle is gone while it waits
        var sent = _ipc.TrySend(a, ha, "late"u8);
        var got = await received;
        Assert.False(got.IsOk);
        Assert.NotEqual(ErrorCode.WouldBlock, got.Code);
        Assert.Equal(ErrorCode.Closed, sent.Code);
    }

    [Fact]
    public async Task A_receive_whose_handle_moved_away_while_parked_is_not_handed_the_message()
    {
        var (a, ha, b, hb) = Pair();
        var received = OnKernel(async () => await _ipc.ReceiveAsync(b, hb));
        Assert.True(await Wait.Until(() => Endpoint(b, hb).Waiters == 1, Timeout));
        // The endpoint leaves b's table for another process while b's receive is parked on it: the hand-off re-checks
        // b's handle, queues the message instead, and b's woken receive fails on its own (now empty) handle.
        var c = _pm.Spawn("c", _ns.RootCapability).Value.Process;
        var hc = c.AddHandle(b.Handles.Remove(hb).Value).Value;
        Assert.True(_ipc.TrySend(a, ha, "for the holder"u8).IsOk);
        var got = await received;
        Assert.False(got.IsOk);
        Assert.NotEqual(ErrorCode.WouldBlock, got.Code);
        Assert.Equal("for the holder", Encoding.UTF8.GetString(_ipc.TryReceive(c, hc).Value.Data));
    }
}
