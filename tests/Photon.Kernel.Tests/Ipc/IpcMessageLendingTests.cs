using System.Collections.Concurrent;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Ipc;
using Photon.Kernel.Processes;
using Photon.Kernel.Tests.Scheduling;

namespace Photon.Kernel.Tests.Ipc;

/// <summary>
/// A received <see cref="IpcMessage"/> handed back by its Dispose is reused for its endpoint's next receive of the same
/// size by the same process (issue #11: no allocation per message on the message-per-receive path). What a user relies
/// on: every message still arrives whole and in order; a kept message is never given to another process (a holder of a
/// stale reference sees only its own later messages); disposing twice, or a copy, never lends one message twice; a
/// message never disposed leaks no quota (the sender's charge is refunded at the receive); a close drops the kept one.
/// One CPU: both ends of a ping-pong and every hand-off run on its thread, so its allocation count is the whole cost.
/// </summary>
public sealed class IpcMessageLendingTests() : IpcKernelTestBase(cpus: 1, "message lending test")
{
    private ConcurrentDictionary<Principal, long> MeterCharges()
    {
        var charged = new ConcurrentDictionary<Principal, long>();
        _manager.MemoryQuota = (p, bytes) => { charged.AddOrUpdate(p, bytes, (_, v) => v + bytes); return Result.Ok; };
        return charged;
    }

    [Fact]
    public async Task Ping_pong_of_disposed_messages_delivers_every_message_in_order_and_allocates_nothing_per_round_trip()
    {
        var (a, ha, b, hb) = Pair();
        async Task<(long Bytes, int BadRound)> RoundTrips(int n)
        {
            var echo = OnKernel(async () =>
            {
                for (int i = 0; i < n; i++)
                {
                    var m = await _ipc.ReceiveAsync(b, hb);
                    if (!m.IsOk || !(await _ipc.SendAsync(b, hb, m.Value.Data)).IsOk) return false;
                    m.Value.Dispose();
                }
                return true;
            });
            var client = OnKernel(async () =>
            {
                var message = new byte[16];
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < n; i++)
                {
                    BitConverter.TryWriteBytes(message, i);
                    if (!(await _ipc.SendAsync(a, ha, message)).IsOk) return (0L, i);
                    var back = await _ipc.ReceiveAsync(a, ha);
                    if (!back.IsOk || back.Value.Data.Length != 16 || BitConverter.ToInt32(back.Value.Data) != i) return (0L, i);
                    back.Value.Dispose();
                }
                return (GC.GetAllocatedBytesForCurrentThread() - before, -1);
            });
            Assert.True(await echo);
            return await client;
        }
        await RoundTrips(1_000); // warm-up: JIT, tiering and the run queue's first growth allocate
        const int N = 20_000;
        var (bytes, badRound) = await RoundTrips(N);
        Assert.Equal(-1, badRound);
        // Before: 160 B per round trip (a 16 B array and an IpcMessage for each of the two messages).
        Assert.True(bytes / N < 8, $"{bytes / N} B allocated per round trip");
        Assert.Equal(_manager.MessagesSent, _manager.MessagesReceived);
        Assert.Equal(0, Endpoint(b, hb).Waiters);
    }

    [Fact]
    public void A_disposed_message_carries_the_same_process_next_message_of_its_size_and_is_never_lent_twice()
    {
        var (a, ha, b, hb) = Pair();
        Assert.True(_ipc.TrySend(a, ha, "first"u8).IsOk);
        var first = _ipc.TryReceive(b, hb).Value;
        Assert.Equal("first"u8.ToArray(), first.Data);
        first.Dispose();
        first.Dispose(); // a second Dispose of one lending does nothing

        Assert.True(_ipc.TrySend(a, ha, "again"u8).IsOk);
        Assert.True(_ipc.TrySend(a, ha, "third"u8).IsOk);
        var second = _ipc.TryReceive(b, hb).Value;
        var third = _ipc.TryReceive(b, hb).Value;
        Assert.Same(first, second); // the kept message, refilled
        Assert.Equal("again"u8.ToArray(), second.Data);
        Assert.NotSame(second, third); // the double Dispose did not keep it twice
        Assert.Equal("third"u8.ToArray(), third.Data);
        Assert.Equal("again"u8.ToArray(), second.Data); // the third did not overwrite the second

        // Another size gets a message of its own (and the kept one of the old size is dropped, not reused for it).
        third.Dispose();
        Assert.True(_ipc.TrySend(a, ha, "longer text"u8).IsOk);
        var longer = _ipc.TryReceive(b, hb).Value;
        Assert.NotSame(third, longer);
        Assert.Equal("longer text"u8.ToArray(), longer.Data);

        // A copy shares the bytes but is not the lent message: disposing it keeps nothing.
        var copy = longer with { };
        copy.Dispose();
        Assert.True(_ipc.TrySend(a, ha, "11 bytes..."u8).IsOk);
        var next = _ipc.TryReceive(b, hb).Value;
        Assert.NotSame(copy, next);
        Assert.NotSame(longer, next);
    }

    [Fact]
    public async Task A_kept_message_is_never_given_to_another_process_after_the_endpoint_moves()
    {
        var (a, ha, b, hb) = Pair();
        Assert.True(_ipc.TrySend(a, ha, "for b"u8).IsOk);
        var mine = _ipc.TryReceive(b, hb).Value;
        mine.Dispose(); // kept on the endpoint, for b
        // b hands its end to c (c now receives on it): c's messages land in arrays b never saw.
        var c = _pm.Spawn("c", _ns.RootCapability).Value.Process;
        var hc = c.AddHandle(b.Handles.Remove(hb).Value).Value;
        Assert.True(_ipc.TrySend(a, ha, "for c"u8).IsOk);
        var theirs = _ipc.TryReceive(c, hc).Value;
        Assert.NotSame(mine, theirs);
        Assert.NotSame(mine.Data, theirs.Data);
        Assert.Equal("for b"u8.ToArray(), mine.Data); // b's stale reference still shows only b's own message
        Assert.Equal("for c"u8.ToArray(), theirs.Data);

        // The same on the hand-off path: a parked kernel-task receive of c is handed the bytes in a message of its own.
        mine.Dispose();
        theirs.Dispose();
        var parked = OnKernel(async () => await _ipc.ReceiveAsync(c, hc));
        Assert.True(await Wait.Until(() => Endpoint(c, hc).Waiters == 1, Timeout));
        Assert.True(_ipc.TrySend(a, ha, "hand"u8).IsOk);
        var handed = (await parked).Value;
        Assert.Equal("hand"u8.ToArray(), handed.Data);
        Assert.NotSame(mine, handed);
        Assert.Equal("for b"u8.ToArray(), mine.Data);
    }

    [Fact]
    public void A_message_never_disposed_holds_no_quota_and_a_close_drops_the_kept_one()
    {
        var (a, ha, b, hb) = Pair();
        var charged = MeterCharges();
        for (int i = 0; i < 10; i++) Assert.True(_ipc.TrySend(a, ha, new byte[] { (byte)i, 1, 2 }).IsOk);
        Assert.Equal(10 * (3 + IpcManager.MessageOverheadBytes), charged[a.Principal]);
        var kept = new List<IpcMessage>();
        for (int i = 0; i < 10; i++)
        {
            var m = _ipc.TryReceive(b, hb).Value;
            Assert.Equal(i, m.Data[0]);
            // Receiving refunds the sender at once, whether or not the message is ever disposed (none is, here).
            Assert.Equal((9 - i) * (3 + IpcManager.MessageOverheadBytes), charged[a.Principal]);
            kept.Add(m);
        }
        Assert.Equal(10, kept.Select(m => m.Data).Distinct().Count()); // none disposed: ten arrays
        Assert.Equal(0, charged.GetValueOrDefault(b.Principal));

        // A close drops the kept message, and one disposed after the close is not kept (nothing can arrive there).
        kept[0].Dispose();
        Assert.True(Endpoint(b, hb).KeepsMessage);
        Assert.True(_ipc.Close(a, ha).IsOk);
        Assert.False(Endpoint(b, hb).KeepsMessage);
        kept[^1].Dispose();
        Assert.False(Endpoint(b, hb).KeepsMessage);
        Assert.Equal(ErrorCode.Closed, _ipc.TryReceive(b, hb).Code);
        Assert.Equal(0, charged[a.Principal]);
        Assert.Equal(_manager.MessagesSent, _manager.MessagesReceived);
    }

    [Fact]
    public void A_message_longer_than_a_kept_one_may_be_is_its_envelope_bytes_and_is_never_kept()
    {
        var (a, ha, b, hb) = Pair();
        var big = Enumerable.Range(0, ChannelEndpoint.KeptMessageBytes + 1).Select(i => (byte)i).ToArray();
        Assert.True(_ipc.TrySend(a, ha, big).IsOk);
        var m = _ipc.TryReceive(b, hb).Value;
        Assert.Equal(big, m.Data);
        m.Dispose();
        Assert.True(_ipc.TrySend(a, ha, big).IsOk);
        var n = _ipc.TryReceive(b, hb).Value;
        Assert.NotSame(m, n);
        Assert.Equal(big, m.Data); // the first is the receiver's for good: never overwritten
    }
}
