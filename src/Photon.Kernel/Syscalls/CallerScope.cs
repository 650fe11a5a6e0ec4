using Photon.Kernel.Capabilities;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Syscalls;

/// <summary>
/// What part of the system a caller may observe: the subtree of its own namespace, and only while its namespace
/// capability is live with Enumerate. The introspection calls (process listing, another process's capabilities,
/// audit tail, quota usage) all scope by this one rule, so a tenant never learns about another tenant.
/// </summary>
internal static class CallerScope
{
    /// <summary>The caller's namespace path, checked through its own capability (needs Enumerate).</summary>
    public static Result<string> Of(Process caller, CapabilityManager caps)
    {
        if (caller.State != ProcessState.Running) return Errors.Of(ErrorCode.Closed, $"{caller} has exited");
        var ns = caps.Check<Namespace>(caller.NamespaceCapability, Rights.Enumerate, caller.Principal);
        return ns.IsOk ? ns.Value.Path : ns.Error;
    }

    /// <summary>True when <paramref name="path"/> is <paramref name="scope"/> or below it ("/t" covers "/t/x", not "/tx").</summary>
    public static bool Covers(string scope, string path) =>
        scope == "/" || path == scope || (path.StartsWith(scope, StringComparison.Ordinal) && path.Length > scope.Length && path[scope.Length] == '/');
}
