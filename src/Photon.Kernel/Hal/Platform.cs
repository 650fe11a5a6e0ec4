using Photon.Kernel.Modules;

namespace Photon.Kernel.Hal;

/// <summary>
/// The machine a kernel boots on: every platform service boot and the scheduler need, built by a backend
/// (<c>LinuxPlatform.Create()</c> in Photon.Hal.Linux) and handed in through <see cref="Boot.KernelConfig.Platform"/>,
/// so the kernel assembly names no backend and a bare-metal one can be dropped in beside the host one.
/// </summary>
/// <remarks>One platform is one machine: the kernel booted on it owns the interrupt controller and disposes it at
/// shutdown, so boot a second kernel on a fresh platform.</remarks>
public sealed record Platform
{
    /// <summary>What the boot log calls the platform ("linux-host").</summary>
    public required string Name { get; init; }

    public required IClock Clock { get; init; }

    public required IConsole Console { get; init; }

    /// <summary>The CPUs the scheduler runs on (it parks idle ones through the set's <see cref="IProcessorIdleFactory"/>).</summary>
    public required IProcessorSet Processors { get; init; }

    public required IInterruptController Interrupts { get; init; }

    /// <summary>Where module assemblies are read from.</summary>
    public required IModuleImageSource ModuleImages { get; init; }

    /// <summary>Persistent storage units (disk images on the host), opened by block-device boot components; null when
    /// the platform has none.</summary>
    public IBlockStorageSource? Storage { get; init; }

    /// <summary>Network devices (TAP interfaces on the host), opened by network boot components; null when the
    /// platform has none.</summary>
    public INetworkDeviceSource? Network { get; init; }

    /// <summary>PCI functions drivers may own (VFIO inside the Photon VM); null on platforms without device access.</summary>
    public Pci.IPciBus? Pci { get; init; }
}
