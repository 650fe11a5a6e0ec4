using Photon.Kernel.Audit;
using Photon.Kernel.Capabilities;

namespace Photon.Kernel.Tests.Capabilities;

public class CapabilityManagerTests
{
    private static readonly Principal Alice = new("alice", "/a");
    private static readonly Principal Bob = new("bob", "/b");

    [Fact]
    public void Created_capability_passes_check_for_its_rights_and_fails_for_others()
    {
        var caps = new CapabilityManager();
        var obj = new GenericObject("file");
        var t = caps.Create(obj, Rights.Read | Rights.Delegate, Alice).Value;

        Assert.Same(obj, caps.Check(t, Rights.Read).Value);
        var denied = caps.Check(t, Rights.Write);
        Assert.Equal(ErrorCode.AccessDenied, denied.Code);
    }

    [Fact]
    public void Derivation_can_only_reduce_rights_and_needs_delegate()
    {
        var caps = new CapabilityManager();
        var root = caps.Create(new GenericObject("x"), Rights.Read | Rights.Write | Rights.Delegate, Alice).Value;
        var ro = caps.Derive(root, Rights.Read, Bob).Value;

        Assert.Equal(ErrorCode.AccessDenied, caps.Derive(root, Rights.Read | Rights.Execute, Bob).Code);
        // ro lacks Delegate: cannot derive further, even with fewer rights.
        Assert.Equal(ErrorCode.AccessDenied, caps.Derive(ro, Rights.Read, Bob).Code);
        Assert.Equal(ErrorCode.AccessDenied, caps.Check(ro, Rights.Write).Code);
        Assert.True(caps.Check(ro, Rights.Read).IsOk);
    }

    [Fact]
    public void Revoking_a_capability_revokes_its_whole_subtree_but_not_siblings_or_ancestors()
    {
        var caps = new CapabilityManager();
        var root = caps.Create(new GenericObject("x"), Rights.All, Alice).Value;
        var a = caps.Derive(root, Rights.All, Alice).Value;
        var a1 = caps.Derive(a, Rights.Read | Rights.Delegate, Bob).Value;
        var a11 = caps.Derive(a1, Rights.Read, Bob).Value;
        var b = caps.Derive(root, Rights.Read, Bob).Value;

        Assert.Equal(3, caps.Revoke(a).Value);

        Assert.Equal(ErrorCode.Revoked, caps.Check(a, Rights.None).Code);
        Assert.Equal(ErrorCode.Revoked, caps.Check(a1, Rights.None).Code);
        Assert.Equal(ErrorCode.Revoked, caps.Check(a11, Rights.None).Code);
        Assert.True(caps.Check(b, Rights.Read).IsOk);
        Assert.True(caps.Check(root, Rights.All).IsOk);
        Assert.True(caps.VerifyInvariants().IsOk);
    }

    [Fact]
    public void RevokeDescendants_keeps_the_capability_itself()
    {
        var caps = new CapabilityManager();
        var root = caps.Create(new GenericObject("x"), Rights.All, Alice).Value;
        var child = caps.Derive(root, Rights.Read, Bob).Value;
        Assert.Equal(1, caps.RevokeDescendants(root).Value);
        Assert.True(caps.Check(root, Rights.All).IsOk);
        Assert.Equal(ErrorCode.Revoked, caps.Check(child, Rights.Read).Code);
    }

    [Fact]
    public void Forged_tokens_are_rejected()
    {
        var caps = new CapabilityManager();
        var real = caps.Create(new GenericObject("x"), Rights.All, Alice).Value;

        // Same slot index and generation, different secret bits.
        var forged = real with { Id = real.Id ^ ((UInt128)1 << 100) };
        Assert.Equal(ErrorCode.UnknownCapability, caps.Check(forged, Rights.None).Code);
        // A slot index never handed out.
        Assert.Equal(ErrorCode.UnknownCapability, caps.Check(new CapabilityToken(((UInt128)12345 << 32) | 999_999, 1), Rights.None).Code);
        Assert.Equal(ErrorCode.InvalidHandle, caps.Check(CapabilityToken.None, Rights.None).Code);
        // A wildly wrong generation is "never issued", not stale.
        Assert.Equal(ErrorCode.UnknownCapability, caps.Check(real with { Generation = 77 }, Rights.None).Code);
    }

    [Fact]
    public void Token_to_a_recycled_slot_is_stale_and_does_not_reach_the_new_object()
    {
        var caps = new CapabilityManager { ReuseQuarantine = 0 };
        var old = caps.Create(new GenericObject("old"), Rights.All, Alice).Value;
        caps.Revoke(old);
        Assert.Equal(ErrorCode.Revoked, caps.Check(old, Rights.None).Code);
        var fresh = caps.Create(new GenericObject("new"), Rights.All, Bob).Value;
        Assert.Equal(old.SlotIndexForTest(), fresh.SlotIndexForTest());
        Assert.Equal(ErrorCode.StaleCapability, caps.Check(old, Rights.None).Code);
        Assert.Equal("new", caps.Check(fresh, Rights.None).Value.Label);
    }

    [Fact]
    public void Tokens_are_unguessable_128_bit_values()
    {
        var caps = new CapabilityManager();
        var tokens = Enumerable.Range(0, 1000).Select(_ => caps.Create(new GenericObject("x"), Rights.Read, Alice).Value).ToList();
        Assert.Equal(1000, tokens.Select(t => t.Id >> 32).Distinct().Count());
        // At least some high bits set in nearly every token (96 random bits).
        Assert.True(tokens.Count(t => (t.Id >> 64) != 0) > 990);
    }

    [Fact]
    public void Last_revocation_destroys_the_object()
    {
        var caps = new CapabilityManager();
        var obj = new GenericObject("x");
        var root = caps.Create(obj, Rights.All, Alice).Value;
        caps.Derive(root, Rights.Read, Bob);
        Assert.Equal(2, obj.LiveCapabilities);
        caps.Revoke(root);
        Assert.True(obj.IsDestroyed);
        Assert.Equal(ErrorCode.Revoked, caps.Create(obj, Rights.Read, Alice).Code);
    }

    [Fact]
    public void Wrong_object_type_is_a_typed_error()
    {
        var caps = new CapabilityManager();
        var t = caps.Create(new GenericObject("x"), Rights.All, Alice).Value;
        Assert.Equal(ErrorCode.WrongObjectType, caps.Check<Photon.Kernel.Namespaces.Namespace>(t, Rights.None).Code);
    }

    [Fact]
    public void Every_creation_derivation_revocation_and_denial_is_audited()
    {
        var sink = new InMemoryAuditSink();
        var caps = new CapabilityManager(sink);
        var root = caps.Create(new GenericObject("doc"), Rights.All, Alice).Value;
        var d = caps.Derive(root, Rights.Read, Bob, Alice).Value;
        caps.Check(d, Rights.Write, Bob);
        caps.Revoke(root, Alice);

        var events = sink.Snapshot();
        Assert.Contains(events, e => e.Action == AuditAction.Create && e.Token == root && e.Subject == "alice");
        Assert.Contains(events, e => e.Action == AuditAction.Delegate && e.Token == d && e.Parent == root && e.Rights == Rights.Read);
        Assert.Contains(events, e => e.Action == AuditAction.Denied && e.Token == d && e.Error == ErrorCode.AccessDenied && e.Subject == "bob");
        Assert.Equal(2, events.Count(e => e.Action == AuditAction.Revoke));
    }

    [Fact]
    public void Revoking_a_deep_chain_does_not_overflow_the_stack()
    {
        var caps = new CapabilityManager();
        var t = caps.Create(new GenericObject("x"), Rights.All, Alice).Value;
        var root = t;
        for (int i = 0; i < 200_000; i++) t = caps.Derive(t, Rights.All, Alice).Value;
        Assert.Equal(200_001, caps.Revoke(root).Value);
        Assert.Equal(0, caps.LiveCount);
    }

    [Fact]
    public async Task Concurrent_derive_check_and_revoke_keep_the_tree_consistent()
    {
        var caps = new CapabilityManager();
        var root = caps.Create(new GenericObject("x"), Rights.All, Alice).Value;
        var workers = Enumerable.Range(0, 4).Select(w => Task.Run(() =>
        {
            var rng = new Random(w);
            var mine = new List<CapabilityToken>();
            for (int i = 0; i < 20_000; i++)
            {
                if (mine.Count == 0 || rng.Next(3) == 0)
                {
                    var parent = mine.Count == 0 ? root : mine[rng.Next(mine.Count)];
                    var d = caps.Derive(parent, Rights.All, Alice);
                    if (d.IsOk) mine.Add(d.Value);
                }
                else if (rng.Next(4) == 0)
                {
                    caps.Revoke(mine[rng.Next(mine.Count)]);
                }
                else caps.Check(mine[rng.Next(mine.Count)], Rights.Read);
            }
        })).ToArray();
        await Task.WhenAll(workers);
        Assert.True(caps.VerifyInvariants().IsOk, caps.VerifyInvariants().ToString());
    }
}

internal static class TokenTestExtensions
{
    public static int SlotIndexForTest(this CapabilityToken t) => (int)(uint)(t.Id & uint.MaxValue);
}
