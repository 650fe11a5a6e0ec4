using Photon.FileSystems.Tests.Ext4;

namespace Photon.FileSystems.Tests.Vfs;

/// <summary>`photon fs ln -s`, `readlink`, `cat` through a link and `rm -r` of a link, run as a user runs them.</summary>
public sealed class FsSymlinkCommandTests
{
    [Fact]
    public void Ln_s_readlink_cat_and_rm_r_on_ext4_agree_with_e2fsprogs()
    {
        using var s = new Ext4Scratch();
        string src = s.PathOf("src");
        Directory.CreateDirectory(Path.Combine(src, "data"));
        File.WriteAllText(Path.Combine(src, "data", "keep.txt"), "keep me\n");
        File.CreateSymbolicLink(Path.Combine(src, "linux-link"), "data/keep.txt");
        string img = s.MakeImage(size: "16M", fromDir: src);

        Assert.Equal("data/keep.txt\n", PhotonCli.Fs("readlink", img, "/linux-link").Stdout);
        Assert.Equal("keep me\n", PhotonCli.Fs("cat", img, "/linux-link").Stdout);

        Assert.Equal(0, PhotonCli.Fs("ln", "-s", img, "data", "/to-data").ExitCode);
        Assert.Equal("data\n", PhotonCli.Fs("readlink", img, "/to-data").Stdout);
        Assert.Equal("keep me\n", PhotonCli.Fs("cat", img, "/to-data/keep.txt").Stdout);
        Assert.Contains("Fast link dest: \"data\"", Ext4Scratch.Run("debugfs", "-R", "stat /to-data", img).Output);

        // rm -r of a link to a directory removes the link only.
        Assert.Equal(0, PhotonCli.Fs("rm", "-r", img, "/to-data").ExitCode);
        Assert.Equal("keep me\n", PhotonCli.Fs("cat", img, "/data/keep.txt").Stdout);
        Assert.Equal(1, PhotonCli.Fs("readlink", img, "/to-data").ExitCode);

        var notLink = PhotonCli.Fs("readlink", img, "/data");
        Assert.Equal(1, notLink.ExitCode);
        Assert.Contains("InvalidArgument", notLink.Stderr);
        Assert.Equal(2, PhotonCli.Fs("ln", img, "data", "/hard").ExitCode);
        var (code, output) = Ext4Scratch.Fsck(img);
        Assert.True(code == 0, output);
    }

    [Fact]
    public void Ln_s_on_fat_is_a_typed_not_supported()
    {
        using var s = new Ext4Scratch();
        string img = s.PathOf("fat.img");
        Ext4Scratch.MustRun("mkfs.vfat", "-C", img, "4096");
        var r = PhotonCli.Fs("ln", "-s", img, "x", "/l");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("NotSupported", r.Stderr);
    }
}
