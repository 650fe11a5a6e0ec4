using Photon.Kernel;
using Photon.Kernel.Modules;

[assembly: PhotonModule("hanging", typeof(Photon.TestModule.Hanging.HangingModule), Description = "never finishes start or stop")]

namespace Photon.TestModule.Hanging;

/// <summary>Allocates memory, then never completes StartAsync or StopAsync (argument "hang-in" = "start" | "stop"),
/// ignoring the cancellation token it is given.</summary>
public sealed class HangingModule : IKernelModule
{
    private string _where = "start";

    public async Task<Result> StartAsync(ModuleContext context, CancellationToken cancellationToken)
    {
        _where = context.Arguments.TryGetValue("hang-in", out var w) ? w : "start";
        var mem = context.Sys.Memory.Allocate(context.Process, 16 * 1024);
        if (!mem.IsOk) return mem.AsResult();
        if (_where == "start") await new TaskCompletionSource().Task;
        return Result.Ok;
    }

    public async Task<Result> StopAsync(CancellationToken cancellationToken)
    {
        if (_where == "stop") await new TaskCompletionSource().Task;
        return Result.Ok;
    }
}
