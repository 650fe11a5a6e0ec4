namespace Photon.Kernel.Hal;

/// <summary>Well-known interrupt vectors of the platform.</summary>
public static class InterruptVectors
{
    /// <summary>Periodic timer tick.</summary>
    public const int Timer = 32;
    /// <summary>The operator asked the machine to stop (Ctrl-C / SIGINT on the host, the power button on metal).</summary>
    public const int Shutdown = 33;
    /// <summary>First vector free for devices (block completions, NIC receive).</summary>
    public const int FirstDevice = 48;
    public const int Count = 256;
}

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
