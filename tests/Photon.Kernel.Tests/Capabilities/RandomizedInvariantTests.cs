using Photon.Kernel.Capabilities;
using Photon.Kernel.Namespaces;

namespace Photon.Kernel.Tests.Capabilities;

/// <summary>
/// Model-based randomized tests: thousands of random operation sequences (including hostile inputs) are applied both
/// to the real managers and to a trivially-correct model; after every step the outcomes must agree and the managers'
/// internal invariants must hold.
/// </summary>
public class RandomizedInvariantTests
{
    private sealed class ModelCap
    {
        public required CapabilityToken Token;
        public required GenericObject Object;
        public required Rights Rights;
        public ModelCap? Parent;
        public bool Alive = true;
        public readonly List<ModelCap> Children = new();
    }

    [Fact]
    public void Capability_manager_agrees_with_a_model_over_thousands_of_random_sequences()
    {
        var allRights = Enum.GetValues<Rights>().Where(r => r != Rights.None && r != Rights.All && r != Rights.ReadWrite).ToArray();
        for (int seq = 0; seq < 3000; seq++)
        {
            var rng = new Random(seq);
            var caps = new CapabilityManager { ReuseQuarantine = rng.Next(0, 3) };
            var model = new List<ModelCap>();
            var dead = new List<CapabilityToken>();
            for (int step = 0; step < 40; step++)
            {
                int op = rng.Next(6);
                switch (op)
                {
                    case 0: // create
                    {
                        var obj = new GenericObject($"o{step}");
                        var rights = RandomRights(rng, allRights) | Rights.Delegate;
                        var t = caps.Create(obj, rights, Principal.Kernel);
                        Assert.True(t.IsOk);
                        model.Add(new ModelCap { Token = t.Value, Object = obj, Rights = rights });
                        break;
                    }
                    case 1 when model.Count > 0: // derive (maybe with too many rights)
                    {
                        var p = model[rng.Next(model.Count)];
                        var rights = RandomRights(rng, allRights);
                        var r = caps.Derive(p.Token, rights, Principal.Kernel);
                        bool shouldWork = p.Alive && p.Rights.Includes(Rights.Delegate) && (rights & ~p.Rights) == 0;
                        Assert.Equal(shouldWork, r.IsOk);
                        if (!p.Alive) Assert.True(r.Code is ErrorCode.Revoked or ErrorCode.StaleCapability);
                        if (r.IsOk)
                        {
                            var c = new ModelCap { Token = r.Value, Object = p.Object, Rights = rights, Parent = p };
                            p.Children.Add(c);
                            model.Add(c);
                        }
                        break;
                    }
                    case 2 when model.Count > 0: // revoke
                    {
                        var v = model[rng.Next(model.Count)];
                        var r = caps.Revoke(v.Token);
                        Assert.Equal(v.Alive, r.IsOk);
                        if (r.IsOk)
                        {
                            int killed = Kill(v, dead);
                            Assert.Equal(killed, r.Value);
                        }
                        break;
                    }
                    case 3 when model.Count > 0: // check with random rights
                    {
                        var v = model[rng.Next(model.Count)];
                        var need = RandomRights(rng, allRights);
                        var r = caps.Check(v.Token, need);
                        Assert.Equal(v.Alive && v.Rights.Includes(need), r.IsOk);
                        if (r.IsOk) Assert.Same(v.Object, r.Value);
                        break;
                    }
                    case 4: // forged: random bits, or a live token with flipped bits
                    {
                        CapabilityToken forged = model.Count > 0 && rng.Next(2) == 0
                            ? model[rng.Next(model.Count)].Token with { Id = model[rng.Next(model.Count)].Token.Id ^ ((UInt128)1 << rng.Next(32, 128)) }
                            : new CapabilityToken(new UInt128((ulong)rng.NextInt64(), (ulong)rng.NextInt64()), (uint)rng.Next());
                        var r = caps.Check(forged, Rights.None);
                        Assert.False(r.IsOk && !model.Any(m => m.Alive && m.Token == forged));
                        break;
                    }
                    case 5 when dead.Count > 0: // stale/revoked token reuse
                    {
                        var r = caps.Check(dead[rng.Next(dead.Count)], Rights.None);
                        Assert.False(r.IsOk);
                        Assert.True(r.Code is ErrorCode.Revoked or ErrorCode.StaleCapability);
                        break;
                    }
                }
                var inv = caps.VerifyInvariants();
                Assert.True(inv.IsOk, $"seq {seq} step {step}: {inv}");
                Assert.Equal(model.Count(m => m.Alive), caps.LiveCount);
                foreach (var m in model.Where(m => m.Alive)) Assert.Equal(model.Count(x => x.Alive && x.Object == m.Object), m.Object.LiveCapabilities);
            }
        }
    }

    private static int Kill(ModelCap c, List<CapabilityToken> dead)
    {
        if (!c.Alive) return 0;
        c.Alive = false;
        dead.Add(c.Token);
        int n = 1;
        foreach (var ch in c.Children) n += Kill(ch, dead);
        return n;
    }

    private static Rights RandomRights(Random rng, Rights[] all)
    {
        Rights r = Rights.None;
        foreach (var x in all) if (rng.Next(3) == 0) r |= x;
        return r;
    }

    private static readonly string[] Names = ["a", "b", "svc", "db", "x.y", "..", ".", "", "a/b", "ａ", "a\u200b", "A", "a b", "%2e%2e", "\0", new string('n', 65), "tenant-a"];

    [Fact]
    public void Namespace_manager_agrees_with_a_model_and_lookups_never_escape()
    {
        for (int seq = 0; seq < 2000; seq++)
        {
            var rng = new Random(seq);
            var caps = new CapabilityManager();
            var nsm = new NamespaceManager(caps);
            // Model: namespace path -> (name -> either child path, an object, or an alias target).
            var model = new Dictionary<string, Dictionary<string, (string? Child, GenericObject? Obj, string? Alias)>> { ["/"] = new() };
            var tokens = new Dictionary<string, CapabilityToken> { ["/"] = nsm.RootCapability };
            var outsideObjects = new HashSet<GenericObject>();
            for (int step = 0; step < 30; step++)
            {
                var nsPath = model.Keys.ElementAt(rng.Next(model.Count));
                var nsTok = tokens[nsPath];
                var name = Names[rng.Next(Names.Length)];
                bool validName = NamespacePath.ValidateName(name).IsOk;
                switch (rng.Next(5))
                {
                    case 0:
                    {
                        var r = nsm.CreateChild(nsTok, name);
                        bool expect = validName && !model[nsPath].ContainsKey(name);
                        Assert.Equal(expect, r.IsOk);
                        if (r.IsOk)
                        {
                            var childPath = nsPath == "/" ? "/" + name : nsPath + "/" + name;
                            model[nsPath][name] = (childPath, null, null);
                            model[childPath] = new();
                            tokens[childPath] = r.Value;
                        }
                        else Assert.True(r.Code is ErrorCode.InvalidName or ErrorCode.AlreadyExists);
                        break;
                    }
                    case 1:
                    {
                        var obj = new GenericObject(name);
                        var src = caps.Create(obj, Rights.Read | Rights.Delegate, Principal.Kernel).Value;
                        var r = nsm.Bind(nsTok, name, src, Rights.Read);
                        Assert.Equal(validName && !model[nsPath].ContainsKey(name), r.IsOk);
                        if (r.IsOk) model[nsPath][name] = (null, obj, null);
                        else outsideObjects.Add(obj);
                        break;
                    }
                    case 2:
                    {
                        var target = rng.Next(2) == 0 ? "/" + Names[rng.Next(Names.Length)] : "/" + Names[rng.Next(Names.Length)] + "/" + Names[rng.Next(Names.Length)];
                        var r = nsm.BindAlias(nsTok, name, target);
                        bool targetValid = NamespacePath.Split(target).IsOk && NamespacePath.Split(target).Value.Length > 0;
                        Assert.Equal(validName && targetValid && !model[nsPath].ContainsKey(name), r.IsOk);
                        if (r.IsOk) model[nsPath][name] = (null, null, NamespacePath.Join(NamespacePath.Split(target).Value));
                        break;
                    }
                    case 3 when model[nsPath].Count > 0:
                    {
                        var victim = model[nsPath].Keys.ElementAt(rng.Next(model[nsPath].Count));
                        if (model[nsPath][victim].Child is not null) break; // keep the model simple: unbind leaves only
                        Assert.True(nsm.Unbind(nsTok, victim).IsOk);
                        model[nsPath].Remove(victim);
                        break;
                    }
                    default:
                    {
                        // Lookup of a random (often hostile) path must agree with the model's resolution.
                        var path = string.Join('/', Enumerable.Range(0, rng.Next(1, 4)).Select(_ => Names[rng.Next(Names.Length)]));
                        if (rng.Next(2) == 0) path = "/" + path;
                        var r = nsm.Lookup(nsTok, path);
                        var expected = ModelResolve(model, nsPath, path, 0);
                        Assert.Equal(expected.Found, r.IsOk);
                        if (r.IsOk)
                        {
                            var obj = caps.Check(r.Value, Rights.None).Value;
                            if (expected.Obj is not null) Assert.Same(expected.Obj, obj);
                            if (obj is GenericObject g) Assert.DoesNotContain(g, outsideObjects);
                            // Whatever was found must live inside the namespace we started from.
                            if (obj is Namespace n) Assert.StartsWith(nsPath == "/" ? "/" : nsPath + "/", n.Path + "/");
                        }
                        break;
                    }
                }
                Assert.True(caps.VerifyInvariants().IsOk);
            }
        }
    }

    private static (bool Found, GenericObject? Obj) ModelResolve(
        Dictionary<string, Dictionary<string, (string? Child, GenericObject? Obj, string? Alias)>> model, string ns, string path, int hops)
    {
        var parts = NamespacePath.Split(path);
        if (!parts.IsOk) return (false, null);
        if (parts.Value.Length == 0) return (true, null);
        var cur = ns;
        for (int i = 0; i < parts.Value.Length; i++)
        {
            if (!model[cur].TryGetValue(parts.Value[i], out var b)) return (false, null);
            bool last = i == parts.Value.Length - 1;
            if (b.Alias is not null)
            {
                if (hops >= NamespaceManager.MaxAliasHops) return (false, null);
                var (found, obj) = ModelResolveTarget(model, cur, b.Alias, hops + 1, out var aliasNs);
                if (!found) return (false, null);
                if (last) return (true, obj);
                if (aliasNs is null) return (false, null);
                cur = aliasNs;
                continue;
            }
            if (last) return (true, b.Obj);
            if (b.Child is null) return (false, null);
            cur = b.Child;
        }
        return (false, null);
    }

    private static (bool, GenericObject?) ModelResolveTarget(
        Dictionary<string, Dictionary<string, (string? Child, GenericObject? Obj, string? Alias)>> model, string ns, string path, int hops, out string? resolvedNs)
    {
        resolvedNs = null;
        var parts = NamespacePath.Split(path).Value;
        var cur = ns;
        for (int i = 0; i < parts.Length; i++)
        {
            if (!model[cur].TryGetValue(parts[i], out var b)) return (false, null);
            bool last = i == parts.Length - 1;
            if (b.Alias is not null)
            {
                if (hops >= NamespaceManager.MaxAliasHops) return (false, null);
                var (f, o) = ModelResolveTarget(model, cur, b.Alias, hops + 1, out var inner);
                if (!f) return (false, null);
                if (last) { resolvedNs = inner; return (true, o); }
                if (inner is null) return (false, null);
                cur = inner;
                continue;
            }
            if (last) { resolvedNs = b.Child; return (true, b.Obj); }
            if (b.Child is null) return (false, null);
            cur = b.Child;
        }
        return (false, null);
    }
}
