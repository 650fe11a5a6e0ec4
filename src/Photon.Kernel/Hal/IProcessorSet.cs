namespace Photon.Kernel.Hal;

/// <summary>
/// The processors the kernel may run its scheduler loops on. On the host backend each CPU is a dedicated host thread;
/// on bare metal it would be a core brought up by the boot processor.
/// </summary>
public interface IProcessorSet
{
    int Count { get; }

    /// <summary>Starts <paramref name="loop"/> on processor <paramref name="cpu"/>; it must return when the token is cancelled.</summary>
    IProcessorHandle Start(int cpu, string name, Action<CancellationToken> loop);
}
