namespace Photon.Kernel.Diagnostics.Monitoring;

/// <summary>CPU time charged to one process: the scheduler adds each work item's run time (HAL clock ticks) to the
/// account of the task that ran it. Items of one process run on several CPUs at once, hence the atomic add.</summary>
internal sealed class CpuAccount
{
    private long _ticks;

    public TimeSpan Used => TimeSpan.FromTicks(Interlocked.Read(ref _ticks));

    public void Charge(long ticks)
    {
        if (ticks > 0) Interlocked.Add(ref _ticks, ticks);
    }
}
