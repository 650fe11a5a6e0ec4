using Photon.Kernel.Capabilities;

namespace Photon.Kernel.Io;

/// <summary>
/// A block device as a kernel object: what <c>/dev/&lt;name&gt;</c> binds and what a mount is made through. Both the
/// NVMe-style device over HAL storage and the real NVMe driver over PCI are one; <see cref="Open"/> gives the
/// filesystem an <see cref="IBlockDevice"/> that sends every request with <paramref name="capability"/>, so revoking it
/// cuts the mount off.
/// </summary>
public abstract class BlockDeviceObject(string label) : KernelObject(label)
{
    public abstract IBlockDevice Open(CapabilityToken capability, Principal actor = default);
}
