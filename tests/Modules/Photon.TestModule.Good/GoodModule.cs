using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Modules;
using Photon.Kernel.Processes;

[assembly: PhotonModule("good", typeof(Photon.TestModule.Good.GoodModule), Description = "well-behaved test module")]
[assembly: ModuleCapability("/devices/disk0", Rights.Read | Rights.Write, As = "disk")]

namespace Photon.TestModule.Good;

/// <summary>
/// Uses exactly what it was granted: checks its disk capability, allocates memory through its process, publishes a
/// read-only view of that memory as /modules/good/status, and runs a heartbeat task on kernel timers until unloaded.
/// </summary>
public sealed class GoodModule : IKernelModule
{
    private ModuleContext? _ctx;
    private Handle _memory;

    public Task<Result> StartAsync(ModuleContext context, CancellationToken cancellationToken)
    {
        _ctx = context;
        var disk = context.Use<KernelObject>("disk", Rights.Read | Rights.Write);
        if (!disk.IsOk) return Task.FromResult(disk.AsResult());
        var mem = context.Sys.Memory.Allocate(context.Process, 64 * 1024);
        if (!mem.IsOk) return Task.FromResult(mem.AsResult());
        _memory = mem.Value;
        var w = context.Sys.Memory.Write(context.Process, _memory, 0, System.Text.Encoding.UTF8.GetBytes(Helper.StatusText.For(context.ModuleName)));
        if (!w.IsOk) return Task.FromResult(w);
        var bind = context.Sys.Namespaces.Bind(context.Process, context.Namespace, "status", _memory, Rights.Read);
        if (!bind.IsOk) return Task.FromResult(bind);
        var heartbeat = context.Sys.Processes.StartTask(context.Process, async lifetime =>
        {
            while (!lifetime.IsCancellationRequested)
            {
                try { await context.Timers.Delay(TimeSpan.FromMilliseconds(10), lifetime); }
                catch (OperationCanceledException) { return; }
            }
        }, "heartbeat");
        if (!heartbeat.IsOk) return Task.FromResult(heartbeat.AsResult());
        context.LogInfo("started");
        return Task.FromResult(Result.Ok);
    }

    public Task<Result> StopAsync(CancellationToken cancellationToken)
    {
        _ctx?.LogInfo("stopping");
        return Task.FromResult(Result.Ok);
    }
}
