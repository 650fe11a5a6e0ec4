using Photon.FileSystems.Ext4;
using Photon.Kernel;
using Photon.Kernel.FileSystems;

namespace Photon.FileSystems.Tests.Ext4;

public sealed class Ext4ReadTests
{
    [Fact]
    public async Task Ext4_DefaultMkfsImage_MountsAndListsLostAndFound()
    {
        using var s = new Ext4Scratch();
        string img = s.MakeImage();
        var (fs, st) = await Ext4Scratch.MountAsync(img);
        try
        {
            Assert.Equal("ext4", fs.TypeName);
            var root = (await fs.StatAsync("/")).Value;
            Assert.Equal(FileKind.Directory, root.Kind);
            var entries = (await fs.ReadDirectoryAsync("/")).Value;
            Assert.Contains(entries, e => e.Name == "lost+found" && e.Kind == FileKind.Directory);
            Assert.Equal(ErrorCode.NotFound, (await fs.StatAsync("/missing")).Code);
            Assert.Equal(ErrorCode.NotFound, (await fs.ReadDirectoryAsync("/lost+found/x/y")).Code);
        }
        finally { await Ext4Scratch.UnmountAsync(fs, st); }
    }

    [Fact]
    public async Task Ext4_Probe_RecognisesExt4AndRejectsZeros()
    {
        using var s = new Ext4Scratch();
        string img = s.MakeImage();
        var driver = new Ext4FileSystemDriver();
        Assert.True(await driver.ProbeAsync(new MemoryBlockDevice(File.ReadAllBytes(img))));
        Assert.False(await driver.ProbeAsync(new MemoryBlockDevice(new byte[1 << 20])));
        var zero = await driver.MountAsync(new MemoryBlockDevice(new byte[1 << 20]), new MountOptions());
        Assert.Equal(ErrorCode.Corrupted, zero.Code);
    }

    /// <summary>mkfs.ext4 -d populates small, multi-MB and nested files plus a 3000-entry directory that e2fsck -D indexes.</summary>
    [Theory]
    [InlineData("1024")]
    [InlineData("4096")]
    public async Task Ext4_MkfsPopulatedImage_ReadsBackByteIdentical(string blockSize)
    {
        using var s = new Ext4Scratch();
        string src = s.PathOf("src");
        Directory.CreateDirectory(Path.Combine(src, "a", "b", "c"));
        Directory.CreateDirectory(Path.Combine(src, "big"));
        var small = "hello ext4\n"u8.ToArray();
        var large = Ext4Scratch.RandomBytes(3 * 1024 * 1024 + 123, 1);
        var nested = Ext4Scratch.RandomBytes(5000, 2);
        File.WriteAllBytes(Path.Combine(src, "small.txt"), small);
        File.WriteAllBytes(Path.Combine(src, "large.bin"), large);
        File.WriteAllBytes(Path.Combine(src, "a", "b", "c", "nested.bin"), nested);
        for (int i = 0; i < 3000; i++) File.WriteAllText(Path.Combine(src, "big", $"entry-{i:D5}-with-a-longish-name"), $"{i}");
        string img = s.MakeImage(size: "64M", fromDir: src, extra: ["-b", blockSize]);
        // e2fsck -D builds the htree index for the large directory (exit code 1 = "changes made").
        var (code, output) = Ext4Scratch.Run("e2fsck", "-fyD", img);
        Assert.True(code is 0 or 1, output);

        var (fs, st) = await Ext4Scratch.MountAsync(img, readOnly: true);
        try
        {
            Assert.Equal(small, await Ext4Scratch.ReadAllAsync(fs, "/small.txt"));
            Assert.Equal(large, await Ext4Scratch.ReadAllAsync(fs, "/large.bin"));
            Assert.Equal(nested, await Ext4Scratch.ReadAllAsync(fs, "/a/b/c/nested.bin"));
            var big = (await fs.ReadDirectoryAsync("/big")).Value;
            Assert.Equal(3000, big.Count);
            Assert.Equal(3000, big.Select(e => e.Name).Distinct().Count());
            var ext4 = (Ext4FileSystem)fs;
            Assert.True((await ext4.InspectAsync("/big")).Value.Indexed);
            Assert.Equal("1234"u8.ToArray(), await Ext4Scratch.ReadAllAsync(fs, "/big/entry-01234-with-a-longish-name"));
            Assert.Equal("2999"u8.ToArray(), await Ext4Scratch.ReadAllAsync(fs, "/big/entry-02999-with-a-longish-name"));
            // A read in the middle, across block boundaries.
            var mid = new byte[10_000];
            Assert.Equal(10_000, (await fs.ReadAsync("/large.bin", 1_000_001, mid)).Value);
            Assert.Equal(large.AsSpan(1_000_001, 10_000).ToArray(), mid);
            Assert.Equal(0, (await fs.ReadAsync("/large.bin", large.Length, mid)).Value);
            Assert.Equal(ErrorCode.IsADirectory, (await fs.ReadAsync("/a", 0, mid)).Code);
            Assert.Equal(ErrorCode.NotADirectory, (await fs.ReadDirectoryAsync("/small.txt")).Code);
            Assert.Equal(ErrorCode.ReadOnly, (await fs.CreateFileAsync("/new")).Code);
        }
        finally { await Ext4Scratch.UnmountAsync(fs, st); }
    }

    /// <summary>A file written by debugfs into fragmented free space needs an extent tree of depth > 0.</summary>
    [Fact]
    public async Task Ext4_FragmentedDebugfsFile_ReadsThroughDeepExtentTree()
    {
        using var s = new Ext4Scratch();
        string src = s.PathOf("src");
        Directory.CreateDirectory(src);
        for (int i = 0; i < 2000; i++) File.WriteAllBytes(Path.Combine(src, $"f{i:D4}"), Enumerable.Repeat((byte)0x5A, 10 * 1024).ToArray());
        string img = s.MakeImage(fromDir: src);
        var cmds = string.Join("\n", Enumerable.Range(0, 2000).Where(i => i % 2 == 0).Select(i => $"rm /f{i:D4}"));
        File.WriteAllText(s.PathOf("cmds"), cmds + "\n");
        Ext4Scratch.MustRun("debugfs", "-w", "-f", s.PathOf("cmds"), img);
        var payload = Ext4Scratch.RandomBytes(12 * 1024 * 1024, 3);
        File.WriteAllBytes(s.PathOf("payload"), payload);
        Ext4Scratch.DebugfsWrite(img, s.PathOf("payload"), "payload");

        var (fs, st) = await Ext4Scratch.MountAsync(img, readOnly: true);
        try
        {
            var info = (await ((Ext4FileSystem)fs).InspectAsync("/payload")).Value;
            Assert.True(info.Depth >= 1, $"depth {info.Depth} with {info.Extents} extents");
            Assert.Equal(payload, await Ext4Scratch.ReadAllAsync(fs, "/payload"));
        }
        finally { await Ext4Scratch.UnmountAsync(fs, st); }
    }
}
