namespace Photon.Kernel.Hal.Pci;

/// <summary>One device interrupt vector (an MSI-X eventfd on the Linux backend). <see cref="WaitAsync"/> completes
/// once per batch of interrupts that fired since the last wait and returns how many; drivers then poll their rings,
/// so a lost count never loses completions.</summary>
public interface IDeviceInterrupt : IDisposable
{
    int Vector { get; }
    ValueTask<long> WaitAsync(CancellationToken cancellationToken);
}
