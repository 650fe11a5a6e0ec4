using Photon.Kernel.Capabilities;
using Photon.Kernel.Namespaces;

namespace Photon.Kernel.Tests.Namespaces;

public class NamespaceManagerTests
{
    private readonly CapabilityManager _caps = new();
    private readonly NamespaceManager _ns;

    public NamespaceManagerTests() => _ns = new NamespaceManager(_caps);

    private CapabilityToken Obj(string label, Rights rights = Rights.Read | Rights.Write | Rights.Delegate) =>
        _caps.Create(new GenericObject(label), rights, Principal.Kernel).Value;

    [Fact]
    public void Nested_paths_resolve_to_the_bound_capability()
    {
        var tenant = _ns.CreateChild(_ns.RootCapability, "tenant-a").Value;
        var svc = _ns.CreateChild(tenant, "svc").Value;
        _ns.Bind(svc, "db", Obj("db"), Rights.Read).Unwrap();

        var viaRoot = _ns.Lookup(_ns.RootCapability, "/tenant-a/svc/db", Rights.Read);
        Assert.Equal("db", _caps.Check(viaRoot.Value, Rights.Read).Value.Label);
        var viaTenant = _ns.Lookup(tenant, "svc/db");
        Assert.True(viaTenant.IsOk);
    }

    [Fact]
    public void A_child_sees_only_what_the_parent_granted()
    {
        var a = _ns.CreateChild(_ns.RootCapability, "tenant-a").Value;
        var b = _ns.CreateChild(_ns.RootCapability, "tenant-b").Value;
        _ns.Bind(_ns.RootCapability, "secret", Obj("secret"), Rights.Read).Unwrap();
        _ns.Bind(b, "b-data", Obj("b-data"), Rights.Read).Unwrap();

        Assert.Equal(ErrorCode.NotFound, _ns.Lookup(a, "/secret").Code);
        Assert.Equal(ErrorCode.NotFound, _ns.Lookup(a, "/tenant-b/b-data").Code);
        Assert.Equal(ErrorCode.NotFound, _ns.Lookup(a, "/tenant-a").Code);
        Assert.Empty(_ns.List(a).Value);
    }

    [Theory]
    [InlineData("../tenant-b/b-data")]
    [InlineData("/../tenant-b")]
    [InlineData("./x")]
    [InlineData("a//b")]
    [InlineData("\uFF0E\uFF0E/tenant-b")]   // full-width dots
    [InlineData("\u2024\u2024/tenant-b")]   // one-dot leaders
    [InlineData("te\u200Bnant-b")]           // zero-width space
    [InlineData("tenant\u2010b")]            // unicode hyphen
    [InlineData("\u202Eb-tnanet")]           // right-to-left override
    [InlineData("%2e%2e/tenant-b")]
    [InlineData("a\\..\\tenant-b")]
    [InlineData("a\0b")]
    [InlineData(" tenant-b")]
    public void Hostile_paths_are_rejected_with_InvalidName(string path)
    {
        var a = _ns.CreateChild(_ns.RootCapability, "tenant-a").Value;
        _ns.CreateChild(_ns.RootCapability, "tenant-b").Unwrap();
        Assert.Equal(ErrorCode.InvalidName, _ns.Lookup(a, path).Code);
    }

    [Fact]
    public void Oversized_segments_depth_and_paths_are_rejected()
    {
        Assert.Equal(ErrorCode.InvalidName, _ns.Lookup(_ns.RootCapability, new string('a', 65)).Code);
        Assert.Equal(ErrorCode.InvalidName, _ns.Lookup(_ns.RootCapability, string.Join('/', Enumerable.Repeat("a", 33))).Code);
        Assert.Equal(ErrorCode.InvalidName, _ns.Lookup(_ns.RootCapability, new string('a', 2000)).Code);
        Assert.Equal(ErrorCode.InvalidName, _ns.CreateChild(_ns.RootCapability, "").Code);
        Assert.Equal(ErrorCode.InvalidName, _ns.CreateChild(_ns.RootCapability, "..").Code);
        Assert.Equal(ErrorCode.InvalidName, _ns.Bind(_ns.RootCapability, "a/b", Obj("x"), Rights.Read).Code);
    }

    [Fact]
    public void Aliases_resolve_inside_their_own_namespace_and_cannot_escape()
    {
        var a = _ns.CreateChild(_ns.RootCapability, "tenant-a").Value;
        _ns.Bind(a, "real", Obj("a-real"), Rights.Read).Unwrap();
        _ns.Bind(_ns.RootCapability, "real", Obj("root-real"), Rights.Read).Unwrap();
        // "/real" in an alias defined in tenant-a means tenant-a's "real", never the root's.
        _ns.BindAlias(a, "link", "/real").Unwrap();
        Assert.Equal("a-real", _caps.Check(_ns.Lookup(a, "link").Value, Rights.None).Value.Label);
        // An alias naming something the namespace doesn't have fails, even if the root has it.
        _ns.BindAlias(a, "escape", "/tenant-b/x").Unwrap();
        _ns.CreateChild(_ns.RootCapability, "tenant-b").Unwrap();
        Assert.Equal(ErrorCode.NotFound, _ns.Lookup(a, "escape").Code);
        Assert.Equal(ErrorCode.InvalidName, _ns.BindAlias(a, "up", "../real").Code);
    }

    [Fact]
    public void Alias_loops_terminate_with_an_error()
    {
        _ns.BindAlias(_ns.RootCapability, "a", "/b").Unwrap();
        _ns.BindAlias(_ns.RootCapability, "b", "/a").Unwrap();
        var r = _ns.Lookup(_ns.RootCapability, "a");
        Assert.False(r.IsOk);
        Assert.Equal(ErrorCode.InvalidName, r.Code);
    }

    [Fact]
    public void Binding_derives_with_reduced_rights_and_revoking_the_source_cuts_lookups()
    {
        var src = Obj("file");
        _ns.Bind(_ns.RootCapability, "file", src, Rights.Read).Unwrap();
        Assert.Equal(ErrorCode.AccessDenied, _ns.Lookup(_ns.RootCapability, "file", Rights.Write).Code);
        Assert.True(_ns.Lookup(_ns.RootCapability, "file", Rights.Read).IsOk);
        _caps.Revoke(src);
        Assert.Equal(ErrorCode.Revoked, _ns.Lookup(_ns.RootCapability, "file", Rights.Read).Code);
    }

    [Fact]
    public void Binding_requires_bind_right_and_a_delegable_capability()
    {
        var a = _ns.CreateChild(_ns.RootCapability, "a").Value;
        var readOnlyA = _caps.Derive(a, Rights.Read, Principal.Kernel).Value;
        Assert.Equal(ErrorCode.AccessDenied, _ns.Bind(readOnlyA, "x", Obj("x"), Rights.Read).Code);
        var undelegable = Obj("y", Rights.Read);
        Assert.Equal(ErrorCode.AccessDenied, _ns.Bind(a, "y", undelegable, Rights.Read).Code);
        Assert.Equal(ErrorCode.AlreadyExists, _ns.CreateChild(_ns.RootCapability, "a").Code);
    }

    [Fact]
    public void Destroying_a_namespace_revokes_what_was_bound_in_it()
    {
        var a = _ns.CreateChild(_ns.RootCapability, "a").Value;
        var inner = _ns.CreateChild(a, "inner").Value;
        var boundInner = _ns.Bind(inner, "x", Obj("x"), Rights.Read).Value;
        Assert.True(_ns.Destroy(a).IsOk);
        Assert.Equal(ErrorCode.Revoked, _caps.Check(boundInner, Rights.None).Code);
        Assert.Equal(ErrorCode.Revoked, _caps.Check(a, Rights.None).Code);
        Assert.False(_ns.Lookup(_ns.RootCapability, "/a").IsOk);
        Assert.Equal(ErrorCode.AccessDenied, _ns.Destroy(_ns.RootCapability).Code);
    }

    [Fact]
    public void Tree_lists_nested_namespaces()
    {
        var a = _ns.CreateChild(_ns.RootCapability, "tenant-a").Value;
        _ns.CreateChild(a, "svc").Unwrap();
        var rows = _ns.Tree();
        Assert.Contains(rows, r => r.Depth == 0 && r.Name == "tenant-a" && r.Entry.Kind == ObjectKind.Namespace);
        Assert.Contains(rows, r => r.Depth == 1 && r.Name == "svc");
    }
}
