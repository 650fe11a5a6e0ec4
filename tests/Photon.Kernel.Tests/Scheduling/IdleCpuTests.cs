using Photon.Kernel.Hal;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Tests.Scheduling;

/// <summary>
/// An idle scheduler parks its CPUs (after the host idle primitive's bounded spin, and a wake-up at least every 100 ms
/// to watch timers and the other CPUs), and their threads use next to no processor time — measured as the CPU threads' own time (<c>/proc/self/task</c>), so other
/// tests running in the same process do not count.
/// </summary>
[Collection("Scheduler")]
public sealed class IdleCpuTests
{
    [Fact]
    public async Task An_idle_scheduler_parks_and_its_cpus_use_almost_no_processor_time()
    {
        if (!OperatingSystem.IsLinux()) return; // the per-thread CPU times come from procfs
        var idle = new CountingIdleFactory();
        string name = $"idle{Environment.ProcessId % 1000}";
        await using var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 2, Idle: idle, Name: name));
        // Some work first: a CPU that has just drained a burst must still go back to sleep.
        var tasks = Enumerable.Range(0, 1000).Select(_ => s.Spawn(() => Task.CompletedTask, "burst")).ToArray();
        foreach (var t in tasks) await t.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        await Task.Delay(200);

        long parksBefore = idle.Parks;
        double cpuBefore = CpuSecondsOfThreads(name, out int threads);
        Assert.Equal(2, threads);
        await Task.Delay(1000);
        double cpu = CpuSecondsOfThreads(name, out _) - cpuBefore;
        long parks = idle.Parks - parksBefore;

        // A CPU that spun without parking would use up to a core-second here (two CPUs: up to 2 s); an idle one wakes
        // when its park times out (100 ms), spins ~50 µs in the host primitive and parks again. Generous: 0.25 s,
        // a quarter of one core (procfs counts in clock ticks of 10 ms).
        Assert.True(cpu < 0.25, $"the idle CPUs used {cpu:F3} s of processor time in a second");
        Assert.True(parks >= 2, $"the idle CPUs parked {parks} times in a second");
    }

    /// <summary>User plus system time, in seconds, of this process's threads whose name starts with <paramref name="prefix"/>.</summary>
    private static double CpuSecondsOfThreads(string prefix, out int threads)
    {
        long ticks = 0;
        threads = 0;
        foreach (var dir in Directory.GetDirectories("/proc/self/task"))
        {
            string comm;
            try { comm = File.ReadAllText(Path.Combine(dir, "comm")).Trim(); }
            catch (IOException) { continue; } // the thread exited meanwhile
            if (!comm.StartsWith(prefix + " ", StringComparison.Ordinal)) continue;
            string stat = File.ReadAllText(Path.Combine(dir, "stat"));
            // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            ticks += long.Parse(fields[11]) + long.Parse(fields[12]);
            threads++;
        }
        return ticks / 100.0; // USER_HZ is 100 on Linux
    }

    private sealed class CountingIdleFactory : IProcessorIdleFactory
    {
        private long _parks;
        public long Parks => Interlocked.Read(ref _parks);
        public IProcessorIdle Create() => new Counting(this, new HostProcessorIdle());

        private sealed class Counting(CountingIdleFactory owner, IProcessorIdle inner) : IProcessorIdle
        {
            public void Park(TimeSpan timeout)
            {
                Interlocked.Increment(ref owner._parks);
                inner.Park(timeout);
            }

            public void Wake() => inner.Wake();
        }
    }
}
