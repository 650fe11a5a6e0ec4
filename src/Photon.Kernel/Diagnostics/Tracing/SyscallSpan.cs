using Photon.Kernel.Processes;

namespace Photon.Kernel.Diagnostics.Tracing;

/// <summary>
/// One trace span per system call, from entry to return (for an async call: to the completion of what it returns),
/// named by the call and carrying the calling process's pid. When tracing is off, entering reads one volatile bool and
/// the span is empty, so leaving it does nothing.
/// </summary>
internal readonly struct SyscallSpan : IDisposable
{
    private readonly long _start;
    private readonly int _pid;
    private readonly string? _call;

    private SyscallSpan(long start, int pid, string call)
    {
        _start = start;
        _pid = pid;
        _call = call;
    }

    public static SyscallSpan Enter(Process caller, string call) =>
        KernelTrace.Enabled ? new SyscallSpan(KernelTrace.Now, caller.Pid, call) : default;

    public void Dispose()
    {
        if (_start != 0) KernelTrace.Complete(TracePoint.SyscallCall, _start, _pid, 0, _call);
    }

    /// <summary>A span over a call that hands back a task without awaiting it: it ends when the task completes.</summary>
    public static ValueTask<T> Track<T>(Process caller, string call, ValueTask<T> task)
    {
        if (!KernelTrace.Enabled) return task;
        var span = Enter(caller, call);
        if (task.IsCompleted)
        {
            span.Dispose();
            return task;
        }
        return Ended(task, span);

        static async ValueTask<T> Ended(ValueTask<T> task, SyscallSpan span)
        {
            try { return await task.ConfigureAwait(false); }
            finally { span.Dispose(); }
        }
    }
}
