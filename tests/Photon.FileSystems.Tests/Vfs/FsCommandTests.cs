using System.Text;
using System.Text.RegularExpressions;
using Photon.FileSystems.Tests.Fat;

namespace Photon.FileSystems.Tests.Vfs;

/// <summary>
/// `photon fs` as a user runs it: the built CLI (src/Photon.Cli, same configuration as these tests) in a child process,
/// on images made by mkfs.vfat/mkfs.ext4, with results checked by mtools, fsck.vfat, dumpe2fs and e2fsck.
/// </summary>
public sealed class FsCommandTests : IDisposable
{
    private readonly FatImage _fat = FatImage.Create(16);

    public void Dispose() => _fat.Dispose();

    private static PhotonCli.Run Photon(params string[] args) => PhotonCli.Fs(args);

    [Fact]
    public void Ls_and_cat_show_what_Linux_tools_put_in_the_image()
    {
        _fat.MakeDirectory("/docs");
        var hello = Encoding.UTF8.GetBytes("hello, photon\n");
        _fat.Put(hello, "/docs/A Long File Name.txt");
        _fat.Put(FatTestExtensions.RandomBytes(12345, 1), "/DATA.BIN");

        var ls = Photon("ls", _fat.Path);
        Assert.Equal(0, ls.ExitCode);
        // Redirected stdout (as here) gets the plain format: name, type, size in bytes, tab-separated.
        Assert.Contains("docs\tdirectory\t", ls.Stdout);
        Assert.Contains("DATA.BIN\tfile\t12345\n", ls.Stdout);
        var lsDocs = Photon("ls", _fat.Path, "/docs");
        Assert.Contains("A Long File Name.txt", lsDocs.Stdout);

        var cat = Photon("cat", _fat.Path, "/docs/A Long File Name.txt");
        Assert.Equal(0, cat.ExitCode);
        Assert.Equal(hello, cat.StdoutBytes);
        Assert.Equal(FatTestExtensions.RandomBytes(12345, 1), Photon("cat", _fat.Path, "DATA.BIN").StdoutBytes);
    }

    [Fact]
    public void Cp_mkdir_and_rm_round_trip_through_the_image_and_leave_it_clean()
    {
        var payload = FatTestExtensions.RandomBytes(5 * 1024 * 1024 + 17, 9);
        var hostIn = _fat.HostFile("payload.bin");
        File.WriteAllBytes(hostIn, payload);

        Assert.Equal(0, Photon("mkdir", "-p", _fat.Path, "/backup/2024/jan").ExitCode);
        Assert.Equal(0, Photon("cp", _fat.Path, "host:" + hostIn, "/backup/2024/jan/").ExitCode); // into a directory keeps the name
        Assert.Equal(0, Photon("cp", _fat.Path, "/backup/2024/jan/payload.bin", "/copy.bin").ExitCode); // image to image
        var hostOut = _fat.HostFile("out.bin");
        Assert.Equal(0, Photon("cp", _fat.Path, "/copy.bin", "host:" + hostOut).ExitCode);
        Assert.Equal(payload, File.ReadAllBytes(hostOut));
        Assert.Equal(payload, _fat.Get("/backup/2024/jan/payload.bin"));
        _fat.AssertFsckClean();

        // Overwriting a longer file with a shorter one truncates it.
        File.WriteAllBytes(hostIn, "short"u8.ToArray());
        Assert.Equal(0, Photon("cp", _fat.Path, "host:" + hostIn, "/copy.bin").ExitCode);
        Assert.Equal("short"u8.ToArray(), _fat.Get("/copy.bin"));

        Assert.Equal(1, Photon("rm", _fat.Path, "/backup").ExitCode); // not empty without -r
        Assert.Equal(0, Photon("rm", "-r", _fat.Path, "/backup").ExitCode);
        Assert.Equal(0, Photon("rm", _fat.Path, "/copy.bin").ExitCode);
        Assert.Empty(_fat.List("/"));
        _fat.AssertFsckClean();
    }

    [Fact]
    public void Info_reports_type_size_and_the_same_free_space_as_the_Linux_tools()
    {
        _fat.Put(FatTestExtensions.RandomBytes(1_000_000, 2), "/FILL.BIN");
        var info = Photon("info", _fat.Path);
        Assert.Equal(0, info.ExitCode);
        Assert.Matches(@"type\s+vfat", info.Stdout);
        Assert.Matches(@"image size\s+33,554,432 bytes", info.Stdout);
        // fsck.vfat -v prints "<used>/<total> clusters"; the image was made with 4 sectors (2048 bytes) per cluster.
        var fsck = Regex.Match(FatImage.Run("fsck.vfat", ["-n", _fat.Path]).Stdout, @"(\d+)/(\d+) clusters");
        long free = (long.Parse(fsck.Groups[2].Value) - long.Parse(fsck.Groups[1].Value)) * 2048;
        Assert.Matches($@"free\s+{free:N0} bytes", info.Stdout);

        var dir = Directory.CreateTempSubdirectory("photon-fs-ext4-");
        try
        {
            var img = Path.Combine(dir.FullName, "e.img");
            FatImage.Run("mkfs.ext4", ["-q", "-F", img, "16M"]).AssertOk();
            var e = Photon("info", img);
            Assert.Equal(0, e.ExitCode);
            Assert.Matches(@"type\s+ext4", e.Stdout);
            var dump = FatImage.Run("dumpe2fs", ["-h", img]).Stdout;
            long freeBlocks = long.Parse(Regex.Match(dump, @"Free blocks:\s+(\d+)").Groups[1].Value);
            long blockSize = long.Parse(Regex.Match(dump, @"Block size:\s+(\d+)").Groups[1].Value);
            Assert.Matches($@"free\s+{freeBlocks * blockSize:N0} bytes", e.Stdout);

            Assert.Equal(0, Photon("mkdir", img, "/etc").ExitCode);
            var hostFile = Path.Combine(dir.FullName, "motd");
            File.WriteAllText(hostFile, "welcome\n");
            Assert.Equal(0, Photon("cp", img, "host:" + hostFile, "/etc/motd").ExitCode);
            Assert.Equal("welcome\n", Photon("cat", img, "/etc/motd").Stdout);
            var fsck2 = FatImage.Run("e2fsck", ["-fn", img]);
            Assert.True(fsck2.ExitCode == 0, fsck2.Stdout + fsck2.Stderr);
        }
        finally { dir.Delete(recursive: true); }
    }

    [Fact]
    public void Bad_input_gives_typed_errors_and_exit_codes_never_a_crash()
    {
        var r = Photon("cat", _fat.Path, "/../../etc/passwd");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("InvalidName", r.Stderr);
        Assert.Contains("NotFound", Photon("cat", _fat.Path, "/nope.txt").Stderr);
        Assert.Contains("NotFound", Photon("ls", _fat.HostFile("missing.img")).Stderr);

        var zeros = _fat.HostFile("zeros.img");
        File.WriteAllBytes(zeros, new byte[1024 * 1024]);
        var z = Photon("ls", zeros);
        Assert.Equal(1, z.ExitCode);
        Assert.Contains("NotSupported", z.Stderr);

        Assert.Equal(2, Photon("frobnicate", _fat.Path).ExitCode);
        Assert.Equal(2, Photon("cat", _fat.Path).ExitCode);
        Assert.Equal(2, Photon("cp", _fat.Path, "host:a", "host:b").ExitCode);
        Assert.Equal(1, Photon("rm", _fat.Path, "/").ExitCode);
        Assert.Contains("IsADirectory", Photon("cat", _fat.Path, "/").Stderr + Photon("cp", _fat.Path, "/", "host:" + _fat.HostFile("x")).Stderr);
    }
}
