using System.Collections.Concurrent;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Net;
using Photon.Kernel.Hal;

namespace Photon.Net.Tests;

/// <summary>
/// The NIC driver's stack face (<c>NicRxLender</c>) after tcp17: its posted buffers complete into the lender's own table
/// (the queue pair's sink submissions) and a parked receive is woken by one reused completion, registered once on the
/// stack's token. What must still hold: no frame lost, repeated or reordered, whichever thread delivers and however the
/// bursts fall; a close racing a parked receive ends it typed; a cancelled receive loses nothing; and a revoked
/// capability silences the face (every post is still checked).
/// </summary>
public sealed class NicRxLenderTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static byte[] Frame(int seq)
    {
        var f = new byte[60];
        new byte[] { 2, 0, 0, 0, 9, 1, 2, 0, 0, 0, 9, 2, 0x88, 0xB5 }.CopyTo(f, 0);
        BitConverter.TryWriteBytes(f.AsSpan(14), seq);
        return f;
    }

    private static int Seq(ReadOnlySpan<byte> frame) => BitConverter.ToInt32(frame[14..]);

    private static async Task WaitFor(Func<bool> condition, string what)
    {
        var until = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > until) throw new Xunit.Sdk.XunitException($"timed out waiting for {what}");
            await Task.Delay(2);
        }
    }

    /// <summary>Takes bursts until the face ends; records every frame's sequence number in order.</summary>
    private static Task<KernelError> Consume(INetworkBatches face, int queue, ConcurrentQueue<int> seen, CancellationToken ct) => Task.Run(async () =>
    {
        while (true)
        {
            var r = await face.ReceiveAsync(queue, ct).ConfigureAwait(false);
            if (!r.IsOk) return r.Error;
            for (int i = 0; i < r.Value.Count; i++) seen.Enqueue(Seq(r.Value[i]));
            r.Value.Release();
        }
    });

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Every_frame_arrives_once_in_order_under_random_bursts_from_two_racing_delivering_threads(bool inline)
    {
        var device = new HandDrivenQueues(queues: 1);
        var (nic, _) = NicDriver.Start(device, new CapabilityManager(), new NicOptions(Batch: 8, RxBuffersPerQueue: 8, InlineCompletions: inline)).Value;
        var seen = new ConcurrentQueue<int>();
        using var cts = new CancellationTokenSource();
        var consumer = Consume(nic, 0, seen, cts.Token);
        const int frames = 20_000;
        // Two threads deliver, taking turns under a lock so the sequence stays ordered on the device, while each wakes
        // the RX controller from its own thread (inline: the face's continuation runs on whichever delivered).
        int next = 0;
        var order = new Lock();
        void Deliverer(int seed)
        {
            var rng = new Random(seed);
            while (true)
            {
                lock (order)
                {
                    if (next >= frames) return;
                    int burst = Math.Min(rng.Next(1, 40), frames - next); // bursts larger than Batch and than the posted buffers
                    device.Deliver(0, Enumerable.Range(next, burst).Select(Frame).ToArray());
                    next += burst;
                }
                if (rng.Next(4) == 0) Thread.Yield();
            }
        }
        var a = new Thread(() => Deliverer(1)) { IsBackground = true };
        var b = new Thread(() => Deliverer(2)) { IsBackground = true };
        a.Start(); b.Start();
        Assert.True(a.Join(Timeout) && b.Join(Timeout));
        await WaitFor(() => seen.Count >= frames, $"{frames} frames (have {seen.Count})");
        Assert.Equal(Enumerable.Range(0, frames), seen.ToArray());
        cts.Cancel();
        var ended = await consumer.WaitAsync(Timeout);
        Assert.Equal(ErrorCode.Cancelled, ended.Code);
        await nic.DisposeAsync().AsTask().WaitAsync(Timeout);
    }

    [Fact]
    public async Task A_close_racing_a_parked_receive_and_arriving_frames_ends_it_Closed_with_no_frame_twice()
    {
        for (int round = 0; round < 40; round++)
        {
            var device = new HandDrivenQueues(queues: 1);
            var (nic, _) = NicDriver.Start(device, new CapabilityManager(), new NicOptions(Batch: 4, RxBuffersPerQueue: 4)).Value;
            var seen = new ConcurrentQueue<int>();
            var consumer = Consume(nic, 0, seen, CancellationToken.None);
            await WaitFor(() => nic.RxQueues[0].Stats.InFlight > 0 && device.IsReaderWaiting(0), "a parked receive");
            using var go = new Barrier(2);
            var deliver = new Thread(() =>
            {
                go.SignalAndWait();
                for (int i = 0; i < round % 5; i++) device.Deliver(0, Frame(i));
            }) { IsBackground = true };
            deliver.Start();
            go.SignalAndWait();
            await nic.DisposeAsync().AsTask().WaitAsync(Timeout);
            Assert.True(deliver.Join(Timeout));
            var ended = await consumer.WaitAsync(Timeout); // never hangs
            Assert.Equal(ErrorCode.Closed, ended.Code);
            var got = seen.ToArray();
            Assert.Equal(Enumerable.Range(0, got.Length), got); // a prefix of what was delivered, in order, none twice
            Assert.Equal(ErrorCode.Closed, (await ((INetworkBatches)nic).ReceiveAsync(0).AsTask().WaitAsync(Timeout)).Code);
        }
    }

    [Fact]
    public async Task A_cancelled_parked_receive_says_Cancelled_and_the_next_one_gets_every_frame_in_order()
    {
        var device = new HandDrivenQueues(queues: 1);
        var (nic, _) = NicDriver.Start(device, new CapabilityManager(), new NicOptions(Batch: 4, RxBuffersPerQueue: 4)).Value;
        INetworkBatches face = nic;
        int next = 0;
        for (int round = 0; round < 20; round++)
        {
            using var cts = new CancellationTokenSource(); // a new token each round: the lender's one registration is replaced
            var parked = face.ReceiveAsync(0, cts.Token).AsTask();
            await WaitFor(() => device.IsReaderWaiting(0), "a parked RX controller");
            Assert.False(parked.IsCompleted);
            cts.Cancel();
            Assert.Equal(ErrorCode.Cancelled, (await parked.WaitAsync(Timeout)).Code);
            // Frames that arrive now are neither lost nor handed out twice.
            int burst = 1 + round % 6;
            device.Deliver(0, Enumerable.Range(next, burst).Select(Frame).ToArray());
            int got = 0;
            while (got < burst)
            {
                var r = await face.ReceiveAsync(0, CancellationToken.None).AsTask().WaitAsync(Timeout);
                Assert.True(r.IsOk, r.IsOk ? "" : r.Error.ToString());
                for (int i = 0; i < r.Value.Count; i++) Assert.Equal(next + got++, Seq(r.Value[i]));
                r.Value.Release();
            }
            next += burst;
        }
        await nic.DisposeAsync().AsTask().WaitAsync(Timeout);
    }

    [Fact]
    public async Task Revoking_the_drivers_capability_stops_the_face_from_posting_again()
    {
        var caps = new CapabilityManager();
        var device = new HandDrivenQueues(queues: 1);
        var (nic, cap) = NicDriver.Start(device, caps, new NicOptions(Batch: 2, RxBuffersPerQueue: 2, QueueDepth: 8)).Value;
        var seen = new ConcurrentQueue<int>();
        var consumer = Consume(nic, 0, seen, CancellationToken.None);
        await WaitFor(() => nic.RxQueues[0].Stats.InFlight == 4 && device.IsReaderWaiting(0), "four buffers posted");
        long deniedBefore = nic.RxQueues[0].Stats.Denied;
        Assert.True(caps.Revoke(cap, Principal.Kernel).IsOk); // the face acts through a capability derived from this one
        // Frames already posted for are still delivered; the buffers they free are refused when posted again.
        for (int i = 0; i < 4; i++) device.Deliver(0, Frame(i));
        var ended = await consumer.WaitAsync(Timeout);
        Assert.NotEqual(ErrorCode.Closed, ended.Code);
        Assert.Equal([0, 1, 2, 3], seen.ToArray());
        Assert.True(nic.RxQueues[0].Stats.Denied > deniedBefore);
        Assert.Equal(0, nic.RxQueues[0].Stats.InFlight);
        await nic.DisposeAsync().AsTask().WaitAsync(Timeout);
    }
}
