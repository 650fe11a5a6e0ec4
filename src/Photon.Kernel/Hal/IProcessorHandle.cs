namespace Photon.Kernel.Hal;

/// <summary>A loop running on one processor, as <see cref="IProcessorSet.Start"/> returned it.</summary>
public interface IProcessorHandle : IDisposable
{
    /// <summary>Stops the loop (cancels its token) and waits for it to return.</summary>
    void Stop();
}
