using Photon.Kernel.Capabilities;

namespace Photon.Net.Dns;

/// <summary>
/// The kernel's DNS resolver as a capability: <see cref="Rights.Read"/> looks names up (and lets
/// <c>SocketSyscalls.ConnectAsync</c> take a host name), <see cref="Rights.Manage"/> sets the servers. The network
/// component binds it at <c>/net/dns</c>; a process without it cannot make the kernel send queries for it.
/// </summary>
public sealed class ResolverObject(DnsResolver resolver) : KernelObject("dns:resolver")
{
    public override ObjectKind Kind => ObjectKind.DnsResolver;

    public DnsResolver Resolver { get; } = resolver;
}
