using Photon.Kernel.Boot;
using Photon.Kernel.Boot.Components;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Io;
using Photon.Kernel.Quotas;
using Photon.Kernel.Scheduling;
using Photon.Kernel.Tests.Boot;

namespace Photon.Kernel.Tests.Diagnostics;

/// <summary>A kernel with two tenants and a block device over a scratch image, and a workload that touches the
/// scheduler, IPC, block I/O, capabilities (including a denial) and syscalls.</summary>
internal sealed class ObservedWorkload : IAsyncDisposable
{
    private readonly string _image;

    private ObservedWorkload(PhotonKernel kernel, string image)
    {
        Kernel = kernel;
        _image = image;
    }

    public PhotonKernel Kernel { get; }

    public static async Task<ObservedWorkload> BootAsync()
    {
        var image = Path.Combine(Path.GetTempPath(), $"photon-trace-{Guid.NewGuid():N}.img");
        await File.WriteAllBytesAsync(image, new byte[1 << 20]);
        var config = TestKernel.Config with
        {
            EchoLog = false,
            Components =
            [
                new TenantComponent("tenant-a", new QuotaLimits(MemoryBytes: 8 << 20, Tasks: 64)),
                new TenantComponent("tenant-b", new QuotaLimits(MemoryBytes: 8 << 20, Tasks: 64)),
                new BlockDeviceComponent("blk0", image),
            ],
        };
        var k = (await PhotonKernel.BootAsync(config)).Value;
        return new ObservedWorkload(k, image);
    }

    /// <summary>Spawns a process in tenant-a that talks to itself over IPC, writes and reads the block device,
    /// yields, and makes a refused call; returns what it names its tasks.</summary>
    public async Task<string> RunAsync(string tag)
    {
        var k = Kernel;
        var sys = k.Sys;
        var tenant = sys.Namespaces.Open(k.Init, "/tenant-a", Rights.Read | Rights.Enumerate | Rights.Create | Rights.Delegate).Value;
        var (control, p) = sys.Processes.Spawn(k.Init, tenant, "worker").Value;
        var dev = OpenBlockDevice();
        var task = sys.Processes.StartTask(p, async ct =>
        {
            var (a, b) = sys.Channels.CreateChannel(p).Value;
            for (int i = 0; i < 8; i++)
            {
                Assert.True((await sys.Channels.SendAsync(p, a, new byte[64], ct: ct)).IsOk);
                Assert.True((await sys.Channels.ReceiveAsync(p, b, ct)).IsOk);
                await KernelScheduler.Yield();
            }
            var sector = new byte[dev.SectorSize];
            Assert.True((await dev.WriteAsync(1, sector, ct)).IsOk);
            Assert.True((await dev.ReadAsync(1, sector, ct)).IsOk);
            Assert.True((await dev.FlushAsync(ct)).IsOk);
            // Refused: a channel end without the right to read, and a handle that does not exist.
            var writeOnly = sys.Handles.Duplicate(p, a, Rights.Write).Value;
            Assert.False(sys.Channels.TryReceive(p, writeOnly).IsOk);
            Assert.False(sys.Channels.TryReceive(p, new Photon.Kernel.Processes.Handle(9999)).IsOk);
            await k.Timers.Delay(TimeSpan.FromMilliseconds(2), ct);
        }, tag).Value;
        await task;
        Assert.True((await k.RunAsync(() => sys.Processes.DestroyAsync(k.Init, control))).IsOk);
        return tag;
    }

    private IBlockDevice OpenBlockDevice()
    {
        var k = Kernel;
        var token = k.Namespaces.Lookup(k.DevNamespace, "blk0", Rights.Read | Rights.Write).Value;
        return k.Capabilities.Check<BlockDeviceObject>(token, Rights.Read | Rights.Write).Value.Open(token);
    }

    public async ValueTask DisposeAsync()
    {
        await Kernel.DisposeAsync();
        File.Delete(_image);
    }
}
