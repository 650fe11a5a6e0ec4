using Photon.Kernel.Audit;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Diagnostics.Tracing;
using Photon.Kernel.Processes;
using Photon.Kernel.Quotas;

namespace Photon.Kernel.Syscalls;

/// <summary>What a caller may learn about a process it can see: never the process object or its tokens.</summary>
public sealed record ProcessInfo(int Pid, string Name, string Namespace, int Handles, int Tasks, ProcessState State);

/// <summary>One audit event as a caller sees it (the tokens are left out).</summary>
public sealed record AuditEntry(AuditAction Action, DateTimeOffset Time, string Subject, string Namespace, ObjectKind ObjectKind,
    string ObjectLabel, Rights Rights, ErrorCode Error, string Detail);

/// <summary>A tenant's quota as its members (or an administrator above it) see it.</summary>
public sealed record QuotaInfo(QuotaUsage Usage, QuotaLimits Limits);

/// <summary>
/// Read-only system calls a shell or monitor makes to look at the kernel: processes, their capabilities, recent audit
/// events and quota use. Each is scoped by <see cref="CallerScope"/> to the caller's own namespace subtree — a
/// tenant's shell sees its tenant and nothing else; a process outside the scope is reported as not found (so its
/// existence does not leak) — and returns records, never kernel objects or tokens.
/// </summary>
public sealed class IntrospectionSyscalls(ProcessManager processes, InMemoryAuditSink? recentAudit, TenantQuotas? quotas)
{
    /// <summary>Most audit events one <see cref="AuditTail"/> returns.</summary>
    public const int MaxAuditTail = 1000;

    private CapabilityManager Caps => processes.Capabilities;

    /// <summary>The processes in the caller's namespace subtree (needs Enumerate on the caller's namespace).</summary>
    public Result<IReadOnlyList<ProcessInfo>> ListProcesses(Process caller)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.introspect.list_processes");
        var scope = CallerScope.Of(caller, Caps);
        if (!scope.IsOk) return scope.Error;
        return processes.All.Where(p => CallerScope.Covers(scope.Value, p.NamespacePath))
            .Select(p => new ProcessInfo(p.Pid, p.Name, p.NamespacePath, p.HandleCount, p.LiveTasks, p.State)).ToArray();
    }

    /// <summary>The live handles of process <paramref name="pid"/>, if it is in the caller's subtree (else NotFound).</summary>
    public Result<IReadOnlyList<HandleInfo>> CapabilitiesOf(Process caller, int pid)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.introspect.capabilities_of");
        var scope = CallerScope.Of(caller, Caps);
        if (!scope.IsOk) return scope.Error;
        var target = processes.Get(pid);
        if (!target.IsOk || !CallerScope.Covers(scope.Value, target.Value.NamespacePath))
            return Errors.Of(ErrorCode.NotFound, $"no process {pid} in {scope.Value}");
        var handles = new HandleSyscalls(Caps);
        var rows = new List<HandleInfo>();
        foreach (var (h, _) in target.Value.Handles.Snapshot())
            if (handles.Inspect(target.Value, h) is { IsOk: true } info) rows.Add(info.Value);
        return rows;
    }

    /// <summary>The last <paramref name="count"/> (1..<see cref="MaxAuditTail"/>) audit events that happened in the
    /// caller's subtree, oldest first.</summary>
    public Result<IReadOnlyList<AuditEntry>> AuditTail(Process caller, int count)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.introspect.audit_tail");
        if (count < 1 || count > MaxAuditTail) return Errors.Of(ErrorCode.InvalidArgument, $"audit tail takes 1..{MaxAuditTail} events");
        var scope = CallerScope.Of(caller, Caps);
        if (!scope.IsOk) return scope.Error;
        if (recentAudit is null) return Errors.Of(ErrorCode.NotSupported, "this kernel keeps no recent audit events");
        var events = recentAudit.Snapshot();
        var rows = new List<AuditEntry>();
        for (int i = events.Count - 1; i >= 0 && rows.Count < count; i--)
        {
            var e = events[i];
            if (CallerScope.Covers(scope.Value, e.Namespace))
                rows.Add(new AuditEntry(e.Action, e.Time, e.Subject, e.Namespace, e.ObjectKind, e.ObjectLabel, e.Rights, e.Error, e.Detail));
        }
        rows.Reverse();
        return rows;
    }

    /// <summary>Usage and limits of the tenants in the caller's subtree: its own tenant when it is in one, every
    /// tenant with an account when it is at the root.</summary>
    public Result<IReadOnlyList<QuotaInfo>> Quotas(Process caller)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.introspect.quotas");
        var scope = CallerScope.Of(caller, Caps);
        if (!scope.IsOk) return scope.Error;
        if (quotas is null) return Errors.Of(ErrorCode.NotSupported, "this kernel has no tenant quotas");
        var own = TenantQuotas.TenantOf(caller.Principal);
        IReadOnlyList<string> tenants = own is not null ? [own] : quotas.Tenants;
        return tenants.Select(t => new QuotaInfo(quotas.Usage(t), quotas.LimitsOf(t))).ToArray();
    }
}
