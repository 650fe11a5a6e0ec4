using Photon.Kernel;
using Photon.Kernel.Modules;

[assembly: PhotonModule("throwing", typeof(Photon.TestModule.Throwing.ThrowingModule), Description = "throws in start or stop")]

namespace Photon.TestModule.Throwing;

/// <summary>Allocates memory, then throws in StartAsync or StopAsync (argument "throw-in" = "start" | "stop").</summary>
public sealed class ThrowingModule : IKernelModule
{
    private string _where = "start";

    public async Task<Result> StartAsync(ModuleContext context, CancellationToken cancellationToken)
    {
        _where = context.Arguments.TryGetValue("throw-in", out var w) ? w : "start";
        var mem = context.Sys.Memory.Allocate(context.Process, 16 * 1024);
        if (!mem.IsOk) return mem.AsResult();
        await Task.Yield();
        if (_where == "start") throw new InvalidOperationException("boom in start");
        return Result.Ok;
    }

    public Task<Result> StopAsync(CancellationToken cancellationToken)
    {
        if (_where == "stop") throw new InvalidOperationException("boom in stop");
        return Task.FromResult(Result.Ok);
    }
}
