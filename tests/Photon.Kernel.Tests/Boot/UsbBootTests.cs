using System.Text;
using Photon.FileSystems.Tests.Usb;
using Photon.Cli.Demo;
using Photon.Kernel.Boot;
using Photon.Kernel.Boot.Components;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Usb;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Tests.Support.Pci;

namespace Photon.Kernel.Tests.Boot;

using Photon.Kernel.Boot;

/// <summary>The wiring the VM boot needs, shown on the device models: the platform's storage comes from the PCI bus
/// (<see cref="UsbStorageSource"/>: "usb" is the stick on the xHCI controller), and the unchanged block-device and
/// mount components put FAT from the stick into a tenant's namespace.</summary>
public sealed class UsbBootTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("photon-usb-boot-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_kernel_booted_with_a_usb_stick_on_its_pci_bus_mounts_its_FAT_for_a_tenant_and_fsck_is_clean_after()
    {
        var image = Path.Combine(_dir, "stick.img");
        using (var f = File.Create(image)) f.SetLength(16 * 1024 * 1024);
        Run("mkfs.vfat", $"-F 16 {image}");
        var hello = Path.Combine(_dir, "hello.txt");
        File.WriteAllText(hello, "hello from a USB stick\n");
        Run("mcopy", $"-i {image} {hello} ::/HELLO.TXT");
        var model = new XhciModel(File.ReadAllBytes(image));
        var bus = new FakePciBus(model.Function);
        var timers = new HostTimers(new HostClock());
        var config = TestKernel.Config with
        {
            EchoLog = false,
            Platform = TestKernel.Platform with { Pci = bus, Storage = new UsbStorageSource(bus, timers, TestKernel.Platform.Storage) },
            Components =
            [
                new TenantComponent("tenant-a"),
                new ModuleComponent(DemoSystem.ModulePath("Photon.FileSystems.Fat")),
                new BlockDeviceComponent("usb0", "usb"),
                new MountComponent("stick", "usb0", [new MountBinding("/tenant-a/mnt/stick", Rights.Read | Rights.Write | Rights.Create | Rights.Enumerate)]),
            ],
        };
        var booted = await PhotonKernel.BootAsync(config);
        Assert.True(booted.IsOk, booted.IsOk ? "" : booted.Error.ToString());
        var k = booted.Value;
        Assert.Equal(["blockdev usb0", "mount stick"], k.BootSteps.TakeLast(2).Select(s => s.Name));
        var sys = k.Sys;
        var tenant = sys.Namespaces.Open(k.Init, "/tenant-a", Rights.All).Value;
        var (_, app) = sys.Processes.Spawn(k.Init, tenant, "app").Value;
        var text = await k.RunAsync(async () =>
        {
            var f = (await sys.Files!.OpenAsync(app, "/mnt/stick/HELLO.TXT", Rights.Read)).Value;
            var buf = new byte[256];
            int n = (await sys.Files!.ReadAsync(app, f, 0, buf)).Value;
            sys.Files!.Close(app, f);
            var w = (await sys.Files!.OpenAsync(app, "/mnt/stick/PHOTON.TXT", Rights.Read | Rights.Write, Photon.Kernel.FileSystems.OpenFlags.Create)).Value;
            (await sys.Files!.WriteAsync(app, w, 0, "written by Photon over xHCI\n"u8.ToArray())).Unwrap();
            sys.Files!.Close(app, w);
            return Encoding.UTF8.GetString(buf, 0, n);
        }).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal("hello from a USB stick\n", text);
        await k.DisposeAsync();
        Assert.True(model.Halted); // the controller was stopped at shutdown

        await File.WriteAllBytesAsync(image, model.Disk);
        Run("fsck.vfat", $"-n {image}");
        var back = Path.Combine(_dir, "back.txt");
        Run("mcopy", $"-i {image} ::/PHOTON.TXT {back}");
        Assert.Equal("written by Photon over xHCI\n", File.ReadAllText(back));
    }

    private static void Run(string tool, string args)
    {
        var info = new System.Diagnostics.ProcessStartInfo(tool, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        info.Environment["MTOOLS_SKIP_CHECK"] = "1";
        using var p = System.Diagnostics.Process.Start(info)!;
        var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{tool} {args}: {output}");
    }
}
