using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Tests.Scheduling;

/// <summary>
/// A reusable completion is completed only by a completion naming its current generation: a late wake or cancellation
/// of an older use never completes a newer one, however many uses later it arrives (the value-task core's 16-bit
/// version repeats every 65,536 uses; the generation must not).
/// </summary>
public sealed class GenerationalCompletionTests
{
    private sealed class Completion : GenerationalCompletion<int>
    {
        public long Arm() => Arm(runContinuationsAsynchronously: false);
    }

    [Fact]
    public async Task A_stale_completion_65536_uses_later_does_not_complete_the_current_use()
    {
        var c = new Completion();
        long stale = c.Arm();
        Assert.True(c.TrySetResult(1, stale));
        Assert.Equal(1, await c.AsValueTask());
        for (int i = 0; i < 65_536; i++)
        {
            long g = c.Arm();
            Assert.True(c.TrySetResult(i, g));
            Assert.Equal(i, await c.AsValueTask());
        }
        long current = c.Arm();
        Assert.NotEqual(stale, current);
        Assert.False(c.TrySetResult(-1, stale)); // the old wake, arriving late: refused
        Assert.False(c.IsCompleted);
        Assert.True(c.TrySetResult(7, current));
        Assert.False(c.TrySetResult(8, current)); // once per generation
        Assert.Equal(7, await c.AsValueTask());
    }

    [Fact]
    public async Task Racing_completions_of_one_generation_complete_it_exactly_once()
    {
        var c = new Completion();
        for (int round = 0; round < 2_000; round++)
        {
            long g = c.Arm();
            int winners = 0;
            using var start = new Barrier(3);
            var racers = Enumerable.Range(0, 2).Select(k => Task.Run(() =>
            {
                start.SignalAndWait();
                if (c.TrySetResult(k, g)) Interlocked.Increment(ref winners);
            })).ToArray();
            start.SignalAndWait();
            int value = await c.AsValueTask();
            await Task.WhenAll(racers);
            Assert.Equal(1, winners);
            Assert.InRange(value, 0, 1);
        }
    }
}
