using System.Text;
using Photon.FileSystems.Fat;
using Photon.FileSystems.Tests.Fat;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Diagnostics;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Modules;

namespace Photon.FileSystems.Tests.Vfs;

/// <summary>
/// Built-in modules (what the ahead-of-time build of photon runs, since it cannot load module code): a load naming
/// the module's DLL — wherever the path points, even where no file is — starts the compiled-in module with the same
/// confinement as a loaded one (own process, only its manifest's grant, revoked at unload), and it can be started again
/// after an unload; a loader that loads no images refuses every other module typed, naming what is built in.
/// </summary>
public sealed class BuiltInModuleTests : IAsyncLifetime
{
    private readonly VfsKernel _k = new();
    private readonly FileSystemRegistry _registry;
    private readonly ModuleLoader _loader;
    private static readonly Principal Admin = new("admin", "/");

    public BuiltInModuleTests()
    {
        (_registry, var modules) = _k.ModuleNamespaces();
        var builtIns = new BuiltInModules([new BuiltInModule("Photon.FileSystems.Fat", typeof(FatModule).Assembly, () => new FatModule())]);
        _loader = new ModuleLoader(_k.Caps, _k.Ns, _k.Processes, _k.Timers, new HostModuleImageSource(), modules,
            new KernelLog(new HostClock(), null), builtIns: builtIns) { LoadsImages = false };
    }

    public Task InitializeAsync() => Task.CompletedTask;
    public async Task DisposeAsync() => await _k.DisposeAsync();

    [Fact]
    public async Task A_built_in_module_starts_without_a_file_confined_to_its_manifest_and_its_grants_die_at_unload()
    {
        using var image = FatImage.Create(12);
        image.Put(Encoding.UTF8.GetBytes("built in\n"), "/NOTE.TXT");
        for (int round = 0; round < 2; round++) // unload, then start again: built-in code stays, the module does not
        {
            var loaded = await _loader.LoadAsync(_loader.Capability, "/nowhere/Photon.FileSystems.Fat.dll", _k.Root, Admin);
            Assert.True(loaded.IsOk, loaded.ToString());
            var (module, control) = loaded.Value;
            Assert.True(module.IsBuiltIn);
            Assert.Equal(LoadedModule.BuiltInDigest, module.ImageSha256);
            Assert.Equal(ModuleState.Running, module.State);
            Assert.NotNull(module.Pid);
            var grant = Assert.Single(module.Grants);
            Assert.Equal(("/filesystems", Rights.Bind), (grant.Path, grant.Rights));
            Assert.Equal(["vfat"], _registry.TypeNames);

            var device = await _k.OpenDeviceAsync(image.Path);
            var mount = await _k.Vfs.MountAsync(_registry, _registry.Capability, device, new MountOptions(), Principal.Kernel);
            Assert.True(mount.IsOk, mount.ToString());
            var p = _k.Tenant($"svc{round}", mount.Value, Rights.Read | Rights.Enumerate);
            var h = (await _k.Files.OpenAsync(p, "/mnt/data/NOTE.TXT", Rights.Read)).Value;
            var buf = new byte[64];
            var n = (await _k.Files.ReadAsync(p, h, 0, buf)).Value;
            Assert.Equal("built in\n", Encoding.UTF8.GetString(buf, 0, n));
            Assert.True((await _k.Vfs.UnmountAsync(mount.Value, Principal.Kernel)).IsOk);

            var process = module.Process!;
            Assert.True((await _loader.UnloadAsync(control, Admin)).IsOk);
            Assert.Equal(ModuleState.Unloaded, module.State);
            Assert.Empty(_registry.TypeNames); // its registration went with it
            Assert.False(_k.Processes.Get(process.Pid).IsOk); // and so did its process, with every handle it held
            Assert.False(_k.Caps.Check(control, Rights.Manage, Admin).IsOk);
        }
    }

    [Fact]
    public async Task A_loader_without_image_loading_refuses_any_other_module_typed_and_names_its_built_ins()
    {
        var loaded = await _loader.LoadAsync(_loader.Capability, Path.Combine(AppContext.BaseDirectory, "Photon.FileSystems.Ext4.dll"), _k.Root, Admin);
        Assert.Equal(ErrorCode.NotSupported, loaded.Code);
        Assert.Contains("Photon.FileSystems.Fat", loaded.Error.Message);
        Assert.Empty(_loader.Modules);
    }

    [Fact]
    public async Task A_built_in_module_still_needs_the_loaders_Manage_capability()
    {
        var denied = await _loader.LoadAsync(CapabilityToken.None, "Photon.FileSystems.Fat", _k.Root, Admin);
        Assert.Equal(ErrorCode.AccessDenied, denied.Code);
        Assert.Empty(_registry.TypeNames);
    }
}
