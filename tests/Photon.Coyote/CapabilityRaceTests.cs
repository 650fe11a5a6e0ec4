using Microsoft.Coyote.SystematicTesting;
using Microsoft.Coyote.Specifications;
using Photon.Kernel;
using Photon.Kernel.Capabilities;

namespace Photon.Coyote;

/// <summary>
/// Revocation racing with checks and derivations, explored systematically by Coyote (up to the iteration bound).
/// Coyote 1.7.11 does not model System.Threading.Lock (the kernel's lock type), so lock acquisitions are not
/// scheduling points: the explored interleavings are those of whole kernel calls between the tasks' controlled
/// points (task start/await), i.e. every order in which the racing calls take effect — not instruction-level races
/// inside a call's lock-free fast path. Invariant: once Revoke(root) has returned, no capability
/// derived from root — including one whose Derive raced with the revoke — passes a check, the derivation tree
/// verifies, and nothing stays live; a check that succeeded did so on a capability that was live at that moment.
/// </summary>
public static class CapabilityRaceTests
{
    private static readonly Principal Alice = new("alice", "/a"), Bob = new("bob", "/b");

    [Test]
    public static async Task RevokeRacingDeriveAndCheck_LeavesNoLiveDescendant()
    {
        var caps = new CapabilityManager();
        var obj = new GenericObject("shared");
        var root = caps.Create(obj, Rights.Read | Rights.Write | Rights.Delegate, Principal.Kernel).Value;
        var child = caps.Derive(root, Rights.Read | Rights.Delegate, Alice).Value;
        var derived = new List<CapabilityToken>();
        bool revoked = false;

        var revoker = Task.Run(() =>
        {
            var r = caps.Revoke(root);
            Specification.Assert(r.IsOk, $"revoke failed: {r}");
            revoked = true;
        });
        var deriver = Task.Run(() =>
        {
            for (int i = 0; i < 2; i++)
            {
                var d = caps.Derive(child, Rights.Read, Bob);
                if (d.IsOk) lock (derived) derived.Add(d.Value);
                else Specification.Assert(d.Code is ErrorCode.Revoked, $"derive failed with {d.Code}");
            }
        });
        var checker = Task.Run(() =>
        {
            var c = caps.Check(child, Rights.Read);
            Specification.Assert(c.IsOk || c.Code is ErrorCode.Revoked, $"check failed with {c.Code}");
            if (c.IsOk) Specification.Assert(ReferenceEquals(c.Value, obj), "check returned another object");
        });
        // Awaited one by one: on .NET 10, Task.WhenAll(a, b, c) binds to the params ReadOnlySpan<Task> overload,
        // which Coyote 1.7.11 does not rewrite (it reports it as an uncontrolled invocation).
        await revoker; await deriver; await checker;

        Specification.Assert(revoked, "revoke did not finish");
        foreach (var t in derived.Append(child).Append(root))
            Specification.Assert(caps.Check(t, Rights.Read).Code == ErrorCode.Revoked, "a capability survived the revoke of its root");
        var inv = caps.VerifyInvariants();
        Specification.Assert(inv.IsOk, $"derivation tree invariants: {inv}");
        Specification.Assert(caps.LiveCount == 0, $"{caps.LiveCount} capabilities still live");
        Specification.Assert(obj.LiveCapabilities == 0, "the object still counts live capabilities");
    }

    [Test]
    public static async Task ConcurrentRevokeOfParentAndChild_RevokesEachOnce()
    {
        var caps = new CapabilityManager();
        var obj = new GenericObject("tree");
        var root = caps.Create(obj, Rights.Read | Rights.Delegate, Principal.Kernel).Value;
        var mid = caps.Derive(root, Rights.Read | Rights.Delegate, Alice).Value;
        var leaf = caps.Derive(mid, Rights.Read, Bob).Value;
        int total = 0;
        var a = Task.Run(() => { var r = caps.Revoke(root); if (r.IsOk) Interlocked.Add(ref total, r.Value); });
        var b = Task.Run(() => { var r = caps.Revoke(mid); if (r.IsOk) Interlocked.Add(ref total, r.Value); else Specification.Assert(r.Code == ErrorCode.Revoked, r.ToString()); });
        var c = Task.Run(() => { var r = caps.RevokeDescendants(mid); if (r.IsOk) Interlocked.Add(ref total, r.Value); else Specification.Assert(r.Code == ErrorCode.Revoked, r.ToString()); });
        await a; await b; await c;
        Specification.Assert(total == 3, $"{total} revocations counted for 3 capabilities");
        Specification.Assert(caps.LiveCount == 0 && caps.VerifyInvariants().IsOk, "tree not empty and valid after the revokes");
        _ = leaf;
    }
}
