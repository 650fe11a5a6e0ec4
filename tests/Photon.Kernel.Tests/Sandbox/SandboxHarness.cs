using Photon.Kernel.Audit;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Ipc;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Quotas;
using Photon.Sandbox;

namespace Photon.Kernel.Tests.Sandbox;

/// <summary>
/// A small kernel (capabilities, namespaces, memory, processes, IPC, tenant quotas) with a sandbox on it and two
/// tenants, plus a snapshot of everything an instance could leave behind.
/// </summary>
internal sealed class SandboxHarness : IDisposable
{
    public readonly PhysicalMemory Phys = new(16 * 1024 * 1024);
    public readonly InMemoryAuditSink Audit = new();
    public readonly HostClock Clock = new();
    public readonly CapabilityManager Caps;
    public readonly NamespaceManager Ns;
    public readonly MemoryManager Mm;
    public readonly ProcessManager Pm;
    public readonly IpcManager Ipc;
    public readonly TenantQuotas Quotas = new();
    public readonly WasmSandbox Sandbox;
    public readonly CapabilityToken TenantA, TenantB;

    public SandboxHarness(TenantQuota? quota = null, int moduleCacheLimit = 32)
    {
        Caps = new CapabilityManager(Audit);
        Ns = new NamespaceManager(Caps);
        Mm = new MemoryManager(Phys, Caps);
        Pm = new ProcessManager(Caps, Ns, Mm) { Timers = new HostTimers(Clock) };
        Ipc = new IpcManager(Caps, Ns, new HostTimers(Clock));
        Quotas.Attach(Caps, Mm, Pm, Ipc, Ns);
        Sandbox = new WasmSandbox(Caps, Ns, Pm, Mm, Ipc, () => Clock.Monotonic)
        {
            DefaultQuota = quota ?? new TenantQuota(MaxInstances: 4, MaxMemoryBytes: 16 * 1024 * 1024),
            ModuleCacheLimit = moduleCacheLimit,
        };
        TenantA = Ns.CreateChild(Ns.RootCapability, "tenant-a").Value;
        TenantB = Ns.CreateChild(Ns.RootCapability, "tenant-b").Value;
    }

    /// <summary>Everything instance setup and teardown touch, in comparable form.</summary>
    public sealed record State(long LiveCapabilities, string Processes, string TenantANames, string TenantBNames,
        int SandboxInstances, long SandboxMemory, long CompiledBytes, int LiveInstances, int CachedModules,
        QuotaUsage KernelQuotaA, QuotaUsage KernelQuotaB);

    public State Snapshot()
    {
        var a = Sandbox.Tenants.GetValueOrDefault("/tenant-a");
        var b = Sandbox.Tenants.GetValueOrDefault("/tenant-b");
        return new State(
            Caps.LiveCount,
            string.Join(",", Pm.All.Select(p => p.Principal.ToString())),
            Names(TenantA), Names(TenantB),
            (a?.Instances ?? 0) + (b?.Instances ?? 0),
            (a?.MemoryBytes ?? 0) + (b?.MemoryBytes ?? 0),
            (a?.CompiledBytes ?? 0) + (b?.CompiledBytes ?? 0),
            Sandbox.LiveInstances, Sandbox.CachedModules,
            Quotas.Usage("/tenant-a"), Quotas.Usage("/tenant-b"));
    }

    private string Names(CapabilityToken tenant) => string.Join(",", Ns.List(tenant).Value.Select(e => $"{e.Name}:{e.IsLive}"));

    public void AssertHealthy()
    {
        Assert.True(Caps.VerifyInvariants().IsOk, Caps.VerifyInvariants().ToString());
    }

    public void Dispose()
    {
        Sandbox.Dispose();
        Phys.Dispose();
    }
}
