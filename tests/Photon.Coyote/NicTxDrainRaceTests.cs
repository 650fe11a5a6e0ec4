using Microsoft.Coyote.Specifications;
using Microsoft.Coyote.SystematicTesting;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Net;
using Photon.Kernel.Hal;

namespace Photon.Coyote;

/// <summary>
/// <see cref="NicDriver"/>'s inline transmit (<see cref="NicOptions.InlineCompletions"/>): submitters drain their TX
/// queue pair themselves, one drainer at a time (a flag; the holder re-checks the ring after letting go). Two submitters
/// on one queue racing each other, with the kernel's seam points between the drainer's steps. Invariants after any
/// interleaving: every send ends (a frame left in the ring by a drainer that had just let go would hang its sender);
/// each submitter's frames reach the device in its own order, none twice. The driver's close is not in this test:
/// under Coyote, disposing the driver never finishes even with nothing racing it (its controllers' cancelled waits are
/// not woken by Coyote's controlled primitives), so the close races are covered by NicInlineCompletionTests (a
/// hand-driven device, real threads, no timing).
/// </summary>
public static class NicTxDrainRaceTests
{
    /// <summary>One queue; transmits finish at once and are recorded in device order.</summary>
    private sealed class RecordingQueue : INetworkQueues
    {
        private readonly Lock _lock = new();
        private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public readonly List<int> Sent = new();

        public string Name => "rec0";
        public ReadOnlyMemory<byte> MacAddress => new byte[] { 2, 0, 0, 0, 7, 1 };
        public int Mtu => 1500;
        public int QueueCount => 1;

        public ValueTask SendAsync(ReadOnlyMemory<byte> frame, CancellationToken ct = default) => new(SendBatchAsync(0, [frame], ct).AsTask());

        public ValueTask<int> SendBatchAsync(int queue, IReadOnlyList<ReadOnlyMemory<byte>> frames, CancellationToken ct = default)
        {
            lock (_lock) foreach (var f in frames) Sent.Add(f.Span[14]);
            return ValueTask.FromResult(frames.Count);
        }

        public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken ct = default) => throw new NotSupportedException();

        public async ValueTask<int> ReceiveBatchAsync(int queue, IReadOnlyList<Memory<byte>> buffers, Memory<int> lengths, CancellationToken ct = default)
        {
            await _closed.Task.WaitAsync(ct); // nothing ever arrives
            throw new KernelException(ErrorCode.Closed, "device closed");
        }

        public NetworkQueueCounters Counters(int queue) => default;

        public ValueTask DisposeAsync()
        {
            _closed.TrySetResult();
            return ValueTask.CompletedTask;
        }
    }

    private static byte[] Frame(int id)
    {
        var f = new byte[60];
        f[12] = 0x88;
        f[13] = 0xB5;
        f[14] = (byte)id;
        return f;
    }

    [Test]
    public static async Task TwoSubmittersOnOneQueue_EverySendEndsOnceInOrder()
    {
        InterleavingPoints.Enable();
        var device = new RecordingQueue();
        var caps = new CapabilityManager();
        var (nic, cap) = NicDriver.Start(device, caps, new NicOptions(TxQueues: 1, QueueDepth: 4, Batch: 2, RxBuffersPerQueue: 1)).Value;
        async Task<Result[]> Submitter(int first)
        {
            var results = new Result[2];
            for (int i = 0; i < 2; i++) results[i] = await nic.SendOnQueueAsync(cap, 0, Frame(first + i));
            return results;
        }
        var a = Task.Run(() => Submitter(10));
        var b = Task.Run(() => Submitter(20));
        var ra = await a;
        var rb = await b;
        List<int> sent;
        lock (device.Sent) sent = device.Sent.ToList();
        foreach (var (results, first) in new[] { (ra, 10), (rb, 20) })
        {
            for (int i = 0; i < 2; i++)
            {
                var r = results[i];
                bool onWire = sent.Contains(first + i);
                Specification.Assert(r.IsOk || r.Code == ErrorCode.Closed, $"send {first + i} ended {r}");
                Specification.Assert(!r.IsOk || onWire, $"send {first + i} reported sent but never reached the device");
            }
            var mine = sent.Where(x => x >= first && x < first + 2).ToList();
            Specification.Assert(mine.Distinct().Count() == mine.Count, $"a frame of {first} went out twice: {string.Join(",", sent)}");
            Specification.Assert(mine.SequenceEqual(mine.Order()), $"frames of {first} out of order: {string.Join(",", sent)}");
        }
    }
}
