using Photon.Kernel.Boot;
using Photon.Kernel.Boot.Components;
using Photon.Kernel.Drivers.Nvme;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Hal.Pci;
using Photon.Kernel.Tests.Boot;

namespace Photon.Kernel.Tests.Drivers.Nvme;

/// <summary>nvme19: who disposes the PCI function after a failed start (only the controller: it may have kept it on
/// purpose under a device still running), and a stray-completion flood that keeps coming back after resets fails the
/// controller after a bounded number of them instead of resetting it every watchdog tick forever.</summary>
public sealed class NvmeFailureBoundsTests
{
    private static readonly HostTimers Timers = new(new HostClock());

    private sealed class OneFunctionBus(NvmeDeviceModel model) : IPciBus
    {
        public IReadOnlyList<PciFunctionInfo> Enumerate() => [model.Info];
        public Result<IPciFunction> Open(PciAddress address) => address == model.Info.Address ? model : Errors.Of(ErrorCode.NotFound, $"{address}");
    }

    [Fact]
    public async Task A_start_refused_before_bring_up_disposes_the_function_once_itself()
    {
        var model = new NvmeDeviceModel(blocks: 1024) { Cap = (63UL | (1UL << 16) | (2UL << 24) | (1UL << 37)) & ~0xFFFFUL }; // MQES 0
        var r = await NvmeController.StartAsync(model, Timers, new NvmeDriverOptions(IoQueues: 1, QueueEntries: 8));
        Assert.Equal(ErrorCode.NotSupported, r.Code);
        Assert.Equal(1, model.Disposals);
    }

    [Fact]
    public async Task A_start_that_fails_under_a_device_that_never_goes_not_ready_keeps_the_function_and_its_memory()
    {
        // Identify namespace reports metadata (refused after the controller is enabled); then the close cannot disable it.
        var model = new NvmeDeviceModel(blocks: 1024) { MetadataSize = 8, NeverNotReady = true };
        var r = await NvmeController.StartAsync(model, Timers, new NvmeDriverOptions(IoQueues: 1, QueueEntries: 8));
        Assert.Equal(ErrorCode.NotSupported, r.Code);
        Assert.Equal(0, model.Disposals);
        Assert.Equal(0, model.FreedDma);
    }

    [Fact]
    public async Task The_component_never_disposes_a_function_the_failed_controller_kept()
    {
        var model = new NvmeDeviceModel(blocks: 1024) { MetadataSize = 8, NeverNotReady = true };
        var config = TestKernel.Config with { EchoLog = false };
        config = config with { Platform = config.Platform with { Pci = new OneFunctionBus(model) } };
        var booted = await PhotonKernel.BootAsync(config);
        Assert.True(booted.IsOk, booted.IsOk ? "" : booted.Error.ToString());
        await using var k = booted.Value;
        var component = new PciNvmeComponent("nvme0", options: new NvmeDriverOptions(IoQueues: 1, QueueEntries: 8));
        var started = await component.StartAsync(k, default);
        Assert.Equal(ErrorCode.NotSupported, started.Code);
        Assert.Equal(0, model.Disposals); // was 1: the component disposed (unmapped) it under the running device
        Assert.Equal(0, model.FreedDma);
        await component.StopAsync();
        Assert.Equal(0, model.Disposals);
    }

    [Fact]
    public async Task A_start_whose_device_name_is_taken_gives_the_disk_and_its_controller_back()
    {
        var model = new NvmeDeviceModel(blocks: 1024);
        var config = TestKernel.Config with { EchoLog = false };
        config = config with { Platform = config.Platform with { Pci = new OneFunctionBus(model) } };
        var booted = await PhotonKernel.BootAsync(config);
        Assert.True(booted.IsOk, booted.IsOk ? "" : booted.Error.ToString());
        await using var k = booted.Value;
        Assert.True(k.Namespaces.CreateChild(k.DevNamespace, "nvme0").IsOk); // the name is taken
        var component = new PciNvmeComponent("nvme0", options: new NvmeDriverOptions(IoQueues: 1, QueueEntries: 8));
        var started = await component.StartAsync(k, default);
        Assert.Equal(ErrorCode.AlreadyExists, started.Code);
        Assert.Null(component.Identity);           // the disk is gone, not kept for a stop that never comes
        Assert.Equal(1, model.Disposals);          // and its controller released the function
        await component.StopAsync();
        Assert.Equal(1, model.Disposals);
    }

    [Fact]
    public async Task A_stray_flood_that_outlasts_the_bounded_resets_fails_the_controller_with_a_typed_error()
    {
        var model = new NvmeDeviceModel(blocks: 8192) { HoldIo = true, StrayFlood = true };
        var started = await NvmeController.StartAsync(model, Timers,
            new NvmeDriverOptions(IoQueues: 1, QueueEntries: 8, PollQueue: false, WatchdogTick: TimeSpan.FromMilliseconds(5)));
        Assert.True(started.IsOk, started.ToString());
        await using var c = started.Value;
        // Reads keep coming (each fails at the next reset): their submitters' polls meet the flood — more strays per tick
        // than the ring holds; the watchdog's one bounded poll per tick alone never counts as one.
        var guard = Task.Delay(TimeSpan.FromSeconds(120));
        var read = Task.Run(async () =>
        {
            while (c.Failure is null && !guard.IsCompleted) await c.ReadAsync(0, new byte[512], default);
        });
        while (c.Failure is null && !guard.IsCompleted) await Task.Delay(5);
        Assert.NotNull(c.Failure);
        Assert.Equal(ErrorCode.IoError, c.Failure!.Value.Code);
        Assert.Contains("stray", c.Failure.Value.Message);
        Assert.Equal(NvmeController.MaxFloodResets, c.Resets);
        await read.WaitAsync(TimeSpan.FromSeconds(60));
        // Every later command and reset gets the failure; the flood goes on, the resets do not.
        var after = await c.ReadAsync(0, new byte[512], default);
        Assert.Equal(ErrorCode.IoError, after.Code);
        Assert.Equal(ErrorCode.IoError, (await c.ResetAsync("again")).Code);
        for (int i = 0; i < 20; i++) await Task.Delay(5); // watchdog ticks, had it gone on
        Assert.Equal(NvmeController.MaxFloodResets, c.Resets);
    }
}
