using Photon.Kernel.Capabilities;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Tests.Security;

/// <summary>
/// Issue #9, item 17: the per-chain hop limit alone lets nested aliases fan out exponentially (l0 → l1/l1/…/l1, l1 →
/// l2/…/l2, … eight deep is 8^7 ≈ two million expansions). A lookup has a total budget of
/// <see cref="NamespaceManager.MaxAliasExpansionsPerLookup"/> alias expansions across every chain it meets, so such a
/// name is refused as InvalidName after a bounded amount of work.
/// </summary>
public sealed class AliasBudgetTests : IDisposable
{
    private const int Depth = 8, FanOut = 8;
    private readonly SecurityKernel _k = new();
    private readonly CapabilityToken _tenant;
    private readonly Process _owner, _reader;
    private readonly Handle _ns;

    public AliasBudgetTests()
    {
        _tenant = _k.Tenant("tenant-a");
        _owner = _k.Spawn("owner", _tenant);
        _ns = _owner.AddHandle(_k.Caps.Derive(_tenant, Rights.Read | Rights.Bind | Rights.Delegate | Rights.Enumerate, _owner.Principal).Value).Value;
        // "self" names the namespace itself, so an alias path can walk through it any number of times.
        _k.Sys.Namespaces.Bind(_owner, _ns, "self", _ns, Rights.Read | Rights.Enumerate).Unwrap();
        _reader = _k.Spawn("reader", _tenant);
    }

    public void Dispose() => _k.Dispose();

    private void Alias(string name, string target) => _k.Sys.Namespaces.BindAlias(_owner, _ns, name, target).Unwrap();

    /// <summary>l{Depth-1} → /self; l{i} → /l{i+1}/l{i+1}/… (FanOut times). Every chain is within the hop limit.</summary>
    private void FanOutTree()
    {
        Alias($"l{Depth - 1}", "/self");
        for (int i = Depth - 2; i >= 0; i--) Alias($"l{i}", "/" + string.Join('/', Enumerable.Repeat($"l{i + 1}", FanOut)));
    }

    private static void AssertBudgetRefusal<T>(Result<T> r)
    {
        Assert.Equal(ErrorCode.InvalidName, r.Code);
        Assert.Contains($"more than {NamespaceManager.MaxAliasExpansionsPerLookup} aliases", r.Error.Message);
    }

    [Fact]
    public void A_fanned_out_alias_tree_eight_deep_is_refused_with_the_budget_error()
    {
        FanOutTree();
        // Each level alone resolves (its chain is short and narrow enough)…
        Assert.True(_k.Sys.Namespaces.Open(_reader, $"/l{Depth - 1}", Rights.Read).IsOk);
        Assert.True(_k.Sys.Namespaces.Open(_reader, $"/l{Depth - 2}", Rights.Read).IsOk); // 1 + 8 expansions
        // …but the root of the tree would expand ~2.4 million aliases: refused, every time, by every path in.
        for (int i = 0; i < 1000; i++) AssertBudgetRefusal(_k.Sys.Namespaces.Open(_reader, "/l0", Rights.Read));
        AssertBudgetRefusal(_k.Sys.Namespaces.Open(_reader, "/l0/self/l0", Rights.Read));
        AssertBudgetRefusal(_k.Sys.Namespaces.List(_reader, "/l0"));
        AssertBudgetRefusal(_k.Sys.Channels.Connect(_reader, "/l0"));
        AssertBudgetRefusal(_k.Sys.Namespaces.OpenAt(_owner, _ns, "/l1", Rights.Read));
        // Refusals are audited with the reader as the subject.
        Assert.Contains(_k.Audit!.Snapshot(), e => e.Action == Photon.Kernel.Audit.AuditAction.Denied && e.Error == ErrorCode.InvalidName && e.Subject == _reader.Principal.Name);
    }

    [Fact]
    public void The_budget_is_shared_by_every_alias_of_one_lookup()
    {
        Alias("s", "/self");   // one expansion
        Alias("t", "/s/s");    // three expansions
        int budget = NamespaceManager.MaxAliasExpansionsPerLookup;
        string Path(int s, bool t) => "/" + string.Join('/', Enumerable.Repeat("s", s).Concat(t ? new[] { "t" } : Array.Empty<string>()));

        // Exactly the budget resolves; one expansion more, spread over separate chains, is refused.
        Assert.True(_k.Sys.Namespaces.Open(_reader, Path(budget, false), Rights.Read).IsOk);
        Assert.True(_k.Sys.Namespaces.Open(_reader, Path(budget - 3, true), Rights.Read).IsOk);
        AssertBudgetRefusal(_k.Sys.Namespaces.Open(_reader, Path(budget - 2, true), Rights.Read));
    }

    [Fact]
    public void Alias_loops_are_refused_by_the_hop_limit()
    {
        Alias("loop-a", "/loop-b");
        Alias("loop-b", "/loop-a");
        Alias("me", "/me/self");
        var r = _k.Sys.Namespaces.Open(_reader, "/loop-a", Rights.Read);
        Assert.Equal(ErrorCode.InvalidName, r.Code);
        Assert.Equal(ErrorCode.InvalidName, _k.Sys.Namespaces.Open(_reader, "/me", Rights.Read).Code);
    }
}
