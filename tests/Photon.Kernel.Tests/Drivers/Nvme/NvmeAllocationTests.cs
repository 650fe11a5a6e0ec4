using Photon.Kernel.Drivers.Nvme;
using Photon.Kernel.Hal.Host;

namespace Photon.Kernel.Tests.Drivers.Nvme;

/// <summary>Heap bytes per I/O of the async API (<see cref="NvmeController.ReadAsync"/>/<see cref="NvmeController.WriteAsync"/>)
/// on the device model (which itself allocates nothing per command with <see cref="NvmeDeviceModel.RecordDataAddresses"/>
/// off): allocation, never time. The driver had ~900 B per read (a task per async layer, a completion source and its
/// task, a reap list, the error text); now each slot is a resettable completion source and the state machines are
/// pooled. Alone in its collection, so the process-wide count is not another test's allocation.</summary>
[Collection(NvmeAllocationCollection.Name)]
public sealed class NvmeAllocationTests
{
    private static readonly HostTimers Timers = new(new HostClock());
    private const int Warmup = 200, Measured = 2000;

    private static async Task<(NvmeDeviceModel Model, NvmeController Controller)> StartAsync(bool msix, NvmeDriverOptions options)
    {
        var model = new NvmeDeviceModel(blocks: 8192) { Msix = msix, RecordDataAddresses = false };
        new Random(7).NextBytes(model.Disk);
        var started = await NvmeController.StartAsync(model, Timers, options);
        Assert.True(started.IsOk, started.ToString());
        Assert.Equal(msix, started.Value.Identity.Interrupts);
        return (model, started.Value);
    }

    [Fact]
    public async Task A_polled_read_or_write_allocates_nothing_on_the_submitting_thread()
    {
        // Polled inline on the model, submission, completion and the awaiter's continuation all run on the calling
        // thread, so its own allocation counter sees every byte of the I/O path.
        var (model, c) = await StartAsync(msix: false, new NvmeDriverOptions(IoQueues: 1, QueueEntries: 8, Polling: true,
            WatchdogTick: TimeSpan.FromHours(1)));
        await using var _ = c;
        var buffer = new byte[4096];
        var data = new byte[4096];
        double perIo = 0;
        await Task.Run(() =>
        {
            // Synchronously, on one thread: an awaited ValueTask that completes at once never leaves it.
            void Run(int n, int from)
            {
                for (int i = 0; i < n; i++)
                {
                    long lba = (from + i) % 1000 * 8L;
                    var w = c.WriteAsync(lba, data, default);
                    var wr = w.IsCompleted ? w.Result : w.AsTask().GetAwaiter().GetResult();
                    Assert.True(wr.IsOk, wr.ToString());
                    var r = c.ReadAsync(lba, buffer, default);
                    var rr = r.IsCompleted ? r.Result : r.AsTask().GetAwaiter().GetResult();
                    Assert.True(rr.IsOk, rr.ToString());
                }
            }
            Run(Warmup, 0);
            long before = GC.GetAllocatedBytesForCurrentThread();
            Run(Measured, Warmup);
            perIo = (GC.GetAllocatedBytesForCurrentThread() - before) / (2.0 * Measured);
        });
        Assert.True(perIo < 8, $"{perIo:F1} heap bytes per polled I/O");
        // The I/Os really went to the device and came back right.
        Assert.Equal(model.Disk.AsSpan((int)((Warmup + Measured - 1) % 1000 * 8L * 512), 4096).ToArray(), buffer);
    }

    [Fact]
    public async Task An_awaited_read_with_msix_interrupts_allocates_almost_nothing_per_io_anywhere_in_the_process()
    {
        // The interrupt line (a pool thread) reaps and resumes the awaiting reader there: the bytes are counted over the
        // whole process. Every completion path: interrupts only, the hybrid poll at depth 1, the poll queue at depth 1
        // (the default: the reader polls it itself); and several readers at once, whose continuations resubmit from
        // inside a delivery.
        foreach (var (hybrid, pollQueue, readers) in new[] { (false, false, 1), (true, false, 1), (false, true, 1), (false, false, 8) })
        {
            var (model, c) = await StartAsync(msix: true, new NvmeDriverOptions(IoQueues: 1, QueueEntries: 16,
                HybridPoll: hybrid ? TimeSpan.FromMilliseconds(5) : TimeSpan.Zero, WatchdogTick: TimeSpan.FromHours(1), PollQueue: pollQueue));
            Assert.Equal(pollQueue, c.Identity.PollQueue);
            await using var _ = c;
            async Task Reader(int seed, int n)
            {
                var buffer = new byte[4096];
                for (int i = 0; i < n; i++)
                {
                    long lba = (seed * 131 + i) % 1000 * 8L;
                    var r = await c.ReadAsync(lba, buffer, default).ConfigureAwait(false);
                    if (!r.IsOk || !buffer.AsSpan().SequenceEqual(model.Disk.AsSpan((int)lba * 512, 4096))) throw new InvalidOperationException($"read {lba}: {r}");
                }
            }
            async Task Readers(int each)
            {
                var tasks = new Task[readers];
                for (int i = 0; i < readers; i++) { int seed = i; tasks[i] = Task.Run(() => Reader(seed, each)); }
                await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromMinutes(2));
            }
            await Readers(Warmup);
            int each = Measured / readers;
            // The count is process-wide, so whatever else the runtime does meanwhile (thread injection on a loaded host,
            // an earlier test's timers) adds to it, never subtracts: the least of three rounds is the driver's own cost.
            double perIo = double.MaxValue;
            for (int round = 0; round < 3; round++)
            {
                long before = GC.GetTotalAllocatedBytes(precise: true);
                await Readers(each);
                perIo = Math.Min(perIo, (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)(each * readers));
            }
            // The fixed cost of starting the readers (tasks, closures, buffers: a few KB) spread over 2000 reads is a few
            // bytes each; the old path was ~900 B per read.
            Assert.True(perIo < 48, $"{perIo:F1} heap bytes per read (hybrid poll {hybrid}, poll queue {pollQueue}, {readers} readers)");
        }
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class NvmeAllocationCollection
{
    public const string Name = "NvmeAllocation";
}
