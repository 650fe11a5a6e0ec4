using System.Security.Cryptography;
using Photon.FileSystems.Fat;
using Photon.FileSystems.Tests.Fat;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Block;
using Photon.Kernel.Drivers.Usb;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Hal.Host;
using Xunit.Abstractions;

namespace Photon.FileSystems.Tests.Usb;

/// <summary>The xHCI driver and the USB mass-storage (Bulk-Only, SCSI) driver against the in-process controller and
/// stick model: bring-up, block I/O, FAT mounted on the stick, BOT error recovery, hostile events, removal.</summary>
public sealed class UsbMassStorageTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly HostTimers Timers = new(new HostClock());
    private static readonly XhciOptions Fast = new(CommandTimeout: TimeSpan.FromMilliseconds(300), TransferTimeout: TimeSpan.FromMilliseconds(300));

    private static async Task<(XhciModel Model, XhciController Hc, UsbMassStorage Disk)> Start(byte[]? disk = null, XhciOptions? options = null,
        int msix = 4)
    {
        var model = new XhciModel(disk ?? new byte[4 << 20], msixVectors: msix);
        var hc = (await XhciController.OpenAsync(model.Function, Timers, options).WaitAsync(Timeout)).AssertOk();
        var usb = (await UsbMassStorage.AttachAsync(hc).WaitAsync(Timeout)).AssertOk();
        return (model, hc, usb);
    }

    [Fact]
    public async Task Controller_resets_sets_up_scratchpads_and_rings_and_the_stick_comes_up_through_scsi()
    {
        var (model, hc, usb) = await Start();
        await using (hc)
        {
            Assert.False(model.Halted);
            Assert.Equal(2, hc.ScratchpadBuffers);
            Assert.False(hc.Polling);
            Assert.Equal([2], hc.ConnectedPorts());
            Assert.Equal(4L << 20 >> 9, usb.SectorCount);
            Assert.Equal(512, usb.SectorSize);
            Assert.Equal("QEMU", usb.Vendor);
            Assert.Equal("QEMU HARDDISK", usb.Product);
            // INQUIRY, TEST UNIT READY (unit attention), REQUEST SENSE, TEST UNIT READY, READ CAPACITY(10).
            Assert.Equal(new byte[] { 0x12, 0x00, 0x03, 0x00, 0x25 }, model.ScsiOpcodes);
            Assert.True(model.Function.Interrupt(0)!.Fired > 0);
            Assert.Equal(0, hc.StrayEvents);
            Assert.Equal(0, model.DmaFaults);
        }
    }

    [Fact]
    public async Task A_hostile_page_size_register_cannot_make_the_scratchpads_exhaust_memory()
    {
        // review18b: PAGESIZE is a mask; read as a count, 0xFFFF gave ~256 MiB pages x up to 1,023 scratchpads at boot.
        var model = new XhciModel(new byte[4 << 20]) { ScratchpadCount = 1023, PageSizeRegister = 0xFFFF };
        var hc = (await XhciController.OpenAsync(model.Function, Timers, Fast).WaitAsync(Timeout)).AssertOk();
        await using (hc)
        {
            Assert.Equal(1023, hc.ScratchpadBuffers);
            Assert.True(model.Function.Dma.AllocatedBytes <= 8L << 20, $"{model.Function.Dma.AllocatedBytes} bytes of DMA memory");
        }
        var no4k = new XhciModel(new byte[4 << 20]) { PageSizeRegister = 2 }; // 8 KiB pages only
        var refused = await XhciController.OpenAsync(no4k.Function, Timers, Fast).WaitAsync(Timeout);
        Assert.Equal(ErrorCode.NotSupported, refused.Code);
        Assert.Equal(0, no4k.Function.Dma.LiveBuffers);
    }

    [Fact]
    public async Task A_controller_that_never_halts_keeps_its_dma_memory_on_close_one_that_halts_frees_it()
    {
        // review18b: close freed the rings, contexts and scratchpads whether or not the controller halted; without an
        // IOMMU (the uio fallback) a controller still running would write into reused pages.
        var (model, hc, usb) = await Start(options: Fast);
        await usb.DisposeAsync();
        model.IgnoresStop = true;
        await hc.DisposeAsync();
        Assert.True(hc.LeakedOnClose);
        Assert.False(model.Function.Disposed); // its DMA mappings stay
        Assert.True(model.Function.Dma.LiveBuffers > 0);

        var (good, hc2, usb2) = await Start(options: Fast);
        await usb2.DisposeAsync();
        await hc2.DisposeAsync();
        Assert.False(hc2.LeakedOnClose);
        Assert.True(good.Function.Disposed);
    }

    [Fact]
    public async Task Reads_and_writes_move_exact_sectors_including_transfers_split_at_64_KiB()
    {
        var disk = RandomNumberGenerator.GetBytes(4 << 20);
        var (model, hc, usb) = await Start(disk.ToArray(), new XhciOptions(RingEntries: 16));
        await using (hc)
        {
            var read = new byte[300 * 512]; // three READ(10)s: 128 + 128 + 44 sectors
            (await usb.ReadAsync(1000, read)).AssertOk();
            Assert.Equal(disk.AsSpan(1000 * 512, read.Length).ToArray(), read);
            var data = RandomNumberGenerator.GetBytes(200 * 512);
            (await usb.WriteAsync(5000, data)).AssertOk();
            (await usb.FlushAsync()).AssertOk();
            Assert.Equal(data, model.Disk.AsSpan(5000 * 512, data.Length).ToArray());
            // Many commands wrap the 16-entry transfer rings several times over.
            for (int i = 0; i < 40; i++)
            {
                var one = new byte[512];
                (await usb.ReadAsync(5000 + i, one)).AssertOk();
                Assert.Equal(data.AsSpan(i * 512, 512).ToArray(), one);
            }
            Assert.Equal(ErrorCode.OutOfRange, (await usb.ReadAsync(usb.SectorCount, new byte[512])).Code);
            Assert.Equal(ErrorCode.InvalidArgument, (await usb.ReadAsync(0, new byte[100])).Code);
            Assert.Contains((byte)0x2A, model.ScsiOpcodes);
            Assert.Contains((byte)0x35, model.ScsiOpcodes);
        }
    }

    [Fact]
    public async Task Fat_mounts_on_the_usb_stick_unchanged_and_what_it_writes_passes_fsck()
    {
        using var image = FatImage.Create(16);
        var existing = RandomNumberGenerator.GetBytes(70_000);
        image.Put(existing, "/EXISTING.BIN");
        var (model, hc, usb) = await Start(File.ReadAllBytes(image.Path));
        await using (hc)
        {
            // Mounted through the kernel's capability-checked block queues, as a tenant would get it.
            var caps = new CapabilityManager();
            var (blocks, cap) = NvmeBlockDevice.Start(new UsbBlockStorage(usb), caps, new NvmeOptions(QueuePairs: 1, SectorSize: usb.SectorSize)).Value;
            var readOnly = caps.Derive(cap, Rights.Read, new Principal("tenant", "/t")).Value;
            Assert.Equal(ErrorCode.AccessDenied, (await blocks.Open(readOnly).WriteAsync(0, new byte[512])).Code);
            var fs = (await new FatFileSystemDriver().MountAsync(blocks.Open(cap), new MountOptions(false))).AssertOk();
            Assert.Equal(existing, await fs.ReadAllAsync("/EXISTING.BIN"));
            var written = RandomNumberGenerator.GetBytes(300_000);
            (await fs.CreateDirectoryAsync("/from photon")).AssertOk();
            (await fs.CreateFileAsync("/from photon/usb.bin")).AssertOk();
            (await fs.WriteAsync("/from photon/usb.bin", 0, written)).AssertOk();
            await fs.DisposeAsync();
            await blocks.DisposeAsync();
            await File.WriteAllBytesAsync(image.Path, model.Disk);
            image.AssertFsckClean();
            Assert.Equal(written, image.Get("/from photon/usb.bin"));
            Assert.Equal(existing, image.Get("/EXISTING.BIN"));
        }
    }

    [Theory]
    [InlineData(UsbFault.CswBadSignatureOnce, ErrorCode.Corrupted)]
    [InlineData(UsbFault.CswWrongTagOnce, ErrorCode.Corrupted)]
    [InlineData(UsbFault.CswPhaseErrorOnce, ErrorCode.IoError)]
    public async Task A_bad_csw_ends_in_reset_recovery_and_a_typed_error_and_the_next_command_works(UsbFault fault, ErrorCode expected)
    {
        var disk = RandomNumberGenerator.GetBytes(1 << 20);
        var (model, hc, usb) = await Start(disk.ToArray());
        await using (hc)
        {
            model.Fault = fault;
            var r = await usb.ReadAsync(8, new byte[4096]).AsTask().WaitAsync(Timeout);
            Assert.Equal(expected, r.Code);
            output.WriteLine(r.ToString());
            Assert.Equal(1, model.BotResets);
            Assert.Equal(1, usb.Transport.ResetRecoveries);
            var again = new byte[4096];
            (await usb.ReadAsync(8, again)).AssertOk();
            Assert.Equal(disk.AsSpan(8 * 512, 4096).ToArray(), again);
        }
    }

    [Fact]
    public async Task A_stall_in_the_data_phase_is_cleared_and_the_csw_failure_reported_with_its_sense()
    {
        var disk = RandomNumberGenerator.GetBytes(1 << 20);
        var (model, hc, usb) = await Start(disk.ToArray());
        await using (hc)
        {
            long clears = model.ClearHalts;
            model.Fault = UsbFault.StallDataInOnce;
            var r = await usb.ReadAsync(0, new byte[2048]).AsTask().WaitAsync(Timeout);
            Assert.Equal(ErrorCode.IoError, r.Code);
            Assert.Contains("sense key 3", r.Error.Message); // MEDIUM ERROR from REQUEST SENSE
            Assert.Equal(clears + 1, model.ClearHalts);
            Assert.Equal(0, model.BotResets);
            var ok = new byte[2048];
            (await usb.ReadAsync(0, ok)).AssertOk();
            Assert.Equal(disk.AsSpan(0, 2048).ToArray(), ok);
            // A stalled CSW is cleared and read again: the command still succeeds.
            model.Fault = UsbFault.StallCswOnce;
            (await usb.ReadAsync(4, ok)).AssertOk();
            Assert.Equal(clears + 2, model.ClearHalts);
        }
    }

    [Fact]
    public async Task Events_with_the_wrong_cycle_bit_are_not_consumed_and_the_command_times_out_typed()
    {
        var (model, hc, usb) = await Start(options: Fast);
        await using (hc)
        {
            model.Fault = UsbFault.EventWrongCycle;
            var r = await usb.ReadAsync(0, new byte[512]).AsTask().WaitAsync(Timeout);
            Assert.True(r.Code is ErrorCode.TimedOut or ErrorCode.Faulted, r.ToString());
        }
    }

    [Fact]
    public async Task A_transfer_event_naming_another_slot_is_Corrupted_and_a_residue_beyond_the_request_too()
    {
        var (model, hc, usb) = await Start(options: Fast);
        await using (hc)
        {
            model.Fault = UsbFault.TransferEventWrongSlot;
            Assert.Equal(ErrorCode.Corrupted, (await usb.ReadAsync(0, new byte[512]).AsTask().WaitAsync(Timeout)).Code);
            // The transfer it answered for may still complete into the one bounce buffer: the device takes no more
            // (review18b), even once the controller behaves.
            model.Fault = UsbFault.None;
            Assert.Equal(ErrorCode.Corrupted, (await usb.ReadAsync(0, new byte[512]).AsTask().WaitAsync(Timeout)).Code);
        }
        var (model2, hc2, usb2) = await Start(options: Fast);
        await using (hc2)
        {
            model2.Fault = UsbFault.ResidueTooLarge;
            Assert.Equal(ErrorCode.Corrupted, (await usb2.ReadAsync(0, new byte[512]).AsTask().WaitAsync(Timeout)).Code);
        }
    }

    [Fact]
    public async Task Address_device_completing_for_another_slot_is_refused()
    {
        var model = new XhciModel(new byte[1 << 20]) { Fault = UsbFault.AddressDeviceWrongSlot };
        await using var hc = (await XhciController.OpenAsync(model.Function, Timers, Fast)).AssertOk();
        var r = await UsbMassStorage.AttachAsync(hc).WaitAsync(Timeout);
        Assert.Equal(ErrorCode.Corrupted, r.Code);
    }

    [Theory]
    [InlineData(8)]
    [InlineData(16)]
    [InlineData(32)]
    [InlineData(64)]
    public async Task A_full_speed_stick_gets_its_ep0_packet_size_from_its_descriptor_and_works(int mps0)
    {
        // Addressed with 64; a smaller bMaxPacketSize0 ends every longer control read after one packet until the
        // controller is told (Evaluate Context) — the 18-byte device descriptor would come back as 8 bytes.
        var model = new XhciModel(new byte[1 << 20], speed: 1, ep0MaxPacket: (byte)mps0);
        await using var hc = (await XhciController.OpenAsync(model.Function, Timers, Fast).WaitAsync(Timeout)).AssertOk();
        var usb = (await UsbMassStorage.AttachAsync(hc).WaitAsync(Timeout)).AssertOk();
        Assert.Equal(mps0, model.Ep0ContextMaxPacket.Values.Single());
        Assert.Equal(mps0 == 64 ? 0 : 1, model.Evaluates);
        Assert.Equal("QEMU", usb.Vendor);
        new Random(mps0).NextBytes(model.Disk.AsSpan(0, 4096));
        var back = new byte[4096];
        (await usb.ReadAsync(0, back)).AssertOk();
        Assert.Equal(model.Disk.AsSpan(0, 4096).ToArray(), back);
    }

    [Fact]
    public async Task A_high_speed_stick_needs_no_evaluate_context()
    {
        var (model, hc, _) = await Start();
        await using (hc)
        {
            Assert.Equal(0, model.Evaluates);
            Assert.Equal(64, model.Ep0ContextMaxPacket.Values.Single());
        }
    }

    [Theory]
    [InlineData(0)]   // no packet size at all: the first 8 bytes never arrive whole
    [InlineData(7)]
    [InlineData(128)] // not a full-speed size
    public async Task A_full_speed_stick_with_an_impossible_ep0_packet_size_is_refused_typed(int mps0)
    {
        var model = new XhciModel(new byte[1 << 20], speed: 1, ep0MaxPacket: (byte)mps0);
        await using var hc = (await XhciController.OpenAsync(model.Function, Timers, Fast).WaitAsync(Timeout)).AssertOk();
        var r = await UsbMassStorage.AttachAsync(hc).WaitAsync(Timeout);
        Assert.Equal(ErrorCode.Corrupted, r.Code);
        Assert.Equal(0, model.Evaluates);
    }

    [Fact]
    public async Task Without_msix_the_controller_polls_and_the_stick_still_works()
    {
        var (model, hc, usb) = await Start(msix: 0);
        await using (hc)
        {
            Assert.True(hc.Polling);
            (await usb.ReadAsync(0, new byte[512])).AssertOk();
        }
    }

    [Fact]
    public async Task Pulling_the_stick_out_while_mounted_gives_typed_errors_and_no_hang()
    {
        using var image = FatImage.Create(16);
        image.Put(RandomNumberGenerator.GetBytes(10_000), "/A.BIN");
        var (model, hc, usb) = await Start(File.ReadAllBytes(image.Path), Fast);
        await using (hc)
        {
            var fs = (await new FatFileSystemDriver().MountAsync(usb, new MountOptions(false))).AssertOk();
            model.Unplug();
            var read = await usb.ReadAsync(100, new byte[512]).AsTask().WaitAsync(Timeout);
            Assert.Equal(ErrorCode.Closed, read.Code);
            Assert.True(usb.Removed);
            // Every later call fails at once, through the filesystem too.
            Assert.Equal(ErrorCode.Closed, (await usb.WriteAsync(0, new byte[512])).Code);
            // The filesystem may accept a change into its cache, but cannot make it durable: flush says so.
            await fs.CreateFileAsync("/B.BIN").AsTask().WaitAsync(Timeout);
            await fs.WriteAsync("/B.BIN", 0, new byte[5000]).AsTask().WaitAsync(Timeout);
            var flushed = await fs.FlushAsync().AsTask().WaitAsync(Timeout);
            Assert.Equal(ErrorCode.Closed, flushed.Code);
            await fs.DisposeAsync().AsTask().WaitAsync(Timeout);
        }
    }

    [Fact]
    public async Task A_device_without_a_bulk_only_interface_or_a_controller_with_a_broken_layout_is_refused()
    {
        var broken = new XhciModel(new byte[1 << 20]);
        broken.Function.Bars[0] = new Photon.Kernel.Tests.Support.Pci.FakeMmio(0x100, (o, s) => o == 0 ? 0x40UL : 0xFFFF_FFFFUL, (o, s, v) => { });
        Assert.Equal(ErrorCode.Corrupted, (await XhciController.OpenAsync(broken.Function, Timers, Fast)).Code);
        Assert.True(broken.Function.Disposed);
        Assert.Equal(0, broken.Function.Dma.LiveBuffers);
        Assert.Equal(ErrorCode.NotSupported, UsbDescriptors.FindMassStorage([9, 2, 18, 0, 1, 1, 0, 0, 0, 9, 4, 0, 0, 0, 3, 1, 1, 0]).Code);
        Assert.Equal(ErrorCode.Corrupted, UsbDescriptors.FindMassStorage([9, 2, 40, 0, 1, 1, 0, 0, 0, 0, 4]).Code); // zero-length descriptor
    }

    [Fact]
    public async Task The_usb_storage_source_opens_the_stick_for_the_block_device_boot_component_and_passes_other_names_on()
    {
        var disk = RandomNumberGenerator.GetBytes(1 << 20);
        var model = new XhciModel(disk.ToArray());
        var source = new UsbStorageSource(new Photon.Kernel.Tests.Support.Pci.FakePciBus(model.Function), Timers);
        Assert.Equal(ErrorCode.NotFound, source.Open("disk.img").Code);
        Assert.Equal(ErrorCode.NotFound, source.Open("usb:0000:00:09.0").Code);
        var opened = source.Open("usb:0000:00:06.0");
        Assert.True(opened.IsOk, opened.ToString());
        await using var storage = opened.Value;
        Assert.Equal(disk.Length, storage.Length);
        var buffer = new byte[1024];
        Assert.Equal(1024, await storage.ReadAsync(4096, buffer));
        Assert.Equal(disk.AsSpan(4096, 1024).ToArray(), buffer);
        await Assert.ThrowsAsync<KernelException>(async () => await storage.ReadAsync(100, buffer));
    }
}
