namespace Photon.Kernel.Hal.Pci;

/// <summary>One device interrupt vector (an MSI-X eventfd on the Linux backend). <see cref="WaitAsync"/> completes
/// once per batch of interrupts that fired since the last wait and returns how many; drivers then poll their rings,
/// so a lost count never loses completions.</summary>
public interface IDeviceInterrupt : IDisposable
{
    int Vector { get; }
    ValueTask<long> WaitAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Runs <paramref name="handler"/> on the interrupt line itself each time the vector fires — a top half, like an
    /// interrupt handler that reaps its completion ring and wakes the waiters — instead of waking a task that then does
    /// it (one thread hop less per interrupt). The handler must be short and must not block. False when the backend
    /// has no such line; <see cref="WaitAsync"/> still works either way.
    /// </summary>
    bool TryHandleOnLine(Action handler) => false;
}
