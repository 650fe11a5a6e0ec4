using System.Text;
using Photon.Cli.Demo;
using Photon.Kernel.Boot;
using Photon.Kernel.Boot.Components;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Quotas;
using Photon.Sandbox;

namespace Photon.Kernel.Tests.Boot;

using Photon.Kernel.Boot;

/// <summary><see cref="KernelConfig.Components"/>: the kernel brings the system up as logged boot steps, in order;
/// a failing one unwinds everything before it; shutdown stops them in reverse.</summary>
public sealed class BootComponentTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("photon-boot-components-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Components_start_in_order_as_logged_boot_steps_and_stop_in_reverse()
    {
        var events = new List<string>();
        var config = TestKernel.Config with
        {
            EchoLog = false,
            Components = [new Recording("alpha", events), new Recording("beta", events), new Recording("gamma", events)],
        };
        var booted = await PhotonKernel.BootAsync(config);
        Assert.True(booted.IsOk, booted.IsOk ? "" : booted.Error.ToString());
        var k = booted.Value;
        Assert.Equal(["init", "alpha", "beta", "gamma"], k.BootSteps.TakeLast(4).Select(s => s.Name));
        Assert.Equal("alpha is up", k.BootSteps.Single(s => s.Name == "alpha").Detail);
        Assert.Contains(k.Log.Snapshot(), e => e.Source == "boot" && e.Message.StartsWith("gamma") && e.Message.Contains("gamma is up"));
        Assert.Equal(["start alpha", "start beta", "start gamma"], events);
        await k.DisposeAsync();
        Assert.Equal(["start alpha", "start beta", "start gamma", "stop gamma", "stop beta", "stop alpha"], events);
    }

    [Fact]
    public async Task A_failing_component_unwinds_the_ones_before_it_and_leaves_nothing_behind()
    {
        var image = MakeFatImage();
        var events = new List<string>();
        var storage = new CountingStorage(new HostStorageSource());
        var probe = new Probe();
        var config = TestKernel.Config with
        {
            EchoLog = false,
            Platform = TestKernel.Platform with { Storage = storage },
            Components =
            [
                probe,
                new Recording("first", events),
                new TenantComponent("tenant-a", new QuotaLimits(MemoryBytes: 1 << 20)),
                new ModuleComponent(DemoSystem.ModulePath("Photon.FileSystems.Fat")),
                new BlockDeviceComponent("fat0", image),
                new MountComponent("data", "fat0", [new MountBinding("/tenant-a/mnt/data", Rights.Read | Rights.Enumerate)]),
                new SandboxComponent(),
                new Recording("broken", events, fail: true),
                new Recording("never", events),
            ],
        };
        var booted = await PhotonKernel.BootAsync(config);
        Assert.False(booted.IsOk);
        Assert.Equal(ErrorCode.IoError, booted.Code);
        Assert.Contains("broken", booted.Error.Message);
        // The failing component is stopped too (it may have half-started), then everything before it, in reverse.
        Assert.Equal(["start first", "start broken", "stop broken", "stop first"], events);
        Assert.True(probe.Stopped);
        Assert.Equal(probe.Before, probe.After);
        Assert.Equal(1, storage.Opened);
        Assert.Equal(0, storage.StillOpen);
    }

    [Fact]
    public async Task A_tenant_component_creates_the_tenant_and_applies_its_quota_at_boot()
    {
        var config = TestKernel.Config with
        {
            EchoLog = false,
            Components = [new TenantComponent("tenant-a", new QuotaLimits(MemoryBytes: 64 * 1024, Tasks: 4))],
        };
        await using var k = (await PhotonKernel.BootAsync(config)).Value;
        Assert.Contains(k.BootSteps, s => s.Name == "tenant /tenant-a" && s.Detail.Contains("memory 64 KiB") && s.Detail.Contains("4 tasks"));
        var sys = k.Sys;
        var tenant = sys.Namespaces.Open(k.Init, "/tenant-a", Rights.All).Value;
        Assert.True(sys.Namespaces.OpenAt(k.Init, tenant, "mnt", Rights.Read).IsOk);
        var (_, app) = sys.Processes.Spawn(k.Init, tenant, "app").Value;
        var small = sys.Memory.Allocate(app, 32 * 1024);
        Assert.True(small.IsOk);
        Assert.Equal(ErrorCode.QuotaExceeded, sys.Memory.Allocate(app, 64 * 1024).Code);
        Assert.Equal(32 * 1024, k.Quotas.Usage("/tenant-a").MemoryBytes);
    }

    [Fact]
    public async Task A_block_device_and_mount_config_makes_a_FAT_image_readable_by_a_process_through_the_file_syscalls()
    {
        var image = MakeFatImage();
        var hello = Path.Combine(_dir, "hello.txt");
        File.WriteAllText(hello, "hello from mkfs.vfat and mcopy\n");
        Run("mcopy", $"-i {image} {hello} ::/HELLO.TXT");
        var config = TestKernel.Config with
        {
            EchoLog = false,
            Components =
            [
                new TenantComponent("tenant-a"),
                new ModuleComponent(DemoSystem.ModulePath("Photon.FileSystems.Fat")),
                new BlockDeviceComponent("fat0", image),
                new MountComponent("data", "fat0", [new MountBinding("/tenant-a/mnt/data", Rights.Read | Rights.Enumerate)]),
            ],
        };
        var booted = await PhotonKernel.BootAsync(config);
        Assert.True(booted.IsOk, booted.IsOk ? "" : booted.Error.ToString());
        var k = booted.Value;
        Assert.Equal(["tenant /tenant-a", "module Photon.FileSystems.Fat", "blockdev fat0", "mount data"], k.BootSteps.TakeLast(4).Select(s => s.Name));
        var sys = k.Sys;
        Assert.Contains(sys.Namespaces.List(k.Init, "/dev").Value, e => e.Name == "fat0" && e.Kind == ObjectKind.BlockDevice);

        var tenant = sys.Namespaces.Open(k.Init, "/tenant-a", Rights.All).Value;
        var (_, reader) = sys.Processes.Spawn(k.Init, tenant, "reader").Value;
        var text = await k.RunAsync(async () =>
        {
            var f = (await sys.Files!.OpenAsync(reader, "/mnt/data/HELLO.TXT", Rights.Read)).Value;
            var buf = new byte[256];
            int n = (await sys.Files!.ReadAsync(reader, f, 0, buf)).Value;
            sys.Files!.Close(reader, f);
            return Encoding.UTF8.GetString(buf, 0, n);
        });
        Assert.Equal("hello from mkfs.vfat and mcopy\n", text);
        // The binding is read-only; the device itself is not reachable from the tenant.
        Assert.Equal(ErrorCode.AccessDenied, (await k.RunAsync(async () =>
            (await sys.Files!.OpenAsync(reader, "/mnt/data/NEW.TXT", Rights.Write, Photon.Kernel.FileSystems.OpenFlags.Create)).AsResult())).Code);
        Assert.Equal(ErrorCode.NotFound, sys.Namespaces.Open(reader, "/dev/fat0", Rights.Read).Code);

        await k.DisposeAsync();
        Assert.Empty(k.FileSystems.TypeNames);
        Run("fsck.vfat", $"-n {image}");
    }

    private string MakeFatImage()
    {
        var image = Path.Combine(_dir, $"fat-{Guid.NewGuid():N}.img");
        using (var f = File.Create(image)) f.SetLength(16 * 1024 * 1024);
        Run("mkfs.vfat", $"-F 16 {image}");
        return image;
    }

    private static void Run(string tool, string args)
    {
        using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(tool, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{tool} {args}: {output}");
    }

    private sealed class Recording(string name, List<string> events, bool fail = false) : IKernelComponent
    {
        public string Name => name;

        public ValueTask<Result<string>> StartAsync(PhotonKernel k, CancellationToken ct)
        {
            lock (events) events.Add($"start {name}");
            return new(fail ? Errors.Of(ErrorCode.IoError, $"{name} cannot start") : (Result<string>)$"{name} is up");
        }

        public ValueTask StopAsync()
        {
            lock (events) events.Add($"stop {name}");
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Records what the kernel holds when it starts (first) and again when it stops (last).</summary>
    private sealed class Probe : IKernelComponent
    {
        private PhotonKernel? _k;
        public (long Capabilities, string Processes, long FreeFrames, string Namespaces) Before, After;
        public bool Stopped;
        public string Name => "probe";

        public ValueTask<Result<string>> StartAsync(PhotonKernel k, CancellationToken ct)
        {
            _k = k;
            Before = Snapshot(k);
            return new((Result<string>)"recorded");
        }

        public ValueTask StopAsync()
        {
            After = Snapshot(_k!);
            Stopped = true;
            return ValueTask.CompletedTask;
        }

        private static (long, string, long, string) Snapshot(PhotonKernel k) =>
            (k.Capabilities.LiveCount, string.Join(",", k.Processes.All.Select(p => p.Principal.ToString())), k.Physical.FreeFrames,
             string.Join(",", k.Namespaces.Tree().Where(t => t.Entry.IsLive).Select(t => $"{t.Depth}:{t.Name}")));
    }

    private sealed class CountingStorage(IBlockStorageSource inner) : IBlockStorageSource
    {
        public int Opened, StillOpen;

        public Result<IBlockStorage> Open(string name, bool readOnly = false)
        {
            var s = inner.Open(name, readOnly);
            if (!s.IsOk) return s.Error;
            Interlocked.Increment(ref Opened);
            Interlocked.Increment(ref StillOpen);
            return new Counted(s.Value, this);
        }

        private sealed class Counted(IBlockStorage inner, CountingStorage owner) : IBlockStorage
        {
            public string Name => inner.Name;
            public long Length => inner.Length;
            public bool IsReadOnly => inner.IsReadOnly;
            public ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken ct = default) => inner.ReadAsync(offset, buffer, ct);
            public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken ct = default) => inner.WriteAsync(offset, data, ct);
            public ValueTask FlushAsync(CancellationToken ct = default) => inner.FlushAsync(ct);

            public ValueTask DisposeAsync()
            {
                Interlocked.Decrement(ref owner.StillOpen);
                return inner.DisposeAsync();
            }
        }
    }
}
