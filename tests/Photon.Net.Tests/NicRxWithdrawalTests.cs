using System.Buffers.Binary;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Net;

namespace Photon.Net.Tests;

/// <summary>
/// The NIC driver's RX controller keeps its posted buffers in a ring with a count per withdrawal token (tcp18, instead of
/// a list scanned, copied and shifted per burst): frames still fill the posted buffers in posting order, none lost or
/// reordered across the ring's wrap; a withdrawn buffer never takes a frame; and a buffer withdrawn anywhere in the ring,
/// not only among the ones the device is filling, is handed back (its tag freed) without waiting for a frame.
/// </summary>
public sealed class NicRxWithdrawalTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private static byte[] Frame(int seq)
    {
        var f = new byte[64];
        new byte[] { 2, 0, 0, 0, 1, 2, 2, 0, 0, 0, 1, 1, 0x08, 0x00 }.CopyTo(f, 0);
        BinaryPrimitives.WriteInt32BigEndian(f.AsSpan(20), seq);
        return f;
    }

    private static int Seq(byte[] buffer) => BinaryPrimitives.ReadInt32BigEndian(buffer.AsSpan(20));

    private static async Task WaitFor(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, what);
            await Task.Delay(5);
        }
    }

    [Fact]
    public async Task A_buffer_withdrawn_behind_the_ones_being_filled_is_handed_back_without_a_frame()
    {
        var caps = new CapabilityManager();
        var (wa, wb) = MultiQueueWireEnd.Pair(queues: 1);
        var (nic, cap) = NicDriver.Start(wa, caps, new NicOptions(Batch: 8)).Value;
        // Six groups of 10 buffers, each with its own token. The controller takes posted buffers off the ring before each
        // wait for the device, so one frame makes it take all 60; the device fills the first 8, group 5 is far behind.
        var groups = new List<(CancellationTokenSource Cts, byte[][] Buffers, IReadOnlyList<Task<Result<int>>> Tasks)>();
        for (int g = 0; g < 6; g++)
        {
            var cts = new CancellationTokenSource();
            var bufs = Enumerable.Range(0, 10).Select(_ => new byte[nic.MinReceiveBuffer]).ToArray();
            var posted = nic.PostReceiveBatch(cap, 0, bufs.Select(b => (Memory<byte>)b).ToArray(), ct: cts.Token);
            Assert.True(posted.IsOk, posted.ToString());
            Assert.Equal(10, posted.Value.Count);
            groups.Add((cts, bufs, posted.Value));
        }
        await wb.SendBatchAsync(0, [Frame(0)]);
        Assert.True((await groups[0].Tasks[0].WaitAsync(Timeout)).IsOk);
        var ring = nic.RxQueues[0];
        await WaitFor(() => ring.PendingSubmissions == 0 && ring.Stats.InFlight == 59, $"the controller took the posted buffers (in flight {ring.Stats.InFlight})");

        groups[5].Cts.Cancel();
        foreach (var t in groups[5].Tasks) Assert.Equal(ErrorCode.Cancelled, (await t.WaitAsync(Timeout)).Code);
        // The controller frees their tags now, not when a frame next arrives (none is sent).
        await WaitFor(() => ring.Stats.InFlight == 49, $"withdrawn tags freed without a frame (in flight {ring.Stats.InFlight})");

        // Withdraw group 1 too (inside the window being filled), then send 39 more frames: groups 0, 2, 3, 4 take all 40
        // in posting order.
        groups[1].Cts.Cancel();
        for (int seq = 1; seq < 40; seq++) await wb.SendBatchAsync(0, [Frame(seq)]);
        int expect = 0;
        foreach (int g in new[] { 0, 2, 3, 4 })
            for (int i = 0; i < 10; i++)
            {
                var r = await groups[g].Tasks[i].WaitAsync(Timeout);
                Assert.True(r.IsOk, r.ToString());
                Assert.Equal(expect++, Seq(groups[g].Buffers[i]));
            }
        foreach (var t in groups[1].Tasks) Assert.Equal(ErrorCode.Cancelled, (await t.WaitAsync(Timeout)).Code);
        Assert.Equal(40, nic.Stats.RxFrames);
        await WaitFor(() => ring.Stats.InFlight == 0, $"every tag freed (in flight {ring.Stats.InFlight})");
        await nic.DisposeAsync();
    }

    [Fact]
    public async Task Frames_fill_the_posted_buffers_in_order_across_many_wraps_while_groups_are_withdrawn()
    {
        var caps = new CapabilityManager();
        var (wa, wb) = MultiQueueWireEnd.Pair(queues: 1);
        var (nic, cap) = NicDriver.Start(wa, caps, new NicOptions(QueueDepth: 64, Batch: 8)).Value;
        var rng = new Random(18);
        const int Frames = 3000;
        int sent = 0;
        var received = new List<int>();
        int lastSeq = -1;
        var pending = new Queue<(byte[] Buffer, Task<Result<int>> Task)>();
        var live = new List<CancellationTokenSource>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        bool AllTaken() => sent == Frames && nic.Stats.RxFrames == Frames;
        while (!AllTaken() || pending.Count > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, $"stuck: sent {sent}, received {received.Count}, pending {pending.Count}");
            // Post a group of 1–12 buffers under a token of its own (ring room permitting).
            if (pending.Count < 40 && !AllTaken())
            {
                var cts = new CancellationTokenSource();
                var bufs = Enumerable.Range(0, rng.Next(1, 13)).Select(_ => new byte[nic.MinReceiveBuffer]).ToArray();
                var posted = nic.PostReceiveBatch(cap, 0, bufs.Select(b => (Memory<byte>)b).ToArray(), ct: cts.Token);
                if (posted.IsOk)
                {
                    for (int i = 0; i < posted.Value.Count; i++) pending.Enqueue((bufs[i], posted.Value[i]));
                    live.Add(cts);
                }
                else Assert.Equal(ErrorCode.WouldBlock, posted.Code); // withdrawn tags not yet handed back fill the ring
            }
            // Now and then withdraw a random live group (possibly while the device fills it).
            if (live.Count > 0 && rng.Next(6) == 0)
            {
                int k = rng.Next(live.Count);
                live[k].Cancel();
                live.RemoveAt(k);
            }
            // Send a few frames.
            for (int i = rng.Next(0, 6); i > 0 && sent < Frames; i--) await wb.SendBatchAsync(0, [Frame(sent++)]);
            // Reap the completed front, in posting order: every frame taken lands in order, none twice.
            while (pending.Count > 0 && (pending.Peek().Task.IsCompleted || AllTaken()))
            {
                var (buffer, task) = pending.Dequeue();
                Result<int> r;
                try { r = await task.WaitAsync(TimeSpan.FromMilliseconds(200)); }
                catch (TimeoutException)
                {
                    // Every frame is taken and this buffer waits for more: withdraw what is left.
                    foreach (var c in live) c.Cancel();
                    live.Clear();
                    r = await task.WaitAsync(Timeout);
                }
                if (!r.IsOk)
                {
                    Assert.Equal(ErrorCode.Cancelled, r.Code);
                    continue;
                }
                int seq = Seq(buffer);
                Assert.True(seq > lastSeq, $"frame {seq} after {lastSeq}: reordered or repeated");
                lastSeq = seq;
                received.Add(seq);
            }
        }
        // A frame is missing only if the buffer it went into was withdrawn after the device filled it; the driver
        // counted every frame the device handed over.
        Assert.Equal(Frames, nic.Stats.RxFrames);
        Assert.True(received.Count > Frames / 2, $"only {received.Count} of {Frames} frames reached a live buffer");
        await WaitFor(() => nic.RxQueues[0].Stats.InFlight == 0, $"every tag freed (in flight {nic.RxQueues[0].Stats.InFlight})");
        await nic.DisposeAsync();
    }
}
