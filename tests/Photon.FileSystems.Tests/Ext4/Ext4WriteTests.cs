using Photon.FileSystems.Ext4;
using Photon.Kernel;
using Photon.Kernel.FileSystems;

namespace Photon.FileSystems.Tests.Ext4;

public sealed class Ext4WriteTests
{
    private static void AssertFsckClean(string img)
    {
        var (code, output) = Ext4Scratch.Fsck(img);
        Assert.True(code == 0, $"e2fsck -fn exited {code}:\n{output}");
    }

    private static async Task Ok(ValueTask<Result> r) { var x = await r; Assert.True(x.IsOk, x.ToString()); }

    [Fact]
    public async Task Ext4_PhotonWrites_AreReadByDebugfsAndFsckClean()
    {
        using var s = new Ext4Scratch();
        string img = s.MakeImage();
        var small = "written by photon\n"u8.ToArray();
        var large = Ext4Scratch.RandomBytes(5 * 1024 * 1024 + 77, 10);
        var nested = Ext4Scratch.RandomBytes(70_000, 11);
        var truncated = Ext4Scratch.RandomBytes(300_000, 12);
        var (fs, st) = await Ext4Scratch.MountAsync(img);
        try
        {
            await Ok(fs.CreateFileAsync("/small.txt"));
            await Ok(fs.WriteAsync("/small.txt", 0, small));
            await Ok(fs.CreateFileAsync("/large.bin"));
            for (int off = 0; off < large.Length; off += 65536)
                await Ok(fs.WriteAsync("/large.bin", off, large.AsMemory(off, Math.Min(65536, large.Length - off))));
            await Ok(fs.CreateDirectoryAsync("/d1"));
            await Ok(fs.CreateDirectoryAsync("/d1/d2"));
            await Ok(fs.CreateFileAsync("/d1/d2/nested.bin"));
            await Ok(fs.WriteAsync("/d1/d2/nested.bin", 0, nested));
            await Ok(fs.CreateFileAsync("/trunc.bin"));
            await Ok(fs.WriteAsync("/trunc.bin", 0, truncated));
            await Ok(fs.TruncateAsync("/trunc.bin", 100_001));
            await Ok(fs.CreateFileAsync("/doomed.bin"));
            await Ok(fs.WriteAsync("/doomed.bin", 0, Ext4Scratch.RandomBytes(200_000, 13)));
            await Ok(fs.DeleteAsync("/doomed.bin"));
            await Ok(fs.CreateFileAsync("/old-name"));
            await Ok(fs.WriteAsync("/old-name", 0, small));
            await Ok(fs.RenameAsync("/old-name", "/d1/new-name"));
            await Ok(fs.CreateDirectoryAsync("/moveme"));
            await Ok(fs.CreateFileAsync("/moveme/inside"));
            await Ok(fs.RenameAsync("/moveme", "/d1/d2/moved"));
            await Ok(fs.CreateDirectoryAsync("/emptydir"));
            await Ok(fs.DeleteAsync("/emptydir"));

            Assert.Equal(ErrorCode.AlreadyExists, (await fs.CreateFileAsync("/small.txt")).Code);
            Assert.Equal(ErrorCode.NotEmpty, (await fs.DeleteAsync("/d1")).Code);
            Assert.Equal(ErrorCode.NotFound, (await fs.DeleteAsync("/nope")).Code);
            Assert.Equal(ErrorCode.InvalidArgument, (await fs.RenameAsync("/d1", "/d1/d2/inside-myself")).Code);
            Assert.Equal(ErrorCode.InvalidName, (await fs.CreateFileAsync("/" + new string('x', 256))).Code);
            Assert.Equal(large, await Ext4Scratch.ReadAllAsync(fs, "/large.bin"));
            Assert.Equal(truncated.AsSpan(0, 100_001).ToArray(), await Ext4Scratch.ReadAllAsync(fs, "/trunc.bin"));
        }
        finally { await Ext4Scratch.UnmountAsync(fs, st); }

        AssertFsckClean(img);
        Assert.Equal(small, s.DebugfsDump(img, "/small.txt"));
        Assert.Equal(large, s.DebugfsDump(img, "/large.bin"));
        Assert.Equal(nested, s.DebugfsDump(img, "/d1/d2/nested.bin"));
        Assert.Equal(truncated.AsSpan(0, 100_001).ToArray(), s.DebugfsDump(img, "/trunc.bin"));
        Assert.Equal(small, s.DebugfsDump(img, "/d1/new-name"));
        var ls = Ext4Scratch.DebugfsLs(img, "/");
        Assert.DoesNotContain("doomed.bin", ls);
        Assert.DoesNotContain("old-name", ls);
        Assert.DoesNotContain("emptydir", ls);
        Assert.Contains("inside", Ext4Scratch.DebugfsLs(img, "/d1/d2/moved"));

        // And Photon reads back what it wrote after a remount.
        (fs, st) = await Ext4Scratch.MountAsync(img, readOnly: true);
        try { Assert.Equal(nested, await Ext4Scratch.ReadAllAsync(fs, "/d1/d2/nested.bin")); }
        finally { await Ext4Scratch.UnmountAsync(fs, st); }
    }

    /// <summary>Interleaved appends fragment two files so their extent trees must grow beyond the inode (depth >= 1).</summary>
    [Fact]
    public async Task Ext4_InterleavedAppends_GrowExtentTree_FsckClean()
    {
        using var s = new Ext4Scratch();
        string img = s.MakeImage();
        var a = Ext4Scratch.RandomBytes(2 * 1024 * 1024, 20);
        var b = Ext4Scratch.RandomBytes(2 * 1024 * 1024, 21);
        var (fs, st) = await Ext4Scratch.MountAsync(img);
        try
        {
            await Ok(fs.CreateFileAsync("/a"));
            await Ok(fs.CreateFileAsync("/b"));
            for (int off = 0; off < a.Length; off += 4096)
            {
                await Ok(fs.WriteAsync("/a", off, a.AsMemory(off, 4096)));
                await Ok(fs.WriteAsync("/b", off, b.AsMemory(off, 4096)));
            }
            var info = (await ((Ext4FileSystem)fs).InspectAsync("/a")).Value;
            Assert.True(info.Depth >= 1, $"depth {info.Depth}, {info.Extents} extents");
            // Sparse write far past the end, then shrink back across the tree.
            await Ok(fs.WriteAsync("/b", 6_000_000, "tail"u8.ToArray()));
            await Ok(fs.TruncateAsync("/a", 1_000_000));
        }
        finally { await Ext4Scratch.UnmountAsync(fs, st); }
        AssertFsckClean(img);
        Assert.Equal(a.AsSpan(0, 1_000_000).ToArray(), s.DebugfsDump(img, "/a"));
        var bOut = s.DebugfsDump(img, "/b");
        Assert.Equal(6_000_004, bOut.Length);
        Assert.Equal(b, bOut.AsSpan(0, b.Length).ToArray());
        Assert.True(bOut.AsSpan(b.Length, 6_000_000 - b.Length).IndexOfAnyExcept((byte)0) < 0);
        Assert.Equal("tail"u8.ToArray(), bOut.AsSpan(6_000_000).ToArray());
    }

    /// <summary>Adding to and removing from an htree directory built by e2fsck -D keeps e2fsck clean.</summary>
    [Fact]
    public async Task Ext4_HtreeDirectory_AddRemoveEntries_FsckClean()
    {
        using var s = new Ext4Scratch();
        string src = s.PathOf("src");
        Directory.CreateDirectory(Path.Combine(src, "big"));
        for (int i = 0; i < 2000; i++) File.WriteAllText(Path.Combine(src, "big", $"file-{i:D5}-padding-padding"), $"{i}");
        string img = s.MakeImage(fromDir: src);
        var (code, output) = Ext4Scratch.Run("e2fsck", "-fyD", img);
        Assert.True(code is 0 or 1, output);
        var (fs, st) = await Ext4Scratch.MountAsync(img);
        try
        {
            Assert.True((await ((Ext4FileSystem)fs).InspectAsync("/big")).Value.Indexed);
            for (int i = 0; i < 2000; i += 3) await Ok(fs.DeleteAsync($"/big/file-{i:D5}-padding-padding"));
            for (int i = 0; i < 300; i++)
            {
                await Ok(fs.CreateFileAsync($"/big/added-{i}"));
                await Ok(fs.WriteAsync($"/big/added-{i}", 0, System.Text.Encoding.ASCII.GetBytes($"added {i}")));
            }
            await Ok(fs.RenameAsync("/big/file-00001-padding-padding", "/renamed"));
            Assert.Equal(2000 - 667 + 300 - 1, (await fs.ReadDirectoryAsync("/big")).Value.Count);
        }
        finally { await Ext4Scratch.UnmountAsync(fs, st); }
        AssertFsckClean(img);
        Assert.Equal("added 299"u8.ToArray(), s.DebugfsDump(img, "/big/added-299"));
        Assert.Equal("1"u8.ToArray(), s.DebugfsDump(img, "/renamed"));
        Assert.Equal("5"u8.ToArray(), s.DebugfsDump(img, "/big/file-00005-padding-padding"));
    }

    [Fact]
    public async Task Ext4_DeleteLargeFile_ReturnsEveryBlock()
    {
        using var s = new Ext4Scratch();
        string img = s.MakeImage();
        var (fs, st) = await Ext4Scratch.MountAsync(img);
        try
        {
            var vol = ((Ext4FileSystem)fs).Volume;
            ulong freeBefore = vol.Sb.FreeBlocks;
            uint inodesBefore = vol.Sb.FreeInodes;
            await Ok(fs.CreateFileAsync("/big"));
            await Ok(fs.WriteAsync("/big", 0, Ext4Scratch.RandomBytes(8 * 1024 * 1024, 30)));
            Assert.True(vol.Sb.FreeBlocks <= freeBefore - 8192);
            await Ok(fs.DeleteAsync("/big"));
            Assert.Equal(freeBefore, vol.Sb.FreeBlocks);
            Assert.Equal(inodesBefore, vol.Sb.FreeInodes);
            // Filling the disk fails with NoSpace and leaves the filesystem consistent.
            await Ok(fs.CreateFileAsync("/huge"));
            Assert.Equal(ErrorCode.NoSpace, (await fs.WriteAsync("/huge", 0, new byte[40 * 1024 * 1024])).Code);
        }
        finally { await Ext4Scratch.UnmountAsync(fs, st); }
        AssertFsckClean(img);
    }

    /// <summary>Optional 1.47 features: a stored checksum seed (after a UUID change) and the orphan file.</summary>
    [Fact]
    public async Task Ext4_CsumSeedAndOrphanFileImage_WritesFsckClean()
    {
        using var s = new Ext4Scratch();
        string img = s.MakeImage(size: "64M", extra: ["-b", "4096", "-O", "metadata_csum_seed,orphan_file"]);
        Ext4Scratch.MustRun("tune2fs", "-U", "random", img);
        var data = Ext4Scratch.RandomBytes(1_500_000, 40);
        var (fs, st) = await Ext4Scratch.MountAsync(img);
        try
        {
            await Ok(fs.CreateDirectoryAsync("/x"));
            await Ok(fs.CreateFileAsync("/x/f"));
            await Ok(fs.WriteAsync("/x/f", 0, data));
            await Ok(fs.WriteAsync("/x/f", 4095, "overlap"u8.ToArray()));
            "overlap"u8.CopyTo(data.AsSpan(4095));
        }
        finally { await Ext4Scratch.UnmountAsync(fs, st); }
        AssertFsckClean(img);
        Assert.Equal(data, s.DebugfsDump(img, "/x/f"));
    }

    [Fact]
    public async Task Ext4_NeedsRecoveryWithAnEmptyJournal_IsRecoveredAndMountedReadWrite()
    {
        using var s = new Ext4Scratch();
        string img = s.MakeImage();
        Ext4Scratch.MustRun("debugfs", "-w", "-R", "feature needs_recovery", img);
        var storage = Photon.Kernel.Hal.Host.HostImageStorage.Open(img).Value;
        try
        {
            var device = TestDevices.Nvme(storage);
            var ro = await new Ext4FileSystemDriver().MountAsync(device, new MountOptions(ReadOnly: true));
            Assert.True(ro.IsOk, ro.ToString());
            Assert.Equal(ErrorCode.ReadOnly, (await ro.Value.CreateFileAsync("/x")).Code);
            var rw = await new Ext4FileSystemDriver().MountAsync(device, new MountOptions());
            Assert.True(rw.IsOk, rw.ToString());
            await Ok(rw.Value.CreateFileAsync("/x"));
            await rw.Value.DisposeAsync();
        }
        finally { await storage.DisposeAsync(); }
        Assert.DoesNotContain("needs_recovery", Ext4Scratch.Run("dumpe2fs", "-h", img).Output);
        AssertFsckClean(img);
    }
}
