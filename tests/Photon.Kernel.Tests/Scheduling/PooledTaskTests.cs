using System.Runtime.CompilerServices;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Tests.Scheduling;

/// <summary>
/// <see cref="KernelScheduler.SpawnPooled"/>: a finished task's object is reused by a later spawn, and a handle kept
/// from the earlier generation never observes or affects the later one (state, join, await, cancel); a recycled task
/// keeps nothing alive; what pins a task keeps it out of the pool; the depot stays within its bound.
/// </summary>
public class PooledTaskTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private static object? s_sink;

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_task")]
    private static extern ref KernelTask? ObjectOf(ref KernelTaskHandle handle);

    private static KernelTask Object(KernelTaskHandle handle) => ObjectOf(ref handle)!;

    /// <summary>True once the task object behind <paramref name="handle"/> was retired (its generation is over).</summary>
    private static bool Retired(KernelTaskHandle handle) => Object(handle).RetiredFrom(handle.Id);

    private static KernelScheduler OneCpu() =>
        LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 1, StarvationThreshold: TimeSpan.FromSeconds(30)));

    /// <summary>Spawns a short pooled task and waits until the CPU retired it into its own magazines.</summary>
    /// <remarks>Twice: the body's first call anywhere is compiled on the CPU, and the JIT may allocate on that thread,
    /// which (rightly) keeps that one task out of the pool.</remarks>
    private static async Task<KernelTaskHandle> FinishedAndRetired(KernelScheduler s)
    {
        var warm = s.SpawnPooled(s_short, "warm");
        Assert.True(await Wait.Until(() => warm.IsCompleted, Timeout));
        var a = s.SpawnPooled(s_short, "a");
        Assert.True(await Wait.Until(() => Retired(a), Timeout), "a short pooled task was never recycled");
        return a;
    }

    private static readonly Func<Task> s_short = static () => Task.CompletedTask;

    /// <summary>Spawns, from a kernel task on the (single) CPU that retired <paramref name="stale"/>, a pooled task that
    /// suspends until <paramref name="gate"/> opens: it takes the retired object from that CPU's magazine.</summary>
    private static async Task<KernelTaskHandle> ReuseOnTheSameCpu(KernelScheduler s, KernelTaskHandle stale, Task gate, Action? ran = null)
    {
        var b = await s.Spawn(() => Task.FromResult(s.SpawnPooled(async () => { await gate; ran?.Invoke(); }, "b")), "spawner").Completion.Within(Timeout);
        Assert.Same(Object(stale), Object(b)); // the test is about a reused object
        Assert.True(await Wait.Until(() => b.State == KernelTaskState.Waiting, Timeout));
        return b;
    }

    [Fact]
    public async Task A_stale_handle_reads_completed_while_the_reused_object_runs_another_task()
    {
        var s = OneCpu();
        try
        {
            var a = await FinishedAndRetired(s);
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var b = await ReuseOnTheSameCpu(s, a, gate.Task);

            Assert.Equal(KernelTaskState.RanToCompletion, a.State);
            Assert.True(a.IsCompleted);
            Assert.Equal(KernelTaskState.Waiting, b.State);
            Assert.False(b.IsCompleted);
            Assert.NotEqual(a, b);
            Assert.NotEqual(a.Id, b.Id);
            Assert.False(a.TryGetTask(out _)); // the object is b's now: a stale handle cannot hand it out
            gate.SetResult();
            await b.Join().Within(Timeout);
            Assert.Equal(KernelTaskState.RanToCompletion, b.State);
        }
        finally { await s.DisposeAsync().AsTask().Within(Timeout); }
    }

    [Fact]
    public async Task A_stale_join_and_await_complete_at_once_without_waiting_for_the_reused_task()
    {
        var s = OneCpu();
        try
        {
            var a = await FinishedAndRetired(s);
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var b = await ReuseOnTheSameCpu(s, a, gate.Task);

            var join = a.Join();
            Assert.True(join.IsCompletedSuccessfully); // not b's completion, which is still pending
            await a; // the awaiter: the same
            var bJoin = b.Join();
            Assert.False(bJoin.IsCompleted);
            // Joining through the stale handle did not pin or change b: it still finishes and can still be recycled.
            gate.SetResult();
            await bJoin.Within(Timeout);
            Assert.Equal(KernelTaskState.RanToCompletion, b.State);
        }
        finally { await s.DisposeAsync().AsTask().Within(Timeout); }
    }

    [Fact]
    public async Task A_stale_cancel_does_nothing_to_the_reused_task()
    {
        var s = OneCpu();
        try
        {
            var a = await FinishedAndRetired(s);
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            int ran = 0;
            var b = await ReuseOnTheSameCpu(s, a, gate.Task, () => Interlocked.Increment(ref ran));

            Assert.False(a.Cancel());
            Assert.True(b.TryGetTask(out var bTask));
            Assert.False(bTask.CancellationToken.IsCancellationRequested); // a's cancel did not reach b's token
            gate.SetResult();
            await b.Join().Within(Timeout);
            Assert.Equal(1, ran);
            Assert.Equal(KernelTaskState.RanToCompletion, b.State);
            Assert.Equal(0, s.Stats.Canceled);
        }
        finally { await s.DisposeAsync().AsTask().Within(Timeout); }
    }

    [Fact]
    public async Task A_live_handle_cancels_and_joins_its_own_task()
    {
        var s = OneCpu();
        try
        {
            var hold = new ManualResetEventSlim();
            // Holds the only CPU, so the next spawn stays queued.
            var busy = s.Spawn(() => { hold.Wait(); return Task.CompletedTask; }, "busy");
            Assert.True(await Wait.Until(() => busy.State == KernelTaskState.Running, Timeout));
            int ran = 0;
            var queued = s.SpawnPooled(() => { Interlocked.Increment(ref ran); return Task.CompletedTask; }, "queued");
            Assert.Equal(KernelTaskState.Queued, queued.State);
            Assert.True(queued.Cancel());
            hold.Set();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queued.Join().Within(Timeout));
            Assert.Equal(KernelTaskState.Canceled, queued.State);
            Assert.Equal(0, ran);
        }
        finally { await s.DisposeAsync().AsTask().Within(Timeout); }
    }

    [Fact]
    public async Task What_pins_or_allocates_keeps_a_task_out_of_the_pool()
    {
        var s = OneCpu();
        try
        {
            KernelTask? seen = null;
            var bodies = new (Func<Task> Body, string Name)[]
            {
                // Reads KernelTask.Current: the body holds the object itself.
                (() => { seen = KernelTask.Current; return Task.CompletedTask; }, "current"),
                // Allocates while running: an await, a closure or a box could hold the task's context.
                (() => { s_sink = new object(); return Task.CompletedTask; }, "allocating"),
                // Suspends: its continuation captured the task's context.
                (async () => await Task.Yield(), "suspending"),
            };
            // Each body once first, so that its JIT compilation (which may allocate on the CPU) is not what keeps the
            // measured spawn out of the pool.
            var warm = bodies.Select(b => s.SpawnPooled(b.Body, "warm")).ToArray();
            Assert.True(await Wait.Until(() => warm.All(h => h.IsCompleted), Timeout));
            var spawned = bodies.Select(b => s.SpawnPooled(b.Body, b.Name)).ToArray();
            var (current, allocating, suspending) = (spawned[0], spawned[1], spawned[2]);
            // Joined: the caller holds its Completion.
            var joined = s.SpawnPooled(s_short, "joined");
            await joined.Join().Within(Timeout);
            // Waited for by their state, which pins nothing (a join would pin them).
            Assert.True(await Wait.Until(() => current.IsCompleted && allocating.IsCompleted && suspending.IsCompleted, Timeout));
            // A short task spawned after them is retired once it finishes: so are the others by then, if they were going to be.
            await FinishedAndRetired(s);

            Assert.Same(Object(current), seen);
            Assert.Equal(KernelTaskState.RanToCompletion, seen!.State);
            foreach (var h in new[] { current, allocating, suspending, joined }) Assert.False(Retired(h), $"{Object(h).Name} was recycled");
        }
        finally { await s.DisposeAsync().AsTask().Within(Timeout); }
    }

    [Fact]
    public async Task A_recycled_task_keeps_neither_its_outcome_nor_its_name_alive()
    {
        var s = OneCpu();
        try
        {
            await FinishedAndRetired(s); // warms the pool's path on the CPU
            var (first, _, _) = SpawnHoldingPayload(s); // compiles the body on the CPU (the JIT may allocate there)
            Assert.True(await Wait.Until(() => first.IsCompleted, Timeout));
            var (handle, outcome, name) = SpawnHoldingPayload(s);
            Assert.True(await Wait.Until(() => Retired(handle), Timeout), "never recycled");
            Assert.True(await Wait.Until(() =>
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                return !outcome.IsAlive && !name.IsAlive;
            }, Timeout), $"still alive after recycling: outcome {outcome.IsAlive}, name {name.IsAlive}");
            GC.KeepAlive(Object(handle)); // the pooled object itself is still referenced (by the CPU's magazine)
        }
        finally { await s.DisposeAsync().AsTask().Within(Timeout); }
    }

    /// <summary>A body that allocates nothing when it runs yet leaves its task holding a payload: the Task it returns
    /// (made here, beforehand) is the task's recorded outcome; the name is a fresh string.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (KernelTaskHandle, WeakReference, WeakReference) SpawnHoldingPayload(KernelScheduler s)
    {
        var payload = new byte[1 << 20];
        Task outcome = Task.FromResult<object>(payload);
        var name = new string('n', 64);
        var handle = s.SpawnPooled(() => outcome, name);
        return (handle, new WeakReference(outcome), new WeakReference(name));
    }

    [Fact]
    public void A_default_handle_is_a_typed_error()
    {
        var handle = default(KernelTaskHandle);
        Assert.Equal(ErrorCode.InvalidArgument, Assert.Throws<KernelException>(() => handle.State).Code);
        Assert.Equal(ErrorCode.InvalidArgument, Assert.Throws<KernelException>(() => handle.Cancel()).Code);
        Assert.Equal(ErrorCode.InvalidArgument, Assert.Throws<KernelException>(() => { _ = handle.Join(); }).Code);
    }

    [Fact]
    public async Task After_a_burst_the_depot_returns_to_its_floor()
    {
        var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 2, StarvationThreshold: TimeSpan.FromSeconds(30)));
        try
        {
            const int N = 300_000;
            int remaining = N, peak = 0;
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Func<Task> body = () => { if (Interlocked.Decrement(ref remaining) == 0) done.TrySetResult(); return Task.CompletedTask; };
            for (int i = 0; i < N; i++)
            {
                _ = s.SpawnPooled(body, "tiny");
                if ((i & 1023) == 0) peak = Math.Max(peak, KernelTaskPool.DepotTasks);
            }
            await done.Task.Within(Timeout);
            Assert.True(peak <= KernelTaskPool.MaxDepotMagazines * KernelTaskPool.MagazineSize, $"depot held {peak} tasks");
            // The CPUs go idle and trim it (other tests' bursts may be running: wait for a quiet moment).
            Assert.True(await Wait.Until(() => KernelTaskPool.DepotTasks <= KernelTaskPool.DepotFloorMagazines * KernelTaskPool.MagazineSize, Timeout),
                $"depot still holds {KernelTaskPool.DepotTasks} tasks");
        }
        finally { await s.DisposeAsync().AsTask().Within(Timeout); }
    }

    /// <summary>The shared run lanes keep the segments a burst from outside drained, within their bound, but not for
    /// good: once the CPUs go idle they go but one per lane (the memory a burst needed is not pinned after it).</summary>
    [Fact]
    public async Task After_a_burst_from_outside_the_shared_lanes_drop_their_kept_segments()
    {
        var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 2, StarvationThreshold: TimeSpan.FromSeconds(30)));
        try
        {
            const int N = 300_000;
            int remaining = N, kept = 0;
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Func<Task> body = () => { if (Interlocked.Decrement(ref remaining) == 0) done.TrySetResult(); return Task.CompletedTask; };
            for (int i = 0; i < N; i++)
            {
                _ = s.SpawnPooled(body, "tiny");
                if ((i & 1023) == 0) kept = Math.Max(kept, s.Global.Sum(lane => lane.KeptSegments));
            }
            await done.Task.Within(Timeout);
            Assert.True(kept <= s.Global.Length * RunLane.MaxFreeSegments, $"the shared lanes kept {kept} segments");
            Assert.True(await Wait.Until(() => s.Global.All(lane => lane.KeptSegments <= RunLane.IdleFreeSegments), Timeout),
                $"the shared lanes still keep {s.Global.Sum(lane => lane.KeptSegments)} segments");
        }
        finally { await s.DisposeAsync().AsTask().Within(Timeout); }
    }

    /// <summary>
    /// Stress: two threads spawn short pooled tasks (objects recycled all the while) while a third cancels, joins and
    /// reads the state of random handles, many of them stale. Every body runs once unless its own handle canceled it
    /// first; a join completes with its own task's outcome; a cancel through a stale handle touches nothing.
    /// </summary>
    [Fact]
    public async Task Handles_racing_completion_and_reuse_only_ever_reach_their_own_generation()
    {
        var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 2, StarvationThreshold: TimeSpan.FromSeconds(30)));
        try
        {
            const int PerSpawner = 100_000, N = 2 * PerSpawner;
            var ran = new int[N];
            var canceled = new int[N];
            var handles = new KernelTaskHandle[N];
            var published = new int[N];
            int spawned = 0, joinErrors = 0, stateErrors = 0;
            var joins = new List<Task>();
            var spawners = Enumerable.Range(0, 2).Select(k => Task.Run(() =>
            {
                for (int j = 0; j < PerSpawner; j++)
                {
                    int i = k * PerSpawner + j;
                    handles[i] = s.SpawnPooled(() => { Interlocked.Increment(ref ran[i]); return Task.CompletedTask; }, "t");
                    Volatile.Write(ref published[i], 1);
                    Interlocked.Increment(ref spawned);
                }
            })).ToArray();
            var meddler = Task.Run(() =>
            {
                var random = new Random(11);
                while (Volatile.Read(ref spawned) < N)
                {
                    int i = random.Next(N);
                    if (Volatile.Read(ref published[i]) == 0) continue;
                    var h = handles[i];
                    switch (random.Next(3))
                    {
                        case 0:
                            if (h.Cancel()) Volatile.Write(ref canceled[i], 1);
                            break;
                        case 1:
                            if (joins.Count < 20_000)
                                joins.Add(h.Join().ContinueWith(t =>
                                {
                                    // Its own outcome: ran to completion only if its own body ran.
                                    if (t.IsCompletedSuccessfully != (Volatile.Read(ref ran[i]) == 1)) Interlocked.Increment(ref joinErrors);
                                }, TaskScheduler.Default));
                            break;
                        default:
                            var state = h.State;
                            if (state is KernelTaskState.Faulted) Interlocked.Increment(ref stateErrors);
                            break;
                    }
                }
            });
            await Task.WhenAll(spawners).Within(Timeout);
            await meddler.Within(Timeout);
            Assert.True(await Wait.Until(() => handles.All(h => h.IsCompleted), Timeout));
            await Task.WhenAll(joins).Within(Timeout);

            int reused = N - handles.Select(Object).Distinct(ReferenceEqualityComparer.Instance).Count();
            Assert.True(reused > N / 20, $"only {reused} of {N} spawns reused an object: the race was not exercised");
            Assert.Equal(0, joinErrors);
            Assert.Equal(0, stateErrors);
            for (int i = 0; i < N; i++)
            {
                Assert.True(ran[i] <= 1, $"task {i} ran {ran[i]} times");
                if (ran[i] == 0)
                {
                    Assert.Equal(1, canceled[i]); // only its own handle's cancel can stop a body
                    Assert.Equal(KernelTaskState.Canceled, handles[i].State);
                }
                else Assert.Equal(KernelTaskState.RanToCompletion, handles[i].State);
            }
            var stats = s.Stats;
            Assert.Equal(N, stats.Completed + stats.Canceled);
            Assert.Equal(N - ran.Sum(), stats.Canceled);
        }
        finally { await s.DisposeAsync().AsTask().Within(Timeout); }
    }
}
