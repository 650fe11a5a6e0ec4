using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Modules;

[assembly: PhotonModule("greedy", typeof(Photon.TestModule.Greedy.GreedyModule), Description = "asks for more than it may have")]
// Grantable on its own...
[assembly: ModuleCapability("/devices/disk0", Rights.Read, As = "disk")]
// ...but Manage on the disk is more than the loader holds, so the whole load must be refused.
[assembly: ModuleCapability("/devices/disk0", Rights.Read | Rights.Write | Rights.Manage, As = "disk-admin")]

namespace Photon.TestModule.Greedy;

public sealed class GreedyModule : IKernelModule
{
    /// <summary>Must never run: the loader refuses the module before starting it.</summary>
    public Task<Result> StartAsync(ModuleContext context, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("greedy module was started although its manifest cannot be granted");

    public Task<Result> StopAsync(CancellationToken cancellationToken) => Task.FromResult(Result.Ok);
}
