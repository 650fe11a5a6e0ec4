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
