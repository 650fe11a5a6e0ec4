using Photon.Kernel.Drivers.Nvme;
using Photon.Kernel.Hal.Host;

namespace Photon.Kernel.Tests.Drivers.Nvme;

/// <summary>Issue #17's attacker review: a buggy or hostile NVMe device (its registers, Identify data and completions)
/// gets typed errors, never a crash, a hang, an unbounded allocation or DMA to an address the driver did not map.</summary>
public sealed class NvmeHostileDeviceTests
{
    private static readonly HostTimers Timers = new(new HostClock());
    private const ulong GoodCap = 63UL | (1UL << 16) | (2UL << 24) | (1UL << 37);

    private static Task<Result<NvmeController>> Start(NvmeDeviceModel model, NvmeDriverOptions? options = null) =>
        NvmeController.StartAsync(model, Timers, options ?? new NvmeDriverOptions(IoQueues: 2, QueueEntries: 8));

    private static async Task<(NvmeDeviceModel Model, NvmeController Controller)> StartOneQueue(Action<NvmeDeviceModel>? setup = null,
        TimeSpan? tick = null)
    {
        var model = new NvmeDeviceModel(blocks: 8192);
        setup?.Invoke(model);
        var c = await Start(model, new NvmeDriverOptions(IoQueues: 1, QueueEntries: 8, PollQueue: false, WatchdogTick: tick));
        Assert.True(c.IsOk, c.ToString());
        return (model, c.Value);
    }

    private static byte[] Pattern(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }

    // Reads run on their own thread: a polled submitter spins inline until its command completes.
    private static Task<Result> ReadOff(NvmeController c, long lba, byte[] into) => Task.Run(async () => await c.ReadAsync(lba, into, default));

    [Theory]
    [InlineData(15)] // 128 KiB stride: the admin CQ doorbell alone is beyond an 8 KiB BAR
    [InlineData(9)]  // 2 KiB stride: the I/O queues' doorbells are
    public async Task A_doorbell_stride_beyond_bar0_is_refused_at_start(int dstrd)
    {
        var model = new NvmeDeviceModel(blocks: 1024) { Cap = GoodCap | (ulong)dstrd << 32 };
        var r = await Start(model);
        Assert.Equal(ErrorCode.NotSupported, r.Code);
        Assert.Contains("doorbell", r.Error.Message);
        Assert.Equal(0, model.Commands);
    }

    [Fact]
    public async Task One_entry_queues_are_refused_at_start()
    {
        var model = new NvmeDeviceModel(blocks: 1024) { Cap = GoodCap & ~0xFFFFUL }; // MQES 0
        var r = await Start(model);
        Assert.Equal(ErrorCode.NotSupported, r.Code);
        Assert.Contains("MQES", r.Error.Message);
    }

    [Fact]
    public async Task Zero_length_reads_and_writes_are_refused_before_the_device_sees_them()
    {
        var (model, c) = await StartOneQueue();
        await using var _ = c;
        int commands = model.Commands;
        Assert.Equal(ErrorCode.InvalidArgument, (await c.ReadAsync(0, Memory<byte>.Empty, default)).Code);
        Assert.Equal(ErrorCode.InvalidArgument, (await c.WriteAsync(0, ReadOnlyMemory<byte>.Empty, default)).Code);
        Assert.Equal(commands, model.Commands);
        Assert.True((await c.ReadAsync(0, new byte[512], default)).IsOk);
    }

    [Fact]
    public void A_read_or_write_command_names_1_to_65536_blocks()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => NvmeCommand.Read(1, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => NvmeCommand.Write(1, 0, 65537));
        Assert.Equal(0xFFFFu, NvmeCommand.Read(1, 0, 65536).Cdw12);
    }

    [Theory]
    [InlineData(9)]
    [InlineData(19)] // 4096 << 19 is int.MinValue
    [InlineData(20)] // 4096 << 20 is 0 as an int
    [InlineData(31)]
    public async Task A_huge_mdts_means_the_drivers_own_cap(byte mdts)
    {
        var (model, c) = await StartOneQueue(m => m.Mdts = mdts);
        await using var _ = c;
        Assert.Equal(64 * 1024, c.Identity.MaxTransferBytes);
        var data = Pattern(192 * 1024, mdts);
        Assert.True((await c.WriteAsync(16, data, default)).IsOk);
        var back = new byte[data.Length];
        Assert.True((await c.ReadAsync(16, back, default)).IsOk);
        Assert.Equal(data, back);
    }

    [Fact]
    public async Task A_read_completed_without_dma_returns_zeros_not_the_previous_commands_bytes()
    {
        var (model, c) = await StartOneQueue();
        await using var _ = c;
        var secret = Pattern(4096, 1);
        secret.CopyTo(model.Disk, 0);
        var first = new byte[4096];
        Assert.True((await c.ReadAsync(0, first, default)).IsOk); // the slot's buffer now holds the secret
        model.CompleteWithoutDma = true;
        var copied = new byte[4096];
        Assert.True((await c.ReadAsync(64, copied, default)).IsOk);
        Assert.All(copied, b => Assert.Equal(0, b));
        // The lent path hands the slot's buffer itself to the tenant.
        var lent = await c.ReadLentAsync(64, 4096, default);
        Assert.True(lent.IsOk, lent.ToString());
        Assert.All(lent.Value.Buffer.Memory.Span[..4096].ToArray(), b => Assert.Equal(0, b));
        lent.Value.GiveBack();
    }

    [Fact]
    public async Task A_read_whose_second_page_the_device_skipped_returns_zeros_there_and_the_first_page_intact()
    {
        var (model, c) = await StartOneQueue();
        await using var _ = c;
        var secret = Pattern(8192, 4);
        secret.CopyTo(model.Disk, 0);
        Assert.True((await c.ReadAsync(0, new byte[8192], default)).IsOk); // the slot's buffer now holds the secret
        var wanted = Pattern(8192, 5);
        wanted.CopyTo(model.Disk, 64 * 512);
        model.SkipDmaPage = 1;
        var back = new byte[8192];
        Assert.True((await c.ReadAsync(64, back, default)).IsOk);
        Assert.Equal(wanted.AsSpan(0, 4096).ToArray(), back.AsSpan(0, 4096).ToArray());
        Assert.All(back.AsSpan(4096).ToArray(), b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task The_polled_loop_hands_zeros_not_the_previous_reads_bytes_for_a_read_completed_without_dma()
    {
        var model = new NvmeDeviceModel(blocks: 8192);
        var started = await Start(model, new NvmeDriverOptions(IoQueues: 1, QueueEntries: 8, Polling: true));
        Assert.True(started.IsOk, started.ToString());
        await using var c = started.Value;
        Pattern(4096, 6).CopyTo(model.Disk, 0);
        int n = 0;
        Assert.True(c.ReadPolled(1, 4096, (out long lba) => { lba = 0; return n++ < 1; }, (_, _) => { }).IsOk);
        model.CompleteWithoutDma = true;
        n = 0;
        byte[]? got = null;
        Assert.True(c.ReadPolled(1, 4096, (out long lba) => { lba = 64; return n++ < 1; }, (data, _) => got = data.ToArray()).IsOk);
        Assert.NotNull(got);
        Assert.All(got!, b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task A_duplicate_completion_for_a_reused_cid_does_not_complete_the_new_command()
    {
        var (model, c) = await StartOneQueue();
        await using var _ = c;
        Pattern(4096, 2).CopyTo(model.Disk, 0);
        var wanted = Pattern(4096, 3);
        wanted.CopyTo(model.Disk, 64 * 512);
        model.DuplicateCompletion = true;
        Assert.True((await c.ReadAsync(0, new byte[4096], default)).IsOk);
        // Same slot (one queue, the slot freed last is taken first): the device repeats the old completion, holds this one.
        var back = new byte[4096];
        var read = ReadOff(c, 64, back);
        while (model.Held == 0 && !read.IsCompleted) await Task.Delay(1);
        await Task.Delay(50); // time for the stale completion to be reaped (the inline poller spins on the ring)
        Assert.False(read.IsCompleted, "the stale completion completed the new read");
        Assert.Equal(1, model.ReleaseHeld());
        Assert.True((await read).IsOk);
        Assert.Equal(wanted, back);
    }

    [Fact]
    public async Task A_flood_of_stray_completions_is_bounded_and_the_controller_is_reset()
    {
        var (model, c) = await StartOneQueue(tick: TimeSpan.FromMilliseconds(10));
        model.HoldIo = true; // the read never completes: only strays come
        model.StrayFlood = true;
        // Bounded: without a bound the reap never leaves the queue lock (this would hang, hence the guard).
        var r = await ReadOff(c, 0, new byte[512]).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(ErrorCode.TimedOut, r.Code);
        Assert.Contains("stray", r.Error.Message);
        Assert.True(c.Resets >= 1);
        model.StrayFlood = model.HoldIo = false;
        // The first may join a reset the flood started; the second starts after it (and re-bases the stray counts).
        await c.ResetAsync("flood over");
        await c.ResetAsync("flood over");
        Assert.True((await ReadOff(c, 0, new byte[512])).IsOk);
        await c.DisposeAsync();
    }

    [Fact]
    public async Task A_device_that_never_goes_not_ready_keeps_its_memory_on_reset_and_close()
    {
        var (model, c) = await StartOneQueue();
        model.NeverNotReady = true;
        var reset = await c.ResetAsync("test");
        Assert.Equal(ErrorCode.TimedOut, reset.Code);
        Assert.Equal(ErrorCode.IoError, (await c.ReadAsync(0, new byte[512], default)).Code);
        await c.DisposeAsync();
        Assert.True(c.LeakedOnClose);
        Assert.Equal(0, model.FreedDma);
        Assert.False(model.Disposed); // the function (its DMA mappings) stays open too
    }

    [Fact]
    public async Task A_quiet_close_frees_everything()
    {
        var (model, c) = await StartOneQueue();
        await c.DisposeAsync();
        Assert.False(c.LeakedOnClose);
        Assert.True(model.FreedDma > 0);
        Assert.True(model.Disposed);
    }

    [Theory]
    [InlineData((ushort)8, (byte)0, (byte)0)]    // 8 bytes of metadata per block (MPTR would be 0)
    [InlineData((ushort)0, (byte)0x10, (byte)0)] // FLBAS: extended (interleaved) metadata
    [InlineData((ushort)0, (byte)1, (byte)0)]    // format 1 of 1
    public async Task Namespace_formats_with_metadata_or_beyond_nlbaf_are_refused(ushort metadata, byte flbas, byte nlbaf)
    {
        var model = new NvmeDeviceModel(blocks: 1024) { MetadataSize = metadata, Flbas = flbas, Nlbaf = nlbaf };
        var r = await Start(model);
        Assert.Equal(ErrorCode.NotSupported, r.Code);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_namespace_that_changes_across_a_reset_closes_the_controller(bool resize)
    {
        var (model, c) = await StartOneQueue();
        await using var _ = c;
        if (resize) model.IdentifyBlocks = 4096; else model.Mdts = 1;
        Assert.Equal(ErrorCode.IoError, (await c.ResetAsync("test")).Code);
        Assert.Equal(ErrorCode.IoError, (await c.ReadAsync(0, new byte[512], default)).Code);
        Assert.Equal(8192, c.BlockCount);
    }
}
