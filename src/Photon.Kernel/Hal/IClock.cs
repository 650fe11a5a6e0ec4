namespace Photon.Kernel.Hal;

/// <summary>The platform's time source. Monotonic time drives timers; wall time is only for logs and audit.</summary>
public interface IClock
{
    /// <summary>Monotonic time since boot. Never goes backwards.</summary>
    TimeSpan Monotonic { get; }

    /// <summary>Wall-clock time (may jump); never use it for timeouts.</summary>
    DateTimeOffset WallClock { get; }
}

/// <summary>The platform's console: where the kernel log and CLI reports go.</summary>
public interface IConsole
{
    void Write(string text);
    void WriteLine(string text);
}

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

public interface IProcessorHandle : IDisposable
{
    /// <summary>Stops the loop (cancels its token) and waits for it to return.</summary>
    void Stop();
}

/// <summary>
/// An idle/wake primitive per processor: a CPU with nothing to run parks here (HLT) and is woken by another CPU or an
/// interrupt-like event (IPI).
/// </summary>
public interface IProcessorIdle
{
    /// <summary>Parks the calling processor until <see cref="Wake"/> or the timeout, whichever is first.</summary>
    void Park(TimeSpan timeout);
    void Wake();
}

/// <summary>Creates idle primitives; separate from <see cref="IProcessorSet"/> so tests can supply their own.</summary>
public interface IProcessorIdleFactory
{
    IProcessorIdle Create();
}
