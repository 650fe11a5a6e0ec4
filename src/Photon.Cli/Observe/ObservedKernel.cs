using Photon.Cli.Demo;
using Photon.Kernel;
using Photon.Kernel.Boot;
using Photon.Kernel.Hal.Host;

namespace Photon.Cli.Observe;

/// <summary>
/// The kernel `photon trace` and `photon top` look at: the demo system with its disk images (so block I/O happens),
/// booted quietly. The hosted kernel lives inside one `photon` invocation, like the other state commands.
/// </summary>
internal sealed class ObservedKernel : IAsyncDisposable
{
    private readonly DemoImages _images;

    private ObservedKernel(PhotonKernel kernel, DemoImages images)
    {
        Kernel = kernel;
        _images = images;
    }

    public PhotonKernel Kernel { get; }
    public DemoImages Images => _images;

    public static async Task<Result<ObservedKernel>> BootAsync()
    {
        var images = DemoImages.Unpack();
        var booted = await PhotonKernel.BootAsync(DemoSystem.Config(LinuxPlatform.Create(), images) with
        {
            EchoLog = false, ModulePins = Commands.ShippedModules.Pins,
        });
        if (!booted.IsOk)
        {
            images.Dispose();
            return booted.Error;
        }
        return new ObservedKernel(booted.Value, images);
    }

    /// <summary>The demo workload every subsystem takes part in (core, storage, tenants). Returns its failures.</summary>
    public async Task<IReadOnlyList<string>> RunDemoAsync()
    {
        var k = Kernel;
        var report = await k.RunAsync(() => CoreDemo.RunAsync(k), "demo");
        await k.RunAsync(() => StorageDemo.RunAsync(k, _images, report), "storage-demo");
        await k.RunAsync(() => TenantsDemo.RunAsync(k, report), "tenants-demo");
        return report.Failures;
    }

    public async ValueTask DisposeAsync()
    {
        await Kernel.DisposeAsync();
        _images.Dispose();
    }
}
