using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Hal.Host;

/// <summary>Builds the Linux host platform a kernel boots on: host clock, stdout, host threads as CPUs, host signals
/// and a host timer as interrupts, module images and disk images from files, TAP devices as network devices.</summary>
public static class LinuxPlatform
{
    /// <param name="processors">CPUs (dedicated host threads) offered to the scheduler; 0 means one per host core.</param>
    /// <param name="captureSignals">Turn SIGINT/SIGTERM into the shutdown interrupt (the CLI does; tests don't).</param>
    /// <param name="networkOffloads">Open TAP devices with checksum and segmentation offload (IFF_VNET_HDR).</param>
    public static Platform Create(int processors = 0, bool captureSignals = false, bool networkOffloads = true) => new()
    {
        Name = "linux-host",
        Clock = new HostClock(),
        Console = new HostConsole(),
        Processors = new HostProcessors(processors),
        Interrupts = new HostInterruptController(captureSignals),
        ModuleImages = new HostModuleImageSource(),
        Storage = new HostStorageSource(),
        Network = new Net.HostNetworkSource(networkOffloads),
    };

    /// <summary>A scheduler on dedicated host threads (one per worker) and the host clock, without a kernel around it
    /// (scheduler tests, benchmarks).</summary>
    public static KernelScheduler CreateScheduler(SchedulerOptions? options = null) =>
        new(new HostProcessors(options?.Workers ?? 0), new HostClock(), options);
}
