using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Nvme;
using Photon.Kernel.Hal.Host;

namespace Photon.Kernel.Tests.Drivers.Nvme;

/// <summary>The NVMe driver against the in-process device model (<see cref="NvmeDeviceModel"/>); the same driver on
/// QEMU's emulated controller is <c>Vm.VmTests</c>.</summary>
public sealed class NvmeDriverTests
{
    private static readonly HostTimers Timers = new(new HostClock());

    private static async Task<(NvmeDeviceModel Model, NvmeController Controller)> StartAsync(NvmeDriverOptions? options = null)
    {
        var model = new NvmeDeviceModel(blocks: 8192);
        var started = await NvmeController.StartAsync(model, Timers, options ?? new NvmeDriverOptions(IoQueues: 2, QueueEntries: 8));
        Assert.True(started.IsOk, started.ToString());
        return (model, started.Value);
    }

    private static byte[] Pattern(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    [Fact]
    public async Task Brings_the_controller_up_and_reads_back_multi_page_writes_through_prp_lists()
    {
        var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 2, QueueEntries: 8, MaxTransferBytes: 64 * 1024));
        await using var _ = c;
        Assert.Equal("Photon NVMe Model", c.Identity.Model);
        Assert.Equal(8192, c.Identity.Blocks);
        Assert.Equal(512, c.Identity.BlockSize);
        Assert.Equal(2, c.Identity.IoQueues);
        Assert.False(c.Identity.Interrupts);
        Assert.Equal(0x6, model.CommandRegister & 0x6); // memory space + bus master enabled
        // 200 KiB: four commands (64 KiB max), each with a PRP list; plus one-page and two-page transfers.
        foreach (var (lba, bytes) in new[] { (100L, 200 * 1024), (7L, 512), (3000L, 8192) })
        {
            var data = Pattern(bytes, (int)lba);
            Assert.True((await c.WriteAsync(lba, data, default)).IsOk);
            Assert.Equal(data, model.Disk.AsSpan((int)lba * 512, bytes).ToArray());
            var back = new byte[bytes];
            Assert.True((await c.ReadAsync(lba, back, default)).IsOk);
            Assert.Equal(data, back);
        }
        Assert.True((await c.FlushAsync(default)).IsOk);
        Assert.Equal(1, model.Flushes);
    }

    [Fact]
    public async Task Many_concurrent_commands_on_small_queues_all_complete()
    {
        var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 2, QueueEntries: 4));
        await using var _ = c;
        var writes = Enumerable.Range(0, 64).Select(i => c.WriteAsync(i * 8, Pattern(4096, i), default).AsTask()).ToArray();
        Assert.All(await Task.WhenAll(writes), r => Assert.True(r.IsOk, r.ToString()));
        for (int i = 0; i < 64; i++) Assert.Equal(Pattern(4096, i), model.Disk.AsSpan(i * 8 * 512, 4096).ToArray());
    }

    [Fact]
    public async Task Device_errors_and_bad_ranges_are_typed()
    {
        var (model, c) = await StartAsync();
        await using var _ = c;
        model.FailNextIoWithStatus = 0x281; // SCT 2 (media), SC 0x81: unrecovered read error
        var r = await c.ReadAsync(0, new byte[512], default);
        Assert.Equal(ErrorCode.IoError, r.Code);
        Assert.Contains("unrecovered read error", r.Error.Message);
        Assert.Equal(ErrorCode.OutOfRange, (await c.ReadAsync(8191, new byte[1024], default)).Code);
        Assert.Equal(ErrorCode.InvalidArgument, (await c.WriteAsync(0, new byte[100], default)).Code);
        Assert.True((await c.ReadAsync(0, new byte[512], default)).IsOk);
    }

    [Fact]
    public async Task A_hung_command_times_out_the_controller_is_reset_and_io_continues()
    {
        var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 1, QueueEntries: 8, CommandTimeout: TimeSpan.FromMilliseconds(200)));
        await using var _ = c;
        var data = Pattern(4096, 5);
        Assert.True((await c.WriteAsync(16, data, default)).IsOk);
        model.HangOpcode = 0x02; // reads are swallowed: never completed
        var hung = await c.ReadAsync(16, new byte[4096], default);
        Assert.Equal(ErrorCode.TimedOut, hung.Code);
        Assert.Equal(1, c.Resets);
        Assert.Equal(2, model.Enables);
        model.HangOpcode = null;
        var back = new byte[4096];
        Assert.True((await c.ReadAsync(16, back, default)).IsOk);
        Assert.Equal(data, back);
    }

    [Fact]
    public async Task With_msix_the_interrupt_line_itself_reaps_completions_and_no_reaper_task_waits_on_a_vector()
    {
        var model = new NvmeDeviceModel(blocks: 8192) { Msix = true };
        // Interrupts only: with the hybrid poll a lone submitter may reap its own completion before the line runs, and
        // the depth-1 poll queue would take these one-at-a-time commands (the model completes as the doorbell rings).
        var started = await NvmeController.StartAsync(model, Timers, new NvmeDriverOptions(IoQueues: 2, QueueEntries: 8, HybridPoll: TimeSpan.Zero,
            PollQueue: false));
        Assert.True(started.IsOk, started.ToString());
        await using var c = started.Value;
        Assert.True(c.Identity.Interrupts);
        var writes = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => c.WriteAsync(i * 8, Pattern(4096, 200 + i), default).AsTask()));
        Assert.All(writes, r => Assert.True(r.IsOk, r.ToString()));
        var back = new byte[4096];
        for (int i = 0; i < 40; i += 7)
        {
            Assert.True((await c.ReadAsync(i * 8, back, default)).IsOk);
            Assert.Equal(Pattern(4096, 200 + i), back);
        }
        // Every vector's signals went to the driver's top half on the line; nothing waited on a vector to reap.
        // (The watchdog's tick may reap some first, so counts are not exact.)
        Assert.True(model.Interrupts.Sum(v => v.HandledOnLine) > 0);
        Assert.All(model.Interrupts, v => Assert.Equal(0, v.Waits));
        Assert.True(c.Counters.ReaperWakes > 0);
    }

    [Fact]
    public async Task After_the_watchdog_resets_a_throttled_device_reads_are_served_at_once_and_writes_once_the_throttle_is_paid()
    {
        // QEMU's throttled scratch controller (VmNvmeTimeoutFault): its reset drains the queued writes but charges them
        // to the throttle, so the first write after the reset waits in the device again and times out again.
        var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 2, QueueEntries: 8, CommandTimeout: TimeSpan.FromMilliseconds(200)));
        await using var _ = c;
        var before = Pattern(4096, 40);
        Assert.True((await c.WriteAsync(64, before, default)).IsOk);
        model.ThrottleWrites = true;
        var burst = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => c.WriteAsync(i * 8, Pattern(4096, 50 + i), default).AsTask()));
        Assert.All(burst, r => Assert.Equal(ErrorCode.TimedOut, r.Code));
        // Polled inline, each submitter holds its thread until its write ends, so the burst may take several resets.
        long resets = c.Resets;
        Assert.True(resets >= 1);
        Assert.Equal(6, model.DrainedWrites);
        model.ThrottleWrites = false;

        var back = new byte[4096];
        Assert.True((await c.ReadAsync(64, back, default)).IsOk, "a read right after the reset");
        Assert.Equal(before, back);
        var early = await c.WriteAsync(128, Pattern(4096, 60), default);
        Assert.Equal(ErrorCode.TimedOut, early.Code);
        Assert.Equal(resets + 1, c.Resets);

        model.ThrottleDebt = 0;
        var after = Pattern(4096, 61);
        Assert.True((await c.WriteAsync(128, after, default)).IsOk, "a write once the throttle is paid");
        Assert.True((await c.ReadAsync(128, back, default)).IsOk);
        Assert.Equal(after, back);
        Assert.Equal(resets + 2, model.Enables);
    }

    [Fact]
    public async Task With_msix_and_the_poll_queue_a_burst_of_writes_on_a_throttled_device_waits_in_it_together_and_times_out()
    {
        // The VM's command-timeout fault test on the model, with the driver's defaults (MSI-X, so the depth-1 poll queue):
        // the writes must reach the device together, so the watchdog's first reset finds several of them held. (An
        // unbounded spin on the poll queue sent them one at a time: each reset drained one.)
        var model = new NvmeDeviceModel(blocks: 8192) { Msix = true };
        var started = await NvmeController.StartAsync(model, Timers, new NvmeDriverOptions(IoQueues: 2, QueueEntries: 8, CommandTimeout: TimeSpan.FromSeconds(5)));
        Assert.True(started.IsOk, started.ToString());
        await using var c = started.Value;
        Assert.True(c.Identity.PollQueue);
        model.ThrottleWrites = true;
        var burst = await Task.Run(() => Task.WhenAll(Enumerable.Range(0, 6).Select(i => c.WriteAsync(i * 8, Pattern(4096, 70 + i), default).AsTask())))
            .WaitAsync(TimeSpan.FromMinutes(2));
        Assert.All(burst, r => Assert.Equal(ErrorCode.TimedOut, r.Code));
        Assert.Equal(6, model.DrainedWrites);
        Assert.True(model.MostDrainedByOneReset >= 2, $"one reset drained at most {model.MostDrainedByOneReset} write(s); resets: {c.Resets}");
        model.ThrottleWrites = false;
        model.ThrottleDebt = 0;
        var after = Pattern(4096, 80);
        Assert.True((await c.WriteAsync(0, after, default)).IsOk);
        var back = new byte[4096];
        Assert.True((await c.ReadAsync(0, back, default)).IsOk);
        Assert.Equal(after, back);
    }

    [Fact]
    public async Task A_reset_in_the_middle_of_io_loses_no_acknowledged_write_and_io_continues()
    {
        var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 2, QueueEntries: 4));
        await using var _ = c;
        var writes = Enumerable.Range(0, 48).Select(i => c.WriteAsync(i * 8, Pattern(4096, 100 + i), default).AsTask()).ToArray();
        var reset = c.ResetAsync("test: reset mid-I/O");
        var results = await Task.WhenAll(writes);
        Assert.True((await reset).IsOk);
        Assert.Equal(1, c.Resets);
        for (int i = 0; i < results.Length; i++)
        {
            // Acknowledged means on the disk; anything else failed with a typed error, and nothing hung.
            if (results[i].IsOk) Assert.Equal(Pattern(4096, 100 + i), model.Disk.AsSpan(i * 8 * 512, 4096).ToArray());
            else Assert.Equal(ErrorCode.TimedOut, results[i].Code);
        }
        var data = Pattern(8192, 7);
        Assert.True((await c.WriteAsync(1000, data, default)).IsOk);
        var back = new byte[8192];
        Assert.True((await c.ReadAsync(1000, back, default)).IsOk);
        Assert.Equal(data, back);
    }

    [Fact]
    public async Task Revoking_the_disk_capability_cuts_off_io_and_shuts_the_controller_down()
    {
        var caps = new CapabilityManager();
        var (model, c) = await StartAsync();
        var (disk, cap) = NvmeDisk.Create("nvme0", c, caps).Value;
        var view = disk.Open(caps.Derive(cap, Rights.Read | Rights.Write, Principal.Kernel, Principal.Kernel).Value);
        Assert.True((await view.WriteAsync(1, Pattern(512, 1))).IsOk);
        var readOnly = disk.Open(caps.Derive(cap, Rights.Read, Principal.Kernel, Principal.Kernel).Value);
        Assert.Equal(ErrorCode.AccessDenied, (await readOnly.WriteAsync(1, new byte[512])).Code);
        caps.Revoke(cap);
        Assert.Equal(ErrorCode.Revoked, (await view.ReadAsync(1, new byte[512])).Code);
        await disk.DisposeAsync();
        Assert.True(model.ShutDown);
        Assert.True(model.Disposed);
    }
}
