using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Diagnostics.Tracing;

/// <summary>The scheduler's trace points, kept here so each site in the scheduler is one guarded line.</summary>
internal static class SchedulerTrace
{
    public static void Spawned(KernelTask task) => KernelTrace.Instant(TracePoint.TaskSpawn, task.Id, 0, task.Name);

    public static void ItemStarted(KernelTask? owner) => KernelTrace.Begin(TracePoint.TaskRun, owner?.Id ?? 0, 0, owner?.Name);

    /// <summary>The item ended; a task that is not finished is now blocked at an await.</summary>
    public static void ItemEnded(KernelTask? owner)
    {
        KernelTrace.End(TracePoint.TaskRun, owner?.Id ?? 0, 0, owner?.Name);
        if (owner is { IsFinished: false }) KernelTrace.Instant(TracePoint.TaskBlock, owner.Id, 0, owner.Name);
    }

    public static void Woken(KernelTask task) => KernelTrace.Instant(TracePoint.TaskWake, task.Id, 0, task.Name);

    public static void Stole(int victim, int items) => KernelTrace.Instant(TracePoint.TaskSteal, victim, items);

    public static void Starved(StarvationReport r) =>
        KernelTrace.Instant(TracePoint.TaskStarved, r.TaskId, (long)r.RunningFor.TotalMicroseconds, r.TaskName);

    public static void Finished(KernelTask task, KernelTaskState final) =>
        KernelTrace.Instant(TracePoint.TaskFinish, task.Id, (long)final, task.Name);
}
