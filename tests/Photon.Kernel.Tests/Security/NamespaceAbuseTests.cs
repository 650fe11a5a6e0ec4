using Photon.Kernel.Audit;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Quotas;

namespace Photon.Kernel.Tests.Security;

/// <summary>Attacks on the namespace syscalls found by review19: nesting without bound (a stack overflow on destroy kills
/// the host process), aliases that cost nothing, bindings charged to the victim instead of the binder.</summary>
public sealed class NamespaceAbuseTests : IDisposable
{
    private readonly SecurityKernel _k = new();

    public void Dispose() => _k.Dispose();

    private (Process P, Handle Ns) Tenant(string tenant, Rights nsRights)
    {
        var p = _k.Spawn("attacker", _k.Tenant(tenant), nsRights);
        var ns = _k.Sys.Namespaces.Open(p, "/", nsRights).Unwrap();
        return (p, ns);
    }

    // Finding 1: CreateChild has no depth limit (NamespacePath.MaxDepth = 32 is only checked on lookups).
    [Fact]
    public void Namespaces_cannot_nest_deeper_than_MaxDepth()
    {
        var (p, h) = Tenant("tenant-a", Rights.Read | Rights.Create | Rights.Delegate);
        Result<Handle> r = h;
        int depth = 1; // /tenant-a
        for (; depth < 200 && r.IsOk; depth++) r = _k.Sys.Namespaces.CreateChild(p, r.Value, "n");
        Assert.False(r.IsOk, $"created {depth} nested namespaces (MaxDepth is {NamespacePath.MaxDepth})");
        Assert.Equal(ErrorCode.InvalidName, r.Code);
        Assert.Equal(NamespacePath.MaxDepth + 1, depth); // every level a lookup can name could be created
    }

    // Destroy walks the tree with its own stack: a chain as deep as allowed, each level with siblings and aliases,
    // goes on a small thread stack, every capability it bound dies and every alias charge is given back.
    [Fact]
    public void Destroying_the_deepest_allowed_chain_revokes_everything_and_refunds_aliases()
    {
        _k.Quotas.SetLimits("/tenant-a", new QuotaLimits(MemoryBytes: 1 << 20)).Unwrap();
        var (p, h) = Tenant("tenant-a", Rights.Read | Rights.Create | Rights.Delegate | Rights.Bind | Rights.Manage);
        var top = _k.Sys.Namespaces.CreateChild(p, h, "top").Unwrap();
        var cur = top;
        var chain = new List<Handle> { top };
        for (int depth = 2; depth < NamespacePath.MaxDepth; depth++)
        {
            _k.Sys.Namespaces.CreateChild(p, cur, "sibling").Unwrap();
            _k.Sys.Namespaces.BindAlias(p, cur, "alias", "/sibling").Unwrap();
            cur = _k.Sys.Namespaces.CreateChild(p, cur, "n").Unwrap();
            chain.Add(cur);
        }
        long aliasBytes = _k.Quotas.Usage("/tenant-a").MemoryBytes;
        Assert.True(aliasBytes > 0, "aliases were not charged");
        Result destroyed = Result.Fail(ErrorCode.Faulted, "not run");
        var t = new Thread(() => destroyed = _k.Sys.Namespaces.Destroy(p, top), 256 * 1024);
        t.Start();
        t.Join();
        Assert.True(destroyed.IsOk, destroyed.ToString());
        Assert.Equal(0, _k.Quotas.Usage("/tenant-a").MemoryBytes);
        foreach (var n in chain) Assert.False(_k.Sys.Namespaces.CreateChild(p, n, "late").IsOk);
        Assert.True(_k.Caps.VerifyInvariants().IsOk);
    }

    // Finding 2: aliases cost no capability and no memory charge: 65,536 per namespace of up to 1,024-char targets.
    [Fact]
    public void Alias_bindings_are_charged_to_the_tenant()
    {
        _k.Quotas.SetLimits("/tenant-a", new QuotaLimits(MemoryBytes: 64 * 1024, Capabilities: 64)).Unwrap();
        var (p, ns) = Tenant("tenant-a", Rights.Read | Rights.Bind);
        var target = string.Join("", Enumerable.Range(0, 15).Select(i => "/" + new string((char)('a' + i), 64))); // 975 chars
        long before = GC.GetTotalMemory(true);
        int bound = 0;
        for (; bound < 20_000; bound++)
        {
            var r = _k.Sys.Namespaces.BindAlias(p, ns, "x" + bound, target);
            if (!r.IsOk) break;
        }
        long grown = GC.GetTotalMemory(true) - before;
        Assert.True(bound < 20_000, $"{bound} aliases bound ({grown / 1024 / 1024} MiB of kernel heap) under a 64 KiB / 64-capability quota; usage {_k.Quotas.Usage("/tenant-a")}");
        Assert.Equal(ErrorCode.QuotaExceeded, _k.Sys.Namespaces.BindAlias(p, ns, "one-more", target).Code);
        // Unbinding gives the charge back: the tenant can bind again.
        Assert.True(_k.Sys.Namespaces.Unbind(p, ns, "x0").IsOk);
        Assert.True(_k.Sys.Namespaces.BindAlias(p, ns, "again", target).IsOk);
    }

    // Finding 3: a binding's capability is charged to the namespace's tenant, not to the process that binds it. A tenant
    // with Bind on another tenant's drop box fills that tenant's capability quota.
    [Fact]
    public void Binding_into_another_tenants_namespace_is_charged_to_the_binder()
    {
        _k.Quotas.SetLimits("/tenant-b", new QuotaLimits(Capabilities: 32)).Unwrap();
        var inbox = _k.Namespaces.CreateChild(_k.Tenant("tenant-b"), "inbox").Unwrap();
        var victim = _k.Spawn("victim", _k.Tenant("tenant-b"));
        var (a, _) = Tenant("tenant-a", Rights.Read);
        var dropBox = a.AddHandle(_k.Caps.Derive(inbox, Rights.Read | Rights.Bind, a.Principal).Unwrap()).Unwrap();
        var region = _k.Sys.Memory.Allocate(a, 4096).Unwrap();
        var bBefore = _k.Quotas.Usage("/tenant-b").Capabilities;
        for (int i = 0; i < 40; i++) _k.Sys.Namespaces.Bind(a, dropBox, "gift" + i, region, Rights.Read);
        var bAfter = _k.Quotas.Usage("/tenant-b").Capabilities;
        var victimAlloc = _k.Sys.Memory.Allocate(victim, 4096);
        Assert.True(bAfter == bBefore && victimAlloc.IsOk,
            $"tenant-b's capabilities went {bBefore} -> {bAfter} from tenant-a's binds; the victim's own allocation: {(victimAlloc.IsOk ? "ok" : victimAlloc.Error.ToString())}");
    }

    // A tenant flooding denials is rate-limited in the audit log; another tenant's denials still go in, and the flood
    // is on record as a count when the flooder's next denial is admitted.
    [Fact]
    public void A_denial_flood_is_counted_not_recorded_and_does_not_silence_other_tenants()
    {
        var audit = _k.Audit!;
        // A slow refill, so the count does not depend on how long 50,000 opens take on a loaded machine.
        _k.Caps.DenialAudit = new DenialAuditLimiter(burst: 100, perSecond: 1);
        var (a, _) = Tenant("tenant-a", Rights.Read);
        var (b, _) = Tenant("tenant-b", Rights.Read);
        long before = audit.TotalRecorded;
        for (int i = 0; i < 50_000; i++) _k.Sys.Namespaces.Open(a, "/nope", Rights.Read);
        long flood = audit.TotalRecorded - before;
        Assert.InRange(flood, 100L, 100L + 120); // the burst, plus one a second refilled meanwhile
        Assert.True(_k.Caps.DenialAudit.SuppressedTotal > 40_000);
        Assert.False(_k.Sys.Namespaces.Open(b, "/also-nope", Rights.Read).IsOk);
        Assert.Contains(audit.Snapshot(), e => e.Subject == b.Principal.Name && e.Namespace == b.Principal.Namespace && e.Action == AuditAction.Denied);
        // Once a's bucket refills, its next denial is recorded after a summary of what was suppressed.
        _k.Caps.DenialAudit = new DenialAuditLimiter(burst: 1, perSecond: 1);
        for (int i = 0; i < 3; i++) _k.Sys.Namespaces.Open(a, "/nope", Rights.Read);
        Thread.Sleep(1100); // one token refills
        _k.Sys.Namespaces.Open(a, "/nope", Rights.Read);
        Assert.Contains(audit.Snapshot(), e => e.Detail.Contains("not recorded one by one"));
    }
}
