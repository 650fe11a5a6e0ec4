namespace Photon.Kernel.Hal;

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
