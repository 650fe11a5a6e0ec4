using Photon.Kernel.Capabilities;
using Photon.Sandbox;

namespace Photon.Kernel.Tests.Sandbox;

/// <summary>
/// Issue #9 item 11: negative limits made Instantiate throw half-way, leaving a process, a namespace and negative quota
/// usage behind (after which three 10 MiB guests fit a 16 MiB tenant). Limits are now validated, and any failure while
/// setting an instance up gives back everything taken so far.
/// </summary>
public sealed class SandboxSetupTests : IDisposable
{
    private const long MiB = 1024 * 1024;
    private readonly SandboxHarness _h = new(new TenantQuota(MaxInstances: 4, MaxMemoryBytes: 16 * MiB));

    public void Dispose() => _h.Dispose();

    public static TheoryData<long, long, int> BadLimits => new()
    {
        { -1, 4 * MiB, 100 },                      // negative fuel (was cast to a huge ulong)
        { 0, 4 * MiB, 100 },                       // no fuel: no call could ever run
        { SandboxLimits.MaxFuel + 1, 4 * MiB, 100 },
        { long.MaxValue, 4 * MiB, 100 },
        { long.MinValue, 4 * MiB, 100 },
        { 1_000_000, -10 * MiB, 100 },             // negative memory (lowered the tenant's usage)
        { 1_000_000, 0, 100 },
        { 1_000_000, SandboxLimits.MinMemory - 1, 100 },
        { 1_000_000, SandboxLimits.MaxMemory + 1, 100 },
        { 1_000_000, long.MaxValue, 100 },
        { 1_000_000, long.MinValue, 100 },
        { 1_000_000, 4 * MiB, -1 },                // negative table limit (wrapped to uint)
        { 1_000_000, 4 * MiB, int.MinValue },
        { 1_000_000, 4 * MiB, SandboxLimits.MaxTable + 1 },
        { 1_000_000, 4 * MiB, int.MaxValue },
    };

    [Theory]
    [MemberData(nameof(BadLimits))]
    public void Sandbox_bad_limits_are_InvalidArgument_and_change_nothing(long fuel, long memory, int table)
    {
        var before = _h.Snapshot();
        var r = _h.Sandbox.Instantiate(_h.TenantA, "hello", WasmSandbox.Guest("hello"), [], new SandboxLimits(fuel, memory, table));
        Assert.Equal(ErrorCode.InvalidArgument, r.Code);
        Assert.Equal(before, _h.Snapshot());
    }

    [Fact]
    public void Sandbox_after_refused_negative_limits_the_tenant_memory_quota_still_holds()
    {
        for (int i = 0; i < 3; i++)
            Assert.Equal(ErrorCode.InvalidArgument, _h.Sandbox.Instantiate(_h.TenantA, "neg", WasmSandbox.Guest("hello"), [], new SandboxLimits(MaxMemoryBytes: -10 * MiB)).Code);
        var tenMiB = new SandboxLimits(MaxMemoryBytes: 10 * MiB);
        Assert.True(_h.Sandbox.Instantiate(_h.TenantA, "big1", WasmSandbox.Guest("hello"), [], tenMiB).IsOk);
        Assert.Equal(ErrorCode.QuotaExceeded, _h.Sandbox.Instantiate(_h.TenantA, "big2", WasmSandbox.Guest("hello"), [], tenMiB).Code);
        Assert.Equal(ErrorCode.QuotaExceeded, _h.Sandbox.Instantiate(_h.TenantA, "big3", WasmSandbox.Guest("hello"), [], tenMiB).Code);
        Assert.Equal(10 * MiB, _h.Sandbox.Tenants["/tenant-a"].MemoryBytes);
        Assert.Equal(1, _h.Sandbox.Tenants["/tenant-a"].Instances);
    }

    [Fact]
    public void Sandbox_an_invalid_default_quota_is_refused_not_thrown()
    {
        using var h = new SandboxHarness(new TenantQuota(MaxInstances: 4, MaxMemoryBytes: -1));
        Assert.Equal(ErrorCode.InvalidArgument, h.Sandbox.Instantiate(h.TenantA, "hello", WasmSandbox.Guest("hello"), []).Code);
        using var h2 = new SandboxHarness(moduleCacheLimit: -1);
        Assert.Equal(ErrorCode.InvalidArgument, h2.Sandbox.Instantiate(h2.TenantA, "hello", WasmSandbox.Guest("hello"), []).Code);
    }

    public static TheoryData<string, ErrorCode> FailingSetups => new()
    {
        { "malformed module", ErrorCode.InvalidArgument },
        { "unknown import", ErrorCode.Faulted },
        { "import with the wrong signature", ErrorCode.Faulted },
        { "trapping start function", ErrorCode.Faulted },
        { "start function out of fuel", ErrorCode.Faulted },
        { "initial memory over the limit", ErrorCode.Faulted },
        { "revoked grant", ErrorCode.Revoked },
        { "second grant not delegable", ErrorCode.AccessDenied },
        { "forged grant", ErrorCode.UnknownCapability },
        { "duplicate grant names", ErrorCode.InvalidArgument },
        { "bad grant name", ErrorCode.InvalidName },
        { "instance quota", ErrorCode.QuotaExceeded },
        { "memory quota", ErrorCode.QuotaExceeded },
        { "name too long for the namespace", ErrorCode.InvalidName },
        { "tenant capability without Create", ErrorCode.AccessDenied },
        { "null grant list", ErrorCode.InvalidArgument },
    };

    [Theory]
    [MemberData(nameof(FailingSetups))]
    public void Sandbox_a_failed_setup_leaves_no_process_namespace_capability_or_quota_usage(string failure, ErrorCode expected)
    {
        // What the cases need, made before the baseline so only the failing Instantiate is measured.
        var region = _h.Mm.Allocate(4096, Principal.Kernel).Value;
        var revoked = _h.Caps.Derive(region, Rights.Read | Rights.Delegate, Principal.Kernel).Value;
        _h.Caps.Revoke(revoked).Unwrap();
        var readOnly = _h.Caps.Derive(region, Rights.Read, Principal.Kernel).Value; // no Delegate: cannot be bound
        var weakTenant = _h.Caps.Derive(_h.TenantA, Rights.Read | Rights.Bind, Principal.Kernel).Value;
        var running = new List<WasmInstance>();
        if (failure == "instance quota")
            for (int i = 0; i < 4; i++) running.Add(_h.Sandbox.Instantiate(_h.TenantA, $"h{i}", WasmSandbox.Guest("hello"), [], new SandboxLimits(MaxMemoryBytes: 64 * 1024)).Value);
        if (failure == "memory quota")
            running.Add(_h.Sandbox.Instantiate(_h.TenantA, "big", WasmSandbox.Guest("hello"), [], new SandboxLimits(MaxMemoryBytes: 12 * MiB)).Value);

        var before = _h.Snapshot();
        var hello = WasmSandbox.Guest("hello");
        var limits = new SandboxLimits();
        var name = "victim";
        var tenant = _h.TenantA;
        IReadOnlyList<SandboxGrant> grants = [new SandboxGrant("counter", region, Rights.Read | Rights.Write)];
        var wat = failure switch
        {
            "malformed module" => "(module (func $f (result i32))) garbage",
            "unknown import" => """(module (import "photon" "format_disk" (func)))""",
            "import with the wrong signature" => """(module (import "photon" "log" (func (param i64))))""",
            "trapping start function" => "(module (func $s unreachable) (start $s))",
            "start function out of fuel" => "(module (func $s (loop $l (br $l))) (start $s))",
            "initial memory over the limit" => "(module (memory 200))",
            _ => hello,
        };
        switch (failure)
        {
            case "start function out of fuel": limits = new SandboxLimits(FuelPerCall: 100_000); break;
            case "initial memory over the limit": limits = new SandboxLimits(MaxMemoryBytes: 1 * MiB); break;
            case "memory quota": limits = new SandboxLimits(MaxMemoryBytes: 8 * MiB); break;
            case "revoked grant": grants = [new SandboxGrant("counter", revoked, Rights.Read)]; break;
            case "second grant not delegable": grants = [new SandboxGrant("a", region, Rights.Read), new SandboxGrant("b", readOnly, Rights.Read)]; break;
            case "forged grant": grants = [new SandboxGrant("a", region, Rights.Read), new SandboxGrant("b", new CapabilityToken(((UInt128)0xdead_beef << 32) | 2, 1), Rights.Read)]; break;
            case "duplicate grant names": grants = [new SandboxGrant("a", region, Rights.Read), new SandboxGrant("a", region, Rights.Read)]; break;
            case "bad grant name": grants = [new SandboxGrant("a", region, Rights.Read), new SandboxGrant("../a", region, Rights.Read)]; break;
            case "name too long for the namespace": name = new string('n', 60); break;
            case "tenant capability without Create": tenant = weakTenant; break;
            case "null grant list": grants = null!; break;
        }

        var r = _h.Sandbox.Instantiate(tenant, name, wat, grants, limits);

        Assert.Equal(expected, r.Code);
        Assert.Equal(before, _h.Snapshot());
        _h.AssertHealthy();
        // The tenant is not poisoned: a good instance still starts and runs, and gives everything back when stopped.
        foreach (var g in running) g.Stop();
        var good = _h.Sandbox.Instantiate(_h.TenantA, "counter", WasmSandbox.Guest("counter"), [new SandboxGrant("counter", region, Rights.Read | Rights.Write)]);
        Assert.True(good.IsOk, good.ToString());
        Assert.Equal(1, good.Value.Call("run").Value);
    }

    [Fact]
    public void Sandbox_a_stopped_instance_leaves_nothing_behind_either()
    {
        var region = _h.Mm.Allocate(4096, Principal.Kernel).Value;
        _h.Sandbox.Instantiate(_h.TenantA, "counter", WasmSandbox.Guest("counter"), []).Value.Stop(); // warm the cache
        var before = _h.Snapshot();
        var g = _h.Sandbox.Instantiate(_h.TenantA, "counter", WasmSandbox.Guest("counter"), [new SandboxGrant("counter", region, Rights.Read | Rights.Write)]).Value;
        Assert.Equal(1, g.Call("run").Value);
        Assert.NotEqual(before, _h.Snapshot());
        g.Stop();
        Assert.True(g.Exited.IsCompleted);
        Assert.Equal(before, _h.Snapshot());
    }
}
