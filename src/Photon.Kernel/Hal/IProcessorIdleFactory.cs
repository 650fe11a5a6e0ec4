namespace Photon.Kernel.Hal;

/// <summary>Creates idle primitives; separate from <see cref="IProcessorSet"/> so tests can supply their own.</summary>
public interface IProcessorIdleFactory
{
    IProcessorIdle Create();
}
