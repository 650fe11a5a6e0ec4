using System.Diagnostics;

namespace Photon.Kernel.Drivers.Nvme;

/// <summary>
/// Where an NVMe I/O's time and wake-ups go, summed over a queue pair (issue #17's "measure first"): doorbell writes,
/// CQ polls (and how many found nothing), who reaped each completion (the submitting thread itself or another one —
/// the reaper task or another submitter — which costs the caller a thread hop), reaper wake-ups, and three intervals in
/// <see cref="Stopwatch"/> ticks: submit (entry to SQ doorbell), device (doorbell to the completion being seen) and
/// wake (completion seen to the caller running again). On the poll queue: <c>SpinsCut</c>, submitters' spins stopped because
/// other commands were in flight (<c>SleepPollsCut</c>: the sleep-poller's polls stopped for the same reason), and <c>ReapedAside</c>, its completions reaped by an
/// interrupt queue's line in passing.
/// </summary>
public readonly record struct NvmeIoCounters(long Commands, long SqDoorbells, long CqDoorbells, long Polls, long EmptyPolls,
    long ReapedInline, long ReapedElsewhere, long ThreadHops, long ReaperWakes, long SubmitTicks, long DeviceTicks, long WakeTicks,
    long SpinsCut = 0, long ReapedAside = 0, long SleepPollsCut = 0)
{
    public static NvmeIoCounters operator +(NvmeIoCounters a, NvmeIoCounters b) => new(a.Commands + b.Commands,
        a.SqDoorbells + b.SqDoorbells, a.CqDoorbells + b.CqDoorbells, a.Polls + b.Polls, a.EmptyPolls + b.EmptyPolls,
        a.ReapedInline + b.ReapedInline, a.ReapedElsewhere + b.ReapedElsewhere, a.ThreadHops + b.ThreadHops, a.ReaperWakes + b.ReaperWakes,
        a.SubmitTicks + b.SubmitTicks, a.DeviceTicks + b.DeviceTicks, a.WakeTicks + b.WakeTicks, a.SpinsCut + b.SpinsCut, a.ReapedAside + b.ReapedAside, a.SleepPollsCut + b.SleepPollsCut);

    public static NvmeIoCounters operator -(NvmeIoCounters a, NvmeIoCounters b) => new(a.Commands - b.Commands,
        a.SqDoorbells - b.SqDoorbells, a.CqDoorbells - b.CqDoorbells, a.Polls - b.Polls, a.EmptyPolls - b.EmptyPolls,
        a.ReapedInline - b.ReapedInline, a.ReapedElsewhere - b.ReapedElsewhere, a.ThreadHops - b.ThreadHops, a.ReaperWakes - b.ReaperWakes,
        a.SubmitTicks - b.SubmitTicks, a.DeviceTicks - b.DeviceTicks, a.WakeTicks - b.WakeTicks, a.SpinsCut - b.SpinsCut, a.ReapedAside - b.ReapedAside, a.SleepPollsCut - b.SleepPollsCut);

    /// <summary>One line per-I/O averages, e.g. for the VM benchmark's log.</summary>
    public string PerIo()
    {
        double n = Math.Max(1, Commands);
        double Us(long ticks) => ticks * 1e6 / Stopwatch.Frequency / n;
        return FormattableString.Invariant(
            $"{Commands} cmds; per I/O: {SqDoorbells / n:F2} SQ doorbells, {CqDoorbells / n:F2} CQ doorbells, {Polls / n:F1} polls ({EmptyPolls / n:F1} empty), reaped inline {ReapedInline / n:F2} / elsewhere {ReapedElsewhere / n:F2}, thread hops {ThreadHops / n:F2}, reaper wakes {ReaperWakes / n:F2}, spins cut {SpinsCut} (sleep-poller {SleepPollsCut}), reaped aside {ReapedAside}; mean us: submit {Us(SubmitTicks):F0}, device {Us(DeviceTicks):F0}, wake {Us(WakeTicks):F0}");
    }
}

/// <summary>The mutable counters behind <see cref="NvmeIoCounters"/>; updated with interlocked adds from any thread.</summary>
internal sealed class NvmeIoCounterSet
{
    public long Commands, SqDoorbells, CqDoorbells, Polls, EmptyPolls, ReapedInline, ReapedElsewhere, ThreadHops, ReaperWakes;
    public long SubmitTicks, DeviceTicks, WakeTicks, SpinsCut, ReapedAside, SleepPollsCut;

    public NvmeIoCounters Snapshot() => new(Volatile.Read(ref Commands), Volatile.Read(ref SqDoorbells), Volatile.Read(ref CqDoorbells),
        Volatile.Read(ref Polls), Volatile.Read(ref EmptyPolls), Volatile.Read(ref ReapedInline), Volatile.Read(ref ReapedElsewhere),
        Volatile.Read(ref ThreadHops), Volatile.Read(ref ReaperWakes), Volatile.Read(ref SubmitTicks), Volatile.Read(ref DeviceTicks),
        Volatile.Read(ref WakeTicks), Volatile.Read(ref SpinsCut), Volatile.Read(ref ReapedAside), Volatile.Read(ref SleepPollsCut));
}
