using Photon.Kernel.Audit;
using Photon.Kernel.Capabilities;

namespace Photon.Kernel.Diagnostics.Tracing;

/// <summary>Capability trace points: every audited capability event (create, derive, delegate, transfer, revoke,
/// deny) also goes to the trace, from the capability manager's one audit site.</summary>
internal static class CapabilityTrace
{
    public static void Event(AuditAction action, KernelObject? obj, Rights rights, string? detail)
    {
        var point = action switch
        {
            AuditAction.Create => TracePoint.CapCreate,
            AuditAction.Derive or AuditAction.Delegate => TracePoint.CapDerive,
            AuditAction.Transfer => TracePoint.CapTransfer,
            AuditAction.Revoke => TracePoint.CapRevoke,
            _ => TracePoint.CapDeny,
        };
        KernelTrace.Instant(point, (long)(obj?.Kind ?? ObjectKind.Generic), (long)rights, detail);
    }
}
