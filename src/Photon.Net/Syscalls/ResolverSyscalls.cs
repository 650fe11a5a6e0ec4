using Photon.Kernel.Diagnostics.Tracing;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Processes;
using Photon.Net.Dns;

namespace Photon.Net.Syscalls;

/// <summary>
/// Name lookups for processes: the handle names a <see cref="ResolverObject"/> (<c>/net/dns</c>, or a copy a parent
/// delegated); Read resolves, Manage sets the servers. The queries are the kernel's (its resolver, cache and sockets),
/// so the caller needs no UDP grant of its own — but they are made for the caller's tenant: its share of the cache and
/// of the slots, charged to its quota. A lookup ends when the caller's process does, giving its slot back.
/// </summary>
public static class ResolverSyscalls
{
    public static async Task<Result<DnsLookup>> ResolveAsync(Process caller, Handle resolver, string host, DnsType type = DnsType.A, CancellationToken ct = default)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.dns.resolve");
        var r = caller.Get<ResolverObject>(resolver, Rights.Read);
        if (!r.IsOk) return r.Error;
        using var untilExit = CancellationTokenSource.CreateLinkedTokenSource(ct, caller.Lifetime);
        return await r.Value.Resolver.ResolveAsync(caller.Principal, host, type, untilExit.Token).ConfigureAwait(false);
    }

    /// <summary>The resolver's servers (needs Read).</summary>
    public static Result<IReadOnlyList<IpEndpoint>> Servers(Process caller, Handle resolver)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.dns.servers");
        var r = caller.Get<ResolverObject>(resolver, Rights.Read);
        return r.IsOk ? Result<IReadOnlyList<IpEndpoint>>.Success(r.Value.Resolver.Servers) : r.Error;
    }

    /// <summary>Replaces the servers (needs Manage): what `net up --dhcp` does with a lease's DNS option.</summary>
    public static Result SetServers(Process caller, Handle resolver, IReadOnlyList<IpEndpoint> servers)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.dns.set_servers");
        var r = caller.Get<ResolverObject>(resolver, Rights.Manage);
        return r.IsOk ? r.Value.Resolver.SetServers(servers) : r.Error;
    }
}
