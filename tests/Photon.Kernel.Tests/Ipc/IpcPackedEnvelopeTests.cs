using System.Collections.Concurrent;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Ipc;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Tests.Ipc;

/// <summary>
/// A packed batched send is one inbox entry holding all its messages (issue #11: no envelope, queue slot or copy call
/// per message). What a user relies on: every message still arrives once, whole and in order through every receive call
/// (single into a buffer, single as a message, batched as messages, batched into a buffer cut by its lengths array or
/// its buffer), mixed in order with single sends; the inbox's depth counts messages, not entries; the tenant stays
/// charged exactly what the batch's memory costs until its last message is taken (then the pooled batch keeps it, as a
/// pooled single envelope does), and a close refunds everything and counts the undelivered messages as dropped.
/// </summary>
public sealed class IpcPackedEnvelopeTests() : IpcKernelTestBase(cpus: 1, "packed envelope test")
{
    private static (byte[] Packed, int[] Lengths) Pack(int first, int count)
    {
        var lengths = Enumerable.Range(first, count).Select(i => 1 + i % 5).ToArray();
        var packed = Enumerable.Range(first, count).SelectMany(i => Enumerable.Repeat((byte)i, 1 + i % 5)).ToArray();
        return (packed, lengths);
    }

    private static long Cost(int first, int count) =>
        Enumerable.Range(first, count).Sum(i => 1L + i % 5) + (long)count * IpcManager.MessageOverheadBytes;

    private static void AssertMessage(int number, ReadOnlySpan<byte> bytes)
    {
        Assert.Equal(1 + number % 5, bytes.Length);
        foreach (var b in bytes) Assert.Equal((byte)number, b);
    }

    private ConcurrentDictionary<Principal, long> MeterCharges()
    {
        var charged = new ConcurrentDictionary<Principal, long>();
        _manager.MemoryQuota = (p, bytes) => { charged.AddOrUpdate(p, bytes, (_, v) => v + bytes); return Result.Ok; };
        return charged;
    }

    [Fact]
    public void Every_receive_call_takes_a_batchs_messages_once_in_order_and_the_charge_holds_until_the_last()
    {
        var (a, ha, b, hb) = Pair(depth: 64);
        var charged = MeterCharges();
        var (packed, lengths) = Pack(0, 10);
        Assert.Equal(10, _ipc.TrySendPacked(a, ha, packed, lengths).Value);
        Assert.True(_ipc.TrySend(a, ha, new byte[] { 10 }).IsOk); // a single send after the batch comes after all of it
        Assert.Equal(11, Endpoint(b, hb).Pending);
        long batchCost = Cost(0, 10), singleCost = 1 + IpcManager.MessageOverheadBytes;
        Assert.Equal(batchCost + singleCost, charged[a.Principal]);

        var buffer = new byte[64];
        var got = _ipc.TryReceiveInto(b, hb, buffer); // message 0
        AssertMessage(0, buffer.AsSpan(0, got.Value.Length));
        var message = _ipc.TryReceive(b, hb).Value; // message 1, as its own array
        AssertMessage(1, message.Data);
        var some = _ipc.TryReceiveBatch(b, hb, 2).Value; // messages 2 and 3
        AssertMessage(2, some[0].Data);
        AssertMessage(3, some[1].Data);
        Assert.Equal(batchCost + singleCost, charged[a.Principal]); // the batch's memory is still held

        // A lengths array of 3: messages 4..6, cut there; the rest follows.
        var ls = new int[3];
        Assert.Equal(3, _ipc.TryReceiveBatchInto(b, hb, buffer, ls).Value);
        int offset = 0;
        for (int i = 0; i < 3; offset += ls[i], i++) AssertMessage(4 + i, buffer.AsSpan(offset, ls[i]));
        // A buffer holding exactly message 7 (3 bytes) and not message 8 (4 bytes): cut by the buffer.
        var small = new byte[3 + 1];
        var many = new int[16];
        Assert.Equal(1, _ipc.TryReceiveBatchInto(b, hb, small, many).Value);
        AssertMessage(7, small.AsSpan(0, many[0]));
        var tiny = new byte[2];
        Assert.Equal(ErrorCode.OutOfRange, _ipc.TryReceiveBatchInto(b, hb, tiny, many).Code); // message 8 stays queued
        Assert.Equal(ErrorCode.OutOfRange, _ipc.TryReceiveInto(b, hb, tiny).Code);
        Assert.Equal(3, Endpoint(b, hb).Pending);

        // The last two of the batch and the single after it, in one batched receive.
        Assert.Equal(3, _ipc.TryReceiveBatchInto(b, hb, buffer, many).Value);
        AssertMessage(8, buffer.AsSpan(0, many[0]));
        AssertMessage(9, buffer.AsSpan(many[0], many[1]));
        Assert.Equal(10, buffer[many[0] + many[1]]);
        Assert.Equal(1, many[2]);
        Assert.Equal(ErrorCode.WouldBlock, _ipc.TryReceiveInto(b, hb, buffer).Code);
        Assert.Equal(11, _manager.MessagesSent);
        Assert.Equal(11, _manager.MessagesReceived);
        // Fully taken: the batch and the single envelope wait in the pools, still the sender's.
        Assert.Equal(batchCost + singleCost, charged[a.Principal]);

        // The same shape again reuses the pooled batch: nothing more is charged than the batch costs.
        Assert.Equal(10, _ipc.TrySendPacked(a, ha, packed, lengths).Value);
        Assert.Equal(batchCost + singleCost, charged[a.Principal]);
        Assert.Equal(10, _ipc.TryReceiveBatchInto(b, hb, buffer, many).Value);
        offset = 0;
        for (int i = 0; i < 10; offset += many[i], i++) AssertMessage(i, buffer.AsSpan(offset, many[i]));

        // Another shape releases the pooled batch (refunded) instead of leaving it to fill the pool.
        var (three, threeLengths) = Pack(0, 3);
        Assert.Equal(3, _ipc.TrySendPacked(a, ha, three, threeLengths).Value);
        Assert.Equal(Cost(0, 3) + singleCost, charged[a.Principal]);
        Assert.Equal(3, _ipc.TryReceiveBatchInto(b, hb, buffer, many).Value);

        Assert.True(_ipc.Close(b, hb).IsOk);
        Assert.Equal(0, charged[a.Principal]);
        Assert.Equal(0, _manager.MessagesDropped);
    }

    [Fact]
    public void The_depth_counts_messages_and_a_close_drops_and_refunds_what_a_batch_still_holds()
    {
        var (a, ha, b, hb) = Pair(depth: 8);
        var charged = MeterCharges();
        var (packed, lengths) = Pack(0, 12);
        Assert.Equal(8, _ipc.TrySendPacked(a, ha, packed, lengths).Value); // the depth, not one entry, bounds it
        Assert.Equal(ErrorCode.WouldBlock, _ipc.TrySendPacked(a, ha, packed, lengths).Code);
        Assert.Equal(ErrorCode.WouldBlock, _ipc.TrySend(a, ha, new byte[] { 1 }).Code);
        Assert.Equal(Cost(0, 8), charged[a.Principal]);

        var buffer = new byte[16];
        AssertMessage(0, buffer.AsSpan(0, _ipc.TryReceiveInto(b, hb, buffer).Value.Length));
        AssertMessage(1, buffer.AsSpan(0, _ipc.TryReceiveInto(b, hb, buffer).Value.Length));
        // Two places free: the rest of the first batch's messages (8 and 9 of the 12) go in a second entry.
        Assert.Equal(2, _ipc.TrySendPacked(a, ha, packed.AsSpan(Pack(0, 8).Packed.Length).ToArray(), lengths[8..]).Value);
        Assert.Equal(8, Endpoint(b, hb).Pending);

        Assert.True(_ipc.Close(b, hb).IsOk); // six of the first batch and both of the second never delivered
        Assert.Equal(8, _manager.MessagesDropped);
        Assert.Equal(0, charged[a.Principal]);
        Assert.Equal(ErrorCode.Closed, _ipc.TrySendPacked(a, ha, packed, lengths).Code);
    }

    [Fact]
    public async Task A_kernel_task_stream_of_batches_into_single_receives_arrives_in_order_with_nothing_left_charged()
    {
        var (a, ha, b, hb) = Pair(depth: 32);
        var charged = MeterCharges();
        const int Batches = 300, PerBatch = 16;
        var numbers = await OnKernel(async () =>
        {
            var reader = _scheduler.Spawn(async () =>
            {
                var seen = new List<int>();
                var buffer = new byte[8];
                for (int i = 0; i < Batches * PerBatch; i++)
                {
                    var got = await _ipc.ReceiveIntoAsync(b, hb, buffer);
                    Assert.True(got.IsOk, got.IsOk ? "" : got.Error.ToString());
                    seen.Add(buffer[0]);
                    Assert.Equal(1 + buffer[0] % 5, got.Value.Length);
                }
                return seen;
            }, "reader");
            for (int k = 0; k < Batches; k++)
            {
                var (packed, lengths) = Pack(0, PerBatch);
                Assert.Equal(PerBatch, (await _ipc.SendPackedAsync(a, ha, packed, lengths)).Value);
            }
            return await reader.Completion;
        });
        Assert.Equal(Enumerable.Range(0, Batches).SelectMany(_ => Enumerable.Range(0, PerBatch)).Select(i => (int)(byte)i), numbers);
        Assert.True(_ipc.Close(a, ha).IsOk);
        Assert.Equal(0, charged[a.Principal]);
    }
}
