using System.Collections.Concurrent;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Net;
using Photon.Kernel.Hal;

namespace Photon.Net.Tests;

/// <summary>
/// A multi-queue device the test drives by hand, like a host device's receive threads: <see cref="Deliver"/> puts frames
/// on a queue and resumes a waiting reader on the calling thread (as <c>HostRxRing.Publish</c> does), and a queue's
/// transmit can be held (<see cref="HoldTransmit"/>): its device call then stays unfinished until released, as a full
/// device ring would. Every transmit call records the thread it ran on.
/// </summary>
internal sealed class HandDrivenQueues : INetworkQueues
{
    private sealed class Queue
    {
        public readonly ConcurrentQueue<byte[]> Frames = new();
        public TaskCompletionSource<bool>? Waiter; // no RunContinuationsAsynchronously: Deliver resumes the reader inline
        public KernelError? Failure;
        public TaskCompletionSource? TxGate;
        public readonly ConcurrentQueue<(int Thread, int Frames)> TxCalls = new();
        public long Sent;
    }

    private readonly Queue[] _queues;
    private readonly Lock _lock = new();
    private volatile bool _closed;

    public HandDrivenQueues(int queues) => _queues = Enumerable.Range(0, queues).Select(_ => new Queue()).ToArray();

    public string Name => "hand0";
    public ReadOnlyMemory<byte> MacAddress => new byte[] { 2, 0, 0, 0, 9, 1 };
    public int Mtu => 1500;
    public int QueueCount => _queues.Length;

    /// <summary>Queues frames on <paramref name="queue"/> and wakes its reader on this thread.</summary>
    public void Deliver(int queue, params byte[][] frames)
    {
        var q = _queues[queue];
        foreach (var f in frames) q.Frames.Enqueue(f);
        Wake(q);
    }

    /// <summary>Makes <paramref name="queue"/>'s reader fail with <paramref name="error"/> (a device that needs a reset).</summary>
    public void Fail(int queue, KernelError error)
    {
        var q = _queues[queue];
        q.Failure = error;
        Wake(q);
    }

    private void Wake(Queue q)
    {
        TaskCompletionSource<bool>? w;
        lock (_lock) { w = q.Waiter; q.Waiter = null; }
        w?.TrySetResult(true);
    }

    /// <summary>From now on transmits on <paramref name="queue"/> stay unfinished until <see cref="ReleaseTransmit"/>.</summary>
    public void HoldTransmit(int queue) => _queues[queue].TxGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void ReleaseTransmit(int queue)
    {
        var gate = _queues[queue].TxGate;
        _queues[queue].TxGate = null;
        gate?.TrySetResult();
    }

    /// <summary>Whether a reader is parked on <paramref name="queue"/> (the RX controller waiting for frames).</summary>
    public bool IsReaderWaiting(int queue)
    {
        lock (_lock) return _queues[queue].Waiter is { Task.IsCompleted: false };
    }

    public IReadOnlyCollection<(int Thread, int Frames)> TransmitCalls(int queue) => _queues[queue].TxCalls.ToArray();
    public long Sent(int queue) => Interlocked.Read(ref _queues[queue].Sent);

    public ValueTask SendAsync(ReadOnlyMemory<byte> frame, CancellationToken ct = default) => new(SendBatchAsync(0, [frame], ct).AsTask());

    public ValueTask<int> SendBatchAsync(int queue, IReadOnlyList<ReadOnlyMemory<byte>> frames, CancellationToken ct = default)
    {
        var q = _queues[queue];
        if (_closed) throw new KernelException(ErrorCode.Closed, "device closed");
        q.TxCalls.Enqueue((Environment.CurrentManagedThreadId, frames.Count));
        if (q.TxGate is { } gate) return Held(q, gate, frames.Count, ct);
        Interlocked.Add(ref q.Sent, frames.Count);
        return ValueTask.FromResult(frames.Count);
    }

    private static async ValueTask<int> Held(Queue q, TaskCompletionSource gate, int count, CancellationToken ct)
    {
        await gate.Task.WaitAsync(ct).ConfigureAwait(false);
        Interlocked.Add(ref q.Sent, count);
        return count;
    }

    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        var lengths = new int[1];
        await ReceiveBatchAsync(0, [buffer], lengths, ct).ConfigureAwait(false);
        return lengths[0];
    }

    public async ValueTask<int> ReceiveBatchAsync(int queue, IReadOnlyList<Memory<byte>> buffers, Memory<int> lengths, CancellationToken ct = default)
    {
        var q = _queues[queue];
        while (true)
        {
            if (q.Failure is { } failure) throw new KernelException(failure);
            int n = 0;
            while (n < buffers.Count && q.Frames.TryDequeue(out var f))
            {
                f.CopyTo(buffers[n].Span);
                lengths.Span[n++] = f.Length;
            }
            if (n > 0) return n;
            if (_closed) throw new KernelException(ErrorCode.Closed, "device closed");
            var waiter = new TaskCompletionSource<bool>();
            lock (_lock) q.Waiter = waiter;
            if (!q.Frames.IsEmpty || q.Failure is not null || _closed) continue;
            await using (ct.Register(static w => ((TaskCompletionSource<bool>)w!).TrySetCanceled(), waiter))
                await waiter.Task.ConfigureAwait(false);
        }
    }

    public NetworkQueueCounters Counters(int queue) => new(0, 0, 0, Sent(queue), 0);

    public ValueTask DisposeAsync()
    {
        _closed = true;
        foreach (var q in _queues) Wake(q);
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// <see cref="NicOptions.InlineCompletions"/>: the stack's face is resumed on the thread that completed its burst and
/// a submitter hands its TX queue's frames to the device itself — no thread-pool hop either way (issue #11, rtt11's
/// finding that replies left 0.4–0.65 s late on a loaded host). Every test here is deterministic: frames are delivered
/// by the test's own threads, device calls are held and released by hand, and every wait is for an event.
/// </summary>
public sealed class NicInlineCompletionTests
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

    /// <summary>Runs <paramref name="work"/> on a new dedicated thread (never a thread-pool one) and waits for it.</summary>
    private static int OnOwnThread(Action work)
    {
        int id = 0;
        Exception? failed = null;
        var t = new Thread(() =>
        {
            id = Environment.CurrentManagedThreadId;
            try { work(); } catch (Exception e) { failed = e; }
        }) { IsBackground = true };
        t.Start();
        Assert.True(t.Join(Timeout), "the delivering thread did not return: an inline continuation blocked it");
        if (failed is not null) throw new Xunit.Sdk.XunitException($"delivery failed: {failed}");
        return id;
    }

    /// <summary>The stack's face in a loop: takes each burst, records the thread it was resumed on and the frames, then
    /// (optionally) sends an answer per burst — as the stack answers a request from its receive loop.</summary>
    private sealed class Consumer
    {
        public readonly ConcurrentQueue<(int Thread, int Seq)> Seen = new();
        public readonly ConcurrentQueue<int> AnsweredOn = new();
        public KernelError? Ended;
        public Func<Task>? OnFirstBurst;
        private int _bursts;

        public Task Run(INetworkBatches face, int queue, bool answer, CancellationToken ct) => Task.Run(async () =>
        {
            while (true)
            {
                var r = await face.ReceiveAsync(queue, ct).ConfigureAwait(false);
                if (!r.IsOk) { Ended = r.Error; return; }
                int thread = Environment.CurrentManagedThreadId;
                var batch = r.Value;
                for (int i = 0; i < batch.Count; i++) Seen.Enqueue((thread, Seq(batch[i])));
                batch.Release();
                if (answer)
                {
                    var sent = await face.TransmitAsync([Frame(-1)], ct).ConfigureAwait(false);
                    if (sent.IsOk) AnsweredOn.Enqueue(Environment.CurrentManagedThreadId);
                }
                if (Interlocked.Increment(ref _bursts) == 1 && OnFirstBurst is { } first) _ = first();
            }
        });
    }

    private static async Task WaitFor(Func<bool> condition, string what)
    {
        var until = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > until) throw new Xunit.Sdk.XunitException($"timed out waiting for {what}");
            await Task.Delay(5);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_stacks_face_runs_on_the_thread_that_delivered_the_burst_and_transmits_there(bool inline)
    {
        var caps = new CapabilityManager();
        var device = new HandDrivenQueues(queues: 2);
        var (nic, _) = NicDriver.Start(device, caps, new NicOptions(Batch: 8, RxBuffersPerQueue: 8, InlineCompletions: inline)).Value;
        using var cts = new CancellationTokenSource();
        var consumer = new Consumer();
        var loop = consumer.Run(nic, 1, answer: true, cts.Token);
        // Wait until the face has posted its buffers and the RX controller is parked in the device (no frame yet).
        await WaitFor(() => nic.RxQueues[1].Stats.InFlight > 0 && device.IsReaderWaiting(1), "posted buffers and a parked RX controller");

        var delivered = new List<int>();
        for (int burst = 0; burst < 10; burst++)
        {
            int expected = (burst + 1) * 3;
            delivered.Add(OnOwnThread(() => device.Deliver(1, Frame(burst * 3), Frame(burst * 3 + 1), Frame(burst * 3 + 2))));
            await WaitFor(() => consumer.Seen.Count == expected && consumer.AnsweredOn.Count == burst + 1, $"burst {burst}");
        }
        var seen = consumer.Seen.ToArray();
        Assert.Equal(Enumerable.Range(0, 30), seen.Select(s => s.Seq)); // in order, none lost or repeated
        var answers = consumer.AnsweredOn.ToArray();
        var txThreads = device.TransmitCalls(0).Concat(device.TransmitCalls(1)).Select(c => c.Thread).ToArray();
        Assert.Equal(10, device.Sent(0) + device.Sent(1));
        if (inline)
        {
            // Each burst was handled on the thread that delivered it, and its answer went to the device from there too.
            for (int b = 0; b < 10; b++)
                Assert.All(seen.Skip(b * 3).Take(3), s => Assert.Equal(delivered[b], s.Thread));
            Assert.All(txThreads, t => Assert.Contains(t, delivered));
        }
        else
        {
            // The old path: the completion and the TX controller hop through the thread pool.
            Assert.All(seen, s => Assert.DoesNotContain(s.Thread, delivered));
            Assert.All(txThreads, t => Assert.DoesNotContain(t, delivered));
        }
        cts.Cancel();
        await nic.DisposeAsync().AsTask().WaitAsync(Timeout);
        await loop.WaitAsync(Timeout);
    }

    [Fact]
    public async Task Closing_the_driver_from_the_inline_receive_continuation_ends_everything_typed_without_blocking_the_device()
    {
        for (int round = 0; round < 5; round++)
        {
            var caps = new CapabilityManager();
            var device = new HandDrivenQueues(queues: 2);
            var (nic, cap) = NicDriver.Start(device, caps, new NicOptions(Batch: 4, RxBuffersPerQueue: 4)).Value;
            var consumer = new Consumer();
            Task? disposing = null;
            // The continuation closes the driver while the RX controller that resumed it is still below it on the stack.
            consumer.OnFirstBurst = () => disposing = nic.DisposeAsync().AsTask();
            var loop = consumer.Run(nic, 0, answer: round % 2 == 0, CancellationToken.None);
            await WaitFor(() => nic.RxQueues[0].Stats.InFlight > 0 && device.IsReaderWaiting(0), "posted buffers and a parked RX controller");
            OnOwnThread(() => device.Deliver(0, Enumerable.Range(0, round + 1).Select(Frame).ToArray())); // the close runs in here
            await WaitFor(() => disposing is not null, "the close");
            await disposing!.WaitAsync(Timeout);
            await loop.WaitAsync(Timeout);
            Assert.Equal(ErrorCode.Closed, consumer.Ended?.Code);
            Assert.Equal(Math.Min(round + 1, 4), consumer.Seen.Count); // one burst: at most Batch frames
            // After the close: frames delivered are not taken, and every face answers Closed.
            OnOwnThread(() => device.Deliver(0, Frame(99)));
            Assert.Equal(ErrorCode.Closed, (await ((INetworkBatches)nic).ReceiveAsync(0).AsTask().WaitAsync(Timeout)).Code);
            Assert.Equal(ErrorCode.Closed, (await nic.SendOnQueueAsync(cap, 0, Frame(1)).WaitAsync(Timeout)).Code);
            Assert.All(nic.RxQueues, q => Assert.True(q.IsClosed));
        }
    }

    [Fact]
    public async Task A_device_that_fails_under_the_inline_path_ends_its_queue_typed_and_the_other_queue_goes_on()
    {
        var caps = new CapabilityManager();
        var device = new HandDrivenQueues(queues: 2);
        var (nic, _) = NicDriver.Start(device, caps, new NicOptions(Batch: 4, RxBuffersPerQueue: 4)).Value;
        var broken = new Consumer();
        var healthy = new Consumer();
        var brokenLoop = broken.Run(nic, 0, answer: false, CancellationToken.None);
        var healthyLoop = healthy.Run(nic, 1, answer: false, CancellationToken.None);
        await WaitFor(() => device.IsReaderWaiting(0) && device.IsReaderWaiting(1), "parked RX controllers");
        OnOwnThread(() => device.Deliver(0, Frame(0)));
        await WaitFor(() => broken.Seen.Count == 1, "the first frame");
        // The queue's rings are broken (a device reset is needed): its parked consumer gets the device's error, inline.
        OnOwnThread(() => device.Fail(0, Errors.Of(ErrorCode.Corrupted, "used ring index out of range")));
        await brokenLoop.WaitAsync(Timeout);
        Assert.Equal(ErrorCode.Corrupted, broken.Ended?.Code);
        Assert.True(nic.RxQueues[0].IsClosed);
        // The other queue is untouched.
        OnOwnThread(() => device.Deliver(1, Frame(1), Frame(2)));
        await WaitFor(() => healthy.Seen.Count == 2, "the other queue's frames");
        Assert.False(nic.RxQueues[1].IsClosed);
        await nic.DisposeAsync().AsTask().WaitAsync(Timeout);
        await healthyLoop.WaitAsync(Timeout);
        Assert.Equal(ErrorCode.Closed, healthy.Ended?.Code);
    }

    [Fact]
    public async Task A_slow_consumer_or_a_held_device_call_on_one_queue_does_not_stall_the_other_queue()
    {
        var caps = new CapabilityManager();
        var device = new HandDrivenQueues(queues: 2);
        var (nic, cap) = NicDriver.Start(device, caps, new NicOptions(Batch: 4, RxBuffersPerQueue: 4)).Value;
        using var slow = new ManualResetEventSlim(false);
        var stuck = new Consumer();
        // Queue 0's consumer blocks inside its inline continuation (on queue 0's delivering thread) until released.
        stuck.OnFirstBurst = () => { slow.Wait(Timeout); return Task.CompletedTask; };
        var fast = new Consumer();
        var stuckLoop = stuck.Run(nic, 0, answer: false, CancellationToken.None);
        var fastLoop = fast.Run(nic, 1, answer: false, CancellationToken.None);
        await WaitFor(() => device.IsReaderWaiting(0) && device.IsReaderWaiting(1), "parked RX controllers");
        var blocked = new Thread(() => device.Deliver(0, Frame(0))) { IsBackground = true };
        blocked.Start();
        await WaitFor(() => stuck.Seen.Count == 1, "queue 0's consumer to take its frame and stall");

        // Queue 1 receives while queue 0's consumer is stuck...
        for (int i = 0; i < 20; i++) OnOwnThread(() => device.Deliver(1, Frame(100 + i)));
        await WaitFor(() => fast.Seen.Count == 20, "queue 1's frames");
        // ...and transmits on TX queue 1 while TX queue 0's device call is held (a full device ring).
        device.HoldTransmit(0);
        var held = nic.SendOnQueueAsync(cap, 0, Frame(200));
        var queuedBehind = nic.SendOnQueueAsync(cap, 0, Frame(201));
        await WaitFor(() => device.TransmitCalls(0).Count == 1, "the held device call");
        for (int i = 0; i < 10; i++)
        {
            var sent = await nic.SendOnQueueAsync(cap, 1, Frame(300 + i)).WaitAsync(Timeout);
            Assert.True(sent.IsOk, sent.ToString());
        }
        Assert.Equal(10, device.Sent(1));
        Assert.False(held.IsCompleted);
        Assert.False(queuedBehind.IsCompleted);

        device.ReleaseTransmit(0);
        Assert.True((await held.WaitAsync(Timeout)).IsOk);
        Assert.True((await queuedBehind.WaitAsync(Timeout)).IsOk); // sent by the continuation that finished the held call
        Assert.Equal(2, device.Sent(0));
        slow.Set();
        Assert.True(blocked.Join(Timeout));
        OnOwnThread(() => device.Deliver(0, Frame(1)));
        await WaitFor(() => stuck.Seen.Count == 2, "queue 0 after its consumer caught up");
        await nic.DisposeAsync().AsTask().WaitAsync(Timeout);
        await Task.WhenAll(stuckLoop, fastLoop).WaitAsync(Timeout);
    }

    [Fact]
    public async Task Closing_while_a_device_call_is_held_ends_every_queued_transmit_typed()
    {
        for (int round = 0; round < 5; round++)
        {
            var caps = new CapabilityManager();
            var device = new HandDrivenQueues(queues: 2);
            var (nic, cap) = NicDriver.Start(device, caps, new NicOptions(Batch: 2)).Value;
            device.HoldTransmit(0);
            var sends = Enumerable.Range(0, 7).Select(i => nic.SendOnQueueAsync(cap, 0, Frame(i))).ToArray();
            await WaitFor(() => device.TransmitCalls(0).Count == 1, "the held device call");
            var closing = nic.DisposeAsync().AsTask();
            if (round % 2 == 1) device.ReleaseTransmit(0); // the device finishes while the driver closes, or never
            await closing.WaitAsync(Timeout);
            var results = await Task.WhenAll(sends).WaitAsync(Timeout);
            // Each send ends once: sent (only the held call's frames, if the device finished it) or Closed.
            Assert.All(results, r => Assert.True(r.IsOk || r.Code == ErrorCode.Closed, r.ToString()));
            // The held call had the first frame alone (the ring held one when it was drained); the rest queued behind it.
            Assert.Equal(1, device.TransmitCalls(0).Single().Frames);
            Assert.True(results.Skip(1).All(r => r.Code == ErrorCode.Closed), "nothing queued behind the held call went out after the close");
            Assert.Equal(ErrorCode.Closed, (await nic.SendOnQueueAsync(cap, 0, Frame(9)).WaitAsync(Timeout)).Code);
            device.ReleaseTransmit(0);
        }
    }
}
