using System.Runtime.CompilerServices;
using System.Text;
using Photon.FileSystems.Tests.Fat;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Diagnostics;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Modules;

namespace Photon.FileSystems.Tests.Vfs;

/// <summary>
/// The FAT and ext4 drivers shipped as modules: their assemblies (built with the solution) are loaded through the
/// module loader in their own load contexts, register with the filesystem registry, serve mounts of mkfs-made images
/// probed through the registry, and unregister (and get collected) when unloaded.
/// </summary>
public sealed class FileSystemModuleTests : IAsyncLifetime
{
    private readonly VfsKernel _k = new();
    private readonly FileSystemRegistry _registry;
    private readonly ModuleLoader _loader;
    private readonly KernelLog _log = new(new HostClock(), null);
    private static readonly Principal Admin = new("admin", "/");

    public FileSystemModuleTests()
    {
        (_registry, var modules) = _k.ModuleNamespaces();
        _loader = new ModuleLoader(_k.Caps, _k.Ns, _k.Processes, _k.Timers, new HostModuleImageSource(), modules, _log);
    }

    public Task InitializeAsync() => Task.CompletedTask;
    public async Task DisposeAsync() => await _k.DisposeAsync();

    private static string ModuleDll(string assembly) => Path.Combine(AppContext.BaseDirectory, assembly + ".dll");

    [Fact]
    public async Task The_FAT_module_registers_vfat_serves_a_probed_mount_and_unregisters_on_unload()
    {
        using var image = FatImage.Create(12);
        image.Put(Encoding.UTF8.GetBytes("via the fat module\n"), "/NOTE.TXT");
        var weak = await LoadMountUnloadAsync("Photon.FileSystems.Fat", "vfat", image.Path, "/NOTE.TXT", "via the fat module\n");
        for (int i = 0; i < 50 && weak.IsAlive; i++) { GC.Collect(); GC.WaitForPendingFinalizers(); await Task.Yield(); }
        Assert.False(weak.IsAlive, "the FAT module's load context was not collected after unload");
        image.AssertFsckClean();
    }

    [Fact]
    public async Task The_ext4_module_registers_ext4_and_serves_a_probed_mount()
    {
        var dir = Directory.CreateTempSubdirectory("photon-ext4-mod-");
        try
        {
            var content = Path.Combine(dir.FullName, "content");
            Directory.CreateDirectory(content);
            File.WriteAllText(Path.Combine(content, "note.txt"), "via the ext4 module\n");
            var img = Path.Combine(dir.FullName, "disk.img");
            var mkfs = FatImage.Run("mkfs.ext4", ["-q", "-F", "-d", content, img, "8M"]);
            mkfs.AssertOk();
            await LoadMountUnloadAsync("Photon.FileSystems.Ext4", "ext4", img, "/note.txt", "via the ext4 module\n");
            var fsck = FatImage.Run("e2fsck", ["-fn", img]);
            Assert.True(fsck.ExitCode == 0, fsck.Stdout + fsck.Stderr);
        }
        finally { dir.Delete(recursive: true); }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private async Task<WeakReference> LoadMountUnloadAsync(string assembly, string type, string imagePath, string file, string expected)
    {
        var loaded = await _loader.LoadAsync(_loader.Capability, ModuleDll(assembly), _k.Root, Admin);
        Assert.True(loaded.IsOk, loaded.ToString());
        var (module, control) = loaded.Value;
        Assert.Equal([type], _registry.TypeNames);
        // The module's only grant: Bind on the registry, nothing else.
        var grant = Assert.Single(module.Grants);
        Assert.Equal(("/filesystems", Rights.Bind), (grant.Path, grant.Rights));

        var device = await _k.OpenDeviceAsync(imagePath);
        var mount = await _k.Vfs.MountAsync(_registry, _registry.Capability, device, new MountOptions(), Principal.Kernel);
        Assert.True(mount.IsOk, mount.ToString());
        Assert.Equal(type, _k.Caps.Check<Mount>(mount.Value, Rights.None).Value.TypeName);
        var p = _k.Tenant("svc", mount.Value, Rights.Read | Rights.Write | Rights.Enumerate | Rights.Create);
        var h = (await _k.Files.OpenAsync(p, "/mnt/data" + file, Rights.Read)).Value;
        var buf = new byte[256];
        var n = (await _k.Files.ReadAsync(p, h, 0, buf)).Value;
        Assert.Equal(expected, Encoding.UTF8.GetString(buf, 0, n));
        var w = (await _k.Files.OpenAsync(p, "/mnt/data/written-by-module.txt", Rights.Write, OpenFlags.Create)).Value;
        Assert.True((await _k.Files.WriteAsync(p, w, 0, "ok\n"u8.ToArray())).IsOk);
        Assert.True((await _k.Vfs.UnmountAsync(mount.Value, Principal.Kernel)).IsOk);

        Assert.True((await _loader.UnloadAsync(control, Admin)).IsOk);
        Assert.Empty(_registry.TypeNames);
        Assert.Equal(ErrorCode.NotSupported, (await _registry.ProbeAsync(_registry.Capability, device)).Code);
        return module.CodeReference;
    }

    [Fact]
    public async Task Unloading_the_FAT_module_while_its_volume_is_mounted_is_refused_Busy_and_the_volume_keeps_working()
    {
        using var image = FatImage.Create(16);
        image.Put(Encoding.UTF8.GetBytes("kept\n"), "/KEEP.TXT");
        var (_, control) = (await _loader.LoadAsync(_loader.Capability, ModuleDll("Photon.FileSystems.Fat"), _k.Root, Admin)).Value;
        var device = await _k.OpenDeviceAsync(image.Path);
        var mount = (await _k.Vfs.MountAsync(_registry, _registry.Capability, device, new MountOptions(), Principal.Kernel)).Value;
        var p = _k.Tenant("svc", mount, Rights.Read | Rights.Write | Rights.Enumerate | Rights.Create);
        var file = (await _k.Files.OpenAsync(p, "/mnt/data/KEEP.TXT", Rights.Read | Rights.Write)).Value;

        var refused = await _loader.UnloadAsync(control, Admin);
        Assert.Equal(ErrorCode.Busy, refused.Code);
        Assert.Contains("1 filesystem mounted", refused.Error.Message);
        // Nothing changed: the module runs, its driver is registered, the open file reads and writes.
        Assert.Equal(ModuleState.Running, _loader.Modules.Single().State);
        Assert.Equal(["vfat"], _registry.TypeNames);
        Assert.True((await _k.Files.WriteAsync(p, file, 0, "KEPT"u8.ToArray())).IsOk);
        var buf = new byte[16];
        int n = (await _k.Files.ReadAsync(p, file, 0, buf)).Value;
        Assert.Equal("KEPT\n", Encoding.UTF8.GetString(buf, 0, n));
        // A second mount is refused the same way until both are gone.
        var second = (await _k.Vfs.MountAsync(_registry, _registry.Capability, await _k.OpenDeviceAsync(image.Path, readOnly: true),
            new MountOptions(ReadOnly: true), Principal.Kernel)).Value;
        Assert.True((await _k.Vfs.UnmountAsync(mount, Principal.Kernel)).IsOk);
        Assert.Equal(ErrorCode.Busy, (await _loader.UnloadAsync(control, Admin)).Code);
        Assert.True((await _k.Vfs.UnmountAsync(second, Principal.Kernel)).IsOk);

        Assert.True((await _loader.UnloadAsync(control, Admin)).IsOk);
        Assert.Empty(_registry.TypeNames);
        // The handle opened before is dead, and says so with a typed error.
        var dead = await _k.Files.ReadAsync(p, file, 0, buf);
        Assert.Contains(dead.Code, new[] { ErrorCode.Revoked, ErrorCode.Closed, ErrorCode.InvalidHandle });
        image.AssertFsckClean();
        Assert.Equal("KEPT\n", Encoding.UTF8.GetString(image.Get("/KEEP.TXT")));
    }

    [Fact]
    public async Task A_filesystem_module_is_refused_when_its_loader_cannot_bind_the_registry()
    {
        var tenant = _k.Ns.CreateChild(_k.Root, "tenant").Value;
        var readOnly = _k.Ns.Lookup(_k.Root, "/filesystems", Rights.Read | Rights.Delegate).Value;
        _k.Ns.Bind(tenant, "filesystems", readOnly, Rights.Read | Rights.Delegate).Unwrap();
        var r = await _loader.LoadAsync(_loader.Capability, ModuleDll("Photon.FileSystems.Fat"), tenant, new Principal("tenant-admin", "/tenant"));
        Assert.Equal(ErrorCode.AccessDenied, r.Code);
        Assert.Empty(_registry.TypeNames);
    }

    [Fact]
    public async Task Registry_rejects_duplicates_and_needs_the_right_capabilities()
    {
        var asModule = new Principal("m", "/");
        var bindOnly = _k.Caps.Derive(_registry.Capability, Rights.Bind, asModule).Value;
        var readOnly = _k.Caps.Derive(_registry.Capability, Rights.Read, asModule).Value;
        var reg = _registry.Register(bindOnly, new Photon.FileSystems.Fat.FatFileSystemDriver(), asModule);
        Assert.True(reg.IsOk);
        Assert.Equal(ErrorCode.AlreadyExists, _registry.Register(bindOnly, new Photon.FileSystems.Fat.FatFileSystemDriver(), asModule).Code);
        Assert.Equal(ErrorCode.AccessDenied, _registry.Register(readOnly, new Photon.FileSystems.Ext4.Ext4FileSystemDriver(), asModule).Code);
        Assert.Equal(ErrorCode.AccessDenied, _registry.Find(bindOnly, "vfat").Code);
        Assert.True(_registry.Find(readOnly, "vfat").IsOk);
        Assert.True(_registry.Unregister(reg.Value, asModule).IsOk);
        Assert.Equal(ErrorCode.NotFound, _registry.Find(readOnly, "vfat").Code);
        Assert.Equal(ErrorCode.Revoked, _registry.Unregister(reg.Value, asModule).Code);
        await Task.CompletedTask;
    }
}
