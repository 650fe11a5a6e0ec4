namespace Photon.Kernel.Boot;

/// <summary>
/// One part of the system the kernel brings up from <see cref="KernelConfig.Components"/>: a block device, a mount, a
/// tenant, the network stack, the sandbox. Components start in order after <c>init</c>, each as one logged boot step,
/// and stop in reverse when the kernel is disposed. What processes need from a component is exposed only as
/// capabilities bound in the namespace (<c>/dev/nvme0</c>, <c>/net/tcp</c>, <c>/sandbox</c>), which init and the
/// processes it spawns look up through system calls — never as a public object.
/// </summary>
/// <remarks>
/// <see cref="StopAsync"/> is called for every component whose <see cref="StartAsync"/> was entered, including one that
/// failed (then every component before it is stopped too, and boot returns the error), so it must undo exactly what was
/// done and tolerate a partial start. Both run as kernel tasks on the scheduler.
/// </remarks>
public interface IKernelComponent
{
    /// <summary>The boot step's name ("tenant /tenant-a", "blockdev fat0").</summary>
    string Name { get; }

    /// <summary>Brings the component up; the string is the boot log's detail for the step.</summary>
    ValueTask<Result<string>> StartAsync(PhotonKernel k, CancellationToken ct);

    ValueTask StopAsync();
}
