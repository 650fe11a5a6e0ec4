using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Processes;
using Wasmtime;

namespace Photon.Sandbox;

public enum WasmInstanceState { Running, Killed, Stopped }

/// <summary>
/// One guest: its Wasmtime store and instance, its Photon process and namespace, its limits.
/// <para>
/// A store is single-threaded and must never be disposed while guest code runs in it. Calls are serialized; Stop and
/// Kill may come from any thread at any time. They flip the state, and if a call is in flight they ask the engine to
/// interrupt it (epoch interruption: the guest traps at its next function entry or loop back-edge) and leave the
/// release to that call, which performs it once Wasmtime has unwound. Otherwise they release at once. Exactly one of
/// the two releases; <see cref="Exited"/> completes when the store, process, namespace and quota are gone.
/// </para>
/// </summary>
public sealed class WasmInstance
{
    private readonly WasmSandbox _sandbox;
    private readonly List<string> _log = new();
    private readonly Lock _calls = new();  // one call at a time
    private readonly Lock _state = new();  // State, _fault, _inCall, _released
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _interrupt;
    private KernelError? _fault;
    private bool _inCall;
    private int _callThread;
    private bool _released;
    private Store? _store;
    private Instance? _instance;

    internal WasmInstance(WasmSandbox sandbox, string name, Process process, CapabilityToken control, InstanceResources resources)
    {
        _sandbox = sandbox;
        Name = name;
        Process = process;
        Control = control;
        Resources = resources;
    }

    public string Name { get; }
    public Process Process { get; }
    public WasmInstanceState State { get; private set; }
    public KernelError? Fault { get { lock (_state) return _fault; } }
    public long FuelUsed { get; private set; }

    /// <summary>The code a WASI guest passed to <c>proc_exit</c>, or 0 once its <c>_start</c> returned; null while it runs.</summary>
    public int? ExitCode { get; private set; }

    /// <summary>Completes once everything the instance held has been given back.</summary>
    public Task Exited => _exited.Task;

    internal CapabilityToken Control { get; }
    internal InstanceResources Resources { get; }

    public IReadOnlyList<string> Log { get { lock (_log) return _log.ToArray(); } }

    /// <summary>Creates the store (before the imports are linked, so host functions can be bound to it). Throws what
    /// Wasmtime throws; the sandbox then calls <see cref="DisposeStore"/> and undoes the rest of the setup.</summary>
    internal Store CreateStore(Engine engine)
    {
        var limits = Resources.Limits;
        _store = new Store(engine, this);
        _store.SetLimits(memorySize: limits.MaxMemoryBytes, tableElements: (uint)limits.MaxTableElements, instances: 1, tables: 4, memories: 1);
        _store.Fuel = (ulong)limits.FuelPerCall;
        _store.SetEpochDeadlineCallback(OnEpochDeadline);
        _store.SetEpochDeadline(1);
        return _store;
    }

    /// <summary>Instantiates in the store made by <see cref="CreateStore"/> (running the start function).</summary>
    internal void Start(Module module, Linker linker) => _instance = linker.Instantiate(_store!, module);

    internal void DisposeStore()
    {
        _store?.Dispose();
        _store = null;
        _instance = null;
    }

    // The engine's epoch is shared: every stop ticks it and every running store lands here. Only this instance's own
    // stop ends its call; otherwise the guest carries on until the next tick.
    private ulong OnEpochDeadline(Store store) => _interrupt ? throw new GuestInterruptedException() : 1UL;

    /// <summary>Calls an exported function with i32 arguments. A trap or fuel exhaustion kills the instance; a call
    /// that a stop or kill interrupts, or that arrives afterwards, returns <see cref="ErrorCode.Closed"/> (or the fault).</summary>
    public Result<int> Call(string export, params int[] args)
    {
        if (export is null || args is null) return Errors.Of(ErrorCode.InvalidArgument, "export and args are required");
        lock (_calls)
        {
            lock (_state)
            {
                if (State != WasmInstanceState.Running) return NotRunning();
                // Only a host function calling back into its own instance gets here with a call in flight.
                if (_inCall) return Errors.Of(ErrorCode.Busy, $"{Name} is already in a call");
                _inCall = true;
                _callThread = Environment.CurrentManagedThreadId;
            }
            try
            {
                return Invoke(export, args);
            }
            finally
            {
                bool release;
                lock (_state)
                {
                    _inCall = false;
                    _callThread = 0;
                    release = State != WasmInstanceState.Running && !_released;
                    if (release) _released = true;
                }
                // A stop or kill arrived while the guest ran and left the release to us: Wasmtime has unwound now.
                if (release) Release();
            }
        }
    }

    private Result<int> Invoke(string export, int[] args)
    {
        var store = _store!;
        var f = _instance!.GetFunction(export);
        if (f is null) return Errors.Of(ErrorCode.NotFound, $"{Name} exports no function '{export}'");
        if (f.Parameters.Count != args.Length || f.Parameters.Any(p => p != ValueKind.Int32))
            return Errors.Of(ErrorCode.InvalidArgument, $"'{export}' does not take {args.Length} i32 arguments");
        var fuel = Resources.Limits.FuelPerCall;
        store.Fuel = (ulong)fuel;
        // Arm the deadline before looking at the flag: a stop that sets the flag after this read ticks the epoch after
        // the deadline was armed, so the guest traps; a stop before it is seen here.
        store.SetEpochDeadline(1);
        if (_interrupt) return NotRunning();
        try
        {
            var result = f.Invoke(args.Select(a => (ValueBox)a).ToArray());
            return result switch { int i => i, null => 0, long l => (int)l, _ => 0 };
        }
        catch (WasmtimeException e) when (e.InnerException is Wasi.WasiExitException exit)
        {
            // proc_exit: this guest is done (and only this guest); its exit code is the call's result.
            ExitCode = exit.Code;
            Stop();
            return exit.Code;
        }
        catch (WasmtimeException) when (_interrupt)
        {
            return NotRunning();
        }
        catch (TrapException e)
        {
            var code = e.Type == TrapCode.OutOfFuel ? ErrorCode.QuotaExceeded : ErrorCode.Faulted;
            var fault = new KernelError(code, e.Type == TrapCode.OutOfFuel
                ? $"{Name} ran out of fuel ({fuel} per call)"
                : $"{Name} trapped: {e.Type} ({WasmSandbox.FirstLine(e.Message)})");
            Kill(fault);
            return fault;
        }
        catch (WasmtimeException e)
        {
            var fault = new KernelError(ErrorCode.Faulted, $"{Name} failed: {WasmSandbox.FirstLine(e.Message)}");
            Kill(fault);
            return fault;
        }
        finally
        {
            FuelUsed += fuel - (long)store.Fuel;
        }
    }

    /// <summary>
    /// Runs a WASI command: calls its <c>_start</c> and stops the instance when it returns. The result is the exit
    /// code (0 when <c>_start</c> returns, else what <c>proc_exit</c> passed); a trap, fuel exhaustion or a stop is the
    /// error it is for <see cref="Call"/>.
    /// </summary>
    public Result<int> RunCommand()
    {
        var r = Call("_start");
        if (r.IsOk && ExitCode is null) ExitCode = 0;
        if (r.IsOk) Stop();
        return r.IsOk ? ExitCode ?? 0 : r;
    }

    /// <summary>Bytes the host moves (or lists) for the guest per unit of fuel charged: WASI and the photon imports
    /// alike, so a host call's work counts against the per-call budget like the guest's own instructions.</summary>
    internal const int BytesPerFuel = 16;

    /// <summary>Charges <paramref name="bytes"/> moved for the guest (at <see cref="BytesPerFuel"/>).</summary>
    internal void ChargeBytes(long bytes) => ChargeFuel(bytes / BytesPerFuel);

    /// <summary>Charges work the host does for the guest (bytes it moves) to the running call's fuel; at zero the
    /// guest traps out of fuel at its next instruction. Only called from host functions, on the call's thread.</summary>
    internal void ChargeFuel(long fuel)
    {
        if (_store is not { } store || fuel <= 0) return;
        var left = store.Fuel;
        store.Fuel = left > (ulong)fuel ? left - (ulong)fuel : 0;
    }

    private KernelError NotRunning()
    {
        lock (_state) return _fault ?? Errors.Of(ErrorCode.Closed, $"{Name} is {State.ToString().ToLowerInvariant()}");
    }

    /// <summary>Kills the instance: destroys its process (revoking everything it held) and its namespace, and audits
    /// the kill. A call in flight is interrupted and returns <paramref name="reason"/>.</summary>
    public void Kill(KernelError reason)
    {
        if (!Transition(WasmInstanceState.Killed, reason, out var releaseNow)) return;
        Resources.Usage.CountKill();
        _sandbox.Report(this, reason);
        Finish(releaseNow);
    }

    /// <summary>Stops a healthy instance. A call in flight is interrupted and returns <see cref="ErrorCode.Closed"/>.</summary>
    public void Stop()
    {
        if (!Transition(WasmInstanceState.Stopped, null, out var releaseNow)) return;
        Finish(releaseNow);
    }

    /// <summary>Stops the instance and waits until everything it held has been given back.</summary>
    public Task StopAsync()
    {
        Stop();
        return Exited;
    }

    private bool Transition(WasmInstanceState to, KernelError? fault, out bool releaseNow)
    {
        lock (_state)
        {
            releaseNow = false;
            if (State != WasmInstanceState.Running) return false;
            State = to;
            _fault = fault;
            _interrupt = true;
            releaseNow = !_inCall && !_released;
            if (releaseNow) _released = true;
            return true;
        }
    }

    private void Finish(bool releaseNow)
    {
        if (releaseNow) { Release(); return; }
        // A call is running: make it unwind (unless it is this thread's own call, already on its way out), and let it
        // release when it has.
        if (Volatile.Read(ref _callThread) != Environment.CurrentManagedThreadId) _sandbox.Interrupt();
    }

    private void Release()
    {
        DisposeStore();
        _ = CompleteAfter(_sandbox.Teardown(this));
    }

    private async Task CompleteAfter(Task teardown)
    {
        try { await teardown.ConfigureAwait(false); }
        catch (Exception e) { AddLog($"teardown failed: {e.Message}"); }
        _exited.TrySetResult();
    }

    internal void AddLog(string text)
    {
        lock (_log) if (_log.Count < 1000) _log.Add(text.Length > 1024 ? text[..1024] : text);
    }
}

/// <summary>Thrown from the epoch callback to end a call that a stop or kill interrupted.</summary>
internal sealed class GuestInterruptedException() : Exception("the guest was stopped");
