using Photon.FileSystems.Fat;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Io;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Syscalls;

namespace Photon.FileSystems.Tests.Vfs;

/// <summary>A small kernel (capabilities, namespaces, memory, processes) plus the VFS, for VFS tests on real images.</summary>
public sealed class VfsKernel : IAsyncDisposable
{
    public PhysicalMemory Physical { get; } = new(8 * 1024 * 1024);
    public CapabilityManager Caps { get; } = new();
    public NamespaceManager Ns { get; }
    public MemoryManager Memory { get; }
    public ProcessManager Processes { get; }
    public VirtualFileSystem Vfs { get; }
    /// <summary>The file system calls processes make (handle in, rights checked, then the open file's method).</summary>
    public FileSyscalls Files { get; }
    public HostTimers Timers { get; } = new(new HostClock());
    public CapabilityToken Root => Ns.RootCapability;
    private readonly List<IAsyncDisposable> _storages = new();

    /// <param name="writeBack">Each writable mount's periodic writeback interval; none (the default) turns it off.</param>
    public VfsKernel(TimeSpan? writeBack = null)
    {
        Ns = new NamespaceManager(Caps);
        Memory = new MemoryManager(Physical, Caps);
        Processes = new ProcessManager(Caps, Ns, Memory) { Timers = Timers, TeardownTimeout = TimeSpan.FromSeconds(2) };
        Vfs = writeBack is { } every
            ? new VirtualFileSystem(Caps, Ns) { Timers = Timers, WriteBackInterval = every }
            : new VirtualFileSystem(Caps, Ns);
        Files = new FileSyscalls(Vfs, Caps);
    }

    public async Task<IBlockDevice> OpenDeviceAsync(string imagePath, bool readOnly = false)
    {
        var storage = HostImageStorage.Open(imagePath, readOnly).Value;
        _storages.Add(storage);
        await Task.CompletedTask;
        return TestDevices.Nvme(storage);
    }

    public async Task<CapabilityToken> MountFatAsync(string imagePath, bool readOnly = false)
    {
        var device = await OpenDeviceAsync(imagePath);
        var r = await Vfs.MountAsync(new FatFileSystemDriver(), device, new MountOptions(readOnly), Principal.Kernel);
        Assert.True(r.IsOk, r.ToString());
        return r.Value;
    }

    /// <summary>What the module loader needs here: a filesystem registry bound at /filesystems (the grant the FAT and
    /// ext4 modules ask for) and the /modules namespace module namespaces are made in.</summary>
    public (FileSystemRegistry Registry, CapabilityToken Modules) ModuleNamespaces()
    {
        var registry = new FileSystemRegistry(Caps);
        Ns.Bind(Root, "filesystems", registry.Capability, Rights.Read | Rights.Bind | Rights.Delegate).Unwrap();
        return (registry, Ns.CreateChild(Root, "modules").Value);
    }

    /// <summary>Creates /&lt;tenant&gt;/mnt, binds the mount at /&lt;tenant&gt;/mnt/&lt;name&gt; and spawns a process in /&lt;tenant&gt;.</summary>
    public Process Tenant(string tenant, CapabilityToken mount, Rights rights, string name = "data")
    {
        var ns = Ns.CreateChild(Root, tenant).Value;
        Ns.CreateChild(ns, "mnt").Unwrap();
        if (!mount.IsNone) Vfs.Bind(ns, "/mnt/" + name, mount, rights, Principal.Kernel).Unwrap();
        return Processes.Spawn("svc", ns).Value.Process;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var s in _storages) await s.DisposeAsync();
        Physical.Dispose();
    }
}
