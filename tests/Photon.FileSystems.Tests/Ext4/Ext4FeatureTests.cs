using Photon.FileSystems.Ext4;
using Photon.Kernel;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Hal.Host;

namespace Photon.FileSystems.Tests.Ext4;

/// <summary>
/// Every feature Debian's mke2fs can set (man ext4, /etc/mke2fs.conf): one image per feature made by mkfs.ext4 -d,
/// which Photon either reads byte for byte (and writes e2fsck-clean) or refuses with NotSupported naming the feature.
/// A clean volume is never reported as Corrupted.
/// </summary>
public sealed class Ext4FeatureTests
{
    private static readonly byte[] Small = "hello from mkfs\n"u8.ToArray();
    private static readonly byte[] Big = Ext4Scratch.RandomBytes(300_000, 77);

    private static string Populate(Ext4Scratch s)
    {
        string dir = s.PathOf("src");
        Directory.CreateDirectory(Path.Combine(dir, "sub"));
        File.WriteAllBytes(Path.Combine(dir, "a.txt"), Small);
        File.WriteAllBytes(Path.Combine(dir, "big.bin"), Big);
        File.WriteAllBytes(Path.Combine(dir, "sub", "b.txt"), Small);
        return dir;
    }

    private static async Task<Result<IFileSystem>> MountAsync(HostImageStorage storage, bool readOnly) =>
        await new Ext4FileSystemDriver().MountAsync(TestDevices.Nvme(storage), new MountOptions(readOnly));

    /// <summary>
    /// <paramref name="readRefusal"/>: null when reading must work, else the feature name a NotSupported mount must give;
    /// <paramref name="writeRefusal"/> likewise for a read-write mount (null: writes work and e2fsck finds nothing).
    /// </summary>
    [Theory]
    [InlineData("-O bigalloc -C 16384", null, "bigalloc")]
    [InlineData("-b 4096 -O bigalloc -C 65536", null, "bigalloc")]
    [InlineData("-O inline_data", null, "inline_data")]
    [InlineData("-O encrypt", null, "encrypt")]
    [InlineData("-O casefold", null, "casefold")]
    [InlineData("-O verity", null, "verity")]
    [InlineData("-O quota", null, "quota")]
    [InlineData("-O project", null, "project")]
    [InlineData("-O ea_inode", null, "ea_inode")]
    [InlineData("-O mmp", null, "mmp")]
    [InlineData("-O sparse_super2", null, "sparse_super2")]
    [InlineData("-O fast_commit", null, "fast_commit")]
    [InlineData("-O uninit_bg,^metadata_csum", null, "uninit_bg")]
    [InlineData("-O meta_bg,^resize_inode", "meta_bg", "meta_bg")]
    [InlineData("-O ^extent,^64bit", "extent", "extent")]
    [InlineData("-O ^huge_file", null, null)]
    [InlineData("-O ^dir_nlink", null, null)]
    [InlineData("-O ^extra_isize", null, null)]
    [InlineData("-O large_dir", null, null)]
    [InlineData("-O ^flex_bg", null, null)]
    [InlineData("-O ^64bit", null, null)]
    [InlineData("-O stable_inodes", null, null)]
    [InlineData("-O orphan_file", null, null)]
    [InlineData("-O metadata_csum_seed", null, null)]
    [InlineData("-O ^metadata_csum", null, null)]
    [InlineData("-O ^has_journal", null, null)]
    [InlineData("-O ^resize_inode", null, null)]
    [InlineData("-O ^sparse_super,^resize_inode", null, null)]
    [InlineData("-O ^dir_index", null, null)]
    [InlineData("-O ^ext_attr", null, null)]
    public async Task Ext4_MkfsFeature_IsReadOrRefusedByName(string mkfsOptions, string? readRefusal, string? writeRefusal)
    {
        using var s = new Ext4Scratch();
        string img = s.MakeImage(size: "32M", fromDir: Populate(s), extra: mkfsOptions.Split(' '));

        var storage = HostImageStorage.Open(img, false).Value;
        try
        {
            var ro = await MountAsync(storage, readOnly: true);
            if (readRefusal is not null)
            {
                Assert.False(ro.IsOk);
                Assert.Equal(ErrorCode.NotSupported, ro.Error.Code);
                Assert.Contains(readRefusal, ro.Error.Message);
            }
            else
            {
                Assert.True(ro.IsOk, ro.IsOk ? "" : ro.Error.ToString());
                var fs = ro.Value;
                Assert.Equal(Small, await Ext4Scratch.ReadAllAsync(fs, "/a.txt"));
                Assert.Equal(Big, await Ext4Scratch.ReadAllAsync(fs, "/big.bin"));
                Assert.Equal(Small, await Ext4Scratch.ReadAllAsync(fs, "/sub/b.txt"));
                var names = (await fs.ReadDirectoryAsync("/")).Value.Select(e => e.Name).Order().ToArray();
                Assert.Equal(["a.txt", "big.bin", "lost+found", "sub"], names);
                await fs.DisposeAsync();
            }

            var rw = await MountAsync(storage, readOnly: false);
            if (writeRefusal is not null)
            {
                Assert.False(rw.IsOk);
                Assert.Equal(ErrorCode.NotSupported, rw.Error.Code);
                Assert.Contains(writeRefusal, rw.Error.Message);
                return;
            }
            Assert.True(rw.IsOk, rw.IsOk ? "" : rw.Error.ToString());
            var w = rw.Value;
            Assert.True((await w.CreateDirectoryAsync("/made")).IsOk);
            Assert.True((await w.CreateFileAsync("/made/new.bin")).IsOk);
            Assert.True((await w.WriteAsync("/made/new.bin", 0, Big)).IsOk);
            Assert.True((await w.DeleteAsync("/a.txt")).IsOk);
            Assert.Equal(Big, await Ext4Scratch.ReadAllAsync(w, "/made/new.bin"));
            await w.DisposeAsync();
        }
        finally { await storage.DisposeAsync(); }

        if (writeRefusal is null)
        {
            var (code, output) = Ext4Scratch.Fsck(img);
            Assert.True(code == 0, $"e2fsck -fn exited {code}:\n{output}");
        }
    }

    /// <summary>
    /// inline_data: files up to 60 bytes live in i_block, up to ~120 also use the system.data xattr; small directories
    /// keep their records in i_block (mkfs -d puts larger ones in blocks). Each is read as mkfs wrote it (sizes checked against debugfs's view).
    /// </summary>
    [Fact]
    public async Task Ext4_InlineDataFilesAndDirectories_AreRead()
    {
        using var s = new Ext4Scratch();
        string src = s.PathOf("src");
        Directory.CreateDirectory(Path.Combine(src, "small"));
        Directory.CreateDirectory(Path.Combine(src, "empty"));
        var files = new Dictionary<string, byte[]>
        {
            ["/tiny"] = Ext4Scratch.RandomBytes(10, 1),
            ["/sixty"] = Ext4Scratch.RandomBytes(60, 2),
            ["/spill"] = Ext4Scratch.RandomBytes(100, 3),
            ["/blocks"] = Ext4Scratch.RandomBytes(5000, 4),
            ["/empty.txt"] = [],
        };
        foreach (var (name, data) in files) File.WriteAllBytes(src + name, data);
        var names = Enumerable.Range(0, 4).Select(i => $"e{i}").ToArray();
        foreach (var n in names) File.WriteAllBytes(Path.Combine(src, "small", n), Small);
        string img = s.MakeImage(size: "16M", fromDir: src, extra: ["-O", "inline_data"]);
        Assert.Contains("Size of inline data: 100", Ext4Scratch.Run("debugfs", "-R", "stat /spill", img).Output);
        Assert.Contains("Size of inline data", Ext4Scratch.Run("debugfs", "-R", "stat /small", img).Output);

        var (fs, st) = await Ext4Scratch.MountAsync(img, readOnly: true);
        try
        {
            foreach (var (name, data) in files) Assert.Equal(data, await Ext4Scratch.ReadAllAsync(fs, name));
            var listed = (await fs.ReadDirectoryAsync("/small")).Value.Select(e => e.Name).Order().ToArray();
            Assert.Equal(names, listed);
            foreach (var n in names) Assert.Equal(Small, await Ext4Scratch.ReadAllAsync(fs, "/small/" + n));
            Assert.Empty((await fs.ReadDirectoryAsync("/empty")).Value);
            Assert.Equal(Small, await Ext4Scratch.ReadAllAsync(fs, "/small/../small/e0"));
            // A partial read from the middle of the xattr part.
            var part = new byte[30];
            Assert.Equal(30, (await fs.ReadAsync("/spill", 50, part)).Value);
            Assert.Equal(files["/spill"].AsSpan(50, 30).ToArray(), part);
        }
        finally { await Ext4Scratch.UnmountAsync(fs, st); }
    }

    /// <summary>An external journal made by mke2fs -O journal_dev has an ext4 superblock but no filesystem.</summary>
    [Fact]
    public async Task Ext4_ExternalJournalDevice_IsRefusedByName()
    {
        using var s = new Ext4Scratch();
        string img = s.MakeImage(size: "8M", extra: ["-O", "journal_dev"]);
        var storage = HostImageStorage.Open(img, true).Value;
        try
        {
            var mounted = await MountAsync(storage, readOnly: true);
            Assert.False(mounted.IsOk);
            Assert.Equal(ErrorCode.NotSupported, mounted.Error.Code);
            Assert.Contains("journal_dev", mounted.Error.Message);
        }
        finally { await storage.DisposeAsync(); }
    }
}
