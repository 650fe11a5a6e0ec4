using Photon.Sandbox;

namespace Photon.Kernel.Tests.Sandbox;

/// <summary>
/// Issue #9 item 14: the compiled-module cache was never evicted (40 modules kept with no instance). It is now an LRU
/// bounded by <see cref="WasmSandbox.ModuleCacheLimit"/>, entries used by live instances are pinned, and each tenant's
/// compiled code is charged to it and refunded on eviction.
/// </summary>
public sealed class SandboxModuleCacheTests
{
    private static string Module(int n) =>
        $"(module (memory (export \"memory\") 1) (func (export \"run\") (result i32) (i32.const {n})))";

    private static WasmInstance Start(SandboxHarness h, Photon.Kernel.Capabilities.CapabilityToken tenant, int n)
    {
        var g = h.Sandbox.Instantiate(tenant, $"m{n}", Module(n), [], new SandboxLimits(MaxMemoryBytes: 64 * 1024));
        Assert.True(g.IsOk, g.ToString());
        return g.Value;
    }

    private static long OneModuleBytes()
    {
        using var h = new SandboxHarness();
        Start(h, h.TenantA, 0).Stop();
        var bytes = h.Sandbox.Tenants["/tenant-a"].CompiledBytes;
        Assert.True(bytes > 0);
        return bytes;
    }

    [Fact]
    public void Sandbox_module_cache_stays_at_its_bound_while_many_distinct_modules_are_compiled()
    {
        using var h = new SandboxHarness(moduleCacheLimit: 4);
        var usage = () => h.Sandbox.Tenants["/tenant-a"];
        long first = 0;
        for (int n = 0; n < 40; n++)
        {
            var g = Start(h, h.TenantA, n);
            Assert.Equal(n, g.Call("run").Value);
            g.Stop();
            if (n == 0) first = usage().CompiledBytes;
            Assert.True(h.Sandbox.CachedModules <= 4, $"{h.Sandbox.CachedModules} modules cached after {n + 1}");
        }
        Assert.Equal(4, h.Sandbox.CachedModules);
        // Evicted modules were refunded: the tenant pays for the four it still has cached, not for forty.
        Assert.InRange(usage().CompiledBytes, 4 * first * 9 / 10, 4 * first * 11 / 10);

        // A hit reuses the compiled code (nothing new is charged); an evicted module compiles again, in place of another.
        var charged = usage().CompiledBytes;
        Start(h, h.TenantA, 39).Stop();
        Assert.Equal(charged, usage().CompiledBytes);
        var again = Start(h, h.TenantA, 0);
        Assert.Equal(0, again.Call("run").Value);
        again.Stop();
        Assert.Equal(4, h.Sandbox.CachedModules);

        h.Sandbox.Dispose();
        Assert.Equal(0, h.Sandbox.CachedModules);
        Assert.Equal(0, usage().CompiledBytes);
    }

    [Fact]
    public void Sandbox_modules_used_by_live_instances_are_pinned_and_keep_working()
    {
        using var h = new SandboxHarness(new TenantQuota(MaxInstances: 8, MaxMemoryBytes: 16 * 1024 * 1024), moduleCacheLimit: 2);
        var live = Enumerable.Range(100, 4).Select(n => Start(h, h.TenantA, n)).ToList();
        Assert.Equal(4, h.Sandbox.CachedModules); // over the bound only by pinned entries

        for (int n = 0; n < 10; n++) Start(h, h.TenantB, n).Stop();
        Assert.Equal(4, h.Sandbox.CachedModules); // every idle entry went, no pinned one did
        for (int i = 0; i < live.Count; i++) Assert.Equal(100 + i, live[i].Call("run").Value);

        foreach (var g in live) g.Stop();
        Assert.Equal(2, h.Sandbox.CachedModules); // back to the bound once nothing pins them
    }

    [Fact]
    public void Sandbox_a_tenant_cannot_exceed_its_compiled_code_share()
    {
        var one = OneModuleBytes();
        var share = 2 * one + one / 2;
        using var h = new SandboxHarness(new TenantQuota(MaxInstances: 8, MaxMemoryBytes: 16 * 1024 * 1024, MaxCompiledBytes: share), moduleCacheLimit: 32);
        var a = () => h.Sandbox.Tenants["/tenant-a"];

        // Two instances of distinct modules pin two modules' worth of tenant-a's share; a third does not fit.
        var g0 = Start(h, h.TenantA, 0);
        var g1 = Start(h, h.TenantA, 1);
        var before = h.Snapshot();
        Assert.Equal(ErrorCode.QuotaExceeded, h.Sandbox.Instantiate(h.TenantA, "m2", Module(2), []).Code);
        Assert.Equal(before, h.Snapshot());

        // tenant-b has its own share, and the same text compiled for tenant-b is charged to tenant-b.
        var b0 = Start(h, h.TenantB, 0);
        Assert.True(h.Sandbox.Tenants["/tenant-b"].CompiledBytes > 0);

        // A tenant churning through many modules makes room by evicting its own idle entries, never exceeding its share
        // and never touching another tenant's.
        g1.Stop();
        for (int n = 2; n < 30; n++)
        {
            var g = Start(h, h.TenantA, n);
            Assert.Equal(n, g.Call("run").Value);
            g.Stop();
            Assert.True(a().CompiledBytes <= share, $"tenant-a holds {a().CompiledBytes} bytes of compiled code, share {share}");
        }
        Assert.Equal(0, g0.Call("run").Value);
        Assert.Equal(0, b0.Call("run").Value);
    }

    [Fact]
    public void Sandbox_a_tenant_whose_share_is_all_pinned_is_refused_before_its_module_is_compiled()
    {
        var one = OneModuleBytes();
        using var h = new SandboxHarness(new TenantQuota(MaxInstances: 8, MaxMemoryBytes: 16 * 1024 * 1024, MaxCompiledBytes: 2 * one), moduleCacheLimit: 32);
        var g0 = Start(h, h.TenantA, 0);
        var g1 = Start(h, h.TenantA, 1);
        Assert.Equal(2 * one, h.Sandbox.Tenants["/tenant-a"].CompiledBytes);
        long compiled = h.Sandbox.ModuleCompilations;
        // Every byte of the share is pinned by running instances: a new module is refused without reaching the compiler,
        // however often it is asked for.
        for (int i = 0; i < 20; i++) Assert.Equal(ErrorCode.QuotaExceeded, h.Sandbox.Instantiate(h.TenantA, "m2", Module(2), []).Code);
        Assert.Equal(compiled, h.Sandbox.ModuleCompilations);
        // Another tenant still compiles; and once an instance stops, its idle entry makes room and tenant-a compiles again.
        Start(h, h.TenantB, 2).Stop();
        Assert.Equal(compiled + 1, h.Sandbox.ModuleCompilations);
        g1.Stop();
        var g2 = Start(h, h.TenantA, 2);
        Assert.Equal(2, g2.Call("run").Value);
        Assert.Equal(0, g0.Call("run").Value);
    }
}
