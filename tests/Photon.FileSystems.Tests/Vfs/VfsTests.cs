using System.Text;
using CsCheck;
using Photon.FileSystems.Tests.Fat;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Processes;

namespace Photon.FileSystems.Tests.Vfs;

/// <summary>VFS semantics against real FAT images made by mkfs.vfat and checked with mtools and fsck.vfat.</summary>
public sealed class VfsTests : IAsyncLifetime
{
    private readonly VfsKernel _k = new();
    private readonly FatImage _image = FatImage.Create(16);
    private const Rights ReadOnlyView = Rights.Read | Rights.Enumerate;
    private const Rights FullView = Rights.Read | Rights.Write | Rights.Enumerate | Rights.Create | Rights.Delete;

    public Task InitializeAsync()
    {
        _image.MakeDirectory("/docs");
        _image.Put(Encoding.UTF8.GetBytes("hello from mtools\n"), "/docs/hello.txt");
        _image.Put(FatTestExtensions.RandomBytes(300_000, 7), "/big.bin");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _k.DisposeAsync();
        _image.Dispose();
    }

    private async Task<byte[]> ReadAllAsync(Process p, Handle h)
    {
        var ms = new MemoryStream();
        var buf = new byte[64 * 1024];
        for (long off = 0; ; )
        {
            var n = await _k.Files.ReadAsync(p, h, off, buf);
            Assert.True(n.IsOk, n.ToString());
            if (n.Value == 0) return ms.ToArray();
            ms.Write(buf, 0, n.Value);
            off += n.Value;
        }
    }

    [Fact]
    public async Task A_process_sees_only_the_mounts_its_namespace_has()
    {
        var mount = await _k.MountFatAsync(_image.Path);
        var a = _k.Tenant("tenant-a", mount, ReadOnlyView);
        var b = _k.Tenant("tenant-b", CapabilityToken.None, Rights.None);

        var list = await _k.Files.ReadDirectoryAsync(a, "/mnt/data/docs");
        Assert.True(list.IsOk, list.ToString());
        Assert.Contains(list.Value, e => e.Name == "hello.txt" && e.Kind == FileKind.File && e.Length == 18);
        var h = (await _k.Files.OpenAsync(a, "/mnt/data/docs/hello.txt", Rights.Read)).Value;
        Assert.Equal("hello from mtools\n", Encoding.UTF8.GetString(await ReadAllAsync(a, h)));
        var big = (await _k.Files.OpenAsync(a, "/mnt/data/big.bin", Rights.Read)).Value;
        Assert.Equal(FatTestExtensions.RandomBytes(300_000, 7), await ReadAllAsync(a, big));

        Assert.Equal(ErrorCode.NotFound, (await _k.Files.OpenAsync(b, "/mnt/data/docs/hello.txt", Rights.Read)).Code);
        Assert.Equal(ErrorCode.NotFound, (await _k.Files.ReadDirectoryAsync(b, "/mnt/data")).Code);
        Assert.Equal(ErrorCode.NotFound, (await _k.Files.StatAsync(b, "/tenant-a/mnt/data/big.bin")).Code);
        Assert.Equal(ErrorCode.NotFound, (await _k.Files.StatAsync(a, "/mnt/other/x")).Code);
    }

    [Fact]
    public async Task A_read_only_binding_yields_read_only_handles_and_refuses_every_mutation()
    {
        var mount = await _k.MountFatAsync(_image.Path);
        var p = _k.Tenant("ro", mount, ReadOnlyView);
        Assert.Equal(ErrorCode.AccessDenied, (await _k.Files.OpenAsync(p, "/mnt/data/big.bin", Rights.Write)).Code);
        Assert.Equal(ErrorCode.AccessDenied, (await _k.Files.OpenAsync(p, "/mnt/data/new.txt", Rights.Read, OpenFlags.Create)).Code);
        var h = (await _k.Files.OpenAsync(p, "/mnt/data/big.bin", Rights.Read)).Value;
        Assert.Equal(ErrorCode.AccessDenied, (await _k.Files.WriteAsync(p, h, 0, new byte[10])).Code);
        Assert.Equal(ErrorCode.AccessDenied, (await _k.Files.TruncateAsync(p, h, 0)).Code);
        Assert.Equal(ErrorCode.AccessDenied, (await _k.Files.CreateFileAsync(p, "/mnt/data/x.txt")).Code);
        Assert.Equal(ErrorCode.AccessDenied, (await _k.Files.CreateDirectoryAsync(p, "/mnt/data/dir")).Code);
        Assert.Equal(ErrorCode.AccessDenied, (await _k.Files.DeleteAsync(p, "/mnt/data/big.bin")).Code);
        Assert.Equal(ErrorCode.AccessDenied, (await _k.Files.RenameAsync(p, "/mnt/data/big.bin", "/mnt/data/b2.bin")).Code);
        Assert.Equal(300_000, (await _k.Files.StatAsync(p, h)).Value.Length);

        // A mount made read-only has no mutating rights to bind in the first place.
        var roMount = await _k.MountFatAsync(_image.Path, readOnly: true);
        var ns = _k.Ns.CreateChild(_k.Root, "ro2").Value;
        _k.Ns.CreateChild(ns, "mnt").Unwrap();
        Assert.Equal(ErrorCode.AccessDenied, _k.Vfs.Bind(ns, "/mnt/data", roMount, FullView, Principal.Kernel).Code);
        Assert.True(_k.Vfs.Bind(ns, "/mnt/data", roMount, ReadOnlyView, Principal.Kernel).IsOk);
        Assert.Equal(300_000, _image.Get("/big.bin").Length); // untouched
    }

    [Fact]
    public async Task Writes_creates_renames_and_deletes_through_a_full_binding_land_on_the_image()
    {
        var mount = await _k.MountFatAsync(_image.Path);
        var p = _k.Tenant("rw", mount, FullView);
        var v = _k.Files;
        Assert.True((await v.CreateDirectoryAsync(p, "/mnt/data/reports")).IsOk);
        var h = (await v.OpenAsync(p, "/mnt/data/reports/Quarterly Report.txt", Rights.ReadWrite, OpenFlags.Create | OpenFlags.Exclusive)).Value;
        var payload = FatTestExtensions.RandomBytes(70_000, 3);
        Assert.True((await v.WriteAsync(p, h, 0, payload)).IsOk);
        Assert.True((await v.WriteAsync(p, h, payload.Length, "tail"u8.ToArray())).IsOk);
        Assert.Equal(payload.Length + 4, (await v.StatAsync(p, h)).Value.Length);
        Assert.Equal(ErrorCode.AlreadyExists, (await v.OpenAsync(p, "/mnt/data/reports/Quarterly Report.txt", Rights.Write, OpenFlags.Create | OpenFlags.Exclusive)).Code);
        Assert.Equal(ErrorCode.IsADirectory, (await v.OpenAsync(p, "/mnt/data/reports", Rights.Write)).Code);
        Assert.True(v.Close(p, h).IsOk);
        Assert.Equal(ErrorCode.InvalidHandle, (await v.ReadAsync(p, h, 0, new byte[1])).Code);

        Assert.True((await v.RenameAsync(p, "/mnt/data/docs/hello.txt", "/mnt/data/reports/hello-renamed.txt")).IsOk);
        Assert.True((await v.DeleteAsync(p, "/mnt/data/big.bin")).IsOk);
        Assert.Equal(ErrorCode.NotEmpty, (await v.DeleteAsync(p, "/mnt/data/reports")).Code);
        var t = (await v.OpenAsync(p, "/mnt/data/reports/hello-renamed.txt", Rights.ReadWrite, OpenFlags.Truncate)).Value;
        Assert.Equal(0, (await v.StatAsync(p, t)).Value.Length);
        Assert.True((await v.WriteAsync(p, t, 0, "new\n"u8.ToArray())).IsOk);
        Assert.True((await _k.Vfs.UnmountAsync(mount, Principal.Kernel)).IsOk);
        await _k.DisposeAsync();

        // The host's tools see exactly what the process did.
        _image.AssertFsckClean();
        Assert.Equal(["Quarterly Report.txt", "hello-renamed.txt"], _image.List("/reports").Order());
        Assert.Equal([.. payload, .. "tail"u8.ToArray()], _image.Get("/reports/Quarterly Report.txt"));
        Assert.Equal("new\n", Encoding.UTF8.GetString(_image.Get("/reports/hello-renamed.txt")));
        Assert.DoesNotContain("big.bin", _image.List("/"));
        Assert.Empty(_image.List("/docs"));
    }

    [Fact]
    public async Task Unmounting_or_unbinding_revokes_open_handles_and_path_access()
    {
        var mount = await _k.MountFatAsync(_image.Path);
        var p = _k.Tenant("t", mount, FullView);
        var q = _k.Tenant("u", mount, FullView);
        var h = (await _k.Files.OpenAsync(p, "/mnt/data/docs/hello.txt", Rights.ReadWrite)).Value;
        var hq = (await _k.Files.OpenAsync(q, "/mnt/data/docs/hello.txt", Rights.Read)).Value;
        Assert.True((await _k.Files.WriteAsync(p, h, 0, "HELLO"u8.ToArray())).IsOk);

        // Unbinding one tenant's name cuts that tenant off, not the other.
        _k.Ns.Unbind(_k.Ns.Lookup(_k.Root, "/u/mnt", Rights.Bind).Value, "data").Unwrap();
        Assert.Equal(ErrorCode.Revoked, (await _k.Files.ReadAsync(q, hq, 0, new byte[4])).Code);
        Assert.Equal(ErrorCode.NotFound, (await _k.Files.StatAsync(q, "/mnt/data/docs/hello.txt")).Code);
        Assert.True((await _k.Files.ReadAsync(p, h, 0, new byte[4])).IsOk);

        // Only the holder of Manage may unmount; then everything through the mount answers Revoked.
        var pMount = p.Open("/mnt/data", Rights.Read).Value;
        Assert.Equal(ErrorCode.AccessDenied, (await _k.Vfs.UnmountAsync(p.TokenOf(pMount).Value, p.Principal)).Code);
        Assert.True((await _k.Vfs.UnmountAsync(mount, Principal.Kernel)).IsOk);
        Assert.Equal(ErrorCode.Revoked, (await _k.Files.ReadAsync(p, h, 0, new byte[4])).Code);
        Assert.Equal(ErrorCode.Revoked, (await _k.Files.WriteAsync(p, h, 0, new byte[4])).Code);
        Assert.Equal(ErrorCode.Revoked, (await _k.Files.StatAsync(p, "/mnt/data/docs/hello.txt")).Code);
        Assert.Equal(ErrorCode.Revoked, (await _k.Files.OpenAsync(p, "/mnt/data/docs/hello.txt", Rights.Read)).Code);
        Assert.Equal(ErrorCode.Revoked, (await _k.Vfs.UnmountAsync(mount, Principal.Kernel)).Code);
        Assert.True(_k.Caps.VerifyInvariants().IsOk);
        await _k.DisposeAsync();
        _image.AssertFsckClean();
        Assert.Equal("HELLO from mtools\n", Encoding.UTF8.GetString(_image.Get("/docs/hello.txt")));
    }

    [Fact]
    public async Task File_handles_are_capabilities_delegation_narrows_them_and_wrong_handles_are_typed_errors()
    {
        var mount = await _k.MountFatAsync(_image.Path);
        var p = _k.Tenant("t", mount, FullView | Rights.Delegate);
        var other = _k.Processes.Spawn("reader", _k.Root).Value.Process;
        var h = (await _k.Files.OpenAsync(p, "/mnt/data/docs/hello.txt", Rights.ReadWrite)).Value;
        var given = p.Delegate(h, other, Rights.Read).Value;
        Assert.Equal(18, (await _k.Files.ReadAsync(other, given, 0, new byte[64])).Value);
        Assert.Equal(ErrorCode.AccessDenied, (await _k.Files.WriteAsync(other, given, 0, new byte[1])).Code);
        Assert.Equal(ErrorCode.AccessDenied, other.Delegate(given, p, Rights.Read).Code); // no Delegate right was passed on
        p.RevokeDerived(h).Unwrap();
        Assert.Equal(ErrorCode.Revoked, (await _k.Files.ReadAsync(other, given, 0, new byte[1])).Code);

        var mountHandle = p.Open("/mnt/data", Rights.Read).Value;
        Assert.Equal(ErrorCode.WrongObjectType, (await _k.Files.ReadAsync(p, mountHandle, 0, new byte[1])).Code);
        Assert.Equal(ErrorCode.InvalidHandle, (await _k.Files.ReadAsync(p, new Handle(987654), 0, new byte[1])).Code);
        Assert.Equal(ErrorCode.InvalidArgument, (await _k.Files.ReadAsync(p, h, -1, new byte[1])).Code);
        Assert.Equal(ErrorCode.InvalidArgument, (await _k.Files.OpenAsync(p, "/mnt/data/big.bin", Rights.Manage)).Code);
        Assert.Equal(ErrorCode.InvalidArgument, (await _k.Files.OpenAsync(p, "/mnt/data/big.bin", Rights.Read, OpenFlags.Truncate)).Code);
        Assert.Equal(ErrorCode.NotFound, (await _k.Files.OpenAsync(p, "/mnt/data/nope.txt", Rights.Read)).Code);
        Assert.Equal(ErrorCode.InvalidArgument, (await _k.Files.DeleteAsync(p, "/mnt/data")).Code);
    }

    [Theory]
    [InlineData("/mnt/data/../secret")]
    [InlineData("/mnt/data/docs/../../x")]
    [InlineData("/mnt/../mnt/data/big.bin")]
    [InlineData("/mnt/data/./big.bin")]
    [InlineData("/mnt/data//big.bin")]
    [InlineData("mnt/data/big.bin")]
    [InlineData("")]
    [InlineData("/mnt/data/a\\..\\b")]
    [InlineData("/mnt/data/a\0b")]
    [InlineData("/mnt/data/a\nb")]
    [InlineData("/mnt/data/evil\u202Etxt.exe")]
    [InlineData("/mnt/data/zero\u200Bwidth")]
    public async Task Hostile_paths_are_rejected_with_InvalidName_before_any_filesystem_sees_them(string path)
    {
        var mount = await _k.MountFatAsync(_image.Path);
        var p = _k.Tenant("t", mount, FullView);
        Assert.Equal(ErrorCode.InvalidName, (await _k.Files.OpenAsync(p, path, Rights.Read)).Code);
        Assert.Equal(ErrorCode.InvalidName, (await _k.Files.StatAsync(p, path)).Code);
        Assert.Equal(ErrorCode.InvalidName, (await _k.Files.CreateFileAsync(p, path)).Code);
        Assert.Equal(ErrorCode.InvalidName, (await _k.Files.DeleteAsync(p, path)).Code);
        Assert.Equal(ErrorCode.InvalidName, (await _k.Files.RenameAsync(p, "/mnt/data/big.bin", path)).Code);
    }

    [Fact]
    public async Task Over_long_and_over_deep_paths_are_rejected()
    {
        var mount = await _k.MountFatAsync(_image.Path);
        var p = _k.Tenant("t", mount, FullView);
        Assert.Equal(ErrorCode.InvalidName, (await _k.Files.StatAsync(p, "/mnt/data/" + new string('a', 256))).Code);
        Assert.Equal(ErrorCode.InvalidName, (await _k.Files.StatAsync(p, "/mnt/data" + string.Concat(Enumerable.Repeat("/d", 70)))).Code);
        Assert.Equal(ErrorCode.InvalidName, (await _k.Files.StatAsync(p, "/" + new string('a', 5000))).Code);
        // (Not an InlineData: xunit would replace the lone surrogate with U+FFFD.)
        Assert.Equal(ErrorCode.InvalidName, (await _k.Files.StatAsync(p, "/mnt/data/bad\uD800surrogate")).Code);
        Assert.Equal(ErrorCode.InvalidName, (await _k.Files.StatAsync(p, "/mnt/data/bad\uDC00")).Code);
    }

    [Fact]
    public async Task Random_paths_never_escape_a_mount_or_throw()
    {
        var mount = await _k.MountFatAsync(_image.Path);
        var p = _k.Tenant("t", mount, ReadOnlyView);
        var segment = Gen.OneOf(Gen.Const(".."), Gen.Const("."), Gen.Const(""), Gen.Const("docs"), Gen.Const("hello.txt"),
            Gen.Const("mnt"), Gen.Const("data"), Gen.String[Gen.Char[(char)0, (char)0x3000], 0, 6]);
        var gen = segment.Array[0, 8].Select(s => "/" + string.Join('/', s));
        int checkedCount = 0;
        await gen.SampleAsync(async path =>
        {
            var r = await _k.Files.StatAsync(p, path);
            bool escapes = path.Split('/').Any(s => s is ".." or ".");
            if (escapes && r.Code != ErrorCode.InvalidName) return false;
            Interlocked.Increment(ref checkedCount);
            return r.IsOk || r.Code is ErrorCode.InvalidName or ErrorCode.NotFound or ErrorCode.NotADirectory;
        }, iter: 2000, threads: 1);
        Assert.Equal(2000, checkedCount);
    }
}

public sealed class VfsConcurrencyTests
{
    [Fact]
    public async Task Concurrent_processes_writing_through_one_mount_leave_a_clean_image()
    {
        using var image = FatImage.Create(32);
        await using var k = new VfsKernel();
        var mount = await k.MountFatAsync(image.Path);
        var procs = Enumerable.Range(0, 6)
            .Select(i => k.Tenant($"t{i}", mount, Rights.Read | Rights.Write | Rights.Enumerate | Rights.Create))
            .ToArray();
        await Task.WhenAll(procs.Select(async (p, i) =>
        {
            await Task.Yield();
            var h = (await k.Files.OpenAsync(p, $"/mnt/data/writer-{i}.bin", Rights.ReadWrite, OpenFlags.Create | OpenFlags.Exclusive)).Value;
            var data = FatTestExtensions.RandomBytes(40_000, i);
            for (int off = 0; off < data.Length; off += 4096)
                Assert.True((await k.Files.WriteAsync(p, h, off, data.AsMemory(off, Math.Min(4096, data.Length - off)))).IsOk);
            var back = new byte[data.Length];
            Assert.Equal(data.Length, (await k.Files.ReadAsync(p, h, 0, back)).Value);
            Assert.Equal(data, back);
        }));
        Assert.True((await k.Vfs.UnmountAsync(mount, Principal.Kernel)).IsOk);
        await k.DisposeAsync();
        image.AssertFsckClean();
        for (int i = 0; i < 6; i++) Assert.Equal(FatTestExtensions.RandomBytes(40_000, i), image.Get($"/writer-{i}.bin"));
    }
}
