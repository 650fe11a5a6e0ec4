namespace Photon.Kernel.Hal;

/// <summary>
/// Interrupt-like event sources. A handler runs on whatever context raised the interrupt (a host thread on the host
/// backend), so handlers must be short and non-blocking: the kernel's handlers just wake a kernel task.
/// </summary>
public interface IInterruptController : IDisposable
{
    /// <summary>Installs a handler; dispose the returned registration to remove it.</summary>
    IDisposable Register(int vector, Action<int> handler);

    /// <summary>Raises an interrupt from software (device emulation, inter-processor signals, tests).</summary>
    void Raise(int vector);

    /// <summary>Starts the periodic timer interrupt (<see cref="InterruptVectors.Timer"/>).</summary>
    void StartTimer(TimeSpan period);

    /// <summary>How many times each vector has fired.</summary>
    long Count(int vector);
}
