using Photon.Kernel.Capabilities;
using Photon.Kernel.Diagnostics.Monitoring;
using Photon.Kernel.Diagnostics.Tracing;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Syscalls;

/// <summary>
/// What `photon top` reads: the processes and tenants in the caller's own namespace subtree (a tenant sees only its
/// own), and kernel-wide figures only through a handle to the <see cref="SystemMonitor"/> with Read.
/// </summary>
public sealed class MonitorSyscalls(SystemMonitor monitor)
{
    /// <summary>The processes and tenant quotas the caller may see.</summary>
    public Result<MonitorSnapshot> Snapshot(Process caller)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.monitor.snapshot");
        if (KernelTrace.Enabled) KernelTrace.Instant(TracePoint.SyscallMonitor, caller.Pid, 0, "monitor snapshot");
        var scope = caller.NamespacePath;
        var (processes, tenants) = monitor.Scoped(scope);
        return new MonitorSnapshot(scope, processes, tenants, null);
    }

    /// <summary>Like <see cref="Snapshot(Process)"/>, plus the kernel-wide figures (needs Read on the monitor
    /// <paramref name="system"/> names).</summary>
    public Result<MonitorSnapshot> Snapshot(Process caller, Handle system)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.monitor.snapshot");
        var m = caller.Get<SystemMonitor>(system, Rights.Read);
        if (!m.IsOk) return m.Error;
        var scoped = Snapshot(caller);
        return scoped.IsOk ? scoped.Value with { System = m.Value.System() } : scoped;
    }
}
