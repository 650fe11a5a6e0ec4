using Photon.Kernel.Hal.Host;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Tests.Scheduling;

/// <summary>
/// <see cref="KernelScheduler.Post(IKernelWorkItem, TaskPriority)"/>: how kernel objects (a parked IPC receiver) queue
/// themselves on a kernel CPU without the host thread pool. What callers rely on: the item runs once, on a kernel CPU,
/// whichever thread posted it; the same object can be posted again once it has run; after shutdown nothing runs and
/// the post says so.
/// </summary>
[Collection("Scheduler")]
public sealed class KernelWorkItemTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private sealed class Probe(KernelScheduler s) : IKernelWorkItem
    {
        public int Runs;
        public int OffKernelRuns;
        public readonly SemaphoreSlim Ran = new(0);

        public void Execute()
        {
            if (!s.IsKernelThread) Interlocked.Increment(ref OffKernelRuns);
            Interlocked.Increment(ref Runs);
            Ran.Release();
        }
    }

    [Fact]
    public async Task A_posted_item_runs_once_on_a_kernel_cpu_and_can_be_posted_again()
    {
        await using var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 2));
        var probe = new Probe(s);
        for (int i = 1; i <= 1000; i++)
        {
            // From the test thread (the shared queue) and from a kernel task (that CPU's lane), alternately.
            if (i % 2 == 0) Assert.True(s.Post(probe));
            else Assert.True(await s.Spawn(() => Task.FromResult(s.Post(probe, TaskPriority.High)), "poster").Completion.Within(Timeout));
            Assert.True(await probe.Ran.WaitAsync(Timeout));
        }
        Assert.Equal(1000, probe.Runs);
        Assert.Equal(0, probe.OffKernelRuns);
    }

    [Fact]
    public async Task After_shutdown_a_post_is_refused_and_the_item_never_runs()
    {
        var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 2));
        var probe = new Probe(s);
        await s.DisposeAsync();
        Assert.False(s.Post(probe));
        Assert.False(await probe.Ran.WaitAsync(TimeSpan.FromMilliseconds(200)));
        Assert.Equal(0, probe.Runs);
    }

    [Fact]
    public async Task Posting_null_is_a_typed_argument_error()
    {
        await using var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 1));
        Assert.Throws<ArgumentNullException>(() => s.Post(null!));
    }
}
