using Photon.Cli.Demo;
using Photon.Kernel.Boot;

namespace Photon.Kernel.Tests.Boot;

using Photon.Kernel.Boot;

public class KernelBootTests
{
    [Fact]
    public async Task Boot_brings_subsystems_up_in_dependency_order_and_logs_each_step()
    {
        var booted = await PhotonKernel.BootAsync(TestKernel.Config with { EchoLog = false, MemoryBytes = 8 * 1024 * 1024, Cpus = 2 });
        await using var k = booted.Value;
        Assert.Equal(["hal", "interrupts", "memory", "scheduler", "capabilities", "namespaces", "regions", "processes", "ipc", "quotas", "vfs", "devices", "modules", "init"],
            k.BootSteps.Select(s => s.Name));
        Assert.All(k.BootSteps, s => Assert.True(s.Elapsed >= TimeSpan.Zero));
        Assert.Equal(2048, k.Physical.TotalFrames);
        Assert.Contains(k.Log.Snapshot(), e => e.Source == "boot" && e.Message.StartsWith("kernel up"));
    }

    [Fact]
    public async Task Timer_interrupts_tick_and_the_shutdown_interrupt_cancels_the_shutdown_token()
    {
        var booted = await PhotonKernel.BootAsync(TestKernel.Config with { EchoLog = false, MemoryBytes = 4 * 1024 * 1024, TickPeriod = TimeSpan.FromMilliseconds(5) });
        await using var k = booted.Value;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (k.Ticks < 3 && DateTime.UtcNow < deadline) await Task.Delay(5);
        Assert.True(k.Ticks >= 3);
        Assert.False(k.ShutdownRequested.IsCancellationRequested);
        k.Interrupts.Raise(Photon.Kernel.Hal.InterruptVectors.Shutdown);
        Assert.True(k.ShutdownRequested.IsCancellationRequested);
        Assert.Equal(1, k.Interrupts.Count(Photon.Kernel.Hal.InterruptVectors.Shutdown));
        Assert.Throws<KernelException>(() => k.Interrupts.Raise(999));
    }

    [Fact]
    public async Task Boot_with_an_impossible_configuration_returns_a_typed_error()
    {
        var booted = await PhotonKernel.BootAsync(TestKernel.Config with { EchoLog = false, MemoryBytes = 12345 });
        Assert.False(booted.IsOk);
        Assert.Equal(ErrorCode.Faulted, booted.Code);
    }

    [Fact]
    public async Task The_boot_demo_workload_behaves_as_expected_on_every_step()
    {
        var booted = await PhotonKernel.BootAsync(DemoSystem.Config(TestKernel.Platform) with { EchoLog = false });
        await using var k = booted.Value;
        var report = await k.RunAsync(() => CoreDemo.RunAsync(k), "demo");
        Assert.Empty(report.Failures);
        Assert.True(report.Steps.Count >= 20);
        // The demo's denials are the ones a user relies on.
        Assert.Contains(report.Steps, s => s.Step.Contains("revoked handle") && s.Outcome.Contains("Revoked"));
        Assert.Contains(report.Steps, s => s.Step.Contains("intruder") && s.Outcome.Contains("NotFound"));
    }

    [Fact]
    public async Task The_storage_demo_loads_fs_modules_mounts_through_the_block_driver_and_leaves_images_fsck_clean()
    {
        using var images = DemoImages.Unpack();
        var booted = await PhotonKernel.BootAsync(DemoSystem.Config(TestKernel.Platform, images) with { EchoLog = false, MemoryBytes = 8 * 1024 * 1024 });
        Assert.True(booted.IsOk, booted.IsOk ? "" : booted.Error.ToString());
        var k = booted.Value;
        var report = new DemoReport();
        await k.RunAsync(() => StorageDemo.RunAsync(k, images, report), "storage-demo");
        await k.DisposeAsync();
        Assert.Empty(report.Failures);
        Assert.Contains(report.Steps, s => s.Step.StartsWith("fsck.vfat") && s.Outcome == "clean");
        Assert.Contains(report.Steps, s => s.Step.StartsWith("e2fsck") && s.Outcome == "clean");
        Assert.Contains(report.Steps, s => s.Step.Contains("read-only ext4 view") && s.Outcome.Contains("AccessDenied"));
        Assert.Empty(k.FileSystems.TypeNames); // modules unloaded at shutdown
    }

    [Fact]
    public async Task The_tenants_demo_runs_services_and_wasm_guests_over_ipc_and_contains_the_hostile_ones()
    {
        var booted = await PhotonKernel.BootAsync(DemoSystem.Config(TestKernel.Platform) with { EchoLog = false });
        await using var k = booted.Value;
        await k.RunAsync(() => CoreDemo.RunAsync(k), "demo");
        var report = new DemoReport();
        await k.RunAsync(() => TenantsDemo.RunAsync(k, report), "tenants-demo");
        Assert.Empty(report.Failures);
        Assert.Contains(report.Steps, s => s.Step.Contains("echo guest") && s.Outcome.Contains("ping from the native kv service"));
        Assert.Contains(k.RecentAudit.Snapshot(), e => e.Action == Photon.Kernel.Audit.AuditAction.Denied && e.Namespace.StartsWith("/tenant-b/wasm-thief"));
    }
}
