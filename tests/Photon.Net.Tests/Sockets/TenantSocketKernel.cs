using Photon.Kernel.Capabilities;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Quotas;
using Photon.Net.Sockets;
using Photon.Net.Syscalls;

namespace Photon.Net.Tests.Sockets;

/// <summary>
/// The kernel the socket quota tests share: two stacks on an in-memory wire, the socket service of the right one
/// registered as the syscall layer's sockets with tenant quotas, and two tenant namespaces, <c>/tenant-a</c> and
/// <c>/tenant-b</c>, that each test grants its ports to.
/// </summary>
internal sealed class TenantSocketKernel : IAsyncDisposable
{
    public readonly PhysicalMemory Phys = new(8 * 1024 * 1024);
    public readonly CapabilityManager Caps = new();
    public readonly NamespaceManager Ns;
    public readonly ProcessManager Pm;
    public readonly TenantQuotas Quotas = new();
    public readonly TwoStacks Net;
    public readonly SocketService Sockets;
    public readonly CapabilityToken TenantA, TenantB;

    public TenantSocketKernel(NetworkStackOptions? options = null, SocketQuotaOptions? quota = null)
    {
        Net = new TwoStacks(options: options);
        Ns = new NamespaceManager(Caps);
        Pm = new ProcessManager(Caps, Ns, new MemoryManager(Phys, Caps));
        Sockets = new SocketService(Net.Right, Caps) { Quota = new SocketQuota(Quotas, quota) };
        SocketSyscalls.Register(Caps, Sockets).Unwrap();
        TenantA = Ns.CreateChild(Ns.RootCapability, "tenant-a").Value;
        TenantB = Ns.CreateChild(Ns.RootCapability, "tenant-b").Value;
    }

    /// <summary>A tenant's memory-quota charge and the socket layer's own books of it, read together under the stack
    /// lock every charge and refund runs under (read apart, a refund between the two reads makes them differ).</summary>
    public (long Charged, long Books) Charges(string tenant)
    {
        lock (Net.Right.Gate) return (Quotas.Usage(tenant).MemoryBytes, Sockets.Quota.UsageOf(tenant).BufferBytes);
    }

    public async ValueTask DisposeAsync()
    {
        SocketSyscalls.Unregister(Caps);
        await Net.DisposeAsync();
        Phys.Dispose();
    }
}
