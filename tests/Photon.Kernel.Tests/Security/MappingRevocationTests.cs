using Photon.Kernel.Capabilities;
using Photon.Kernel.Memory;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Tests.Security;

/// <summary>
/// Issue #9, item 1: a mapping lives only as long as the capability it was made through. Once that capability — or
/// any capability it was derived from — is revoked, every access through the mapping (Read, Write, View, Update)
/// fails with Revoked, lends no span and changes no byte.
/// </summary>
public sealed class MappingRevocationTests : IDisposable
{
    private const int Pages = 2, Size = Pages * 4096;
    private readonly SecurityKernel _k = new();

    public void Dispose() => _k.Dispose();

    [Fact]
    public void Revoking_a_delegation_fails_every_access_through_the_mapping_made_with_it()
    {
        var a = _k.Spawn("a", _k.Tenant("tenant-a"));
        var b = _k.Spawn("b", _k.Tenant("tenant-b"));
        var region = a.AllocateMemory(Size).Value;
        a.WriteMemory(region, 0, Fill(Size, 0x11)).Unwrap();
        var lent = a.Delegate(region, b, Rights.Read | Rights.Write | Rights.Map).Value;
        using var m = b.MapMemory(lent).Value;
        Assert.True(m.IsWritable);
        AssertAccessWorks(m);

        Assert.Equal(1, a.RevokeDerived(region).Value);

        AssertEveryAccessRevoked(m);
        Assert.False(m.IsValid);
        // B's handle is dead too, and the lender's region is intact: nothing was written through the dead mapping.
        Assert.Equal(ErrorCode.Revoked, b.ReadMemory(lent, 0, new byte[1]).Code);
        Assert.Equal(ErrorCode.Revoked, b.WriteMemory(lent, 0, [1]).Code);
        Assert.Equal(ErrorCode.Revoked, b.MapMemory(lent).Code);
        AssertHolds(a, region, AccessWorksPattern);
    }

    /// <summary>The mapping was made through C's capability, derived from B's, derived from A's root; killing any
    /// ancestor (or the region itself) kills the mapping.</summary>
    [Theory]
    [InlineData("root-revokes-derived")]
    [InlineData("middle-closes-its-handle")]
    [InlineData("middle-revokes-derived")]
    [InlineData("middle-process-destroyed")]
    [InlineData("owner-frees-the-region")]
    public async Task Revoking_an_ancestor_fails_every_access_through_a_descendants_mapping(string how)
    {
        var a = _k.Spawn("a", _k.Tenant("tenant-a"));
        var (b, bControl) = _k.SpawnWithControl("b", _k.Tenant("tenant-b"));
        var c = _k.Spawn("c", _k.Tenant("tenant-c"));
        var region = a.AllocateMemory(Size).Value;
        a.WriteMemory(region, 0, Fill(Size, 0x11)).Unwrap();
        var inB = a.Delegate(region, b, Rights.Read | Rights.Write | Rights.Map | Rights.Delegate).Value;
        var inC = b.Delegate(inB, c, Rights.Read | Rights.Write | Rights.Map).Value;
        using var m = c.MapMemory(inC).Value;
        AssertAccessWorks(m);

        switch (how)
        {
            case "root-revokes-derived": Assert.Equal(2, a.RevokeDerived(region).Value); break;
            case "middle-closes-its-handle": _k.Sys.Handles.Close(b, inB).Unwrap(); break;
            case "middle-revokes-derived": Assert.Equal(1, b.RevokeDerived(inB).Value); break;
            case "middle-process-destroyed": (await _k.DestroyAsync(bControl)).Unwrap(); break;
            case "owner-frees-the-region": a.FreeMemory(region).Unwrap(); break;
        }

        AssertEveryAccessRevoked(m);
        Assert.Equal(ErrorCode.Revoked, c.ReadMemory(inC, 0, new byte[1]).Code);
        if (how != "owner-frees-the-region") AssertHolds(a, region, AccessWorksPattern);
        if (how == "middle-revokes-derived") Assert.True(b.ReadMemory(inB, 0, new byte[1]).IsOk); // B keeps its own
        Assert.True(_k.Caps.VerifyInvariants().IsOk);
    }

    [Fact]
    public void A_mapping_through_a_duplicate_dies_when_the_duplicate_is_closed_but_the_owner_mapping_survives()
    {
        var a = _k.Spawn("a", _k.Tenant("tenant-a"));
        var region = a.AllocateMemory(Size).Value;
        var dup = a.Duplicate(region, Rights.Read | Rights.Write | Rights.Map).Value;
        using var own = a.MapMemory(region).Value;
        using var viaDup = a.MapMemory(dup).Value;
        _k.Sys.Handles.Close(a, dup).Unwrap();
        AssertEveryAccessRevoked(viaDup);
        AssertAccessWorks(own);
    }

    private static readonly byte[] AccessWorksPattern = [0xA5, 0x5A, 0xA5, 0x5A];

    /// <summary>All four kinds of access succeed (and leave <see cref="AccessWorksPattern"/> at offset 0).</summary>
    internal static void AssertAccessWorks(RegionMapping m)
    {
        Assert.True(m.Write(0, AccessWorksPattern).IsOk);
        var buf = new byte[4];
        Assert.True(m.Read(0, buf).IsOk);
        Assert.Equal(AccessWorksPattern, buf);
        bool viewed = false;
        Assert.True(m.View(0, 4, 0, (s, _) => viewed = s.SequenceEqual(AccessWorksPattern)).IsOk);
        Assert.True(viewed);
        Assert.True(m.Update(0, 4, 0, (s, _) => AccessWorksPattern.CopyTo(s)).IsOk);
    }

    /// <summary>Read, Write, View and Update all fail with Revoked; no callback runs and no byte moves either way.</summary>
    internal static void AssertEveryAccessRevoked(RegionMapping m)
    {
        var buf = Fill(64, 0xEE);
        Assert.Equal(ErrorCode.Revoked, m.Read(0, buf).Code);
        Assert.All(buf, x => Assert.Equal(0xEE, x));
        Assert.Equal(ErrorCode.Revoked, m.Write(0, Fill(64, 0x66)).Code);
        bool lent = false;
        Assert.Equal(ErrorCode.Revoked, m.View(0, 64, 0, (_, _) => lent = true).Code);
        Assert.Equal(ErrorCode.Revoked, m.Update(0, 64, 0, (s, _) => { lent = true; s.Fill(0x66); }).Code);
        Assert.False(lent, "a span was lent through a revoked mapping");
        // Out-of-range or huge requests must not turn into anything but Revoked either.
        Assert.Equal(ErrorCode.Revoked, m.Read(m.Length - 1, new byte[1]).Code);
    }

    private static void AssertHolds(Process p, Handle h, byte[] expected)
    {
        var buf = new byte[expected.Length];
        p.ReadMemory(h, 0, buf).Unwrap();
        Assert.Equal(expected, buf);
        var rest = new byte[64];
        p.ReadMemory(h, expected.Length, rest).Unwrap();
        Assert.All(rest, x => Assert.Equal(0x11, x)); // the dead mapping's Write/Update changed nothing
    }

    internal static byte[] Fill(int n, byte v)
    {
        var b = new byte[n];
        Array.Fill(b, v);
        return b;
    }
}
