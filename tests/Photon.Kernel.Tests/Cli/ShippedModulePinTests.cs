using Photon.Cli.Commands;
using Photon.Kernel.Boot;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Modules;

namespace Photon.Kernel.Tests.Cli;

/// <summary>The boot configuration pins the shipped FAT and ext4 modules: the digests baked into photon at build time
/// match the assemblies next to it, they load, and nothing else does.</summary>
public class ShippedModulePinTests
{
    private static string Dll(string name) => Path.Combine(AppContext.BaseDirectory, name + ".dll");

    [Fact]
    public void The_baked_in_pins_are_the_digests_of_the_shipped_module_assemblies()
    {
        Assert.Equal(["Photon.FileSystems.Ext4.dll", "Photon.FileSystems.Fat.dll"], ShippedModules.Digests.Keys.Order());
        foreach (var (file, digest) in ShippedModules.Digests)
            Assert.Equal(ModulePins.DigestOf(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, file))), digest);
        Assert.Equal(2, ShippedModules.Pins.Count);
    }

    [Fact]
    public async Task A_kernel_booted_with_the_shipped_pins_loads_FAT_and_ext4_and_refuses_any_other_module()
    {
        var booted = await Kernel.Boot.PhotonKernel.BootAsync(Boot.TestKernel.Config with { EchoLog = false, MemoryBytes = 8 * 1024 * 1024, ModulePins = ShippedModules.Pins });
        Assert.True(booted.IsOk, booted.ToString());
        await using var k = booted.Value;
        Assert.Contains(k.BootSteps, s => s.Name == "modules" && s.Detail.Contains("2 pinned"));
        var root = k.Namespaces.RootCapability;
        foreach (var m in new[] { "Photon.FileSystems.Fat", "Photon.FileSystems.Ext4" })
        {
            var loaded = await k.RunAsync(() => k.Modules.LoadAsync(k.Modules.Capability, Dll(m), root, Principal.Kernel));
            Assert.True(loaded.IsOk, loaded.ToString());
            Assert.True((await k.RunAsync(() => k.Modules.UnloadAsync(loaded.Value.Control, Principal.Kernel))).IsOk);
        }
        var other = await k.RunAsync(() => k.Modules.LoadAsync(k.Modules.Capability, ModuleLoaderTestsPath("Good"), root, Principal.Kernel));
        Assert.Equal(ErrorCode.AccessDenied, other.Code);
        Assert.Contains("not pinned", other.Error.Message);
    }

    private static string ModuleLoaderTestsPath(string name) => Modules.ModuleLoaderTests.ModulePath(name);
}
