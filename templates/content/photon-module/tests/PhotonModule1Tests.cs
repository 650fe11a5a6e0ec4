using System.Security.Cryptography;
using System.Text;
using Photon.Kernel;
using Photon.Kernel.Boot;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Modules;
using Xunit;

namespace PhotonModule1.Tests;

/// <summary>Boots a real kernel on the Linux host HAL and loads the module the way init does: through the
/// module-loader handle, pinned by the SHA-256 of the file.</summary>
public sealed class PhotonModule1Tests
{
    // What the module writes (the test does not reference the module assembly: it must load only in its own context).
    private const string StatusText = "photonmodule1: running";

    private static readonly string ModuleFile = Path.Combine(AppContext.BaseDirectory, "modules", "PhotonModule1", "PhotonModule1.dll");

    private static async Task<PhotonKernel> BootAsync(bool pinned)
    {
        var digest = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(ModuleFile)));
        // Pin a digest that is not the module's when the test wants it refused.
        var pins = ModulePins.Of([pinned ? digest : new string('0', 64)]);
        Assert.True(pins.IsOk, pins.IsOk ? "" : pins.Error.ToString());
        var booted = await PhotonKernel.BootAsync(new KernelConfig
        {
            Platform = LinuxPlatform.Create(processors: 2),
            MemoryBytes = 16 * 1024 * 1024,
            EchoLog = false,
            ModulePins = pins.Value,
        });
        Assert.True(booted.IsOk, booted.IsOk ? "" : booted.Error.ToString());
        return booted.Value;
    }

    [Fact]
    public async Task The_module_loads_publishes_its_status_and_loses_it_when_unloaded()
    {
        await using var k = await BootAsync(pinned: true);
        var loaded = await k.Sys.Modules!.LoadAsync(k.Init, k.InitModuleLoader, k.InitRoot, ModuleFile);
        Assert.True(loaded.IsOk, loaded.IsOk ? "" : loaded.Error.ToString());
        Assert.Equal("photonmodule1", loaded.Value.Module.Name);

        var status = k.Sys.Namespaces.Open(k.Init, "/modules/photonmodule1/status", Rights.Read);
        Assert.True(status.IsOk, status.IsOk ? "" : status.Error.ToString());
        var text = new byte[StatusText.Length];
        Assert.True(k.Sys.Memory.Read(k.Init, status.Value, 0, text).IsOk);
        Assert.Equal(StatusText, Encoding.UTF8.GetString(text));
        // Read-only to everyone else: the module bound it with Read only.
        Assert.Equal(ErrorCode.AccessDenied, k.Sys.Memory.Write(k.Init, status.Value, 0, "x"u8).Code);

        Assert.True((await k.Sys.Modules.UnloadAsync(k.Init, loaded.Value.Control)).IsOk);
        // Unloading destroyed the module's process: what it published is gone.
        Assert.False(k.Sys.Memory.Read(k.Init, status.Value, 0, text).IsOk);
    }

    [Fact]
    public async Task An_unpinned_module_is_refused()
    {
        await using var k = await BootAsync(pinned: false);
        var loaded = await k.Sys.Modules!.LoadAsync(k.Init, k.InitModuleLoader, k.InitRoot, ModuleFile);
        Assert.Equal(ErrorCode.AccessDenied, loaded.Code);
    }
}
