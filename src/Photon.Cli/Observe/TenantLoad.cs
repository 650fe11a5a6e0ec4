using Photon.Kernel;
using Photon.Kernel.Boot;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Processes;

namespace Photon.Cli.Observe;

/// <summary>
/// Background load for `photon top`: one "load" process per demo tenant, made by init through syscalls, running a few
/// tasks that ping-pong IPC messages and hold a memory region, so the view has CPU time, tasks, IPC and quota use that
/// move. Stops when the token is cancelled (its processes are destroyed).
/// </summary>
internal static class TenantLoad
{
    public const int TasksPerTenant = 4;
    public const long RegionBytes = 256 * 1024;

    public static async Task<Result> StartAsync(PhotonKernel k, string tenant, CancellationToken stop)
    {
        var sys = k.Sys;
        var ns = sys.Namespaces.Open(k.Init, tenant, Rights.Read | Rights.Enumerate | Rights.Create | Rights.Delegate);
        if (!ns.IsOk) return ns.AsResult();
        var spawned = sys.Processes.Spawn(k.Init, ns.Value, "load");
        if (!spawned.IsOk) return spawned.AsResult();
        var (control, load) = spawned.Value;
        var region = sys.Memory.Allocate(load, RegionBytes);
        if (!region.IsOk) return region.AsResult();
        for (int i = 0; i < TasksPerTenant; i++)
        {
            var started = sys.Processes.StartTask(load, ct => PingPongAsync(k, load, ct), $"pingpong{i}");
            if (!started.IsOk) return started.AsResult();
        }
        _ = stop.Register(() => _ = k.RunAsync(() => sys.Processes.DestroyAsync(k.Init, control), "load-stop"));
        await Task.CompletedTask;
        return Result.Ok;
    }

    /// <summary>Sends a message to itself over a fresh channel and takes it back, with a short sleep between rounds.</summary>
    private static async Task PingPongAsync(PhotonKernel k, Process me, CancellationToken ct)
    {
        var sys = k.Sys;
        var pair = sys.Channels.CreateChannel(me);
        if (!pair.IsOk) return;
        var (a, b) = pair.Value;
        var payload = new byte[512];
        while (!ct.IsCancellationRequested)
        {
            for (int i = 0; i < 32; i++)
            {
                if (!(await sys.Channels.SendAsync(me, a, payload, ct: ct)).IsOk) return;
                if (!(await sys.Channels.ReceiveAsync(me, b, ct)).IsOk) return;
            }
            try { await k.Timers.Delay(TimeSpan.FromMilliseconds(5), ct); }
            catch (OperationCanceledException) { return; }
        }
    }
}
