using System.Numerics;

namespace Photon.Kernel.Scheduling;

/// <summary>
/// One armed kernel timer. It is its own promise (the <see cref="TaskCompletionSource"/>) and its own intrusive wheel
/// list node, so an armed timer costs two objects: this and its Task.
/// </summary>
internal sealed class KernelTimer : TaskCompletionSource
{
    public KernelTimer(TimerQueue owner, long deadline) : base(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        Owner = owner;
        Deadline = deadline;
    }

    public readonly TimerQueue Owner;
    /// <summary>Expiry in wheel ticks (milliseconds of the HAL monotonic clock).</summary>
    public readonly long Deadline;
    /// <summary>Index of the wheel slot holding this timer, or -1 when not in the wheel.</summary>
    public int Slot = -1;
    public KernelTimer? Next, Prev;
    public CancellationToken Token;
    public CancellationTokenRegistration Registration;
}

/// <summary>
/// A hierarchical timing wheel (the Linux/Tokio design): 10 levels of 64 slots, level L slots each span 64^L ticks.
/// Insert and cancel are O(1); finding the next expiry is a bit scan per level (each level's occupancy is one
/// <see cref="ulong"/>); timers in coarse levels cascade down as time reaches their slot. Not thread-safe: the
/// <see cref="TimerQueue"/> serialises access.
/// </summary>
internal sealed class TimerWheel
{
    private const int SlotBits = 6;
    private const int SlotsPerLevel = 1 << SlotBits;
    private const int Levels = 10;

    /// <summary>Longest accepted delay, in ticks (about 34 years of milliseconds); callers clamp to it.</summary>
    public const long MaxDelayTicks = 1L << 40;

    private readonly KernelTimer?[] _heads = new KernelTimer?[Levels * SlotsPerLevel];
    private readonly KernelTimer?[] _tails = new KernelTimer?[Levels * SlotsPerLevel];
    private readonly ulong[] _occupied = new ulong[Levels];

    public TimerWheel(long startTick) => Elapsed = startTick;

    /// <summary>The tick the wheel has processed up to; every armed timer's deadline is later.</summary>
    public long Elapsed { get; private set; }

    public int Count { get; private set; }

    /// <summary>Arms <paramref name="timer"/>; its deadline must be after <see cref="Elapsed"/>.</summary>
    public void Insert(KernelTimer timer)
    {
        int level = LevelFor(Elapsed, timer.Deadline);
        int slot = (int)((timer.Deadline >> (level * SlotBits)) & (SlotsPerLevel - 1));
        int index = level * SlotsPerLevel + slot;
        // Append so timers with the same deadline fire in the order they were armed.
        timer.Slot = index;
        timer.Next = null;
        timer.Prev = _tails[index];
        if (timer.Prev is null) _heads[index] = timer; else timer.Prev.Next = timer;
        _tails[index] = timer;
        _occupied[level] |= 1UL << slot;
        Count++;
    }

    /// <summary>Disarms <paramref name="timer"/>; false if it is not in the wheel (already fired or removed).</summary>
    public bool Remove(KernelTimer timer)
    {
        int index = timer.Slot;
        if (index < 0) return false;
        if (timer.Prev is null) _heads[index] = timer.Next; else timer.Prev.Next = timer.Next;
        if (timer.Next is null) _tails[index] = timer.Prev; else timer.Next.Prev = timer.Prev;
        if (_heads[index] is null) _occupied[index / SlotsPerLevel] &= ~(1UL << (index % SlotsPerLevel));
        timer.Next = timer.Prev = null;
        timer.Slot = -1;
        Count--;
        return true;
    }

    /// <summary>
    /// The tick at which the wheel next has work: the earliest expiry, or for a coarse slot the tick its timers cascade.
    /// Never later than the earliest armed deadline. <see cref="long.MaxValue"/> when empty.
    /// </summary>
    public long NextWakeTick => Count == 0 ? long.MaxValue : NextExpiration(out _, out _);

    /// <summary>Advances to <paramref name="now"/>, moving every timer whose deadline is at or before it into <paramref name="expired"/>.</summary>
    public void Advance(long now, List<KernelTimer> expired)
    {
        while (Count > 0)
        {
            long deadline = NextExpiration(out int level, out int slot);
            if (deadline > now) break;
            Elapsed = deadline;
            int index = level * SlotsPerLevel + slot;
            var timer = _heads[index];
            _heads[index] = _tails[index] = null;
            _occupied[level] &= ~(1UL << slot);
            while (timer is not null)
            {
                var next = timer.Next;
                timer.Next = timer.Prev = null;
                timer.Slot = -1;
                Count--;
                if (timer.Deadline <= Elapsed) expired.Add(timer);
                else Insert(timer); // cascade into a finer level
                timer = next;
            }
        }
        if (now > Elapsed) Elapsed = now;
    }

    /// <summary>Removes every armed timer (shutdown).</summary>
    public List<KernelTimer> DrainAll()
    {
        var all = new List<KernelTimer>(Count);
        for (int i = 0; i < _heads.Length; i++)
        {
            for (var t = _heads[i]; t is not null;)
            {
                var next = t.Next;
                t.Next = t.Prev = null;
                t.Slot = -1;
                all.Add(t);
                t = next;
            }
            _heads[i] = _tails[i] = null;
        }
        Array.Clear(_occupied);
        Count = 0;
        return all;
    }

    private static int LevelFor(long elapsed, long when)
    {
        // The highest bit where the deadline differs from now picks the level (Tokio's trick).
        ulong masked = (ulong)(elapsed ^ when) | (SlotsPerLevel - 1);
        int significant = 63 - BitOperations.LeadingZeroCount(masked);
        return Math.Min(significant / SlotBits, Levels - 1);
    }

    private long NextExpiration(out int level, out int slot)
    {
        for (level = 0; level < Levels; level++)
        {
            ulong occupied = _occupied[level];
            if (occupied == 0) continue;
            int shift = level * SlotBits;
            long slotRange = 1L << shift;
            long levelRange = slotRange << SlotBits;
            int nowSlot = (int)((Elapsed >> shift) & (SlotsPerLevel - 1));
            int zeros = BitOperations.TrailingZeroCount(BitOperations.RotateRight(occupied, nowSlot));
            slot = (zeros + nowSlot) & (SlotsPerLevel - 1);
            long deadline = (Elapsed & ~(levelRange - 1)) + slot * slotRange;
            if (deadline < Elapsed) deadline += levelRange;
            return deadline;
        }
        slot = -1;
        return long.MaxValue;
    }
}

/// <summary>
/// The scheduler's timer queue: a <see cref="TimerWheel"/> in milliseconds of the HAL monotonic clock behind a lock.
/// CPU workers poll it between work items and size their idle parking by <see cref="NextWakeTick"/>; no host timer is used.
/// </summary>
internal sealed class TimerQueue
{
    private readonly Lock _lock = new();
    private readonly Hal.IClock _clock;
    private readonly TimerWheel _wheel;
    private readonly List<KernelTimer> _expired = [];
    private long _nextWakeTick = long.MaxValue;
    private bool _closed;

    public TimerQueue(Hal.IClock clock)
    {
        _clock = clock;
        _wheel = new TimerWheel(NowTick);
    }

    public long NowTick => _clock.Monotonic.Ticks / TimeSpan.TicksPerMillisecond;

    /// <summary>The tick at which <see cref="Poll"/> next has something to do (read without the lock).</summary>
    public long NextWakeTick => Volatile.Read(ref _nextWakeTick);

    public int Count { get { lock (_lock) return _wheel.Count; } }

    public Task Delay(TimeSpan due, CancellationToken ct)
    {
        if (ct.IsCancellationRequested) return Task.FromCanceled(ct);
        if (due == Timeout.InfiniteTimeSpan) return Never(ct);
        if (due <= TimeSpan.Zero) return Task.CompletedTask;

        long now = _clock.Monotonic.Ticks;
        // Round the deadline up to a whole tick so a timer never fires before `due` has passed.
        long dueTicks = Math.Min(due.Ticks, TimerWheel.MaxDelayTicks * TimeSpan.TicksPerMillisecond);
        long deadline = (now + dueTicks + TimeSpan.TicksPerMillisecond - 1) / TimeSpan.TicksPerMillisecond;
        var timer = new KernelTimer(this, deadline);
        lock (_lock)
        {
            if (_closed) return Task.FromException(new KernelException(ErrorCode.Closed, "the scheduler has shut down"));
            if (deadline <= _wheel.Elapsed) return Task.CompletedTask; // the wheel has already passed it: due now
            _wheel.Insert(timer);
            if (deadline < _nextWakeTick) Volatile.Write(ref _nextWakeTick, _wheel.NextWakeTick);
        }
        if (ct.CanBeCanceled)
        {
            timer.Token = ct;
            timer.Registration = ct.UnsafeRegister(static s => ((KernelTimer)s!).Owner.Cancel((KernelTimer)s!), timer);
        }
        return timer.Task;
    }

    /// <summary>
    /// Fires every timer due at <paramref name="nowClockTicks"/> (a reading of the HAL clock the caller already took,
    /// so the per-item poll costs no clock read); returns how many fired. Returns 0 at once if another CPU is polling.
    /// </summary>
    public int Poll(long nowClockTicks)
    {
        long now = nowClockTicks / TimeSpan.TicksPerMillisecond;
        if (now < Volatile.Read(ref _nextWakeTick)) return 0;
        if (!_lock.TryEnter()) return 0;
        KernelTimer[] fired;
        try
        {
            _wheel.Advance(NowTick, _expired); // something is due: advance to the fresh time
            Volatile.Write(ref _nextWakeTick, _wheel.NextWakeTick);
            if (_expired.Count == 0) return 0;
            fired = [.. _expired];
            _expired.Clear();
        }
        finally { _lock.Exit(); }
        // Completing outside the lock: continuations are posted to run queues, never run inline here.
        foreach (var t in fired)
        {
            t.Registration.Unregister();
            t.TrySetResult();
        }
        return fired.Length;
    }

    private void Cancel(KernelTimer timer)
    {
        bool removed;
        lock (_lock) removed = _wheel.Remove(timer);
        if (removed) timer.TrySetCanceled(timer.Token);
    }

    /// <summary>Cancels every armed timer and refuses new ones (scheduler shutdown).</summary>
    public void Close()
    {
        List<KernelTimer> all;
        lock (_lock)
        {
            _closed = true;
            all = _wheel.DrainAll();
            Volatile.Write(ref _nextWakeTick, long.MaxValue);
        }
        foreach (var t in all)
        {
            t.Registration.Unregister();
            t.TrySetCanceled();
        }
    }

    private static Task Never(CancellationToken ct)
    {
        if (!ct.CanBeCanceled) return new TaskCompletionSource().Task;
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ct.UnsafeRegister(static (s, token) => ((TaskCompletionSource)s!).TrySetCanceled(token), tcs);
        return tcs.Task;
    }
}
