using Photon.Kernel.Hal.Host;

namespace Photon.Kernel.Tests.Drivers;

/// <summary>The per-CPU counter behind <see cref="HostImageStorage.CachedReads"/> loses no increment, whichever CPUs
/// the adding threads run and move between.</summary>
public sealed class PerCpuCounterTests
{
    [Fact]
    public void The_sum_is_every_increment_from_every_thread()
    {
        var counter = new PerCpuCounter();
        Assert.Equal(0, counter.Value);
        var threads = Enumerable.Range(0, 8).Select(_ => new Thread(() =>
        {
            for (int i = 0; i < 20_000; i++)
            {
                counter.Increment();
                if (i % 1000 == 0) Thread.Yield(); // invites a move to the other CPU between increments
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Equal(160_000, counter.Value);
    }
}
