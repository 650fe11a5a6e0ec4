using Photon.Kernel.Capabilities;
using Photon.Kernel.Quotas;

namespace Photon.Net.Sockets;

/// <summary>Limits of what one tenant's sockets may make the kernel hold beside their capabilities.</summary>
public sealed record SocketQuotaOptions
{
    /// <summary>Ephemeral ports one tenant may hold at once (outbound TCP connections until they are gone, TIME_WAIT
    /// included, and UDP sockets bound to port 0): a quarter of the kernel-wide range of 16,384, so one tenant cannot
    /// take them all from the others.</summary>
    public int EphemeralPortsPerTenant { get; init; } = 4096;
}

/// <summary>What one tenant's sockets hold now: bytes of socket buffers charged to its memory quota, ephemeral ports.</summary>
public sealed record SocketUsage(string Tenant, long BufferBytes, int EphemeralPorts);

/// <summary>
/// The socket layer's per-tenant bookkeeping (Photon's rule, as for the resolver's <c>DnsTenantShares</c>: what a tenant
/// makes the kernel hold is bounded per tenant and charged to it). Every caller's principal maps to its tenant's
/// <see cref="SocketAccount"/>; principals outside any tenant (the kernel, init) get none and are charged nothing.
/// Accounts live as long as the quota (one per tenant that ever opened a socket).
/// </summary>
public sealed class SocketQuota(TenantQuotas? quotas = null, SocketQuotaOptions? options = null)
{
    private readonly Dictionary<string, SocketAccount> _accounts = new(StringComparer.Ordinal);
    private readonly SocketQuotaOptions _options = options ?? new SocketQuotaOptions();

    public SocketQuotaOptions Options => _options;

    /// <summary>The account of <paramref name="caller"/>'s tenant; null for the kernel and root-level principals.</summary>
    internal SocketAccount? AccountOf(Principal caller)
    {
        if (TenantQuotas.TenantOf(caller) is not { } tenant) return null;
        lock (_accounts)
        {
            if (!_accounts.TryGetValue(tenant, out var a))
                _accounts[tenant] = a = new SocketAccount(tenant, caller, quotas, _options.EphemeralPortsPerTenant);
            return a;
        }
    }

    /// <summary>The tenant's usage ("/tenant-a"); zeros when it never opened a socket.</summary>
    public SocketUsage UsageOf(string tenant)
    {
        lock (_accounts) return _accounts.TryGetValue(tenant, out var a) ? a.Usage : new SocketUsage(tenant, 0, 0);
    }
}
