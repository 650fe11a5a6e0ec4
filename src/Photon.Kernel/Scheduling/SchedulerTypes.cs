namespace Photon.Kernel.Scheduling;

/// <summary>Run-queue priority of a kernel task. Higher priorities are served first; lower ones are aged so they still run.</summary>
public enum TaskPriority
{
    Low = 0,
    Normal = 1,
    High = 2,
    /// <summary>Always served first and never delayed by the anti-starvation aging of lower priorities.</summary>
    Realtime = 3,
}

/// <summary>Lifecycle of a kernel task.</summary>
public enum KernelTaskState
{
    /// <summary>Spawned, waiting in a run queue for its first turn.</summary>
    Queued,
    /// <summary>Executing on a CPU worker right now.</summary>
    Running,
    /// <summary>Started and suspended at an <c>await</c> (a timer, a waker, I/O, ...).</summary>
    Waiting,
    RanToCompletion,
    Faulted,
    Canceled,
}

/// <summary>Scheduler configuration.</summary>
/// <param name="Workers">CPU workers to run; 0 means every processor of the <see cref="Hal.IProcessorSet"/>.</param>
/// <param name="StarvationThreshold">A work item running longer than this without awaiting is reported (default 50 ms).</param>
/// <param name="FairnessBudget">
/// How many consecutive picks from a higher priority may pass over waiting lower-priority work before one lower item is
/// served (aging, so Low never starves). Realtime work is exempt.
/// </param>
/// <param name="Idle">Where idle CPUs park; defaults to the processor set itself when it implements <see cref="Hal.IProcessorIdleFactory"/>.</param>
/// <param name="Name">Prefix of the worker names (shows up in host thread names and reports).</param>
public sealed record SchedulerOptions(
    int Workers = 0,
    TimeSpan? StarvationThreshold = null,
    int FairnessBudget = 32,
    Hal.IProcessorIdleFactory? Idle = null,
    string Name = "photon-cpu")
{
    public static readonly TimeSpan DefaultStarvationThreshold = TimeSpan.FromMilliseconds(50);
}

/// <summary>A work item that ran too long without yielding the CPU.</summary>
/// <param name="Worker">CPU worker index the item ran on.</param>
/// <param name="TaskId">Kernel task id, or 0 for work that belongs to no kernel task.</param>
/// <param name="TaskName">Kernel task name (or a description of the untracked work).</param>
/// <param name="RunningFor">How long it had run without awaiting when reported.</param>
/// <param name="StillRunning">True when another CPU caught it in the act; false when it is reported after it finished.</param>
public sealed record StarvationReport(int Worker, int TaskId, string TaskName, TaskPriority Priority, TimeSpan RunningFor, bool StillRunning)
{
    public override string ToString() =>
        $"cpu {Worker}: task #{TaskId} '{TaskName}' ({Priority}) ran {RunningFor.TotalMilliseconds:F0} ms without awaiting{(StillRunning ? " and is still running" : "")}";
}

/// <summary>A snapshot of the scheduler's counters.</summary>
/// <param name="Completed">Kernel tasks that ran to completion.</param>
/// <param name="InFlight">Spawned kernel tasks that have not finished (queued, running or waiting).</param>
/// <param name="RunQueueLengths">Items queued on each CPU worker's local run queue.</param>
/// <param name="GlobalQueueLength">Items in the shared injection queue (work posted from non-kernel threads).</param>
/// <param name="Steals">Times a CPU took work from another CPU's queue.</param>
/// <param name="StarvationReports">Work items reported for running longer than the starvation threshold.</param>
/// <param name="ItemsExecuted">Work items (task starts and continuations) executed.</param>
/// <param name="PendingTimers">Timers armed in the timer wheel.</param>
public sealed record SchedulerStats(
    int Workers,
    long Spawned,
    long Completed,
    long Faulted,
    long Canceled,
    long InFlight,
    IReadOnlyList<int> RunQueueLengths,
    int GlobalQueueLength,
    long Steals,
    long StarvationReports,
    long ItemsExecuted,
    int PendingTimers);
