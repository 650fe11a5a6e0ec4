using Photon.Cli.Demo;
using Photon.Kernel;
using Photon.Kernel.Boot;
using Photon.Kernel.Hal.Host;
using System.Diagnostics;

namespace Photon.Cli.Observe;

/// <summary>
/// The kernel `photon trace` and `photon top` look at: the demo system with its disk images (so block I/O happens),
/// booted quietly. The hosted kernel lives inside one `photon` invocation, like the other state commands.
/// With the network (root only), the demo's TAP NIC comes up too, its Linux end in a fresh network namespace from
/// which Linux's ping keeps traffic on the NIC's rings while the kernel is watched.
/// </summary>
internal sealed class ObservedKernel : IAsyncDisposable
{
    private readonly DemoImages _images;
    private Process? _peerPing;
    private bool _network;

    private ObservedKernel(PhotonKernel kernel, DemoImages images)
    {
        Kernel = kernel;
        _images = images;
    }

    public PhotonKernel Kernel { get; }
    public DemoImages Images => _images;

    public static async Task<Result<ObservedKernel>> BootAsync(bool network = false)
    {
        if (network && NetworkDemo.SkipReason() is { } why) return Errors.Of(ErrorCode.NotSupported, $"--net: {why}");
        var images = DemoImages.Unpack();
        var booted = await PhotonKernel.BootAsync(DemoSystem.Config(LinuxPlatform.Create(), images, network ? [NetworkDemo.Component()] : []) with
        {
            EchoLog = false, ModulePins = Commands.ShippedModules.Pins, BuiltInModules = Commands.ShippedModules.BuiltIns,
        });
        if (!booted.IsOk)
        {
            images.Dispose();
            return booted.Error;
        }
        var observed = new ObservedKernel(booted.Value, images) { _network = network };
        if (network)
        {
            var peer = NetworkDemo.StartLinuxPeer();
            if (!peer.IsOk)
            {
                await observed.DisposeAsync();
                return peer.Error;
            }
            observed._peerPing = StartPeerPing();
        }
        return observed;
    }

    /// <summary>Linux's ping from the peer namespace to Photon, five a second, until disposed.</summary>
    private static Process? StartPeerPing()
    {
        var start = new ProcessStartInfo("ip", ["netns", "exec", NetworkDemo.PeerNamespace, "ping", "-q", "-i", "0.2", NetworkDemo.PhotonAddress])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        try { return Process.Start(start); }
        catch (System.ComponentModel.Win32Exception) { return null; }
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
        if (_peerPing is { } ping)
        {
            try { ping.Kill(); await ping.WaitForExitAsync(); }
            catch (InvalidOperationException) { } // already gone
            ping.Dispose();
            _peerPing = null;
        }
        await Kernel.DisposeAsync();
        // The peer namespace goes after the kernel, which owns the TAP device.
        if (_network) NetworkDemo.Cleanup();
        _images.Dispose();
    }
}
