using System.Text.RegularExpressions;
using Photon.FileSystems.Tests.Ext4;
using Photon.FileSystems.Tests.Fat;

namespace Photon.FileSystems.Tests.Vfs;

/// <summary>
/// A failed `photon fs cp` (the built CLI, in a child process) leaves the image as it found it: on FAT16 and ext4 images
/// made by mkfs, a copy bigger than the free space fails with NoSpace, says it removed the partial copy, leaves no file
/// (not even a 0-byte one), gives every cluster/block back (free space as counted by fsck.vfat/dumpe2fs) and passes fsck;
/// a failed overwrite keeps the old file's bytes, and a successful one replaces them. Contents and names are read back
/// with mtools and debugfs, not with Photon.
/// </summary>
public sealed class FsCopyRollbackTests : IDisposable
{
    private readonly string _host = Directory.CreateTempSubdirectory("photon-cp-rollback-").FullName;

    public void Dispose() => Directory.Delete(_host, recursive: true);

    /// <summary>One image made by Linux tools and inspected by them.</summary>
    private interface ILinuxImage : IDisposable
    {
        string Path { get; }
        /// <summary>Bigger than the whole volume.</summary>
        int TooBig { get; }
        long FreeBytes();
        /// <summary>Names in the root directory.</summary>
        List<string> RootNames();
        byte[] Read(string path);
        void Put(byte[] content, string path);
        void AssertFsckClean();
    }

    private sealed class Fat16 : ILinuxImage
    {
        private readonly FatImage _fat = FatImage.Create(16); // 32 MiB, 2 KiB clusters
        public string Path => _fat.Path;
        public int TooBig => 40 * 1024 * 1024;
        public long FreeBytes()
        {
            var m = Regex.Match(FatImage.Run("fsck.vfat", ["-n", _fat.Path]).Stdout, @"(\d+)/(\d+) clusters");
            return (long.Parse(m.Groups[2].Value) - long.Parse(m.Groups[1].Value)) * 2048;
        }
        public List<string> RootNames() => _fat.List("/");
        public byte[] Read(string path) => _fat.Get(path);
        public void Put(byte[] content, string path) => _fat.Put(content, path);
        public void AssertFsckClean() => _fat.AssertFsckClean();
        public void Dispose() => _fat.Dispose();
    }

    private sealed class Ext4 : ILinuxImage
    {
        private readonly Ext4Scratch _scratch = new();
        public string Path { get; }
        public Ext4() => Path = _scratch.MakeImage(size: "8M");
        public int TooBig => 10 * 1024 * 1024;
        public long FreeBytes()
        {
            var dump = Ext4Scratch.Run("dumpe2fs", "-h", Path).Output;
            return long.Parse(Regex.Match(dump, @"Free blocks:\s+(\d+)").Groups[1].Value) * long.Parse(Regex.Match(dump, @"Block size:\s+(\d+)").Groups[1].Value);
        }
        // debugfs "ls -p": /inode/mode/uid/gid/name/size/ per entry.
        public List<string> RootNames() => Ext4Scratch.Run("debugfs", "-R", "ls -p /", Path).Output.Split('\n')
            .Where(l => l.StartsWith('/')).Select(l => l.Split('/')[5]).Where(n => n is not ("." or "..")).ToList();
        public byte[] Read(string path) => _scratch.DebugfsDump(Path, path);
        public void Put(byte[] content, string path)
        {
            var host = _scratch.PathOf("put-" + Guid.NewGuid().ToString("N"));
            File.WriteAllBytes(host, content);
            Ext4Scratch.DebugfsWrite(Path, host, path);
        }
        public void AssertFsckClean()
        {
            var (code, output) = Ext4Scratch.Fsck(Path);
            Assert.True(code == 0, output);
        }
        public void Dispose() => _scratch.Dispose();
    }

    private static ILinuxImage Make(string type) => type == "vfat" ? new Fat16() : new Ext4();

    private string HostFile(byte[] content)
    {
        var path = System.IO.Path.Combine(_host, Guid.NewGuid().ToString("N"));
        File.WriteAllBytes(path, content);
        return path;
    }

    private static void AssertFailedWithNoSpaceAndSaidSo(PhotonCli.Run run)
    {
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("NoSpace", run.Stderr);
        Assert.Contains("the partial copy was removed", run.Stderr);
    }

    [Theory]
    [InlineData("vfat")]
    [InlineData("ext4")]
    public void A_copy_bigger_than_the_free_space_fails_with_NoSpace_and_leaves_no_file_and_no_used_space(string type)
    {
        using var img = Make(type);
        var before = img.RootNames();
        long free = img.FreeBytes();
        var big = HostFile(FatTestExtensions.RandomBytes(img.TooBig, 3));

        var run = PhotonCli.Fs("cp", img.Path, "host:" + big, "/big.bin");

        AssertFailedWithNoSpaceAndSaidSo(run);
        Assert.Contains("no file was left at /big.bin", run.Stderr);
        Assert.Equal(before, img.RootNames()); // neither the target nor the temporary file
        Assert.Equal(free, img.FreeBytes());
        img.AssertFsckClean();
    }

    [Theory]
    [InlineData("vfat")]
    [InlineData("ext4")]
    public void A_failed_copy_of_a_small_file_leaves_no_empty_file(string type)
    {
        using var img = Make(type);
        // Fill the volume with a Linux tool until 64 KiB are left, then copy 300 KB (one write call) into it.
        img.Put(FatTestExtensions.RandomBytes((int)(img.FreeBytes() - 64 * 1024), 4), "/fill.bin");
        var before = img.RootNames();
        long free = img.FreeBytes();
        Assert.InRange(free, 1, 300_000 - 1);

        var run = PhotonCli.Fs("cp", img.Path, "host:" + HostFile(FatTestExtensions.RandomBytes(300_000, 5)), "/small.bin");

        AssertFailedWithNoSpaceAndSaidSo(run);
        Assert.Equal(before, img.RootNames());
        Assert.Equal(free, img.FreeBytes());
        img.AssertFsckClean();
    }

    [Theory]
    [InlineData("vfat")]
    [InlineData("ext4")]
    public void A_failed_overwrite_keeps_the_old_contents_and_a_successful_one_replaces_them(string type)
    {
        using var img = Make(type);
        var old = FatTestExtensions.RandomBytes(100_000, 6);
        img.Put(old, "/data.bin");
        var before = img.RootNames();
        long free = img.FreeBytes();

        var failed = PhotonCli.Fs("cp", img.Path, "host:" + HostFile(FatTestExtensions.RandomBytes(img.TooBig, 7)), "/data.bin");

        AssertFailedWithNoSpaceAndSaidSo(failed);
        Assert.Contains("/data.bin keeps its old contents", failed.Stderr);
        Assert.Equal(old, img.Read("/data.bin"));
        Assert.Equal(before, img.RootNames());
        Assert.Equal(free, img.FreeBytes());
        img.AssertFsckClean();

        // FAT's rename refuses an existing name, ext4's replaces it: both end with the new bytes under the old name only.
        var fresh = FatTestExtensions.RandomBytes(250_000, 8);
        var ok = PhotonCli.Fs("cp", img.Path, "host:" + HostFile(fresh), "/data.bin");
        Assert.True(ok.ExitCode == 0, ok.Stderr);
        Assert.Equal(fresh, img.Read("/data.bin"));
        Assert.Equal(before, img.RootNames());
        img.AssertFsckClean();
    }
}
