using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Ipc;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Quotas;

namespace Photon.Kernel.Tests.Quotas;

public sealed class TenantQuotaTests : IDisposable
{
    private readonly PhysicalMemory _phys = new(16 * 1024 * 1024);
    private readonly CapabilityManager _caps = new();
    private readonly NamespaceManager _ns;
    private readonly MemoryManager _mm;
    private readonly ProcessManager _pm;
    private readonly IpcManager _ipc;
    private readonly TenantQuotas _quotas = new();
    private readonly CapabilityToken _a, _b;

    public TenantQuotaTests()
    {
        _ns = new NamespaceManager(_caps);
        _mm = new MemoryManager(_phys, _caps);
        _pm = new ProcessManager(_caps, _ns, _mm);
        _ipc = new IpcManager(_caps, _ns, new HostTimers(new HostClock()));
        _quotas.Attach(_caps, _mm, _pm, _ipc, _ns);
        _a = _ns.CreateChild(_ns.RootCapability, "tenant-a").Value;
        _b = _ns.CreateChild(_ns.RootCapability, "tenant-b").Value;
    }

    public void Dispose() => _phys.Dispose();

    [Fact]
    public void Memory_quota_refuses_over_allocation_and_frees_give_it_back()
    {
        _quotas.SetLimits("/tenant-a", new QuotaLimits(MemoryBytes: 64 * 1024)).Unwrap();
        var (p, _) = _pm.Spawn("svc", _a).Value;
        var (other, _) = _pm.Spawn("svc", _b).Value;
        var first = p.AllocateMemory(48 * 1024).Value;
        Assert.Equal(ErrorCode.QuotaExceeded, p.AllocateMemory(32 * 1024).Code);
        Assert.True(other.AllocateMemory(1024 * 1024).IsOk); // tenant-b has no limit
        Assert.Equal(48 * 1024, _quotas.Usage("/tenant-a").MemoryBytes);
        p.FreeMemory(first).Unwrap();
        Assert.Equal(0, _quotas.Usage("/tenant-a").MemoryBytes);
        Assert.True(p.AllocateMemory(64 * 1024).IsOk);
    }

    [Fact]
    public async Task Task_quota_limits_concurrent_tasks_and_finished_tasks_give_it_back()
    {
        _quotas.SetLimits("/tenant-a", new QuotaLimits(Tasks: 2)).Unwrap();
        var (p, _) = _pm.Spawn("svc", _a).Value;
        var gate = new TaskCompletionSource();
        var t1 = p.Run(_ => gate.Task, "one").Value;
        var t2 = p.Run(_ => gate.Task, "two").Value;
        Assert.Equal(ErrorCode.QuotaExceeded, p.Run(_ => Task.CompletedTask, "three").Code);
        gate.SetResult();
        await Task.WhenAll(t1, t2);
        Assert.Equal(0, _quotas.Usage("/tenant-a").Tasks);
        Assert.True(p.Run(_ => Task.CompletedTask, "four").IsOk);
    }

    [Fact]
    public void Capability_quota_counts_what_a_tenant_holds()
    {
        _quotas.SetLimits("/tenant-a", new QuotaLimits(Capabilities: 5)).Unwrap();
        var (p, _) = _pm.Spawn("svc", _a).Value; // the process's namespace capability counts
        var held = new List<Handle>();
        Result<Handle> r;
        while ((r = p.AllocateMemory(4096)).IsOk) held.Add(r.Value);
        Assert.Equal(ErrorCode.QuotaExceeded, r.Code);
        Assert.Equal(5, _quotas.Usage("/tenant-a").Capabilities);
        p.FreeMemory(held[0]).Unwrap();
        Assert.True(p.AllocateMemory(4096).IsOk);
        Assert.True(_caps.VerifyInvariants().IsOk);
    }

    [Fact]
    public void Ipc_queue_depth_is_limited_per_tenant()
    {
        _quotas.SetLimits("/tenant-a", new QuotaLimits(IpcQueueDepth: 8)).Unwrap();
        var (p, _) = _pm.Spawn("svc", _a).Value;
        Assert.True(_ipc.CreateChannel(p, depth: 8).IsOk);
        Assert.Equal(ErrorCode.QuotaExceeded, _ipc.CreateChannel(p, depth: 64).Code);
    }

    [Fact]
    public void Only_top_level_tenants_take_quotas()
    {
        Assert.Equal(ErrorCode.InvalidArgument, _quotas.SetLimits("/tenant-a/svc", new QuotaLimits()).Code);
        Assert.Equal(ErrorCode.InvalidName, _quotas.SetLimits("/../x", new QuotaLimits()).Code);
        Assert.Equal("/tenant-a", TenantQuotas.TenantOf(new Principal("x", "/tenant-a/svc/db")));
        Assert.Null(TenantQuotas.TenantOf(Principal.Kernel));
    }
}
