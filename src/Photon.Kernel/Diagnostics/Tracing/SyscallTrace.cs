using Photon.Kernel.Processes;

namespace Photon.Kernel.Diagnostics.Tracing;

/// <summary>Trace points of the syscall layer. Every process-facing call resolves its handles through
/// <c>Process.GetWithToken</c>, so that one site sees every call that names an object.</summary>
internal static class SyscallTrace
{
    public static void HandleCheck(Process caller, Handle handle, Type objectType, bool found) =>
        KernelTrace.Instant(TracePoint.SyscallHandle, caller.Pid, handle.Value, found ? objectType.Name : "invalid handle");
}
