using Photon.Kernel.Audit;
using Photon.Kernel.Capabilities;
using Photon.Sandbox;

namespace Photon.Kernel.Tests.Sandbox;

/// <summary>
/// Issue #9 item 4: Stop/Kill from another thread while a guest runs used to dispose the Wasmtime store under the
/// running guest and take the whole host process down. Now they interrupt the call, wait for it to unwind, and release.
/// </summary>
public sealed class SandboxStopTests : IDisposable
{
    // Logs once (so a test knows the guest is inside Wasm), then loops forever.
    private const string LoggingSpin = """
        (module
          (import "photon" "log" (func $log (param i32 i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 0) "spinning")
          (func (export "run") (result i32)
            (drop (call $log (i32.const 0) (i32.const 8)))
            (loop $forever (br $forever))
            (i32.const 0)))
        """;

    // Polls the region granted as /flag through a host call until its first word is non-zero; returns the poll count.
    private const string FlagWaiter = """
        (module
          (import "photon" "log" (func $log (param i32 i32) (result i32)))
          (import "photon" "open" (func $open (param i32 i32 i32) (result i32)))
          (import "photon" "region_read" (func $rr (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 0) "/flag")
          (data (i32.const 16) "waiting")
          (func (export "run") (result i32)
            (local $h i32) (local $n i32)
            (local.set $h (call $open (i32.const 0) (i32.const 5) (i32.const 1)))
            (if (i32.lt_s (local.get $h) (i32.const 0)) (then (return (local.get $h))))
            (drop (call $log (i32.const 16) (i32.const 7)))
            (loop $wait
              (local.set $n (i32.add (local.get $n) (i32.const 1)))
              (drop (call $rr (local.get $h) (i32.const 0) (i32.const 64) (i32.const 4)))
              (br_if $wait (i32.eqz (i32.load (i32.const 64)))))
            (local.get $n)))
        """;

    // Enough fuel that only a stop can end a spinning call within the test's lifetime.
    private static readonly SandboxLimits Endless = new(FuelPerCall: SandboxLimits.MaxFuel);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly SandboxHarness _h = new();

    public void Dispose() => _h.Dispose();

    private static Task<T> OnThread<T>(Func<T> body) => Task.Factory.StartNew(body, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private static void WaitForLog(WasmInstance g, string line)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!g.Log.Contains(line))
        {
            Assert.True(DateTime.UtcNow < deadline, $"{g.Name} never logged '{line}'");
            Thread.Sleep(1);
        }
    }

    [Fact]
    public async Task Sandbox_Stop_interrupts_a_spinning_call_and_later_calls_are_Closed()
    {
        await _h.Sandbox.Instantiate(_h.TenantB, "spin", LoggingSpin, [], Endless).Value.StopAsync(); // warm the module cache
        var before = _h.Snapshot();
        var g = _h.Sandbox.Instantiate(_h.TenantB, "spin", LoggingSpin, [], Endless).Value;
        var call = OnThread(() => g.Call("run"));
        WaitForLog(g, "spinning");

        g.Stop();
        var r = await call.WaitAsync(Patience);
        Assert.Equal(ErrorCode.Closed, r.Code);
        await g.Exited.WaitAsync(Patience);
        Assert.Equal(WasmInstanceState.Stopped, g.State);
        Assert.Equal(ErrorCode.Closed, g.Call("run").Code);
        Assert.Equal(0, _h.Sandbox.Tenants["/tenant-b"].Killed); // a stop is not a kill
        Assert.Equal(before, _h.Snapshot());
        _h.AssertHealthy();
    }

    [Fact]
    public async Task Sandbox_Kill_interrupts_a_spinning_call_which_returns_the_kill_reason_and_is_audited()
    {
        var g = _h.Sandbox.Instantiate(_h.TenantB, "spin", LoggingSpin, [], Endless).Value;
        var call = OnThread(() => g.Call("run"));
        WaitForLog(g, "spinning");

        var reason = new KernelError(ErrorCode.Cancelled, "killed by the operator");
        g.Kill(reason);
        Assert.Equal(reason, (await call.WaitAsync(Patience)).Error);
        await g.Exited.WaitAsync(Patience);
        Assert.Equal(WasmInstanceState.Killed, g.State);
        Assert.Equal(reason, g.Call("run").Error);
        Assert.Equal(1, _h.Sandbox.Tenants["/tenant-b"].Killed);
        Assert.Contains(_h.Audit.Snapshot(), e => e.Action == AuditAction.Denied && e.Error == ErrorCode.Cancelled && e.Subject.Contains("spin"));
        Assert.Empty(_h.Pm.All);
    }

    [Fact]
    public async Task Sandbox_Stop_and_Kill_racing_calls_on_several_threads_never_crash_and_release_exactly_once()
    {
        // Warm the module cache so the baseline includes the compiled spin module.
        await _h.Sandbox.Instantiate(_h.TenantB, "spin", LoggingSpin, [], Endless).Value.StopAsync();
        var before = _h.Snapshot();
        var rng = new Random(9);
        var reason = new KernelError(ErrorCode.Cancelled, "killed");
        for (int iter = 0; iter < 120; iter++)
        {
            var g = _h.Sandbox.Instantiate(_h.TenantB, "spin", LoggingSpin, [], Endless).Value;
            // Three callers, each calling twice: the first call may run, wait behind another, or arrive after the stop.
            var callers = Enumerable.Range(0, 3).Select(_ => OnThread(() => new[] { g.Call("run"), g.Call("run") })).ToArray();
            var delay = rng.Next(0, 3);
            var mode = iter % 3;
            var stoppers = Enumerable.Range(0, mode == 2 ? 2 : 1).Select(k => OnThread(() =>
            {
                if (delay > 0) Thread.Sleep(delay);
                if (mode == 0 || (mode == 2 && k == 0)) g.Stop(); else g.Kill(reason);
                return 0;
            })).ToArray();

            await Task.WhenAll(stoppers).WaitAsync(Patience);
            var results = (await Task.WhenAll(callers).WaitAsync(Patience)).SelectMany(x => x).ToArray();
            await g.Exited.WaitAsync(Patience);

            var expected = g.State == WasmInstanceState.Killed ? reason : new KernelError(ErrorCode.Closed, "");
            Assert.NotEqual(WasmInstanceState.Running, g.State);
            Assert.All(results, r => Assert.Equal(expected.Code, r.Code)); // never Ok, never a trap, never a crash
        }
        Assert.Equal(before, _h.Snapshot());
        Assert.Equal(0, _h.Sandbox.LiveInstances);
        _h.AssertHealthy();
    }

    [Fact]
    public async Task Sandbox_stopping_other_instances_does_not_interrupt_a_running_call()
    {
        var flag = _h.Mm.Allocate(4096, Principal.Kernel).Value;
        var waiter = _h.Sandbox.Instantiate(_h.TenantA, "waiter", FlagWaiter, [new SandboxGrant("flag", flag, Rights.Read)], Endless).Value;
        var waiting = OnThread(() => waiter.Call("run"));
        WaitForLog(waiter, "waiting");

        // Every stop ticks the engine-wide epoch the waiter's store also watches.
        for (int i = 0; i < 20; i++)
        {
            var spin = _h.Sandbox.Instantiate(_h.TenantB, "spin", LoggingSpin, [], Endless).Value;
            var call = OnThread(() => spin.Call("run"));
            WaitForLog(spin, "spinning");
            if (i % 2 == 0) spin.Stop(); else spin.Kill(new KernelError(ErrorCode.Cancelled, "killed"));
            Assert.False((await call.WaitAsync(Patience)).IsOk);
            await spin.Exited.WaitAsync(Patience);
        }
        Assert.False(waiting.IsCompleted);

        _h.Mm.Write(flag, 0, BitConverter.GetBytes(1)).Unwrap();
        var polls = await waiting.WaitAsync(Patience);
        Assert.True(polls.IsOk, polls.ToString());
        Assert.True(polls.Value > 0);
        Assert.Equal(WasmInstanceState.Running, waiter.State);
        Assert.Equal(1, waiter.Call("run").Value);
    }

    [Fact]
    public async Task Sandbox_Dispose_interrupts_running_guests_before_freeing_the_engine()
    {
        var g = _h.Sandbox.Instantiate(_h.TenantB, "spin", LoggingSpin, [], Endless).Value;
        var call = OnThread(() => g.Call("run"));
        WaitForLog(g, "spinning");

        _h.Sandbox.Dispose();
        Assert.Equal(ErrorCode.Closed, (await call.WaitAsync(Patience)).Code);
        Assert.True(g.Exited.IsCompleted);
        Assert.Equal(ErrorCode.Closed, g.Call("run").Code);
        Assert.Equal(ErrorCode.Closed, _h.Sandbox.Instantiate(_h.TenantB, "hello", WasmSandbox.Guest("hello"), []).Code);
        Assert.Empty(_h.Pm.All);
    }
}
