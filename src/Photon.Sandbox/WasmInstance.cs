using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Processes;
using Wasmtime;

namespace Photon.Sandbox;

public enum WasmInstanceState { Running, Killed, Stopped }

/// <summary>One running guest: its Wasmtime store and instance, its Photon process and namespace, its limits.</summary>
public sealed class WasmInstance
{
    private readonly WasmSandbox _sandbox;
    private readonly TenantUsage _usage;
    private readonly SandboxLimits _limits;
    private readonly List<string> _log = new();
    private readonly Lock _gate = new();
    private Store? _store;
    private Instance? _instance;

    internal WasmInstance(WasmSandbox sandbox, string name, Process process, CapabilityToken control, CapabilityToken ns, TenantUsage usage, SandboxLimits limits)
    {
        _sandbox = sandbox;
        Name = name;
        Process = process;
        Control = control;
        NamespaceCapability = ns;
        _usage = usage;
        _limits = limits;
    }

    public string Name { get; }
    public Process Process { get; }
    public WasmInstanceState State { get; private set; }
    public KernelError? Fault { get; private set; }
    public long FuelUsed { get; private set; }
    internal CapabilityToken Control { get; }
    internal CapabilityToken NamespaceCapability { get; }

    public IReadOnlyList<string> Log { get { lock (_log) return _log.ToArray(); } }

    internal void Start(Engine engine, Module module, Linker linker)
    {
        _store = new Store(engine, this);
        _store.SetLimits(memorySize: _limits.MaxMemoryBytes, tableElements: (uint)_limits.MaxTableElements, instances: 1, tables: 4, memories: 1);
        _store.Fuel = (ulong)_limits.FuelPerCall;
        _instance = linker.Instantiate(_store, module);
    }

    /// <summary>Calls an exported function with i32 arguments. A trap or fuel exhaustion kills the instance.</summary>
    public Result<int> Call(string export, params int[] args)
    {
        lock (_gate)
        {
            if (State != WasmInstanceState.Running || _instance is null || _store is null)
                return Fault ?? Errors.Of(ErrorCode.Closed, $"{Name} is not running");
            var f = _instance.GetFunction(export);
            if (f is null) return Errors.Of(ErrorCode.NotFound, $"{Name} exports no function '{export}'");
            if (f.Parameters.Count != args.Length || f.Parameters.Any(p => p != ValueKind.Int32))
                return Errors.Of(ErrorCode.InvalidArgument, $"'{export}' does not take {args.Length} i32 arguments");
            _store.Fuel = (ulong)_limits.FuelPerCall;
            try
            {
                var result = f.Invoke(args.Select(a => (ValueBox)a).ToArray());
                return result switch { int i => i, null => 0, long l => (int)l, _ => 0 };
            }
            catch (TrapException e)
            {
                var code = e.Type == TrapCode.OutOfFuel ? ErrorCode.QuotaExceeded : ErrorCode.Faulted;
                var fault = new KernelError(code, e.Type == TrapCode.OutOfFuel
                    ? $"{Name} ran out of fuel ({_limits.FuelPerCall} per call)"
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
                if (_store is not null) FuelUsed += _limits.FuelPerCall - (long)_store.Fuel;
            }
        }
    }

    /// <summary>Kills the instance: destroys its process (revoking everything it held) and its namespace.</summary>
    public void Kill(KernelError reason)
    {
        if (State != WasmInstanceState.Running) return;
        State = WasmInstanceState.Killed;
        Fault = reason;
        _usage.Killed++;
        _sandbox.Report(this, reason);
        Release();
    }

    /// <summary>Stops a healthy instance.</summary>
    public void Stop()
    {
        if (State != WasmInstanceState.Running) return;
        State = WasmInstanceState.Stopped;
        Release();
    }

    private void Release()
    {
        _usage.Release(_limits.MaxMemoryBytes);
        _ = Observe(_sandbox.TeardownAsync(this));
        _store?.Dispose();
        _store = null;
        _instance = null;
    }

    private async Task Observe(Task teardown)
    {
        try { await teardown.ConfigureAwait(false); }
        catch (Exception e) { AddLog($"teardown failed: {e.Message}"); }
    }

    internal void AddLog(string text)
    {
        lock (_log) if (_log.Count < 1000) _log.Add(text.Length > 1024 ? text[..1024] : text);
    }

    internal Handle Handle(int value) => new(value);

    /// <summary>Copies guest bytes out after checking the range against the guest's memory.</summary>
    internal bool Guest(Caller c, int ptr, int len, out byte[] bytes)
    {
        bytes = [];
        var mem = c.GetMemory("memory");
        if (mem is null || ptr < 0 || len < 0 || (long)ptr + len > mem.GetLength()) return false;
        bytes = mem.GetSpan(ptr, len).ToArray();
        return true;
    }

    /// <summary>Runs <paramref name="body"/> on a bounds-checked span of guest memory.</summary>
    internal int WithGuest(Caller c, int ptr, int len, Func<Span<byte>, int> body)
    {
        var mem = c.GetMemory("memory");
        if (mem is null || ptr < 0 || len < 0 || (long)ptr + len > mem.GetLength()) return -(int)ErrorCode.OutOfRange;
        return body(mem.GetSpan(ptr, len));
    }
}
