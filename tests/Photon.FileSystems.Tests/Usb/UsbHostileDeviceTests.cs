using System.Security.Cryptography;
using Photon.FileSystems.Tests.Fat;
using Photon.Kernel;
using Photon.Kernel.Drivers.Usb;
using Photon.Kernel.Hal.Host;
using Xunit.Abstractions;

namespace Photon.FileSystems.Tests.Usb;

/// <summary>The xHCI and USB mass-storage drivers against a hostile or broken controller and stick (usb19): a TD the
/// controller will not stop after a timeout, short and lying control data stages, bulk data reported but never written,
/// cancellation in the middle of a Bulk-Only command, floods of events for other slots and ports, lying READ CAPACITY
/// replies, block ranges that overflow, and descriptors naming an alternate setting.</summary>
public sealed class UsbHostileDeviceTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly HostTimers Timers = new(new HostClock());
    private static readonly XhciOptions Fast = new(CommandTimeout: TimeSpan.FromMilliseconds(300), TransferTimeout: TimeSpan.FromMilliseconds(300));
    private static readonly byte[] DeviceDescriptor = [18, 1, 0x00, 0x02, 0, 0, 0, 64, 0x27, 0x06, 0x01, 0x00, 0x00, 0x01, 1, 2, 3, 1];

    private static async Task<(XhciModel Model, XhciController Hc, UsbMassStorage Disk)> Start(XhciModel model, XhciOptions? options = null)
    {
        var hc = (await XhciController.OpenAsync(model.Function, Timers, options).WaitAsync(Timeout)).AssertOk();
        var usb = (await UsbMassStorage.AttachAsync(hc).WaitAsync(Timeout)).AssertOk();
        return (model, hc, usb);
    }

    [Theory]
    [InlineData(UsbFault.StopEndpointFails)]
    [InlineData(UsbFault.StopEndpointNoAnswer)]
    public async Task A_timed_out_transfer_the_controller_will_not_stop_retires_the_device_and_its_bounce_buffer_outlives_the_late_dma(UsbFault fault)
    {
        var (model, hc, usb) = await Start(new XhciModel(RandomNumberGenerator.GetBytes(1 << 20)), Fast);
        await using (hc)
        {
            model.Hangs = true; // the READ's data phase is never answered
            model.Fault = fault;
            var r = await usb.ReadAsync(0, new byte[4096]).AsTask().WaitAsync(Timeout);
            output.WriteLine(r.ToString());
            Assert.Equal(ErrorCode.TimedOut, r.Code);

            // The TD is still on the endpoint, its buffer the one bounce window: nothing else may go through it.
            model.Fault = UsbFault.None;
            int commands = model.ScsiOpcodes.Count;
            var again = await usb.WriteAsync(0, new byte[4096]).AsTask().WaitAsync(Timeout);
            output.WriteLine(again.ToString());
            Assert.False(again.IsOk);
            Assert.NotEqual(ErrorCode.TimedOut, again.Code); // refused at once, not another wait
            Assert.Equal(commands, model.ScsiOpcodes.Count);

            // Closing leaks the device's DMA memory: the controller may still complete the TD into it.
            await usb.DisposeAsync();
            Assert.True(usb.Transport.Device.LeakedOnClose);
            Assert.Equal(1, model.CompleteHungTransfers(0xEE));
            Assert.Equal(0, model.LateDmaFaults);
        }
    }

    [Fact]
    public async Task A_timed_out_transfer_the_controller_stops_leaves_the_device_usable_and_nothing_is_leaked()
    {
        var disk = RandomNumberGenerator.GetBytes(1 << 20);
        var (model, hc, usb) = await Start(new XhciModel(disk.ToArray()), Fast);
        await using (hc)
        {
            model.Hangs = true;
            Assert.Equal(ErrorCode.TimedOut, (await usb.ReadAsync(0, new byte[4096]).AsTask().WaitAsync(Timeout)).Code);
            model.Hangs = false;
            // Stop Endpoint and Set TR Dequeue moved the endpoint past the TD, and Reset Recovery put the stick back
            // at "expecting a CBW": the next command is answered by its own data and CSW.
            Assert.Equal(1, usb.Transport.ResetRecoveries);
            Assert.Equal(0, model.CompleteHungTransfers(0xEE));
            var read = new byte[4096];
            (await usb.ReadAsync(16, read).AsTask().WaitAsync(Timeout)).AssertOk();
            Assert.Equal(disk.AsSpan(16 * 512, 4096).ToArray(), read);
            await usb.DisposeAsync();
            Assert.False(usb.Transport.Device.LeakedOnClose);
        }
    }

    [Fact]
    public async Task A_cbw_that_times_out_is_followed_by_reset_recovery_and_the_next_command_is_answered_by_its_own_csw()
    {
        var disk = RandomNumberGenerator.GetBytes(1 << 20);
        var (model, hc, usb) = await Start(new XhciModel(disk.ToArray()), Fast);
        await using (hc)
        {
            model.HangsOut = true; // the READ's CBW is never taken
            Assert.Equal(ErrorCode.TimedOut, (await usb.ReadAsync(0, new byte[4096]).AsTask().WaitAsync(Timeout)).Code);
            model.HangsOut = false;
            // The CBW may have reached the stick: Reset Recovery puts it back at "expecting a CBW" (was: none).
            Assert.Equal(1, usb.Transport.ResetRecoveries);
            var read = new byte[4096];
            (await usb.ReadAsync(16, read).AsTask().WaitAsync(Timeout)).AssertOk();
            Assert.Equal(disk.AsSpan(16 * 512, 4096).ToArray(), read);
        }
    }

    [Fact]
    public async Task A_short_control_in_returns_exactly_the_bytes_the_device_sent_never_stale_ones_never_more()
    {
        var (model, hc, usb) = await Start(new XhciModel(new byte[1 << 20]), Fast);
        await using (hc)
        {
            var dev = usb.Transport.Device;
            // Leave the bounce window full of another transfer's bytes.
            (await usb.WriteAsync(0, RandomNumberGenerator.GetBytes(4096))).AssertOk();
            model.ControlReplyLimit = 8;
            var shortReply = (await dev.ControlAsync(0x80, 6, 0x100, 0, default, 18, default).WaitAsync(Timeout)).AssertOk();
            Assert.Equal(DeviceDescriptor[..8], shortReply);
            // The TD ended with its status stage: the event ring holds nothing left over for the next transfer.
            Assert.Equal(0, hc.StrayEvents);
            model.ControlReplyLimit = null;
            Assert.Equal(DeviceDescriptor, (await dev.ControlAsync(0x80, 6, 0x100, 0, default, 18, default)).AssertOk());
            Assert.Equal(DeviceDescriptor[..4], (await dev.ControlAsync(0x80, 6, 0x100, 0, default, 4, default)).AssertOk());

            // A residual beyond the request claims more bytes missing than were asked for.
            model.ControlReplyLimit = 4;
            model.Fault = UsbFault.ControlResidualTooLarge;
            Assert.Equal(ErrorCode.Corrupted, (await dev.ControlAsync(0x80, 6, 0x100, 0, default, 18, default).WaitAsync(Timeout)).Code);
            model.Fault = UsbFault.None;
            model.ControlReplyLimit = null;
            (await usb.ReadAsync(0, new byte[512]).AsTask().WaitAsync(Timeout)).AssertOk();
            Assert.Equal(0, hc.StrayEvents);
        }
    }

    [Fact]
    public async Task A_short_device_descriptor_is_refused_and_a_configuration_claiming_more_than_it_sends_is_parsed_as_sent()
    {
        // Eight bytes of a device descriptor used to come back as eighteen, the missing ten zeros, and pass.
        var shortDescriptor = new XhciModel(new byte[1 << 20]) { ControlReplyLimit = 8 };
        await using (var hc = (await XhciController.OpenAsync(shortDescriptor.Function, Timers, Fast)).AssertOk())
            Assert.Equal(ErrorCode.Corrupted, (await UsbMassStorage.AttachAsync(hc).WaitAsync(Timeout)).Code);

        // wTotalLength 1000 for a 32-byte configuration: the parser sees the 32 bytes that came, not 968 zeros after them.
        var (model, hc2, usb) = await Start(new XhciModel(new byte[1 << 20]) { ConfigTotalLength = 1000 }, Fast);
        await using (hc2)
            (await usb.ReadAsync(0, new byte[512])).AssertOk();
        var huge = new XhciModel(new byte[1 << 20]) { ConfigTotalLength = 5000 };
        await using (var hc3 = (await XhciController.OpenAsync(huge.Function, Timers, Fast)).AssertOk())
            Assert.Equal(ErrorCode.Corrupted, (await UsbMassStorage.AttachAsync(hc3).WaitAsync(Timeout)).Code);
    }

    [Fact]
    public async Task Bulk_in_data_the_device_reports_but_never_wrote_reads_as_zeros_not_the_previous_transfers_bytes()
    {
        var (model, hc, usb) = await Start(new XhciModel(new byte[1 << 20]), Fast);
        await using (hc)
        {
            var secret = RandomNumberGenerator.GetBytes(8192);
            (await usb.WriteAsync(100, secret)).AssertOk(); // another tenant's write passes through the bounce window
            model.Fault = UsbFault.CompleteWithoutDma;
            var read = new byte[8192];
            read.AsSpan().Fill(0x55);
            (await usb.ReadAsync(0, read).AsTask().WaitAsync(Timeout)).AssertOk();
            Assert.True(read.All(b => b == 0), "bytes the device never wrote came back non-zero");
        }
    }

    [Fact]
    public async Task Cancelling_a_read_mid_command_is_Cancelled_not_a_removed_stick_and_the_next_command_is_in_step()
    {
        var disk = RandomNumberGenerator.GetBytes(1 << 20);
        var (model, hc, usb) = await Start(new XhciModel(disk.ToArray()), Fast);
        await using (hc)
        {
            using var cts = new CancellationTokenSource();
            // Cancelled once the CBW is on the wire: the data phase is the first transfer to see it.
            model.CommandReceived = op => { if (op == 0x28) cts.Cancel(); };
            var r = await usb.ReadAsync(8, new byte[4096], cts.Token).AsTask().WaitAsync(Timeout);
            model.CommandReceived = null;
            output.WriteLine(r.ToString());
            Assert.Equal(ErrorCode.Cancelled, r.Code); // was Closed, and the stick marked removed for good
            Assert.False(usb.Removed);
            Assert.Equal(1, model.BotResets); // the stick was mid-command: Reset Recovery, or its data answers the next CBW
            var read = new byte[4096];
            (await usb.ReadAsync(16, read).AsTask().WaitAsync(Timeout)).AssertOk();
            Assert.Equal(disk.AsSpan(16 * 512, 4096).ToArray(), read);
            // Cancelled before it starts: typed, and nothing is sent.
            int commands = model.ScsiOpcodes.Count;
            Assert.Equal(ErrorCode.Cancelled, (await usb.ReadAsync(0, read, cts.Token)).Code);
            Assert.Equal(commands, model.ScsiOpcodes.Count);
            Assert.False(usb.Removed);
        }
    }

    [Fact]
    public async Task A_flood_of_events_for_other_slots_and_port_changes_is_drained_and_counted_and_io_is_unaffected()
    {
        var disk = RandomNumberGenerator.GetBytes(1 << 20);
        // The model does not check for a full event ring: at most two real events per doorbell, nine entries each, fit.
        var (model, hc, usb) = await Start(new XhciModel(disk.ToArray()) { Fault = UsbFault.StrayFlood }, Fast);
        await using (hc)
        {
            long allocated = model.Function.Dma.AllocatedBytes;
            for (int i = 0; i < 20; i++)
            {
                var read = new byte[2048];
                (await usb.ReadAsync(i * 4, read).AsTask().WaitAsync(Timeout)).AssertOk();
                Assert.Equal(disk.AsSpan(i * 4 * 512, 2048).ToArray(), read);
            }
            Assert.True(hc.StrayEvents > 100, $"{hc.StrayEvents} strays");
            Assert.Equal(allocated, model.Function.Dma.AllocatedBytes);
            Assert.Equal(0, model.DmaFaults);
        }
    }

    [Theory]
    [InlineData(0xFFFFFFFFu, 512u, ErrorCode.NotSupported)]
    [InlineData(100u, 0u, ErrorCode.NotSupported)]
    [InlineData(100u, 0x8000_0000u, ErrorCode.NotSupported)]
    [InlineData(100u, 1u, ErrorCode.NotSupported)]
    public async Task A_lying_read_capacity_is_refused_at_bring_up(uint lastLba, uint blockLength, ErrorCode expected)
    {
        var model = new XhciModel(new byte[1 << 20]) { Capacity = (lastLba, blockLength) };
        await using var hc = (await XhciController.OpenAsync(model.Function, Timers, Fast)).AssertOk();
        Assert.Equal(expected, (await UsbMassStorage.AttachAsync(hc).WaitAsync(Timeout)).Code);
    }

    [Fact]
    public async Task A_one_block_medium_works_and_ranges_that_overflow_or_are_empty_are_refused_before_any_command()
    {
        var (model, hc, usb) = await Start(new XhciModel(new byte[1 << 20]) { Capacity = (0, 512) }, Fast);
        await using (hc)
        {
            Assert.Equal(1, usb.SectorCount);
            (await usb.ReadAsync(0, new byte[512])).AssertOk();
            int commands = model.ScsiOpcodes.Count;
            Assert.Equal(ErrorCode.OutOfRange, (await usb.ReadAsync(1, new byte[512])).Code);
            Assert.Equal(ErrorCode.OutOfRange, (await usb.ReadAsync(long.MaxValue, new byte[512])).Code); // lba + 1 overflowed
            Assert.Equal(ErrorCode.OutOfRange, (await usb.WriteAsync(long.MaxValue, new byte[512])).Code);
            Assert.Equal(ErrorCode.InvalidArgument, (await usb.ReadAsync(0, Memory<byte>.Empty)).Code);
            Assert.Equal(commands, model.ScsiOpcodes.Count);
        }
    }

    [Fact]
    public void A_mass_storage_interface_offered_only_as_an_alternate_setting_is_not_taken()
    {
        // Alternate setting 0 is vendor-specific; only setting 1 is Bulk-Only. Without SET_INTERFACE, setting 1's
        // endpoints are not active: configuring them would give transfers nobody answers.
        byte[] config = [9, 2, 41, 0, 1, 1, 0, 0xC0, 50,
                         9, 4, 0, 0, 0, 0xFF, 0, 0, 0,
                         9, 4, 0, 1, 2, 8, 6, 0x50, 0,
                         7, 5, 0x81, 2, 0x00, 0x02, 0,
                         7, 5, 0x02, 2, 0x00, 0x02, 0];
        Assert.Equal(ErrorCode.NotSupported, UsbDescriptors.FindMassStorage(config).Code);
        config[21] = 0; // the same Bulk-Only interface as setting 0 is taken
        Assert.True(UsbDescriptors.FindMassStorage(config).IsOk);
    }
}
