using Photon.Kernel;
using Photon.Kernel.FileSystems;

namespace Photon.FileSystems.Tests.Ext4;

/// <summary>
/// Symbolic links: Linux-made ones (mkfs.ext4 -d, debugfs symlink) read and followed; Photon-made ones (fast &lt; 60
/// bytes in i_block, slow in a block) read back by debugfs and e2fsck-clean; loops and escapes bounded.
/// </summary>
public sealed class Ext4SymlinkTests
{
    private static readonly byte[] Payload = "target file\n"u8.ToArray();
    private static readonly string LongTarget = "dir/" + string.Concat(Enumerable.Repeat("../dir/", 20)) + "file.txt";

    private static void AssertFsckClean(string img)
    {
        var (code, output) = Ext4Scratch.Fsck(img);
        Assert.True(code == 0, $"e2fsck -fn exited {code}:\n{output}");
    }

    private static string LinuxImage(Ext4Scratch s)
    {
        string src = s.PathOf("src");
        Directory.CreateDirectory(Path.Combine(src, "dir"));
        File.WriteAllBytes(Path.Combine(src, "dir", "file.txt"), Payload);
        File.CreateSymbolicLink(Path.Combine(src, "rel"), "dir/file.txt");
        File.CreateSymbolicLink(Path.Combine(src, "dirlink"), "dir");
        File.CreateSymbolicLink(Path.Combine(src, "abs"), "/dir/file.txt");
        File.CreateSymbolicLink(Path.Combine(src, "escape"), "../../../../dir/file.txt");
        File.CreateSymbolicLink(Path.Combine(src, "long"), LongTarget);
        File.CreateSymbolicLink(Path.Combine(src, "loop1"), "loop2");
        File.CreateSymbolicLink(Path.Combine(src, "loop2"), "loop1");
        File.CreateSymbolicLink(Path.Combine(src, "dangling"), "nowhere");
        string img = s.MakeImage(size: "16M", fromDir: src);
        Ext4Scratch.MustRun("debugfs", "-w", "-R", "symlink /dbg dir/file.txt", img);
        return img;
    }

    [Fact]
    public async Task Ext4_LinuxMadeSymlinks_AreReadAndFollowedInsideTheMount()
    {
        using var s = new Ext4Scratch();
        string img = LinuxImage(s);
        var (fs, st) = await Ext4Scratch.MountAsync(img, readOnly: true);
        try
        {
            Assert.Equal("dir/file.txt", (await fs.ReadLinkAsync("/rel")).Value);
            Assert.Equal("dir/file.txt", (await fs.ReadLinkAsync("/dbg")).Value);
            Assert.Equal(LongTarget, (await fs.ReadLinkAsync("/long")).Value);
            Assert.True(LongTarget.Length >= 60); // stored in a block by mkfs (a slow symlink)
            foreach (var link in new[] { "/rel", "/dbg", "/abs", "/escape", "/long", "/dirlink/file.txt" })
                Assert.Equal(Payload, await Ext4Scratch.ReadAllAsync(fs, link));
            Assert.Equal(FileKind.Directory, (await fs.StatAsync("/dirlink")).Value.Kind);
            Assert.Equal(["file.txt"], (await fs.ReadDirectoryAsync("/dirlink")).Value.Select(e => e.Name).ToArray());
            var listing = (await fs.ReadDirectoryAsync("/")).Value;
            Assert.Equal(FileKind.Symlink, listing.Single(e => e.Name == "rel").Kind);

            Assert.Equal(ErrorCode.TooManyLinks, (await fs.StatAsync("/loop1")).Code);
            Assert.Equal(ErrorCode.TooManyLinks, (await fs.OpenAsync("/loop2/x")).Code);
            Assert.Equal(ErrorCode.NotFound, (await fs.StatAsync("/dangling")).Code);
            Assert.Equal(ErrorCode.InvalidArgument, (await fs.ReadLinkAsync("/dir")).Code);
            Assert.Equal(ErrorCode.NotADirectory, (await fs.StatAsync("/rel/x")).Code);
        }
        finally { await Ext4Scratch.UnmountAsync(fs, st); }
    }

    [Fact]
    public async Task Ext4_PhotonMadeSymlinks_FastAndSlow_AreReadByDebugfsAndFsckClean()
    {
        using var s = new Ext4Scratch();
        string img = s.MakeImage(size: "16M");
        string slow = string.Concat(Enumerable.Repeat("./", 40)) + "d/f";
        var (fs, st) = await Ext4Scratch.MountAsync(img);
        try
        {
            Assert.True((await fs.CreateDirectoryAsync("/d")).IsOk);
            Assert.True((await fs.CreateFileAsync("/d/f")).IsOk);
            Assert.True((await fs.WriteAsync("/d/f", 0, Payload)).IsOk);
            Assert.True((await fs.CreateSymlinkAsync("/fast", "d/f")).IsOk);
            Assert.True((await fs.CreateSymlinkAsync("/slow", slow)).IsOk);
            Assert.True((await fs.CreateSymlinkAsync("/d/up", "../d/f")).IsOk);
            Assert.True((await fs.CreateSymlinkAsync("/doomed", slow)).IsOk);
            Assert.True((await fs.DeleteAsync("/doomed")).IsOk);
            Assert.Equal(ErrorCode.AlreadyExists, (await fs.CreateSymlinkAsync("/fast", "x")).Code);
            Assert.Equal(ErrorCode.InvalidArgument, (await fs.CreateSymlinkAsync("/empty", "")).Code);
            Assert.Equal(ErrorCode.InvalidName, (await fs.CreateSymlinkAsync("/huge", new string('a', 5000))).Code);
            Assert.Equal(Payload, await Ext4Scratch.ReadAllAsync(fs, "/fast"));
            Assert.Equal(Payload, await Ext4Scratch.ReadAllAsync(fs, "/slow"));
            Assert.Equal(Payload, await Ext4Scratch.ReadAllAsync(fs, "/d/up"));
            // Deleting a link leaves its target.
            Assert.True((await fs.CreateSymlinkAsync("/d/gone", "f")).IsOk);
            Assert.True((await fs.DeleteAsync("/d/gone")).IsOk);
            Assert.Equal(Payload, await Ext4Scratch.ReadAllAsync(fs, "/d/f"));
        }
        finally { await Ext4Scratch.UnmountAsync(fs, st); }

        AssertFsckClean(img);
        Assert.Contains("Fast link dest: \"d/f\"", Ext4Scratch.Run("debugfs", "-R", "stat /fast", img).Output);
        Assert.Equal(Payload, s.DebugfsDump(img, "/d/f"));
        // debugfs follows the slow link's block: its stat shows the block, and the target text is in it.
        string host = s.PathOf("slow.txt");
        Ext4Scratch.Run("debugfs", "-R", $"dump /slow {host}", img);
        Assert.Equal(slow, File.ReadAllText(host));
    }

    [Fact]
    public async Task Fat_Symlinks_AreNotSupported()
    {
        using var s = new Ext4Scratch();
        string img = s.PathOf("fat.img");
        Ext4Scratch.MustRun("mkfs.vfat", "-C", img, "4096");
        var storage = Photon.Kernel.Hal.Host.HostImageStorage.Open(img, false).Value;
        try
        {
            var fs = (await new Photon.FileSystems.Fat.FatFileSystemDriver().MountAsync(TestDevices.Nvme(storage), new MountOptions())).Value;
            Assert.Equal(ErrorCode.NotSupported, (await fs.CreateSymlinkAsync("/l", "x")).Code);
            Assert.Equal(ErrorCode.NotSupported, (await fs.ReadLinkAsync("/l")).Code);
            await fs.DisposeAsync();
        }
        finally { await storage.DisposeAsync(); }
    }
}
