using System.Diagnostics;
using Photon.Kernel.Hal;
using Photon.Kernel.Hal.Host;

namespace Photon.Kernel.Tests.Scheduling;

internal static class Wait
{
    /// <summary>Polls <paramref name="condition"/> from the test thread until true or the deadline; returns the final value.</summary>
    public static async Task<bool> Until(Func<bool> condition, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > timeout) return condition();
            await Task.Delay(5);
        }
        return true;
    }

    /// <summary>Busy-waits on the calling thread (a kernel CPU that does not await).</summary>
    public static void Spin(TimeSpan duration, Func<bool>? stopEarly = null)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < duration && !(stopEarly?.Invoke() ?? false)) Thread.SpinWait(20);
    }

    public static async Task<T> Within<T>(this Task<T> task, TimeSpan timeout) => await task.WaitAsync(timeout);
    public static async Task Within(this Task task, TimeSpan timeout) => await task.WaitAsync(timeout);
}

/// <summary>
/// The host monotonic clock plus an offset the test can move forward: lets a test make an hour pass instantly
/// while everything else (workers, wheel, parking) runs for real.
/// </summary>
internal sealed class SteppableClock : IClock
{
    private readonly HostClock _host = new();
    private long _offsetTicks;
    public TimeSpan Monotonic => _host.Monotonic + TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));
    public DateTimeOffset WallClock => _host.WallClock;
    public void Advance(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);
}

/// <summary>A clock that stands still until the test moves it: deadlines computed from it are exact.</summary>
internal sealed class FrozenClock : IClock
{
    private long _ticks = TimeSpan.FromHours(1).Ticks;
    public TimeSpan Monotonic => TimeSpan.FromTicks(Interlocked.Read(ref _ticks));
    public DateTimeOffset WallClock => DateTimeOffset.UnixEpoch + Monotonic;
    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}

/// <summary>A clock that stands still, except that it can be told to jump forward right after its next reading: the one
/// reading still sees the old time, every later one the new (to land a deadline between two reads of a CPU).</summary>
internal sealed class JumpClock : IClock
{
    private long _ticks = TimeSpan.FromHours(1).Ticks;
    private long _pendingJump;
    public TimeSpan Monotonic
    {
        get
        {
            long now = Interlocked.Read(ref _ticks);
            long jump = Interlocked.Exchange(ref _pendingJump, 0);
            if (jump != 0) Interlocked.Add(ref _ticks, jump);
            return TimeSpan.FromTicks(now);
        }
    }
    public DateTimeOffset WallClock => DateTimeOffset.UnixEpoch + TimeSpan.FromTicks(Interlocked.Read(ref _ticks));
    public void JumpAfterNextRead(TimeSpan by) => Interlocked.Exchange(ref _pendingJump, by.Ticks);
}

/// <summary>A stand-still clock with a coarse companion, both moved only by the test, counting its precise reads: models
/// the host's CLOCK_MONOTONIC_COARSE, whose reading stays put between ticks while the precise clock moves on.</summary>
internal sealed class CoarseFrozenClock(TimeSpan resolution) : IClock, ICoarseClock
{
    private long _ticks = TimeSpan.FromHours(1).Ticks;
    private long _coarseTicks = TimeSpan.FromHours(1).Ticks;
    private long _preciseReads;
    public TimeSpan Monotonic
    {
        get
        {
            Interlocked.Increment(ref _preciseReads);
            return TimeSpan.FromTicks(Interlocked.Read(ref _ticks));
        }
    }
    public DateTimeOffset WallClock => DateTimeOffset.UnixEpoch + TimeSpan.FromTicks(Interlocked.Read(ref _ticks));
    public long CoarseTicks => Interlocked.Read(ref _coarseTicks);
    public TimeSpan CoarseResolution => resolution;
    public long PreciseReads => Interlocked.Read(ref _preciseReads);
    /// <summary>Moves the precise clock only (less than a coarse step: the coarse reading legitimately stays).</summary>
    public void AdvancePrecise(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    /// <summary>Moves both, as a long stretch of real time does.</summary>
    public void Advance(TimeSpan by)
    {
        Interlocked.Add(ref _ticks, by.Ticks);
        Interlocked.Add(ref _coarseTicks, by.Ticks);
    }
}
