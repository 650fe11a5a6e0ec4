using System.Collections.Concurrent;
using System.Diagnostics;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Tests.Scheduling;

[Collection("Scheduler")]
public sealed class KernelSchedulerTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Spawned_task_runs_on_a_kernel_cpu_and_returns_its_value()
    {
        await using var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 2));
        var t = s.Spawn(async () =>
        {
            int cpu = s.CurrentCpu;
            await Task.CompletedTask;
            return cpu;
        }, "answer");
        int ranOn = await t.Completion.Within(Timeout);
        Assert.InRange(ranOn, 0, 1);
        Assert.Equal(KernelTaskState.RanToCompletion, t.State);
        Assert.Equal("answer", t.Name);
        Assert.False(s.IsKernelThread); // the test thread is not a kernel CPU
    }

    [Fact]
    public async Task Continuations_of_host_io_and_foreign_threads_come_back_to_kernel_cpus()
    {
        await using var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 2));
        string path = Path.Combine(Path.GetTempPath(), $"photon-sched-{Guid.NewGuid():N}.bin");
        try
        {
            var observations = new ConcurrentQueue<(string Step, bool OnKernelCpu, bool SameTask)>();
            KernelTask? self = null;
            var t = s.Spawn(async () =>
            {
                // The task's identity as it starts, taken inside it: on a quiet machine it can run past its first
                // awaits before Spawn has even returned to the test thread.
                self = KernelTask.Current;
                void Note(string step) => observations.Enqueue((step, s.IsKernelThread, self is not null && KernelTask.Current == self));
                Note("start");
                await File.WriteAllBytesAsync(path, new byte[64 * 1024]);       // host file I/O
                Note("after write");
                using (var h = File.OpenHandle(path, options: FileOptions.Asynchronous))
                {
                    var buf = new byte[4096];
                    await RandomAccess.ReadAsync(h, buf, 0);                  // completes on a host I/O thread
                    Note("after read");
                }
                await Task.Delay(20);                                          // host timer thread
                Note("after host timer");
                await Task.Run(() => Thread.Sleep(5));                         // .NET thread pool
                Note("after thread pool");
                await s.Delay(TimeSpan.FromMilliseconds(5));                   // kernel timer
                Note("after kernel timer");
            }, "io-task");
            await t.Completion.Within(Timeout);
            Assert.Same(t, self);
            Assert.Equal(6, observations.Count);
            Assert.All(observations, o => Assert.True(o.OnKernelCpu, $"'{o.Step}' ran off the kernel CPUs"));
            Assert.All(observations.Skip(1), o => Assert.True(o.SameTask, $"'{o.Step}' lost its kernel task identity"));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public async Task Kernel_task_scheduler_runs_tasks_on_kernel_cpus()
    {
        await using var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 1));
        bool onCpu = await Task.Factory.StartNew(() => s.IsKernelThread, CancellationToken.None, TaskCreationOptions.None, s.TaskScheduler).Within(Timeout);
        Assert.True(onCpu);
    }

    [Fact]
    public async Task Higher_priorities_run_first_when_queued_together()
    {
        await using var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 1, StarvationThreshold: TimeSpan.FromSeconds(5)));
        using var gate = new ManualResetEventSlim();
        var blocker = s.Spawn(() => { gate.Wait(); return Task.CompletedTask; }, "blocker");
        Assert.True(await Wait.Until(() => blocker.State == KernelTaskState.Running, Timeout));

        var order = new ConcurrentQueue<TaskPriority>();
        var tasks = new List<Task>();
        foreach (var p in new[] { TaskPriority.Low, TaskPriority.Normal, TaskPriority.Low, TaskPriority.High, TaskPriority.Realtime, TaskPriority.Normal })
            tasks.Add(s.Spawn(() => { order.Enqueue(p); return Task.CompletedTask; }, $"p-{p}", p).Completion);
        gate.Set();
        await Task.WhenAll(tasks).Within(Timeout);

        Assert.Equal(new[] { TaskPriority.Realtime, TaskPriority.High, TaskPriority.Normal, TaskPriority.Normal, TaskPriority.Low, TaskPriority.Low }, order);
    }

    [Fact]
    public async Task Low_priority_work_is_aged_in_instead_of_starving()
    {
        await using var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 1, FairnessBudget: 4, StarvationThreshold: TimeSpan.FromSeconds(5)));
        using var gate = new ManualResetEventSlim();
        var blocker = s.Spawn(() => { gate.Wait(); return Task.CompletedTask; }, "blocker");
        Assert.True(await Wait.Until(() => blocker.State == KernelTaskState.Running, Timeout));

        var order = new ConcurrentQueue<string>();
        var tasks = new List<Task> { s.Spawn(() => { order.Enqueue("low"); return Task.CompletedTask; }, "low", TaskPriority.Low).Completion };
        for (int i = 0; i < 20; i++)
            tasks.Add(s.Spawn(() => { order.Enqueue("high"); return Task.CompletedTask; }, "high", TaskPriority.High).Completion);
        gate.Set();
        await Task.WhenAll(tasks).Within(Timeout);

        int lowAt = order.ToList().IndexOf("low");
        Assert.InRange(lowAt, 1, 5); // not first (priority), but within the fairness budget (not after all 20)
    }

    [Fact]
    public async Task Yield_lets_other_queued_tasks_run()
    {
        await using var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 1, StarvationThreshold: TimeSpan.FromSeconds(5)));
        using var gate = new ManualResetEventSlim();
        var blocker = s.Spawn(() => { gate.Wait(); return Task.CompletedTask; }, "blocker");
        Assert.True(await Wait.Until(() => blocker.State == KernelTaskState.Running, Timeout));
        var trace = new ConcurrentQueue<string>();
        Func<string, Func<Task>> body = name => async () =>
        {
            for (int i = 0; i < 3; i++)
            {
                trace.Enqueue(name);
                await KernelScheduler.Yield();
                Assert.True(s.IsKernelThread);
            }
        };
        var a = s.Spawn(body("a"), "a");
        var b = s.Spawn(body("b"), "b");
        gate.Set();
        await Task.WhenAll(a.Completion, b.Completion).Within(Timeout);
        Assert.Equal("ababab", string.Concat(trace));
    }

    [Fact]
    public async Task Idle_cpu_steals_from_a_busy_cpus_queue()
    {
        await using var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 2, StarvationThreshold: TimeSpan.FromSeconds(5)));
        var ranOn = new ConcurrentDictionary<int, int>();
        int parentCpu = -1;
        var parent = s.Spawn(async () =>
        {
            parentCpu = s.CurrentCpu;
            var children = new List<Task>();
            for (int i = 0; i < 64; i++)
                children.Add(s.Spawn(() =>
                {
                    ranOn.AddOrUpdate(s.CurrentCpu, 1, (_, n) => n + 1);
                    Wait.Spin(TimeSpan.FromMilliseconds(1));
                    return Task.CompletedTask;
                }, $"child-{i}").Completion);
            // The children sit in this CPU's local queue; keep this CPU busy so only stealing can run them.
            Wait.Spin(TimeSpan.FromSeconds(5), () => children.All(c => c.IsCompleted));
            await Task.WhenAll(children);
        }, "parent");
        await parent.Completion.Within(Timeout);

        Assert.Equal(64, ranOn.Values.Sum());
        Assert.True(ranOn.ContainsKey(1 - parentCpu), "no child ran on the other CPU");
        Assert.True(s.Stats.Steals > 0);
    }

    /// <summary>A kernel task spawns far past its CPU's ring (the rest waits in the CPU's overflow lane) and then keeps
    /// that CPU busy: the other CPU must steal every child, from the ring and then from the overflow (straight into its
    /// own ring, in batches), and each must run exactly once.</summary>
    [Fact]
    public async Task Idle_cpu_steals_a_busy_cpus_overflow_and_runs_every_child_once()
    {
        await using var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 2, StarvationThreshold: TimeSpan.FromSeconds(30)));
        const int Children = 5_000;
        var ran = new int[Children];
        int done = 0, parentCpu = -1, otherCpu = 0;
        var parent = s.Spawn(() =>
        {
            parentCpu = s.CurrentCpu;
            for (int i = 0; i < Children; i++)
            {
                int n = i;
                _ = s.SpawnPooled(() =>
                {
                    Interlocked.Increment(ref ran[n]);
                    if (s.CurrentCpu != parentCpu) Interlocked.Increment(ref otherCpu);
                    Interlocked.Increment(ref done);
                    return Task.CompletedTask;
                }, "child");
            }
            // Only stealing can run the children while this CPU spins.
            Wait.Spin(TimeSpan.FromSeconds(8), () => Volatile.Read(ref done) == Children);
            return Task.CompletedTask;
        }, "parent");
        await parent.Completion.Within(Timeout);

        Assert.Equal(Children, Volatile.Read(ref done));
        Assert.All(ran, count => Assert.Equal(1, count));
        Assert.Equal(Children, Volatile.Read(ref otherCpu)); // all of them stolen: the parent's CPU never got to them
    }

    [Fact]
    public async Task Timers_fire_in_deadline_order_and_never_early()
    {
        await using var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 1));
        var dues = Enumerable.Range(1, 12).Select(i => TimeSpan.FromMilliseconds(i * 15)).OrderBy(_ => Random.Shared.Next()).ToArray();
        var fired = new ConcurrentQueue<(TimeSpan Due, TimeSpan Before, TimeSpan ArmedBy, TimeSpan Waited)>();
        var tasks = dues.Select(due => s.Spawn(async () =>
        {
            // The kernel reads the clock for the deadline inside Delay, somewhere between these two readings (the first
            // Delay of a process JIT-compiles the timer path in between: milliseconds on a loaded host).
            var before = s.Now;
            var delay = s.Delay(due);
            var armedBy = s.Now;
            await delay;
            fired.Enqueue((due, before, armedBy, s.Now - before));
        }, $"timer-{due.TotalMilliseconds}").Completion).ToArray();
        await Task.WhenAll(tasks).Within(Timeout);

        var list = fired.ToList();
        Assert.Equal(dues.Length, list.Count);
        // Deadline order: a timer that fired before another cannot have a deadline after it. Each deadline is only known
        // to lie in [before + due, armedBy + due], rounded up to the wheel's millisecond tick, so the assertion compares
        // the earliest possible deadline of the one that fired first with the latest possible one of each that came after.
        for (int i = 0; i < list.Count; i++)
            for (int j = i + 1; j < list.Count; j++)
                Assert.True(WheelTick(list[i].Before + list[i].Due) <= WheelTick(list[j].ArmedBy + list[j].Due),
                    $"the {list[i].Due.TotalMilliseconds} ms timer fired before the {list[j].Due.TotalMilliseconds} ms one although its deadline was later: " +
                    string.Join(", ", list.Select(f => $"{f.Due.TotalMilliseconds} ms armed in [{f.Before.TotalMilliseconds:F3}, {f.ArmedBy.TotalMilliseconds:F3}]")));
        Assert.All(list, f => Assert.True(f.Waited >= f.Due, $"timer for {f.Due.TotalMilliseconds} ms fired after {f.Waited.TotalMilliseconds} ms"));
        Assert.Equal(0, s.Stats.PendingTimers);
    }

    /// <summary>The timer wheel's tick of a deadline: whole milliseconds of the clock, rounded up (as TimerQueue.Delay does).</summary>
    private static long WheelTick(TimeSpan deadline) => (deadline.Ticks + TimeSpan.TicksPerMillisecond - 1) / TimeSpan.TicksPerMillisecond;

    /// <summary>The same on a clock that moves only when the test moves it: every deadline is known exactly, and after each
    /// 15 ms step exactly the timers due by then have fired, in deadline order — nothing early, nothing out of order.</summary>
    [Fact]
    public async Task Timers_on_a_stepped_clock_fire_exactly_when_due_and_in_deadline_order()
    {
        var clock = new FrozenClock();
        await using var s = new KernelScheduler(new HostProcessors(1), clock, new SchedulerOptions(Workers: 1));
        var dues = Enumerable.Range(1, 12).Select(i => TimeSpan.FromMilliseconds(i * 15)).OrderBy(_ => Random.Shared.Next()).ToArray();
        var fired = new ConcurrentQueue<(TimeSpan Due, TimeSpan FiredAt)>();
        var armed = new CountdownEvent(dues.Length);
        var tasks = dues.Select(due => s.Spawn(async () =>
        {
            var delay = s.Delay(due);
            armed.Signal();
            await delay;
            fired.Enqueue((due, s.Now));
        }, $"timer-{due.TotalMilliseconds}").Completion).ToArray();
        Assert.True(armed.Wait(Timeout));
        var t0 = s.Now;
        for (int step = 1; step <= dues.Length; step++)
        {
            clock.Advance(TimeSpan.FromMilliseconds(15));
            Assert.True(await Wait.Until(() => fired.Count >= step, Timeout), $"after {step * 15} ms only {fired.Count} timers fired");
            Assert.Equal(Enumerable.Range(1, step).Select(i => TimeSpan.FromMilliseconds(i * 15)), fired.Select(f => f.Due));
            Assert.All(fired, f => Assert.True(f.FiredAt - t0 >= f.Due, $"the {f.Due.TotalMilliseconds} ms timer fired at {(f.FiredAt - t0).TotalMilliseconds} ms"));
        }
        await Task.WhenAll(tasks).Within(Timeout);
        Assert.Equal(0, s.Stats.PendingTimers);
    }

    /// <summary>
    /// A timer that comes due between a CPU's last clock reading (at its item's end) and its idle re-check: the re-check
    /// sees it due, so the CPU does not park — and it must then poll with a fresh reading. It used to loop on the stale
    /// one (the poll skips, the re-check finds the timer due, again and again): a busy CPU and a timer that never fired,
    /// seen as a 30 s hang of twelve timers at load ~50. The clock jumps right after the item's end reading.
    /// </summary>
    [Fact]
    public async Task A_timer_that_comes_due_while_the_cpu_goes_idle_still_fires()
    {
        var clock = new JumpClock();
        await using var s = new KernelScheduler(new HostProcessors(1), clock, new SchedulerOptions(Workers: 1));
        var sleeper = s.Spawn(async () =>
        {
            var delay = s.Delay(TimeSpan.FromMilliseconds(15));
            // The next reading is the item's end (the CPU's last before its idle re-check); every later one is 20 ms on.
            clock.JumpAfterNextRead(TimeSpan.FromMilliseconds(20));
            await delay;
        }, "sleeper");
        await sleeper.Completion.Within(Timeout);
        Assert.Equal(0, s.Stats.PendingTimers);
    }

    [Fact]
    public async Task Delay_is_cancelled_promptly_and_disarmed()
    {
        await using var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 1));
        using var cts = new CancellationTokenSource();
        var sw = Stopwatch.StartNew();
        var t = s.Spawn(async () => await s.Delay(TimeSpan.FromMinutes(10), cts.Token), "sleeper");
        Assert.True(await Wait.Until(() => s.Stats.PendingTimers == 1, Timeout));
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => t.Completion.Within(Timeout));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5));
        Assert.Equal(KernelTaskState.Canceled, t.State);
        Assert.Equal(0, s.Stats.PendingTimers);
        // An already-cancelled token never arms a timer.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => s.Delay(TimeSpan.FromSeconds(1), cts.Token));
        // Zero and negative delays complete at once.
        await s.Delay(TimeSpan.Zero).Within(Timeout);
        await s.Delay(TimeSpan.FromSeconds(-1)).Within(Timeout);
    }

    [Fact]
    public async Task Waker_releases_waiters_in_order_remembers_early_wakes_and_cancels_waits()
    {
        await using var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 2));
        var waker = new Waker();
        var released = new ConcurrentQueue<int>();
        var waiters = Enumerable.Range(0, 3).Select(i => s.Spawn(async () =>
        {
            await waker.WaitAsync();
            released.Enqueue(i);
            Assert.True(s.IsKernelThread);
        }, $"waiter-{i}")).ToArray();
        Assert.True(await Wait.Until(() => waker.Waiters == 3, Timeout));
        // Wake from a foreign (non-kernel) thread, as an I/O completion would.
        await Task.Run(waker.Wake);
        Assert.True(await Wait.Until(() => released.Count == 1, Timeout));
        Assert.Equal(2, waker.Waiters);
        waker.Wake();
        waker.Wake();
        await Task.WhenAll(waiters.Select(w => w.Completion)).Within(Timeout);
        Assert.Equal(3, released.Count);
        Assert.False(waker.IsSignaled);

        // A wake with nobody waiting is kept for the next waiter.
        waker.Wake();
        await waker.WaitAsync().AsTask().Within(Timeout);
        Assert.False(waker.IsSignaled);

        // A cancelled wait is removed and does not eat a later wake.
        using var cts = new CancellationTokenSource();
        var cancelled = s.Spawn(() => waker.WaitAsync(cts.Token).AsTask(), "cancelled-waiter");
        Assert.True(await Wait.Until(() => waker.Waiters == 1, Timeout));
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.Completion.Within(Timeout));
        Assert.Equal(0, waker.Waiters);
        waker.Wake();
        Assert.True(waker.IsSignaled);
    }

    [Fact]
    public async Task Kernel_task_cancel_before_start_skips_the_body_and_while_running_signals_its_token()
    {
        await using var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 1, StarvationThreshold: TimeSpan.FromSeconds(5)));
        using var gate = new ManualResetEventSlim();
        var blocker = s.Spawn(() => { gate.Wait(); return Task.CompletedTask; }, "blocker");
        Assert.True(await Wait.Until(() => blocker.State == KernelTaskState.Running, Timeout));
        bool ran = false;
        var queued = s.Spawn(() => { ran = true; return Task.CompletedTask; }, "queued");
        queued.Cancel();
        using var spawnCts = new CancellationTokenSource();
        var viaToken = s.Spawn(() => { ran = true; return Task.CompletedTask; }, "queued-token", ct: spawnCts.Token);
        spawnCts.Cancel();
        gate.Set();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queued.Completion.Within(Timeout));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => viaToken.Completion.Within(Timeout));
        Assert.False(ran);

        var running = s.Spawn(async () => await s.Delay(TimeSpan.FromMinutes(10), KernelTask.Current!.CancellationToken), "running");
        Assert.True(await Wait.Until(() => running.State == KernelTaskState.Waiting, Timeout));
        running.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running.Completion.Within(Timeout));
        Assert.Equal(KernelTaskState.Canceled, running.State);
        Assert.Equal(3, s.Stats.Canceled);
    }

    [Fact]
    public async Task Spinning_task_is_reported_while_other_tasks_still_progress()
    {
        await using var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 2, StarvationThreshold: TimeSpan.FromMilliseconds(50)));
        var reports = new ConcurrentQueue<StarvationReport>();
        s.StarvationDetected += reports.Enqueue;
        int progressed = 0;
        var spinner = s.Spawn(() =>
        {
            // Queue work behind ourselves on this CPU, then hog it without awaiting.
            for (int i = 0; i < 10; i++)
                s.Spawn(() => { Interlocked.Increment(ref progressed); return Task.CompletedTask; }, $"small-{i}");
            Wait.Spin(TimeSpan.FromSeconds(5), () => Volatile.Read(ref progressed) == 10 && reports.Any(r => r.TaskName == "spinner"));
            return Task.FromResult((Progressed: Volatile.Read(ref progressed), Reported: reports.Any(r => r.TaskName == "spinner" && r.StillRunning)));
        }, "spinner");
        var (progressedWhileSpinning, reportedWhileSpinning) = await spinner.Completion.Within(Timeout);

        Assert.Equal(10, progressedWhileSpinning);
        Assert.True(reportedWhileSpinning, "the spinning task was not reported while it ran");
        var report = reports.First(r => r.TaskName == "spinner");
        Assert.Equal(spinner.Id, report.TaskId);
        Assert.True(report.RunningFor >= TimeSpan.FromMilliseconds(50));
        Assert.True(s.Stats.StarvationReports >= 1);
        Assert.Single(reports, r => r.TaskName == "spinner"); // one report per overrun, not one per check
    }

    [Fact]
    public async Task Overrun_on_a_single_cpu_is_reported_after_the_fact()
    {
        await using var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 1, StarvationThreshold: TimeSpan.FromMilliseconds(30)));
        var reports = new ConcurrentQueue<StarvationReport>();
        s.StarvationDetected += reports.Enqueue;
        await s.Spawn(() => { Wait.Spin(TimeSpan.FromMilliseconds(80)); return Task.CompletedTask; }, "hog", TaskPriority.High).Completion.Within(Timeout);
        await s.Spawn(() => Task.CompletedTask, "quick").Completion.Within(Timeout);
        var r = Assert.Single(reports);
        Assert.Equal(("hog", TaskPriority.High, false), (r.TaskName, r.Priority, r.StillRunning));
        Assert.True(r.RunningFor >= TimeSpan.FromMilliseconds(80));
    }

    [Fact]
    public async Task Faulted_tasks_are_contained_and_counted()
    {
        await using var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 2));
        var faults = new ConcurrentQueue<(string, Exception)>();
        s.TaskFaulted += (t, e) => faults.Enqueue((t.Name, e));

        var early = s.Spawn(() => throw new InvalidOperationException("before await"), "early");
        var late = s.Spawn(async () => { await s.Delay(TimeSpan.FromMilliseconds(5)); throw new KernelException(ErrorCode.IoError, "after await"); }, "late");
        var typed = s.Spawn<int>(async () => { await KernelScheduler.Yield(); throw new FormatException("typed"); }, "typed");
        var nullBody = s.Spawn(() => null!, "null-body");

        await Assert.ThrowsAsync<InvalidOperationException>(() => early.Completion.Within(Timeout));
        var ke = await Assert.ThrowsAsync<KernelException>(() => late.Completion.Within(Timeout));
        Assert.Equal(ErrorCode.IoError, ke.Code);
        await Assert.ThrowsAsync<FormatException>(() => typed.Completion.Within(Timeout));
        var nb = await Assert.ThrowsAsync<KernelException>(() => nullBody.Completion.Within(Timeout));
        Assert.Equal(ErrorCode.InvalidArgument, nb.Code);

        // async void code that throws on a kernel CPU is contained too.
        var asyncVoid = s.Spawn(() => { ThrowLater(s); return Task.CompletedTask; }, "async-void");
        await asyncVoid.Completion.Within(Timeout);
        Assert.True(await Wait.Until(() => s.UnhandledExceptions == 1, Timeout));

        Assert.Equal(4, s.Stats.Faulted);
        Assert.Equal(KernelTaskState.Faulted, late.State);
        Assert.True(await Wait.Until(() => faults.Count == 4, Timeout));
        Assert.Contains(faults, f => f.Item1 == "late" && f.Item2 is KernelException);
        // The scheduler keeps working.
        Assert.Equal(42, await s.Spawn(() => Task.FromResult(42), "after-faults").Completion.Within(Timeout));
    }

    private static async void ThrowLater(KernelScheduler s)
    {
        await s.Delay(TimeSpan.FromMilliseconds(2));
        throw new InvalidOperationException("async void");
    }

    [Fact]
    public async Task Dispose_stops_cpus_and_cancels_unfinished_work()
    {
        var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 2));
        var threads = new ConcurrentBag<Thread>();
        var waker = new Waker();
        var onWaker = s.Spawn(async () => { threads.Add(Thread.CurrentThread); await waker.WaitAsync(); }, "on-waker");
        var onTimer = s.Spawn(async () => { threads.Add(Thread.CurrentThread); await s.Delay(TimeSpan.FromHours(1)); }, "on-timer");
        var done = s.Spawn(() => Task.CompletedTask, "done");
        Assert.True(await Wait.Until(() => onWaker.State == KernelTaskState.Waiting && onTimer.State == KernelTaskState.Waiting, Timeout));
        await done.Completion.Within(Timeout);

        await s.DisposeAsync().AsTask().Within(Timeout);
        await s.DisposeAsync().AsTask().Within(Timeout); // idempotent

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => onWaker.Completion);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => onTimer.Completion);
        Assert.Equal(TaskStatus.RanToCompletion, done.Completion.Status);
        Assert.All(threads, t => Assert.False(t.IsAlive));
        Assert.Equal(0, s.Stats.InFlight);

        var late = s.Spawn(() => Task.CompletedTask, "too-late");
        Assert.Equal(KernelTaskState.Canceled, late.State);
        var ex = await Assert.ThrowsAsync<KernelException>(() => s.Delay(TimeSpan.FromSeconds(1)));
        Assert.Equal(ErrorCode.Closed, ex.Code);
        waker.Wake(); // waking an orphaned waiter after shutdown is harmless
    }

    [Fact]
    public async Task A_task_canceled_by_shutdown_stays_canceled_when_its_body_finishes_later_off_the_kernel_cpus()
    {
        // The task keeps its body's Task and, once finished, its outcome in one field: a body that completes after
        // shutdown canceled it (its last await resumed off the kernel CPUs) must neither change the outcome nor throw.
        var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 2));
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bool bodyEnded = false;
        var t = s.Spawn(async () =>
        {
            await release.Task.ConfigureAwait(false);
            bodyEnded = true;
            return 42;
        }, "outlives-shutdown");
        Assert.True(await Wait.Until(() => t.State == KernelTaskState.Waiting, Timeout));
        var completion = t.Completion; // read before shutdown: the outcome goes to an existing source
        await s.DisposeAsync().AsTask().Within(Timeout);
        Assert.Equal(KernelTaskState.Canceled, t.State);

        release.SetResult();
        Assert.True(await Wait.Until(() => Volatile.Read(ref bodyEnded), Timeout));
        await Task.Delay(20); // the body's completion callback runs right after it on the same thread
        Assert.Equal(KernelTaskState.Canceled, t.State);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => completion);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => t.Task.Completion); // a late reader sees the same
        Assert.Equal(0, s.UnhandledExceptions);
    }

    [Fact]
    public async Task Dispose_waits_for_the_running_item_and_cancels_tasks_that_never_started()
    {
        var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 1, StarvationThreshold: TimeSpan.FromSeconds(5)));
        using var gate = new ManualResetEventSlim();
        var blocker = s.Spawn(() => { gate.Wait(); return Task.CompletedTask; }, "blocker");
        Assert.True(await Wait.Until(() => blocker.State == KernelTaskState.Running, Timeout));
        bool ran = false;
        var queued = s.Spawn(() => { ran = true; return Task.CompletedTask; }, "never-started");
        var disposing = s.DisposeAsync().AsTask();
        await Task.Delay(50);
        Assert.False(disposing.IsCompleted); // the CPU is still inside the blocker's item
        gate.Set();
        await disposing.Within(Timeout);
        await blocker.Completion.Within(Timeout);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queued.Completion.Within(Timeout));
        Assert.False(ran);
        Assert.Equal(0, s.Stats.InFlight);
    }

    [Fact]
    public async Task Scheduler_runs_on_any_hal_processor_set()
    {
        var cpus = new HostProcessors(3);
        await using var s = new KernelScheduler(cpus, new HostClock(), new SchedulerOptions(Workers: 2, Name: "test-cpu"));
        Assert.Equal(2, s.WorkerCount);
        string? threadName = await s.Spawn(() => Task.FromResult(Thread.CurrentThread.Name), "name").Completion.Within(Timeout);
        Assert.StartsWith("test-cpu", threadName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new KernelScheduler(cpus, new HostClock(), new SchedulerOptions(Workers: 4)));
    }
}
