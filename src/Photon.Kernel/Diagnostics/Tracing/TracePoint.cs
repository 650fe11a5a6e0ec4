namespace Photon.Kernel.Diagnostics.Tracing;

/// <summary>The subsystem an event belongs to (the "cat" field of the Chrome trace event format).</summary>
public enum TraceCategory : byte { Scheduler, Ipc, BlockIo, Nic, Capability, Syscall }

/// <summary>How an event spans time: an instant, the begin or end of a span on one thread, or a complete span
/// recorded at its end with its duration ("i", "B", "E" and "X" in the Chrome trace event format).</summary>
public enum TracePhase : byte { Instant, Begin, End, Complete }

/// <summary>What happened. Each point belongs to one <see cref="TraceCategory"/> (<see cref="TracePoints.CategoryOf"/>).</summary>
public enum TracePoint : byte
{
    // Scheduler: a0 = task id unless noted.
    TaskSpawn,
    /// <summary>One work item of a task on a CPU worker (a B/E span; a0 = task id, 0 for work outside kernel tasks).</summary>
    TaskRun,
    /// <summary>The item ended with the task suspended at an await.</summary>
    TaskBlock,
    /// <summary>A continuation of a suspended task was queued (its await completed).</summary>
    TaskWake,
    /// <summary>A CPU took work from another CPU's queue (a0 = victim CPU, a1 = items taken).</summary>
    TaskSteal,
    /// <summary>An item ran longer than the starvation threshold without awaiting (a1 = µs it ran).</summary>
    TaskStarved,
    /// <summary>The task finished (a1 = final <see cref="Scheduling.KernelTaskState"/>).</summary>
    TaskFinish,
    // IPC: a0 = bytes, a1 = handles moved.
    IpcSend,
    IpcReceive,
    // Block I/O: an X span from submission to completion; a0 = bytes, a1 = 1 when it failed.
    BlockRead,
    BlockWrite,
    BlockFlush,
    // NIC: TX is an X span from handing the batch to the driver to its completion; a0 = frames, a1 = bytes.
    NicTransmit,
    NicReceive,
    // Capabilities: a0 = object kind, a1 = rights (for Deny: the error code in the label).
    CapCreate,
    CapDerive,
    CapTransfer,
    CapRevoke,
    CapDeny,
    // Syscalls: the handle check every process-facing call makes (a0 = pid, a1 = handle; label = object type, and
    // "denied" when it failed), plus the trace and monitor calls themselves; SyscallCall is an X span per system call
    // from entry to return (a0 = pid; label = the call, which is also the event's name).
    SyscallHandle,
    SyscallTrace,
    SyscallMonitor,
    SyscallCall,
}

public static class TracePoints
{
    public static TraceCategory CategoryOf(TracePoint p) => p switch
    {
        <= TracePoint.TaskFinish => TraceCategory.Scheduler,
        <= TracePoint.IpcReceive => TraceCategory.Ipc,
        <= TracePoint.BlockFlush => TraceCategory.BlockIo,
        <= TracePoint.NicReceive => TraceCategory.Nic,
        <= TracePoint.CapDeny => TraceCategory.Capability,
        _ => TraceCategory.Syscall,
    };

    /// <summary>The event name shown in the trace viewer.</summary>
    public static string NameOf(TracePoint p) => p switch
    {
        TracePoint.TaskSpawn => "spawn",
        TracePoint.TaskRun => "run",
        TracePoint.TaskBlock => "block",
        TracePoint.TaskWake => "wake",
        TracePoint.TaskSteal => "steal",
        TracePoint.TaskStarved => "starvation",
        TracePoint.TaskFinish => "finish",
        TracePoint.IpcSend => "ipc.send",
        TracePoint.IpcReceive => "ipc.receive",
        TracePoint.BlockRead => "block.read",
        TracePoint.BlockWrite => "block.write",
        TracePoint.BlockFlush => "block.flush",
        TracePoint.NicTransmit => "nic.tx",
        TracePoint.NicReceive => "nic.rx",
        TracePoint.CapCreate => "cap.create",
        TracePoint.CapDerive => "cap.derive",
        TracePoint.CapTransfer => "cap.transfer",
        TracePoint.CapRevoke => "cap.revoke",
        TracePoint.CapDeny => "cap.deny",
        TracePoint.SyscallHandle => "syscall.handle",
        TracePoint.SyscallTrace => "syscall.trace",
        TracePoint.SyscallMonitor => "syscall.monitor",
        TracePoint.SyscallCall => "syscall",
        _ => p.ToString(),
    };

    public static string NameOf(TraceCategory c) => c switch
    {
        TraceCategory.Scheduler => "sched",
        TraceCategory.Ipc => "ipc",
        TraceCategory.BlockIo => "blockio",
        TraceCategory.Nic => "nic",
        TraceCategory.Capability => "cap",
        _ => "syscall",
    };
}
