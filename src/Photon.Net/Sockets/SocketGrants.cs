using Photon.Kernel;
using Photon.Kernel.Processes;

namespace Photon.Net.Sockets;

/// <summary>
/// Grants as system calls: the process that runs the socket service (init, or an administrator it spawned) creates a
/// grant into its own handle table, binds it into a tenant's namespace with the namespace syscalls, and revokes it by
/// closing the handle.
/// </summary>
public static class SocketGrants
{
    /// <summary>A port-range grant (Bind, Listen, Delegate, Transfer) in the caller's handle table.</summary>
    internal static Result<Handle> GrantPorts(this SocketService sockets, Process caller, TransportProtocol protocol, ushort low, ushort high)
    {
        if (caller.State != ProcessState.Running) return Errors.Of(ErrorCode.Closed, $"{caller} has exited");
        var grant = sockets.GrantPorts(protocol, low, high, caller.Principal);
        return grant.IsOk ? caller.AddHandle(grant.Value) : grant.Error;
    }
}
