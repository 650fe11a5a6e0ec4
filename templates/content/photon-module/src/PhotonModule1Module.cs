using System.Text;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Modules;
using Photon.Kernel.Processes;

// The manifest: the module's name and entry type, and the capabilities it needs. The loader looks each path up in
// the loader's namespace and binds a capability with exactly these rights into the module's namespace; a request it
// cannot satisfy refuses the whole module. Add a ModuleCapability line per device or directory the module uses.
[assembly: PhotonModule("photonmodule1", typeof(PhotonModule1.PhotonModule1Module), Description = "a Photon module")]

namespace PhotonModule1;

/// <summary>
/// Publishes a read-only status region at /modules/photonmodule1/status and runs one background task on kernel timers
/// until it is unloaded. Everything goes through the module's own process (context.Process) and the syscall table
/// (context.Sys), so unloading — which destroys that process — revokes all of it.
/// </summary>
public sealed class PhotonModule1Module : IKernelModule
{
    public const string StatusText = "photonmodule1: running";

    private ModuleContext? _context;

    public Task<Result> StartAsync(ModuleContext context, CancellationToken cancellationToken)
    {
        _context = context;
        var memory = context.Sys.Memory.Allocate(context.Process, 4096);
        if (!memory.IsOk) return Task.FromResult(memory.AsResult());
        var written = context.Sys.Memory.Write(context.Process, memory.Value, 0, Encoding.UTF8.GetBytes(StatusText));
        if (!written.IsOk) return Task.FromResult(written);
        var bound = context.Sys.Namespaces.Bind(context.Process, context.Namespace, "status", memory.Value, Rights.Read);
        if (!bound.IsOk) return Task.FromResult(bound);
        var worker = context.Sys.Processes.StartTask(context.Process, async lifetime =>
        {
            while (!lifetime.IsCancellationRequested)
            {
                try { await context.Timers.Delay(TimeSpan.FromMilliseconds(100), lifetime); }
                catch (OperationCanceledException) { return; }
            }
        }, "worker");
        if (!worker.IsOk) return Task.FromResult(worker.AsResult());
        context.LogInfo("started");
        return Task.FromResult(Result.Ok);
    }

    public Task<Result> StopAsync(CancellationToken cancellationToken)
    {
        _context?.LogInfo("stopping");
        return Task.FromResult(Result.Ok);
    }
}
