using System.Diagnostics;
using System.Text;
using Photon.Cli.Demo;
using Photon.Kernel;
using Photon.Kernel.Boot;
using Photon.Kernel.Boot.Components;
using Photon.Kernel.Capabilities;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Hal.Host.Vfio;
using Photon.Kernel.Hal.Pci;
using Photon.Kernel.Drivers.Usb;

namespace Photon.Cli.Commands;

/// <summary>
/// <c>photon vm</c>: on the host, runs <c>vm/run.sh</c> (assemble the initramfs, boot QEMU, check the disk image
/// afterwards). <c>photon vm guest</c> is what the VM's init runs: Photon on the machine's PCI devices through VFIO —
/// list the functions, bring the NVMe driver up, mount ext4 from the NVMe disk into a tenant, write and read a file,
/// unmount and shut down. The last line says <c>PHOTON-VM: PASS</c> or <c>PHOTON-VM: FAIL</c> (the host test reads it).
/// </summary>
public static class VmCommand
{
    public const string Usage = "photon vm [--image FILE] [--net] [--usb] [--timeout SECONDS] [--polling] [--kvm] [--no-publish] [--smp N] [--mem MiB] [--out DIR] | photon vm guest [--polling]";
    public const string FileName = "photon-vm.txt";
    public const string UsbFileName = "photon-usb.txt";

    public static async Task<int> RunAsync(string[] args)
    {
        if (args is ["guest", "--bench", ..]) return await VmBenchCommand.RunAsync(args[2..]);
        if (args.Length > 0 && args[0] == "guest") return await GuestAsync(args[1..]);
        var script = FindScript();
        if (script is null)
        {
            Console.Error.WriteLine("photon vm: cannot find vm/run.sh (run from the repository, or set PHOTON_VM_SCRIPT)");
            return 2;
        }
        var start = new ProcessStartInfo("bash") { UseShellExecute = false };
        start.ArgumentList.Add(script);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        await p.WaitForExitAsync();
        return p.ExitCode;
    }

    private static string? FindScript()
    {
        if (Environment.GetEnvironmentVariable("PHOTON_VM_SCRIPT") is { Length: > 0 } env && File.Exists(env)) return env;
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "vm", "run.sh"))) return Path.Combine(dir.FullName, "vm", "run.sh");
        return null;
    }

    private static async Task<int> GuestAsync(string[] args)
    {
        var failures = new List<string>();
        void Say(string line) => Console.WriteLine("vm: " + line);
        var bus = new VfioPciBus();
        var functions = bus.Enumerate();
        Say($"PCI: {functions.Count} functions");
        foreach (var f in functions)
            Say($"  {f.Address} {f.VendorId:x4}:{f.DeviceId:x4} class {f.ClassCode:x6} {Describe(f.ClassCode)}, driver {f.BoundDriver ?? "none"}");
        var nvme = new PciNvmeComponent("nvme0", options: new Kernel.Drivers.Nvme.NvmeDriverOptions(Polling: args.Contains("--polling")));
        var platform = LinuxPlatform.Create() with { Name = "photon-vm (VFIO)", Pci = bus };
        // A USB stick on an xHCI controller (run.sh --usb): Photon's xHCI + mass-storage driver serves it as the
        // platform storage unit "usb", and the unchanged block-device and mount components put its FAT in the tenant.
        bool usb = functions.Any(f => f.ClassCode == UsbStorageSource.XhciClass);
        if (usb) platform = platform with { Storage = new UsbStorageSource(bus, new HostTimers(new HostClock()), platform.Storage) };
        List<IKernelComponent> components =
        [
            new TenantComponent("tenant-a", DemoSystem.TenantLimits),
            new ModuleComponent(DemoSystem.ModulePath("Photon.FileSystems.Ext4")),
            nvme,
            new MountComponent("ext4", "nvme0", [new MountBinding("/tenant-a/mnt/disk", VirtualFileSystem.MountRights & ~Rights.Manage)]),
        ];
        if (usb)
            components.AddRange(
            [
                new ModuleComponent(DemoSystem.ModulePath("Photon.FileSystems.Fat")),
                new BlockDeviceComponent("usb0", "usb"),
                new MountComponent("usb", "usb0", [new MountBinding("/tenant-a/mnt/usb", VirtualFileSystem.MountRights & ~Rights.Manage)]),
            ]);
        var config = new KernelConfig
        {
            Platform = platform,
            Components = components,
            EchoLog = true,
            ModulePins = ShippedModules.Pins,
        };
        var booted = await PhotonKernel.BootAsync(config);
        if (!booted.IsOk)
        {
            Say($"boot failed: {booted.Error}");
            Console.WriteLine("PHOTON-VM: FAIL");
            return 1;
        }
        var k = booted.Value;
        Say($"driver bound: nvme0 -> {functions.FirstOrDefault(f => f.ClassCode == 0x010802)?.Address.ToString() ?? "?"} (vfio-pci), '{nvme.Identity?.Model}'");
        if (usb) Say("driver bound: usb0 -> xHCI + USB mass storage (vfio-pci)");
        foreach (var f in bus.Enumerate().Where(f => f.ClassCode is 0x020000 || (f.ClassCode == 0x0C0330 && !usb)))
            Say($"  {f.Address} class {f.ClassCode:x6} {Describe(f.ClassCode)}: no Photon driver yet (left to {f.BoundDriver ?? "nobody"})");
        await k.RunAsync(async () =>
        {
            var sys = k.Sys;
            var files = sys.Files!;
            var tenant = sys.Namespaces.Open(k.Init, "/tenant-a", Rights.All);
            if (!tenant.IsOk) { failures.Add($"open /tenant-a: {tenant.Error}"); return; }
            var spawned = sys.Processes.Spawn(k.Init, tenant.Value, "vm-files");
            if (!spawned.IsOk) { failures.Add($"spawn: {spawned.Error}"); return; }
            var p = spawned.Value.Item2;
            var list = await files.ReadDirectoryAsync(p, "/mnt/disk");
            if (list.IsOk) Say("ls /mnt/disk (ext4 on NVMe): " + string.Join(", ", list.Value.Where(e => e.Name is not ("." or "..")).Select(e => $"{e.Name} ({e.Length} B)")));
            else failures.Add($"ls /mnt/disk: {list.Error}");
            var hostFile = await ReadAllAsync(k, p, "/mnt/disk/from-host.txt");
            if (hostFile.IsOk) Say($"read /mnt/disk/from-host.txt: \"{Encoding.UTF8.GetString(hostFile.Value).Trim()}\"");
            else failures.Add($"read from-host.txt: {hostFile.Error}");
            var note = Encoding.UTF8.GetBytes($"Written by Photon's NVMe driver over VFIO at {k.Clock.WallClock:O}\n" + new string('.', 20000) + "\n");
            var wrote = await WriteAllAsync(k, p, "/mnt/disk/" + FileName, note);
            if (wrote.IsOk) Say($"wrote /mnt/disk/{FileName} ({note.Length} bytes)");
            else failures.Add($"write {FileName}: {wrote.Error}");
            var back = await ReadAllAsync(k, p, "/mnt/disk/" + FileName);
            if (back.IsOk && back.Value.AsSpan().SequenceEqual(note)) Say("read it back: identical");
            else failures.Add($"read back {FileName}: {(back.IsOk ? "differs" : back.Error.ToString())}");
            if (usb)
            {
                var stick = await files.ReadDirectoryAsync(p, "/mnt/usb");
                if (stick.IsOk) Say("ls /mnt/usb (FAT on the USB stick): " + string.Join(", ", stick.Value.Where(e => e.Name is not ("." or "..")).Select(e => e.Name)));
                else failures.Add($"ls /mnt/usb: {stick.Error}");
                var usbNote = Encoding.UTF8.GetBytes($"Written by Photon's xHCI + USB mass-storage driver at {k.Clock.WallClock:O}\n");
                var usbWrote = await WriteAllAsync(k, p, "/mnt/usb/" + UsbFileName, usbNote);
                if (usbWrote.IsOk) Say($"wrote /mnt/usb/{UsbFileName} ({usbNote.Length} bytes)");
                else failures.Add($"write {UsbFileName}: {usbWrote.Error}");
                var usbBack = await ReadAllAsync(k, p, "/mnt/usb/" + UsbFileName);
                if (usbBack.IsOk && usbBack.Value.AsSpan().SequenceEqual(usbNote)) Say("read it back from the stick: identical");
                else failures.Add($"read back {UsbFileName}: {(usbBack.IsOk ? "differs" : usbBack.Error.ToString())}");
                var usbAdmin = sys.Namespaces.Open(k.Init, "/mounts/usb", Rights.Manage);
                var usbUnmounted = usbAdmin.IsOk ? await files.UnmountAsync(k.Init, usbAdmin.Value) : usbAdmin.AsResult();
                if (usbUnmounted.IsOk) Say("unmounted /mounts/usb (flushed)");
                else failures.Add($"unmount usb: {usbUnmounted.Error}");
            }
            var admin = sys.Namespaces.Open(k.Init, "/mounts/ext4", Rights.Manage);
            var unmounted = admin.IsOk ? await files.UnmountAsync(k.Init, admin.Value) : admin.AsResult();
            if (unmounted.IsOk) Say("unmounted /mounts/ext4 (flushed)");
            else failures.Add($"unmount: {unmounted.Error}");
        }, "vm-demo");
        await k.DisposeAsync();
        Say("kernel shut down (NVMe controller shut down with CC.SHN, function released)");
        foreach (var f in failures) Say("FAILED: " + f);
        Console.WriteLine(failures.Count == 0 ? "PHOTON-VM: PASS" : "PHOTON-VM: FAIL");
        return failures.Count == 0 ? 0 : 1;
    }

    private static string Describe(uint cls) => cls switch
    {
        0x010802 => "NVMe",
        0x020000 => "Ethernet",
        0x0C0330 => "xHCI USB",
        0x060000 => "host bridge",
        0x060100 => "ISA bridge",
        0x030000 => "VGA",
        0x010601 => "SATA AHCI",
        0x0C0500 => "SMBus",
        0x088000 => "system peripheral",
        _ => "",
    };

    private static async Task<Result<byte[]>> ReadAllAsync(PhotonKernel k, Kernel.Processes.Process p, string path)
    {
        var files = k.Sys.Files!;
        var h = await files.OpenAsync(p, path, Rights.Read);
        if (!h.IsOk) return h.Error;
        try
        {
            var data = new MemoryStream();
            var buf = new byte[65536];
            while (true)
            {
                var n = await files.ReadAsync(p, h.Value, data.Length, buf);
                if (!n.IsOk) return n.Error;
                if (n.Value == 0) return data.ToArray();
                data.Write(buf, 0, n.Value);
            }
        }
        finally { files.Close(p, h.Value); }
    }

    private static async Task<Result> WriteAllAsync(PhotonKernel k, Kernel.Processes.Process p, string path, byte[] data)
    {
        var files = k.Sys.Files!;
        var h = await files.OpenAsync(p, path, Rights.Read | Rights.Write, OpenFlags.Create);
        if (!h.IsOk) return h.Error;
        try
        {
            var w = await files.WriteAsync(p, h.Value, 0, data);
            return w.IsOk ? await files.FlushAsync(p, h.Value) : w;
        }
        finally { files.Close(p, h.Value); }
    }
}
