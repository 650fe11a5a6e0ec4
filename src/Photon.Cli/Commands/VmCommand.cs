using System.Diagnostics;
using System.Text;
using Photon.Cli.Demo;
using Photon.Kernel;
using Photon.Kernel.Boot;
using Photon.Kernel.Boot.Components;
using Photon.Kernel.Capabilities;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Hal.Host.Uio;
using Photon.Kernel.Hal.Pci;
using Photon.Kernel.Drivers.Net;
using Photon.Kernel.Drivers.Usb;
using Photon.Cli.Vm;
using Photon.Net;
using Photon.Net.Syscalls;

namespace Photon.Cli.Commands;

/// <summary>
/// <c>photon vm</c>: on the host, runs <c>vm/run.sh</c> (assemble the initramfs, boot QEMU, check the disk images
/// afterwards). <c>photon vm guest</c> is what the VM's init runs: Photon on the machine's PCI devices through VFIO —
/// list the functions, boot the kernel with components for the devices found (NVMe → ext4 mount; xHCI → FAT mount from
/// the USB stick; virtio-net → the TCP/IP stack), write and read files, serve HTTP to the host, run the fault tests
/// with <c>--faults</c>, unmount and shut down. Lines starting <c>PHOTON-VM:</c> are for the host script: the last says
/// <c>PASS</c> or <c>FAIL</c>, the others ask it to act (curl the guest, remove the USB stick).
/// </summary>
public static class VmCommand
{
    public const string Usage = "photon vm [--image FILE] [--net] [--usb] [--timeout SECONDS] [--polling] [--faults] [--kvm] [--no-publish] [--smp N] [--mem MiB] [--out DIR] | photon vm guest [--polling] [--faults] [--netbench] [--no-mrg-rxbuf] [--allow-no-iommu]";
    public const string FileName = "photon-vm.txt";
    public const string UsbFileName = "photon-usb.txt";
    public const string NetReadyMarker = "PHOTON-VM: NET-READY";
    private const uint NvmeClass = 0x010802;
    // The guest's side of the TAP link run.sh sets up (the host end, 10.77.0.1, lives in netns photonvm).
    private static readonly Ipv4Cidr GuestAddress = Ipv4Cidr.Parse("10.77.0.2/24").Value;
    private static readonly Ipv4Address HostAddress = Ipv4Address.Parse("10.77.0.1").Value;
    private static readonly TimeSpan HostWait = TimeSpan.FromSeconds(300);

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
        // VFIO behind the IOMMU, or — booted without one (run.sh --no-iommu) — uio_pci_generic with physical addresses.
        var backend = PciBackend.Detect(allowNoIommu: args.Contains(PciBackend.AllowNoIommuFlag));
        Say($"PCI backend: {backend.Kind}{(backend.Refused ? " REFUSED" : "")} ({backend.Reason})");
        if (backend.Refused)
        {
            Console.WriteLine("PHOTON-VM: FAIL");
            return 1;
        }
        var bus = backend.CreateBus();
        string bound = backend.Kind == PciBackendKind.Uio ? UioPciBus.Driver : "vfio-pci";
        var functions = bus.Enumerate();
        Say($"PCI: {functions.Count} functions");
        foreach (var f in functions)
            Say($"  {f.Address} {f.VendorId:x4}:{f.DeviceId:x4} class {f.ClassCode:x6} {Describe(f.ClassCode)}, driver {f.BoundDriver ?? "none"}");
        bool faults = args.Contains("--faults");
        bool netbench = args.Contains("--netbench"); // vm/netbench.sh: also a TCP sink, and the host takes longer
        var nvmeFunctions = functions.Where(f => f.ClassCode == NvmeClass).ToList();
        var nvme = new PciNvmeComponent("nvme0", nvmeFunctions.FirstOrDefault()?.Address, new Kernel.Drivers.Nvme.NvmeDriverOptions(Polling: args.Contains("--polling")));
        var timers = new HostTimers(new HostClock());
        var platform = LinuxPlatform.Create() with { Name = $"photon-vm ({backend.Kind})", Pci = bus };
        // A USB stick on an xHCI controller (run.sh --usb): Photon's xHCI + mass-storage driver serves it as the
        // platform storage unit "usb", and the unchanged block-device and mount components put its FAT in the tenant.
        bool usb = functions.Any(f => f.ClassCode == UsbStorageSource.XhciClass);
        if (usb) platform = platform with { Storage = new UsbStorageSource(bus, timers, platform.Storage) };
        // A virtio-net NIC (run.sh --net): Photon's virtio-net driver is the platform's network device source, and the
        // unchanged network component runs the TCP/IP stack and the socket service on it.
        bool net = functions.Any(f => f.VendorId == VirtioNetSource.VirtioVendor && f.DeviceId == VirtioNetSource.VirtioNetModern);
        // GUEST_TSO4: the stack reads frames in the device's buffers (DMA loans), so it can take the host's 64 KiB segments.
        // MRG_RXBUF: page-sized receive buffers merged into frames (--no-mrg-rxbuf: 64 KiB buffers, for A/B runs).
        var netSource = net ? new VirtioNetSource(bus, timers, new VirtioNetOptions(LargeReceive: true, MergeableReceive: !args.Contains("--no-mrg-rxbuf"))) : null;
        if (netSource is not null) platform = platform with { Network = netSource };
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
        // PHOTON_VM_TCP_LEND=0 (run.sh --guest-env): large sends copied into the send buffer as before vm17, for A/B runs.
        // PHOTON_VM_TCP_LEND_REF=0: lent bytes copied into each frame (vm17 merged) instead of carried under a lease (vm18).
        var stackOptions = new NetworkStackOptions
        {
            TcpLendLargeSends = Environment.GetEnvironmentVariable("PHOTON_VM_TCP_LEND") != "0",
            TcpLentBytesByReference = Environment.GetEnvironmentVariable("PHOTON_VM_TCP_LEND_REF") != "0",
        };
        var network = net ? new NetworkComponent("virtio-net", GuestAddress, HostAddress, queues: 1, options: stackOptions) : null;
        if (network is not null) components.Add(network);
        var config = new KernelConfig
        {
            Platform = platform,
            Components = components,
            EchoLog = true,
            ModulePins = ShippedModules.Pins, BuiltInModules = ShippedModules.BuiltIns,
            // The timer interrupt only counts ticks nobody in the guest reads; at the default 10 ms it woke the host
            // timer thread and a thread-pool worker 100 times a second each — wake-ups with nothing to do, which under
            // TCG take vCPU time from the drivers (vm13: the idle guest switched ~2,000 times a second, ~1,400 in Photon).
            TickPeriod = TimeSpan.FromSeconds(1),
        };
        var booted = await PhotonKernel.BootAsync(config);
        if (!booted.IsOk)
        {
            Say($"boot failed: {booted.Error}");
            Console.WriteLine("PHOTON-VM: FAIL");
            return 1;
        }
        var k = booted.Value;
        Say($"driver bound: nvme0 -> {nvmeFunctions.FirstOrDefault()?.Address.ToString() ?? "?"} ({bound}), '{nvme.Identity?.Model}'");
        if (usb) Say($"driver bound: usb0 -> xHCI + USB mass storage ({bound})");
        if (net) Say($"driver bound: virtio-net -> {functions.First(f => f.DeviceId == VirtioNetSource.VirtioNetModern).Address} ({bound}), TCP/IP stack at {GuestAddress}");
        foreach (var f in bus.Enumerate().Where(f => (f.ClassCode is 0x020000 && !net) || (f.ClassCode == UsbStorageSource.XhciClass && !usb)))
            Say($"  {f.Address} class {f.ClassCode:x6} {Describe(f.ClassCode)}: no Photon driver bound (left to {f.BoundDriver ?? "nobody"})");
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
            var hostFile = await VmFiles.ReadAllAsync(k, p, "/mnt/disk/from-host.txt");
            if (hostFile.IsOk) Say($"read /mnt/disk/from-host.txt: \"{Encoding.UTF8.GetString(hostFile.Value).Trim()}\"");
            else failures.Add($"read from-host.txt: {hostFile.Error}");
            var note = Encoding.UTF8.GetBytes($"Written by Photon's NVMe driver over VFIO at {k.Clock.WallClock:O}\n" + new string('.', 20000) + "\n");
            var wrote = await VmFiles.WriteAllAsync(k, p, "/mnt/disk/" + FileName, note);
            if (wrote.IsOk) Say($"wrote /mnt/disk/{FileName} ({note.Length} bytes)");
            else failures.Add($"write {FileName}: {wrote.Error}");
            var back = await VmFiles.ReadAllAsync(k, p, "/mnt/disk/" + FileName);
            if (back.IsOk && back.Value.AsSpan().SequenceEqual(note)) Say("read it back: identical");
            else failures.Add($"read back {FileName}: {(back.IsOk ? "differs" : back.Error.ToString())}");
            if (net) await ServeHostAsync(k, netbench, Say, failures);
            if (netbench) VmNetCounters.Print(netSource!, network!, Say);
            if (netbench) GuestProfile.ReportAll();
            if (usb) await UsbAsync(k, p, faults, Say, failures);
            if (faults)
            {
                // A second NVMe controller (run.sh --faults) is the scratch disk for the reset test.
                if (nvmeFunctions.Skip(1).FirstOrDefault() is { } scratch)
                {
                    var reset = await VmNvmeResetFault.RunAsync(bus, scratch.Address, k.Timers);
                    if (!reset.TryGet(out var o)) failures.Add($"NVMe reset fault test: {reset.Error}");
                    else
                    {
                        Say($"NVMe reset mid-I/O ({scratch.Address}): {VmNvmeResetFault.Writes} writes queued, controller reset after the first acknowledgement " +
                            $"with {o.InFlightAtReset} still in flight (resets {o.Resets}); {o.Acknowledged} acknowledged, {o.Failed} failed typed " +
                            $"[{string.Join(", ", o.FailedBy.Select(kv => $"{kv.Key} x{kv.Value}"))}]; {o.ReadBackIdentical} of {o.Acknowledged} acknowledged read back identical; " +
                            $"serves I/O after the reset: {(o.ServesAfterReset ? "yes" : "NO")}");
                        if (o.ReadBackIdentical != o.Acknowledged) failures.Add("NVMe reset: an acknowledged write did not read back");
                        if (!o.ServesAfterReset) failures.Add("NVMe reset: the controller does not serve I/O after the reset");
                        if (o.Resets < 1) failures.Add("NVMe reset: the controller did not reset");
                    }
                    var timedOut = await VmNvmeTimeoutFault.RunAsync(bus, scratch.Address, k.Timers);
                    if (!timedOut.TryGet(out var t)) failures.Add($"NVMe timeout fault test: {timedOut.Error}");
                    else
                    {
                        Say($"NVMe command timeout ({scratch.Address}): {VmNvmeTimeoutFault.Writes} writes queued on a device throttled to 8 writes/s with a " +
                            $"{VmNvmeTimeoutFault.Timeout.TotalMilliseconds} ms command timeout; watchdog resets {t.Resets}; {t.Acknowledged} acknowledged, {t.Failed} failed typed " +
                            $"[{string.Join(", ", t.FailedBy.Select(kv => $"{kv.Key} x{kv.Value}"))}]; {t.ReadBackIdentical} of {t.Acknowledged} acknowledged read back identical; " +
                            $"after the reset: read {t.ReadAfterReset ?? "served"}, write after {VmNvmeTimeoutFault.ThrottlePayback.TotalSeconds} s " +
                            $"(QEMU's throttle paying back the writes its reset drained) {t.WriteAfterPayback ?? "served and read back"}; " +
                            $"serves I/O after the reset: {(t.ServesAfterReset ? "yes" : "NO")}");
                        if (t.ReadBackIdentical != t.Acknowledged) failures.Add("NVMe timeout: an acknowledged write did not read back");
                        if (!t.ServesAfterReset) failures.Add("NVMe timeout: the controller does not serve I/O after the watchdog's reset");
                        if (t.Resets < 1) failures.Add("NVMe timeout: the watchdog did not time out a command and reset the controller");
                    }
                }
                else failures.Add("--faults: no second NVMe controller for the reset test");
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

    /// <summary>Serves HTTP to the host: prints <see cref="NetReadyMarker"/> (run.sh then pings and curls from netns
    /// photonvm and fetches /done), pings the host from Photon, and waits — bounded — for the host to finish.</summary>
    private static async Task ServeHostAsync(PhotonKernel k, bool netbench, Action<string> say, List<string> failures)
    {
        var sink = new VmNetSink();
        if (netbench && sink.Start(k) is { IsOk: false } notStarted) failures.Add($"netbench: the TCP sink did not start: {notStarted.Error}");
        var http = new VmHttpService();
        var serving = http.Start(k);
        if (!serving.IsOk) { failures.Add($"httpd: {serving.Error}"); return; }
        var outbound = k.Sys.Namespaces.Open(k.Init, "/net/outbound", Rights.Connect);
        if (outbound.IsOk)
        {
            // The first echo also waits for ARP and, under TCG, for the JIT: a few bounded tries.
            var rtt = await SocketSyscalls.PingAsync(k.Init, outbound.Value, HostAddress, TimeSpan.FromSeconds(15));
            for (int attempt = 1; attempt < 3 && !rtt.IsOk; attempt++)
                rtt = await SocketSyscalls.PingAsync(k.Init, outbound.Value, HostAddress, TimeSpan.FromSeconds(15));
            if (rtt.IsOk) say($"ping {HostAddress} (the host end in netns photonvm) from Photon: {rtt.Value.TotalMilliseconds:0.0} ms");
            else failures.Add($"ping {HostAddress}: {rtt.Error}");
        }
        else failures.Add($"open /net/outbound: {outbound.Error}");
        say($"httpd serving http://{GuestAddress.Address}:{VmHttpService.Port}/ over virtio-net");
        if (netbench) Kernel.Diagnostics.Tracing.NetPathTimeline.Start(); // what paces the transfers (VmNetCounters prints it)
        Console.WriteLine($"{NetReadyMarker} {GuestAddress.Address}");
        var wait = netbench ? 3 * HostWait : HostWait;
        var finished = await Task.WhenAny(http.HostDone, Task.Delay(wait));
        if (finished != http.HostDone) failures.Add($"the host did not fetch /done within {wait.TotalSeconds} s");
        if (netbench) say($"netbench: the TCP sink on port {VmNetSink.Port} read {sink.Bytes} bytes in {sink.Connections} connection(s)");
        say($"the host fetched / {http.PagesServed} time(s) and said done");
        if (http.PagesServed == 0) failures.Add("the host never fetched /");
    }

    private static async Task UsbAsync(PhotonKernel k, Kernel.Processes.Process p, bool faults, Action<string> say, List<string> failures)
    {
        var files = k.Sys.Files!;
        var stick = await files.ReadDirectoryAsync(p, "/mnt/usb");
        if (stick.IsOk) say("ls /mnt/usb (FAT on the USB stick): " + string.Join(", ", stick.Value.Where(e => e.Name is not ("." or "..")).Select(e => e.Name)));
        else failures.Add($"ls /mnt/usb: {stick.Error}");
        var usbNote = Encoding.UTF8.GetBytes($"Written by Photon's xHCI + USB mass-storage driver at {k.Clock.WallClock:O}\n");
        var usbWrote = await VmFiles.WriteAllAsync(k, p, "/mnt/usb/" + UsbFileName, usbNote);
        if (usbWrote.IsOk) say($"wrote /mnt/usb/{UsbFileName} ({usbNote.Length} bytes)");
        else failures.Add($"write {UsbFileName}: {usbWrote.Error}");
        var usbBack = await VmFiles.ReadAllAsync(k, p, "/mnt/usb/" + UsbFileName);
        if (usbBack.IsOk && usbBack.Value.AsSpan().SequenceEqual(usbNote)) say("read it back from the stick: identical");
        else failures.Add($"read back {UsbFileName}: {(usbBack.IsOk ? "differs" : usbBack.Error.ToString())}");
        var usbAdmin = k.Sys.Namespaces.Open(k.Init, "/mounts/usb", Rights.Manage);
        if (faults)
        {
            // Everything written is flushed (WriteAllAsync flushes), so the image stays clean when the stick goes.
            var (failure, reads) = await VmUsbRemovalFault.RunAsync(() => VmFiles.ReadAllAsync(k, p, "/mnt/usb/" + UsbFileName));
            if (failure.Code == ErrorCode.TimedOut) failures.Add($"USB removal: {failure.Error.Message}");
            else say($"USB stick removed while mounted: read /mnt/usb/{UsbFileName} -> {failure.Code}: {failure.Error.Message} (after {reads} good reads)");
            var again = await VmFiles.ReadAllAsync(k, p, "/mnt/usb/" + UsbFileName);
            say($"read again -> {(again.IsOk ? "ok (UNEXPECTED)" : $"{again.Code}")}");
            if (again.IsOk) failures.Add("USB removal: a read after removal succeeded");
            var gone = usbAdmin.IsOk ? await k.Sys.Files!.UnmountAsync(k.Init, usbAdmin.Value) : usbAdmin.AsResult();
            say($"unmount of the removed stick -> {(gone.IsOk ? "ok" : $"{gone.Code}: {gone.Error.Message}")}");
            var disk = await VmFiles.ReadAllAsync(k, p, "/mnt/disk/from-host.txt");
            if (disk.IsOk) say("kernel still running after the USB stick was removed: ext4 on NVMe still reads");
            else failures.Add($"after the USB removal the NVMe mount failed: {disk.Error}");
            return;
        }
        var usbUnmounted = usbAdmin.IsOk ? await files.UnmountAsync(k.Init, usbAdmin.Value) : usbAdmin.AsResult();
        if (usbUnmounted.IsOk) say("unmounted /mounts/usb (flushed)");
        else failures.Add($"unmount usb: {usbUnmounted.Error}");
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
}
