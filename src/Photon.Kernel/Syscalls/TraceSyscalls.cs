using Photon.Kernel.Capabilities;
using Photon.Kernel.Diagnostics.Tracing;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Syscalls;

/// <summary>
/// Starting and stopping the kernel's trace session (`photon trace`, the shell's `trace start|stop`). Both need Manage
/// on the <see cref="TraceControl"/> the handle names (bound at <c>/kernel/trace</c>). Stop hands back the capture;
/// <see cref="ChromeTraceWriter"/> turns it into a Chrome/Perfetto trace.
/// </summary>
public sealed class TraceSyscalls
{
    /// <summary>Starts recording with <paramref name="recordsPerThread"/> records per thread ring. Busy while a session
    /// records; InvalidArgument for a ring size outside <see cref="KernelTrace.MinRecordsPerThread"/>..<see cref="KernelTrace.MaxRecordsPerThread"/>.</summary>
    public Result Start(Process caller, Handle trace, int recordsPerThread = KernelTrace.DefaultRecordsPerThread)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.trace.start");
        var t = caller.Get<TraceControl>(trace, Rights.Manage);
        if (!t.IsOk) return t.Error;
        var r = KernelTrace.Start(recordsPerThread);
        if (r.IsOk) KernelTrace.Instant(TracePoint.SyscallTrace, caller.Pid, 1, "trace start");
        return r;
    }

    /// <summary>Stops recording and returns what was recorded. NotFound when nothing records.</summary>
    public Result<TraceCapture> Stop(Process caller, Handle trace)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.trace.stop");
        var t = caller.Get<TraceControl>(trace, Rights.Manage);
        if (!t.IsOk) return t.Error;
        if (KernelTrace.Enabled) KernelTrace.Instant(TracePoint.SyscallTrace, caller.Pid, 0, "trace stop");
        return KernelTrace.Stop();
    }

    /// <summary>Whether a session records now (needs Read).</summary>
    public Result<bool> IsRecording(Process caller, Handle trace)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.trace.is_recording");
        var t = caller.Get<TraceControl>(trace, Rights.Read);
        return t.IsOk ? KernelTrace.IsRecording : t.Error;
    }
}
