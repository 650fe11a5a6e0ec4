using Photon.Kernel.Boot;
using Photon.Kernel.Boot.Components;
using Photon.Kernel.Capabilities;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Hal;
using Photon.Kernel.Quotas;
using Photon.Sandbox;

namespace Photon.Cli.Demo;

/// <summary>
/// The demo system, described as a <see cref="KernelConfig"/>: the kernel brings all of it up at boot (each component a
/// logged boot step) and the demos then act only through system calls, as init and the processes it spawns.
/// </summary>
public static class DemoSystem
{
    /// <summary>What each demo tenant may use (its processes, memory, capabilities and IPC queues together).</summary>
    public static readonly QuotaLimits TenantLimits = new(MemoryBytes: 16L * 1024 * 1024, Tasks: 1024, Capabilities: 8192, IpcQueueDepth: 1024);

    /// <summary>
    /// Tenants /tenant-a and /tenant-b (each with a mnt/ namespace and <see cref="TenantLimits"/>); with
    /// <paramref name="images"/>, the FAT and ext4 modules, one NVMe-style device per demo image (/dev/nvme0,
    /// /dev/nvme1) and their mounts — FAT read-write into /tenant-a/mnt/disk, ext4 read-only into /tenant-b/mnt/disk;
    /// the Wasm sandbox at /sandbox; and any <paramref name="extra"/> components (the network) last.
    /// </summary>
    public static KernelConfig Config(Platform platform, DemoImages? images = null, params IKernelComponent[] extra)
    {
        var components = new List<IKernelComponent>
        {
            new TenantComponent("tenant-a", TenantLimits),
            new TenantComponent("tenant-b", TenantLimits),
        };
        if (images is not null)
        {
            components.Add(new ModuleComponent(ModulePath("Photon.FileSystems.Fat")));
            components.Add(new ModuleComponent(ModulePath("Photon.FileSystems.Ext4")));
            components.Add(new BlockDeviceComponent("nvme0", images.Fat16));
            components.Add(new BlockDeviceComponent("nvme1", images.Ext4));
            components.Add(new MountComponent("fat16", "nvme0", [new MountBinding("/tenant-a/mnt/disk", VirtualFileSystem.MountRights & ~Rights.Manage)]));
            components.Add(new MountComponent("ext4", "nvme1", [new MountBinding("/tenant-b/mnt/disk", Rights.Read | Rights.Enumerate)]));
        }
        components.Add(new SandboxComponent());
        components.AddRange(extra);
        return new KernelConfig { Platform = platform, Components = components };
    }

    public static string ModulePath(string module) => Path.Combine(AppContext.BaseDirectory, module + ".dll");
}
