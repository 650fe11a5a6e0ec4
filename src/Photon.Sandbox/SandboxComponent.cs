using Photon.Kernel;
using Photon.Kernel.Boot;
using Photon.Kernel.Capabilities;

namespace Photon.Sandbox;

/// <summary>The sandbox as a kernel object: a capability to it with Execute lets its holder start guests
/// (<see cref="Syscalls.SandboxSyscalls.Instantiate(Photon.Kernel.Processes.Process, Photon.Kernel.Processes.Handle, Photon.Kernel.Processes.Handle, string, string, IReadOnlyList{Syscalls.HandleGrant}, SandboxLimits?)"/>).</summary>
public sealed class SandboxObject : KernelObject
{
    public override ObjectKind Kind => ObjectKind.Sandbox;

    internal SandboxObject(WasmSandbox sandbox) : base("wasm-sandbox") => Sandbox = sandbox;

    internal WasmSandbox Sandbox { get; }
}

/// <summary>
/// Boot component: the WebAssembly sandbox on the booted kernel's managers (and its VFS, so guests can use mounts
/// granted to them), bound at <c>/sandbox</c> with Execute and Delegate. Processes start guests only through that
/// binding; stopping revokes it and disposes the sandbox, which stops every instance.
/// </summary>
public sealed class SandboxComponent(TenantQuota? defaultQuota = null) : IKernelComponent
{
    private Kernel.Boot.PhotonKernel? _kernel;
    private WasmSandbox? _sandbox;
    private CapabilityToken _capability;
    private bool _bound;

    public string Name => "sandbox";

    public ValueTask<Result<string>> StartAsync(Kernel.Boot.PhotonKernel k, CancellationToken ct)
    {
        _kernel = k;
        _sandbox = new WasmSandbox(k.Capabilities, k.Namespaces, k.Processes, k.Memory, k.Ipc, () => k.Clock.Monotonic, k.Log, k.Vfs)
        {
            DefaultQuota = defaultQuota ?? new TenantQuota(),
            WallClock = () => k.Clock.WallClock,
        };
        var cap = k.Capabilities.Create(new SandboxObject(_sandbox), Rights.Execute | Rights.Read | Rights.Delegate, Principal.Kernel);
        if (!cap.IsOk) return new(cap.Error);
        _capability = cap.Value;
        var bound = k.Namespaces.Bind(k.Namespaces.RootCapability, "sandbox", _capability, Rights.Execute | Rights.Delegate);
        if (!bound.IsOk) return new(bound.Error);
        _bound = true;
        var q = _sandbox.DefaultQuota;
        return new($"Wasmtime (fuel, epochs, memory limits) at /sandbox; per tenant ≤{q.MaxInstances} instances, " +
                   $"{q.MaxMemoryBytes / (1024 * 1024)} MiB guest memory");
    }

    public ValueTask StopAsync()
    {
        if (_kernel is { } k)
        {
            if (!_capability.IsNone) { k.Capabilities.Revoke(_capability); _capability = default; }
            if (_bound) { k.Namespaces.Unbind(k.Namespaces.RootCapability, "sandbox"); _bound = false; }
        }
        _sandbox?.Dispose();
        _sandbox = null;
        _kernel = null;
        return ValueTask.CompletedTask;
    }
}
