using System.Collections.Concurrent;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Ipc;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Tests.Ipc;

/// <summary>
/// Pooled packed envelopes (ipc12) through every way a channel ends (issue #11 review): closing either end, revoking
/// an end's capability, destroying the receiving process, and moving an end to another process, each with a packed
/// batch taken whole (pooled, still charged), one half received and one untouched queued. What a tenant relies on: its
/// charged bytes return to exactly what they were before the channel was used, nothing is received through an end
/// after it closed, what a closed sender had queued is still received once and in order, and a pooled batch is never
/// refilled while a receiver still holds its bytes.
/// </summary>
public sealed class IpcPackedTeardownTests() : IpcKernelTestBase(cpus: 1, "packed teardown test")
{
    private const int PerBatch = 6;

    private ConcurrentDictionary<Principal, long> MeterCharges()
    {
        var charged = new ConcurrentDictionary<Principal, long>();
        _manager.MemoryQuota = (p, bytes) => { charged.AddOrUpdate(p, bytes, (_, v) => v + bytes); return Result.Ok; };
        return charged;
    }

    private static (byte[] Packed, int[] Lengths) Batch(int number) =>
        (Enumerable.Range(0, PerBatch).SelectMany(i => new byte[] { (byte)number, (byte)i, 7, 7 }).ToArray(), Enumerable.Repeat(4, PerBatch).ToArray());

    private static long BatchCost => PerBatch * (4L + IpcManager.MessageOverheadBytes);

    /// <summary>Batch 0 taken whole (its envelope pooled, charged), batch 1 half taken, batch 2 queued untouched.
    /// Returns how many messages are still queued.</summary>
    private int Load(Process a, Handle ha, Process b, Handle hb, ConcurrentDictionary<Principal, long> charged)
    {
        var buffer = new byte[256];
        var lengths = new int[64];
        var (p0, l0) = Batch(0);
        Assert.Equal(PerBatch, _ipc.TrySendPacked(a, ha, p0, l0).Value);
        Assert.Equal(PerBatch, _ipc.TryReceiveBatchInto(b, hb, buffer, lengths).Value);
        Assert.Equal(BatchCost, charged[a.Principal]); // the pooled batch keeps its charge
        var (p1, l1) = Batch(1);
        Assert.Equal(PerBatch, _ipc.TrySendPacked(a, ha, p1, l1).Value); // same shape: refills the pooled batch
        Assert.Equal(BatchCost, charged[a.Principal]);
        var (p2, l2) = Batch(2);
        Assert.Equal(PerBatch, _ipc.TrySendPacked(a, ha, p2, l2).Value); // the pool is empty now: a batch of its own
        Assert.Equal(2 * BatchCost, charged[a.Principal]);
        // Half of batch 1, through both single receive calls and a short batched receive.
        Assert.Equal(4, _ipc.TryReceiveInto(b, hb, buffer).Value.Length);
        Assert.Equal(new byte[] { 1, 0, 7, 7 }, buffer[..4]);
        var m = _ipc.TryReceive(b, hb).Value;
        Assert.Equal(new byte[] { 1, 1, 7, 7 }, m.Data);
        Assert.Equal(1, _ipc.TryReceiveBatchInto(b, hb, buffer, lengths.AsSpan(0, 1)).Value);
        Assert.Equal(new byte[] { 1, 2, 7, 7 }, buffer[..4]);
        Assert.Equal(2 * BatchCost, charged[a.Principal]); // a half-taken batch holds its whole memory
        Assert.Equal(2 * PerBatch - 3, Endpoint(b, hb).Pending);
        return 2 * PerBatch - 3;
    }

    [Fact]
    public void Closing_the_receiving_end_drops_and_refunds_every_batch_pooled_half_taken_or_queued()
    {
        var (a, ha, b, hb) = Pair(depth: 64);
        var charged = MeterCharges();
        var ep = Endpoint(b, hb);
        int queued = Load(a, ha, b, hb, charged);
        long dropped = _manager.MessagesDropped;
        Assert.True(_ipc.Close(b, hb).IsOk);
        Assert.Equal(0, charged[a.Principal]);
        Assert.Equal(queued, _manager.MessagesDropped - dropped);
        Assert.Equal(0, ep.Pending);
        Assert.Equal(ErrorCode.Closed, _ipc.TrySendPacked(a, ha, Batch(3).Packed, Batch(3).Lengths).Code);
        Assert.Equal(0, charged[a.Principal]);
    }

    [Fact]
    public void Closing_the_sending_end_refunds_the_pool_and_what_it_queued_is_still_received_once_in_order_then_closed()
    {
        var (a, ha, b, hb) = Pair(depth: 64);
        var charged = MeterCharges();
        int queued = Load(a, ha, b, hb, charged);
        Assert.True(_ipc.Close(a, ha).IsOk);
        // Nothing was pooled (batch 0's envelope is in the inbox as batch 1): both queued batches still charged.
        Assert.Equal(2 * BatchCost, charged[a.Principal]);
        var buffer = new byte[256];
        var lengths = new int[64];
        var got = new List<(byte Batch, byte Index)>();
        while (true)
        {
            var r = _ipc.TryReceiveBatchInto(b, hb, buffer, lengths.AsSpan(0, 2)); // two at a time: batches split
            if (!r.IsOk) { Assert.Equal(ErrorCode.Closed, r.Code); break; }
            for (int i = 0; i < r.Value; i++) got.Add((buffer[i * 4], buffer[i * 4 + 1]));
        }
        Assert.Equal(queued, got.Count);
        Assert.Equal(Enumerable.Range(3, PerBatch - 3).Select(i => ((byte)1, (byte)i))
            .Concat(Enumerable.Range(0, PerBatch).Select(i => ((byte)2, (byte)i))), got);
        // Fully taken with no sender left: never pooled, so nothing stays charged.
        Assert.Equal(0, charged[a.Principal]);
        Assert.Equal(ErrorCode.Closed, _ipc.TryReceive(b, hb).Code);
        Assert.True(_ipc.Close(b, hb).IsOk);
        Assert.Equal(0, charged[a.Principal]);
    }

    [Fact]
    public void Revoking_the_receiving_ends_capability_closes_it_and_refunds_everything()
    {
        var (a, ha, b, hb) = Pair(depth: 64);
        var charged = MeterCharges();
        Load(a, ha, b, hb, charged);
        var token = b.TokenOf(hb).Value;
        Assert.True(_caps.Revoke(token, Principal.Kernel).IsOk);
        Assert.Equal(0, charged[a.Principal]);
        Assert.Equal(ErrorCode.Closed, _ipc.TrySendPacked(a, ha, Batch(3).Packed, Batch(3).Lengths).Code);
        Assert.False(_ipc.TryReceive(b, hb).IsOk);
        Assert.Equal(0, charged[a.Principal]);
    }

    [Fact]
    public async Task Destroying_the_receiving_process_refunds_everything_it_had_queued_and_pooled()
    {
        var a = _pm.Spawn("a", _ns.RootCapability).Value.Process;
        var (b, control) = _pm.Spawn("b", _ns.RootCapability).Value;
        var (ha, y) = _ipc.CreateChannel(a, 64).Value;
        var hb = b.AddHandle(a.Handles.Remove(y).Value).Value;
        var charged = MeterCharges();
        Load(a, ha, b, hb, charged);
        Assert.True((await _pm.DestroyAsync(control, Principal.Kernel)).IsOk);
        Assert.Equal(0, charged[a.Principal]);
        Assert.Equal(ErrorCode.Closed, _ipc.TrySendPacked(a, ha, Batch(3).Packed, Batch(3).Lengths).Code);
        Assert.Equal(0, charged[a.Principal]);
    }

    [Fact]
    public void Moving_the_receiving_end_keeps_every_batch_and_its_charge_and_the_new_holder_takes_the_rest_in_order()
    {
        var (a, ha, b, hb) = Pair(depth: 64);
        var charged = MeterCharges();
        int queued = Load(a, ha, b, hb, charged);
        var c = _pm.Spawn("c", _ns.RootCapability).Value.Process;
        var hc = c.AddHandle(b.Handles.Remove(hb).Value).Value;
        Assert.Equal(2 * BatchCost, charged[a.Principal]);
        var got = new List<byte[]>();
        while (_ipc.TryReceive(c, hc) is { IsOk: true } m) got.Add(m.Value.Data);
        Assert.Equal(queued, got.Count);
        Assert.Equal(new byte[] { 1, 3, 7, 7 }, got[0]);
        Assert.Equal(new byte[] { 2, PerBatch - 1, 7, 7 }, got[^1]);
        Assert.Equal(0, charged[a.Principal]); // received as messages: refunded, nothing pooled on that path
        Assert.True(_ipc.Close(c, hc).IsOk);
        Assert.True(_ipc.Close(a, ha).IsOk);
        Assert.Equal(0, charged[a.Principal]);
    }

    [Fact]
    public void A_pooled_batch_is_refilled_only_after_its_last_message_left_and_never_under_a_holder_of_its_bytes()
    {
        var (a, ha, b, hb) = Pair(depth: 64);
        var charged = MeterCharges();
        var (p0, l0) = Batch(0);
        Assert.Equal(PerBatch, _ipc.TrySendPacked(a, ha, p0, l0).Value);
        // Taken one message at a time as messages: each is a copy (the batch's block is not handed out).
        var messages = new List<IpcMessage>();
        for (int i = 0; i < PerBatch; i++) messages.Add(_ipc.TryReceive(b, hb).Value);
        // Another batch of the same shape while every earlier message is still held (none disposed).
        var (p1, l1) = Batch(1);
        Assert.Equal(PerBatch, _ipc.TrySendPacked(a, ha, p1, l1).Value);
        for (int i = 0; i < PerBatch; i++) Assert.Equal(new byte[] { 0, (byte)i, 7, 7 }, messages[i].Data);
        // A batch whose last message left through a buffer is pooled; the next same-shape send refills it, and the
        // bytes received before stay as they were (they were copied out).
        var buffer = new byte[256];
        var lengths = new int[64];
        Assert.Equal(PerBatch, _ipc.TryReceiveBatchInto(b, hb, buffer, lengths).Value);
        var before = buffer[..(4 * PerBatch)];
        var (p2, l2) = Batch(2);
        Assert.Equal(PerBatch, _ipc.TrySendPacked(a, ha, p2, l2).Value);
        Assert.Equal(before, buffer[..(4 * PerBatch)]);
        Assert.Equal(PerBatch, _ipc.TryReceiveBatchInto(b, hb, buffer, lengths).Value);
        Assert.Equal(2, buffer[0]);
        Assert.True(_ipc.Close(b, hb).IsOk);
        Assert.Equal(0, charged[a.Principal]);
        Assert.Equal(0, _manager.MessagesDropped);
    }
}
