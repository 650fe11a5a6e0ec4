using System.Text;
using Photon.Kernel;
using Photon.Kernel.Boot;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Processes;
using Photon.Kernel.Services;

namespace PhotonService1;

/// <summary>
/// Boots a kernel on the Linux host HAL, runs the service under the Supervisor inside tenant /tenant-a, and gives
/// callers (the program and the tests) a client process in a tenant of their choice. Init — the kernel's first
/// process, holding the root namespace — is the only principal that creates tenants and supervises.
/// </summary>
public sealed class ServiceHost : IAsyncDisposable
{
    public const string Tenant = "tenant-a";

    private readonly PhotonKernel _kernel;
    private readonly Supervisor _supervisor;

    private ServiceHost(PhotonKernel kernel, SupervisedService service)
    {
        _kernel = kernel;
        _supervisor = new Supervisor(kernel.Sys, kernel.Timers);
        Service = service;
    }

    public PhotonKernel Kernel => _kernel;

    public SupervisedService Service { get; private set; }

    public static async Task<Result<ServiceHost>> StartAsync(Func<IService>? factory = null)
    {
        var booted = await PhotonKernel.BootAsync(new KernelConfig
        {
            Platform = LinuxPlatform.Create(processors: Math.Max(2, Environment.ProcessorCount)),
            MemoryBytes = 16 * 1024 * 1024,
            EchoLog = false,
        });
        if (!booted.IsOk) return booted.Error;
        var k = booted.Value;
        var tenant = k.Sys.Namespaces.CreateChild(k.Init, k.InitRoot, Tenant);
        if (!tenant.IsOk) { await k.DisposeAsync(); return tenant.Error; }
        var svc = k.Sys.Namespaces.CreateChild(k.Init, tenant.Value, "svc");
        if (!svc.IsOk) { await k.DisposeAsync(); return svc.Error; }
        var host = new ServiceHost(k, null!);
        host.Service = host._supervisor.Start(k.Init, PhotonService1Service.Name, tenant.Value, factory ?? (() => new PhotonService1Service()));
        return host;
    }

    /// <summary>A fresh process in /<paramref name="tenant"/> (created if missing), as a client of the service.</summary>
    public Result<Process> SpawnClient(string tenant, string name = "client")
    {
        var k = _kernel;
        var ns = k.Sys.Namespaces.Open(k.Init, "/" + tenant, Rights.All);
        if (!ns.IsOk) ns = k.Sys.Namespaces.CreateChild(k.Init, k.InitRoot, tenant);
        if (!ns.IsOk) return ns.Error;
        var spawned = k.Sys.Processes.Spawn(k.Init, ns.Value, name);
        return spawned.IsOk ? spawned.Value.Process : spawned.Error;
    }

    /// <summary>Connects <paramref name="client"/> to the service through the client's own namespace and makes one call.</summary>
    public async Task<Result<string>> CallAsync(Process client, string request)
    {
        var connection = _kernel.Sys.Channels.Connect(client, "/svc/" + PhotonService1Service.Name);
        if (!connection.IsOk) return connection.Error;
        try
        {
            var reply = await _kernel.Sys.Channels.CallAsync(client, connection.Value, Encoding.UTF8.GetBytes(request), TimeSpan.FromSeconds(10));
            return reply.IsOk ? Encoding.UTF8.GetString(reply.Value.Data) : reply.Error;
        }
        finally
        {
            _kernel.Sys.Channels.Close(client, connection.Value);
        }
    }

    /// <summary>Waits (on kernel timers) until the service runs and its listener is bound at /svc/&lt;name&gt; in the
    /// tenant — the supervisor marks an incarnation Running when it starts, before the service has published — or
    /// until <paramref name="timeout"/> passes or the service fails.</summary>
    public async Task<bool> WaitReadyAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!IsPublished())
        {
            if (DateTime.UtcNow > deadline || Service.State == ServiceState.Failed) return false;
            await _kernel.Timers.Delay(TimeSpan.FromMilliseconds(10));
        }
        return true;
    }

    private bool IsPublished()
    {
        if (Service.State != ServiceState.Running) return false;
        var entries = _kernel.Sys.Namespaces.List(_kernel.Init, $"/{Tenant}/svc");
        return entries.IsOk && entries.Value.Any(e => e.Name == PhotonService1Service.Name && e.IsLive);
    }

    public async ValueTask DisposeAsync()
    {
        await _supervisor.StopAsync(Service);
        await _kernel.DisposeAsync();
    }
}
