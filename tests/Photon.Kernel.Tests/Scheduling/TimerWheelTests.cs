using CsCheck;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Tests.Scheduling;

public sealed class TimerWheelTests
{
    private static KernelTimer Timer(long deadline) => new(null!, deadline);

    [Fact]
    public void Timers_across_all_levels_fire_exactly_when_their_tick_is_reached()
    {
        // Start just below a level-2 boundary so insertions and cascades straddle it.
        var wheel = new TimerWheel(4096 * 3 - 5);
        long start = wheel.Elapsed;
        long[] delays = [1, 2, 63, 64, 65, 100, 4095, 4096, 4097, 262_143, 262_144, 1_000_000, 20_000_000, 3_000_000_000];
        var timers = delays.Select(d => Timer(start + d)).ToArray();
        foreach (var t in timers.Reverse()) wheel.Insert(t);
        Assert.Equal(delays.Length, wheel.Count);

        var fired = new List<KernelTimer>();
        foreach (var t in timers)
        {
            Assert.True(wheel.NextWakeTick <= t.Deadline);
            wheel.Advance(t.Deadline - 1, fired);
            Assert.Empty(fired); // not even one tick early
            wheel.Advance(t.Deadline, fired);
            Assert.Same(t, Assert.Single(fired));
            fired.Clear();
        }
        Assert.Equal(0, wheel.Count);
        Assert.Equal(long.MaxValue, wheel.NextWakeTick);
    }

    [Fact]
    public void Removed_timers_never_fire_and_equal_deadlines_fire_in_arming_order()
    {
        var wheel = new TimerWheel(0);
        var a = Timer(500); var b = Timer(500); var c = Timer(500); var d = Timer(70_000);
        foreach (var t in new[] { a, b, c, d }) wheel.Insert(t);
        Assert.True(wheel.Remove(b));
        Assert.False(wheel.Remove(b));
        Assert.True(wheel.Remove(d));
        var fired = new List<KernelTimer>();
        wheel.Advance(1_000_000, fired);
        Assert.Equal(new[] { a, c }, fired);
        Assert.Equal(0, wheel.Count);
    }

    [Fact]
    public void Random_schedules_fire_every_timer_at_the_first_advance_past_its_deadline()
    {
        // Ops: (insert delay, or advance step). Delays span every wheel level; steps are small and occasionally huge.
        var op = Gen.OneOf(
            Gen.Long[1, 70].Select(d => (Insert: true, Value: d)),
            Gen.Long[1, 300_000].Select(d => (Insert: true, Value: d)),
            Gen.Long[1, 1L << 34].Select(d => (Insert: true, Value: d)),
            Gen.Long[0, 50].Select(s => (Insert: false, Value: s)),
            Gen.Long[0, 1L << 30].Select(s => (Insert: false, Value: s)));
        Gen.Select(Gen.Long[0, 1L << 40], op.Array[1, 120]).Sample(sample =>
        {
            var (start, ops) = sample;
            var wheel = new TimerWheel(start);
            long now = start;
            var armed = new List<KernelTimer>();
            var fired = new List<KernelTimer>();
            foreach (var (insert, value) in ops)
            {
                if (insert)
                {
                    var t = Timer(now + value);
                    wheel.Insert(t);
                    armed.Add(t);
                }
                else
                {
                    now += value;
                    long next = wheel.NextWakeTick;
                    Assert.True(armed.Count == 0 || next <= armed.Min(t => t.Deadline), "next wake is after an armed deadline");
                    wheel.Advance(now, fired);
                    var due = armed.Where(t => t.Deadline <= now).ToHashSet();
                    Assert.True(due.SetEquals(fired), $"at {now}: expected {due.Count} due, fired {fired.Count}");
                    Assert.True(fired.Select(t => t.Deadline).Zip(fired.Skip(1).Select(t => t.Deadline)).All(p => p.First <= p.Second), "fired out of order");
                    armed.RemoveAll(due.Contains);
                    fired.Clear();
                }
                Assert.Equal(armed.Count, wheel.Count);
            }
        }, iter: 2000);
    }
}
