using System.Diagnostics;
using Xunit.Abstractions;

namespace Photon.Kernel.Tests.Vm;

/// <summary>
/// The acceptance tests of issue #17's machine, on ONE boot (<see cref="VmRun"/>, TCG is slow): <c>vm/run.sh --usb
/// --faults</c> (plus <c>--net</c> as root) publishes photon, assembles the initramfs and boots the VM with QEMU's
/// emulated NVMe controllers, xHCI + USB stick and virtio-net behind an emulated IOMMU. Photon's drivers (VFIO,
/// MSI-X) mount ext4 from the NVMe disk and FAT from the stick, serve HTTP to curl in the host's netns, and run the
/// fault tests (stick removed while mounted, NVMe reset mid-I/O). Each test asserts on its part of the serial log and
/// on the images afterwards. Where QEMU cannot run the script prints <c>SKIPPED LOUDLY: reason</c> and exits 77, and
/// so does every test's output.
/// </summary>
[Collection(VmCollection.Name)]
public sealed class VmTests(VmRun vm, ITestOutputHelper output)
{
    [Fact]
    public void The_vm_boots_photon_which_drives_qemus_nvme_through_vfio_and_mounts_ext4()
    {
        if (Skipped()) return;
        var serial = vm.Serial;
        Assert.True(vm.ExitCode == 0, $"vm/run.sh exited {vm.ExitCode}:\n{vm.Tail}");
        Assert.Contains("init: loading VFIO modules", serial);
        Assert.Matches(@"vm:\s+0000:00:0[0-9a-f]\.0 1b36:0010 class 010802 NVMe, driver none", serial);
        Assert.Matches(@"boot: nvme nvme0 +/dev/nvme0: 0000:00:0[0-9a-f]\.0 'QEMU NVMe Ctrl'", serial);
        Assert.Contains("MSI-X", serial);
        Assert.Contains("boot: mount ext4", serial);
        Assert.Contains("read /mnt/disk/from-host.txt: \"Hello from the host", serial);
        Assert.Contains("read it back: identical", serial);
        Assert.Contains("PHOTON-VM: PASS", serial);
        Assert.DoesNotContain("fault addr", serial); // no DMAR fault: every DMA hit a mapped buffer (QEMU still reports status 0 on a blocked DMA)
        Assert.Contains("e2fsck -fn: clean", vm.Log);
        Assert.StartsWith("Written by Photon's NVMe driver over VFIO", Tool("debugfs", "-R", "cat /photon-vm.txt", vm.File("nvme.img")).Output);
    }

    [Fact]
    public void The_usb_stick_on_qemus_xhci_is_mounted_written_and_fsck_clean_afterwards()
    {
        if (Skipped()) return;
        Assert.Contains("driver bound: usb0 -> xHCI + USB mass storage (vfio-pci)", vm.Serial);
        Assert.Matches(@"boot: mount usb", vm.Serial);
        Assert.Contains("wrote /mnt/usb/photon-usb.txt", vm.Serial);
        Assert.Contains("read it back from the stick: identical", vm.Serial);
        var fsck = Tool("fsck.vfat", "-n", vm.File("usb.img"));
        Assert.True(fsck.Code == 0, "fsck.vfat -n on the stick after the run:\n" + fsck.Output);
        Assert.Contains("PHOTON-USB.TXT", Tool("mdir", "-i", vm.File("usb.img"), "::").Output.ToUpperInvariant());
        Assert.StartsWith("Written by Photon's xHCI + USB mass-storage driver", Tool("mtype", "-i", vm.File("usb.img"), "::photon-usb.txt").Output);
    }

    [Fact]
    public void Curl_in_the_host_netns_gets_the_page_photon_serves_over_qemus_virtio_net()
    {
        if (Skipped()) return;
        if (!vm.Root)
        {
            Report("SKIPPED LOUDLY: the --net run needs root (a TAP device in network namespace photonvm); not root here");
            return;
        }
        Assert.Matches(@"driver bound: virtio-net -> 0000:00:0[0-9a-f]\.0 \(vfio-pci\), TCP/IP stack at 10\.77\.0\.2/24", vm.Serial);
        Assert.Matches(@"ping 10\.77\.0\.1 \(the host end in netns photonvm\) from Photon: [0-9.]+ ms", vm.Serial);
        Assert.Matches(@"the host fetched / [1-9][0-9]* time\(s\) and said done", vm.Serial);
        Assert.Contains("<h1>Hello from Photon</h1>", File.ReadAllText(vm.File("curl.html")));
        Assert.Contains("ping exit 0", File.ReadAllText(vm.File("ping.log")));
    }

    [Fact]
    public void A_usb_stick_removed_while_mounted_gives_typed_errors_and_the_kernel_keeps_running()
    {
        if (Skipped()) return;
        Assert.Contains("device_del usbstick0 sent on the QEMU monitor", vm.Log);
        Assert.Matches(@"USB stick removed while mounted: read /mnt/usb/photon-usb.txt -> (Closed|IoError|TimedOut): ", vm.Serial);
        Assert.Matches(@"read again -> (Closed|IoError)", vm.Serial);
        Assert.Contains("kernel still running after the USB stick was removed: ext4 on NVMe still reads", vm.Serial);
        Assert.DoesNotContain("Unhandled exception", vm.Serial);
    }

    [Fact]
    public void An_nvme_controller_reset_mid_io_on_qemus_device_loses_nothing_acknowledged()
    {
        if (Skipped()) return;
        var line = vm.Serial.Split('\n').FirstOrDefault(l => l.Contains("NVMe reset mid-I/O")) ?? "";
        output.WriteLine(line);
        var m = System.Text.RegularExpressions.Regex.Match(line,
            @"64 writes queued, controller reset after the first acknowledgement with (\d+) still in flight \(resets (\d+)\); (\d+) acknowledged, (\d+) failed typed \[(.*)\]; (\d+) of (\d+) acknowledged read back identical; serves I/O after the reset: (yes|NO)");
        Assert.True(m.Success, "no NVMe reset outcome in the serial log: " + line);
        int inFlight = int.Parse(m.Groups[1].Value), acknowledged = int.Parse(m.Groups[3].Value), failed = int.Parse(m.Groups[4].Value);
        Assert.True(int.Parse(m.Groups[2].Value) >= 1, "the controller did not reset");
        Assert.Equal(64, acknowledged + failed);
        // The reset really hit queued I/O (the scratch disk's writes are throttled): some writes were never completed.
        Assert.InRange(failed, 1, inFlight);
        Assert.Matches(@"^TimedOut x\d+$", m.Groups[5].Value); // the reset's typed error, nothing else
        Assert.Equal(acknowledged, int.Parse(m.Groups[6].Value)); // every acknowledged write reads back
    }

    [Fact]
    public void A_command_outliving_its_timeout_on_qemus_device_resets_the_controller_and_loses_nothing_acknowledged()
    {
        if (Skipped()) return;
        var line = vm.Serial.Split('\n').FirstOrDefault(l => l.Contains("NVMe command timeout")) ?? "";
        output.WriteLine(line);
        var m = System.Text.RegularExpressions.Regex.Match(line,
            @"64 writes queued on a device throttled to 8 writes/s with a 2000 ms command timeout; watchdog resets (\d+); (\d+) acknowledged, (\d+) failed typed \[([^\]]*)\]; (\d+) of (\d+) acknowledged read back identical; after the reset: read (.*), write after [0-9.]+ s \(QEMU's throttle paying back the writes its reset drained\) (.*); serves I/O after the reset: (yes|NO)");
        Assert.True(m.Success, "no NVMe timeout outcome in the serial log: " + line);
        Assert.True(int.Parse(m.Groups[1].Value) >= 1, "the watchdog did not reset the controller");
        int acknowledged = int.Parse(m.Groups[2].Value), failed = int.Parse(m.Groups[3].Value);
        Assert.Equal(64, acknowledged + failed);
        Assert.True(failed >= 1, "no command timed out");
        Assert.Matches(@"^TimedOut x\d+$", m.Groups[4].Value);
        Assert.Equal(acknowledged, int.Parse(m.Groups[5].Value));
        // After the watchdog's reset the controller serves I/O: a read at once, a write once QEMU's throttle has paid
        // back the writes the reset drained (VmNvmeTimeoutFault says why the first write after the reset may time out).
        Assert.Equal("served", m.Groups[7].Value);
        Assert.Equal("served and read back", m.Groups[8].Value);
        Assert.Equal("yes", m.Groups[9].Value);
    }

    [Fact]
    public void Without_an_iommu_photon_binds_nvme_to_uio_pci_generic_only_when_allowed_and_ext4_on_it_is_fsck_clean()
    {
        if (Skipped()) return;
        // CI's smoke check, on every run: vm/run.sh --no-iommu assembles a VM without the emulated IOMMU (no VT-d
        // device, no intel_iommu=on, hugepages for the fallback's DMA memory), with uio_pci_generic in the initramfs
        // and the guest told it may fall back (--allow-no-iommu; without it Photon refuses, UioFallbackTests).
        var a = vm.NoIommuAssembly;
        output.WriteLine(a.Log);
        Assert.True(a.ExitCode == 0, $"vm/run.sh --no-iommu --assemble-only exited {a.ExitCode}:\n{a.Log}");
        var command = a.Log.Split('\n').FirstOrDefault(l => l.Contains("assembled, not booted:")) ?? "";
        Assert.Contains("qemu-system-x86_64", command);
        Assert.DoesNotContain("intel-iommu", command);
        Assert.DoesNotContain("intel_iommu=on", command);
        Assert.Contains("hugepages=64", command);
        Assert.Contains("--allow-no-iommu", File.ReadAllText(vm.NoIommuFile("initramfs/etc/photon-args")));
        Assert.Contains(File.ReadAllLines(vm.NoIommuFile("initramfs/etc/modules")), m => m.EndsWith("/uio_pci_generic.ko", StringComparison.Ordinal));
        // The boot itself (one more TCG boot, minutes here): only with PHOTON_VM_UIO=1 (README, Machine).
        if (vm.NoIommuBoot is not { } boot)
        {
            Report("SKIPPED LOUDLY: the --no-iommu boot runs only with PHOTON_VM_UIO=1 (one more VM boot); the assembly was checked");
            return;
        }
        output.WriteLine(boot.Tail);
        Assert.True(boot.ExitCode == 0, $"vm/run.sh --no-iommu exited {boot.ExitCode}:\n{boot.Tail}");
        Assert.Contains("init: loading VFIO modules", boot.Serial);
        Assert.Contains("vm: PCI backend: Uio (no IOMMU: falling back to uio_pci_generic", boot.Serial);
        Assert.DoesNotContain("REFUSED", boot.Serial);
        Assert.Matches(@"driver bound: nvme0 -> 0000:00:0[0-9a-f]\.0 \(uio_pci_generic\)", boot.Serial);
        Assert.Contains("boot: mount ext4", boot.Serial);
        Assert.Contains("read /mnt/disk/from-host.txt: \"Hello from the host", boot.Serial);
        Assert.Contains("read it back: identical", boot.Serial);
        Assert.Contains("PHOTON-VM: PASS", boot.Serial);
        Assert.Contains("e2fsck -fn: clean", boot.Log);
        var image = vm.NoIommuFile("nvme.img");
        Assert.Equal(0, Tool("e2fsck", "-fn", image).Code);
        Assert.StartsWith("Written by Photon's NVMe driver", Tool("debugfs", "-R", "cat /photon-vm.txt", image).Output);
    }

    private bool Skipped()
    {
        if (vm.SkipReason is null) return false;
        Report(vm.SkipReason);
        return true;
    }

    private void Report(string line)
    {
        Console.WriteLine(line);
        output.WriteLine(line);
    }

    private static (int Code, string Output) Tool(string name, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(name, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var text = p.StandardOutput.ReadToEndAsync();
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, text.Result + err);
    }
}

/// <summary>
/// The one VM boot the tests share: runs vm/run.sh once (with <c>--net</c> only as root) into a temporary directory,
/// keeps the log and the images for the tests to check. Its wall time is printed.
/// </summary>
public sealed class VmRun : IAsyncLifetime
{
    private string _dir = "";
    public string Log { get; private set; } = "";
    public string Serial { get; private set; } = "";
    public string? SkipReason { get; private set; }
    /// <summary>The script's exit code: each test asserts on its own part, so one failing part does not hide the others.</summary>
    public int ExitCode { get; private set; }
    public string Tail => string.Join('\n', Log.Split('\n').TakeLast(80));
    public bool Root { get; } = Environment.UserName == "root" || System.IO.File.ReadLines("/proc/self/status").Any(l => l.StartsWith("Uid:\t0\t", StringComparison.Ordinal));
    public string File(string name) => Path.Combine(_dir, name);
    public string NoIommuFile(string name) => Path.Combine(_dir, "noiommu", name);

    /// <summary>A run of vm/run.sh: exit code, stdout + stderr, the serial console.</summary>
    public sealed record ScriptRun(int ExitCode, string Log, string Serial)
    {
        public string Tail => string.Join('\n', Log.Split('\n').TakeLast(80));
    }

    /// <summary><c>vm/run.sh --no-iommu --assemble-only</c> on this run's publish (every run: cheap, no boot).</summary>
    public ScriptRun NoIommuAssembly { get; private set; } = new(-1, "not run", "");

    /// <summary>The <c>--no-iommu</c> boot (uio_pci_generic), only with <c>PHOTON_VM_UIO=1</c>; null otherwise.</summary>
    public ScriptRun? NoIommuBoot { get; private set; }

    public async Task InitializeAsync()
    {
        _dir = Directory.CreateTempSubdirectory("photon-vm-").FullName;
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Script());
        foreach (var a in new[] { "--out", _dir, "--timeout", "900", "--usb", "--faults" }) start.ArgumentList.Add(a);
        if (Root) start.ArgumentList.Add("--net");
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(20));
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { p.Kill(entireProcessTree: true); throw new TimeoutException("vm/run.sh did not finish in 20 minutes"); }
        Log = await stdout + "\n" + await stderr + $"\nvm/run.sh wall time {clock.Elapsed.TotalSeconds:0} s\n";
        Console.WriteLine($"vm/run.sh --usb --faults{(Root ? " --net" : "")}: exit {p.ExitCode}, wall time {clock.Elapsed.TotalSeconds:0} s");
        if (p.ExitCode == 77)
        {
            SkipReason = Log.Split('\n').FirstOrDefault(l => l.StartsWith("SKIPPED LOUDLY", StringComparison.Ordinal)) ?? "SKIPPED LOUDLY: QEMU cannot run";
            return;
        }
        var serial = System.IO.File.Exists(File("serial.log")) ? await System.IO.File.ReadAllTextAsync(File("serial.log")) : "";
        Serial = serial.Replace("\r", "");
        ExitCode = p.ExitCode;
        await NoIommuAsync();
    }

    /// <summary>The uio_pci_generic fallback on the same publish (copied, so the boot above keeps its files).</summary>
    private async Task NoIommuAsync()
    {
        var dir = NoIommuFile("");
        Directory.CreateDirectory(dir);
        using (var cp = Process.Start("cp", ["-a", File("publish"), Path.Combine(dir, "publish")])) await cp.WaitForExitAsync();
        NoIommuAssembly = await ScriptAsync(["--no-iommu", "--assemble-only", "--no-publish", "--out", dir], TimeSpan.FromMinutes(5));
        if (Environment.GetEnvironmentVariable("PHOTON_VM_UIO") != "1" || NoIommuAssembly.ExitCode != 0) return;
        var clock = Stopwatch.StartNew();
        NoIommuBoot = await ScriptAsync(["--no-iommu", "--no-publish", "--out", dir, "--timeout", "600"], TimeSpan.FromMinutes(12));
        Console.WriteLine($"vm/run.sh --no-iommu: exit {NoIommuBoot.ExitCode}, wall time {clock.Elapsed.TotalSeconds:0} s");
    }

    private async Task<ScriptRun> ScriptAsync(string[] args, TimeSpan limit)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Script());
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(limit);
        try { await p.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { p.Kill(entireProcessTree: true); return new(-1, $"vm/run.sh {string.Join(' ', args)} did not finish in {limit}", ""); }
        var log = await stdout + "\n" + await stderr;
        var serialPath = Path.Combine(args[Array.IndexOf(args, "--out") + 1], "serial.log");
        var serial = System.IO.File.Exists(serialPath) ? (await System.IO.File.ReadAllTextAsync(serialPath)).Replace("\r", "") : "";
        return new(p.ExitCode, log, serial);
    }

    /// <summary>vm/run.sh of the checkout the tests were built in (found upwards from the test binaries, so only this
    /// project needs building).</summary>
    private static string Script()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (System.IO.File.Exists(Path.Combine(dir.FullName, "vm", "run.sh"))) return Path.Combine(dir.FullName, "vm", "run.sh");
        throw new FileNotFoundException("vm/run.sh not found above " + AppContext.BaseDirectory);
    }

    public Task DisposeAsync()
    {
        if (_dir.Length > 0 && Directory.Exists(_dir)) Directory.Delete(_dir, true);
        return Task.CompletedTask;
    }
}

/// <summary>The VM tests publish photon and run QEMU on the machine's two cores: they run alone, after the parallel
/// tests, so they neither starve the timing-sensitive ones nor are starved by them; the boot is shared.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class VmCollection : ICollectionFixture<VmRun>
{
    public const string Name = "vm";
}
