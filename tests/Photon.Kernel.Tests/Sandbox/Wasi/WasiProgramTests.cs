using System.Text;
using Photon.Cli.Commands;

namespace Photon.Kernel.Tests.Sandbox.Wasi;

/// <summary>
/// Real C programs (examples/, built by clang for wasm32-wasi) run by `photon run` on a freshly booted kernel, with disk
/// images made by mkfs.vfat/mkfs.ext4 granted as preopens. What they print is compared with coreutils; what they write
/// is read back with mtools and checked with fsck.
/// </summary>
public sealed class WasiProgramTests : IDisposable
{
    private const string Hello = "hello, photon\nsecond line\n";
    private readonly string _dir = Directory.CreateTempSubdirectory("photon-wasi-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string HostFile(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>A FAT16 image holding hello.txt, sub/inner.txt and (optionally) more files, named data.img.</summary>
    private string FatImage(string name = "data.img", params (string Name, string HostPath)[] extra)
    {
        var img = Path.Combine(_dir, name);
        using (var f = File.Create(img)) f.SetLength(16 * 1024 * 1024);
        WasiExamples.MustRun("mkfs.vfat", "-F", "16", img);
        WasiExamples.MustRun("mcopy", "-i", img, HostFile("hello.txt", Hello), "::/hello.txt");
        WasiExamples.MustRun("mmd", "-i", img, "::/sub");
        WasiExamples.MustRun("mcopy", "-i", img, HostFile("inner.txt", "inner\n"), "::/sub/inner.txt");
        foreach (var (n, host) in extra) WasiExamples.MustRun("mcopy", "-i", img, host, "::/" + n);
        return img;
    }

    private static async Task<(int Code, CapturedOutput Out, string Photon)> Photon(byte[]? stdin, params string[] args)
    {
        var output = new CapturedOutput();
        var errors = new StringWriter();
        var code = await RunCommand.RunAsync(args, output, stdin ?? [], errors);
        return (code, output, errors.ToString());
    }

    [Fact]
    public async Task Cat_of_a_granted_file_prints_it_and_exits_0()
    {
        var img = FatImage();
        var (code, o, photon) = await Photon(null, WasiExamples.Program("cat"), "/data/hello.txt", "--grant", img + "=ro");
        Assert.True(code == 0, $"exit {code}: {o.Stderr} {photon}");
        Assert.Equal(Hello, o.Stdout);
    }

    [Theory]
    [InlineData("/etc/passwd")]            // no preopen there: wasi-libc has no capability to name it
    [InlineData("/data/../etc/passwd")]    // climbs out of the preopen: the kernel side refuses the ".."
    [InlineData("/data/sub/../../x")]
    public async Task Cat_of_a_path_outside_the_preopen_fails_with_ENOTCAPABLE_and_exit_1(string path)
    {
        var img = FatImage();
        var (code, o, _) = await Photon(null, WasiExamples.Program("cat"), path, "--grant", img + "=ro");
        Assert.Equal(1, code);
        Assert.Equal("", o.Stdout);
        Assert.Contains("Capabilities insufficient", o.Stderr); // wasi-libc's strerror(ENOTCAPABLE)
    }

    [Fact]
    public async Task Cat_inside_the_preopen_may_use_dot_dot_that_stays_inside()
    {
        var img = FatImage();
        var (code, o, _) = await Photon(null, WasiExamples.Program("cat"), "/data/sub/../hello.txt", "--grant", img + "=ro");
        Assert.Equal(0, code);
        Assert.Equal(Hello, o.Stdout);
    }

    [Fact]
    public async Task Ls_lists_a_granted_directory_and_its_subdirectory()
    {
        var img = FatImage();
        var (code, o, photon) = await Photon(null, WasiExamples.Program("ls"), "/data", "/data/sub", "--grant", img + "=ro");
        Assert.True(code == 0, $"exit {code}: {o.Stderr} {photon}");
        Assert.Equal("hello.txt\nsub/\ninner.txt\n", o.Stdout);
    }

    [Fact]
    public async Task Wc_and_sha256sum_match_coreutils_on_a_multi_megabyte_file()
    {
        // Bigger than one 1 MiB transfer and than stdio's buffer, with lines and words of every length.
        var rng = new Random(14);
        var text = new StringBuilder();
        while (text.Length < 2_500_000) text.Append(rng.Next(5) == 0 ? '\n' : rng.Next(6) == 0 ? ' ' : (char)('a' + rng.Next(26)));
        var host = HostFile("big.txt", text.ToString());
        var img = FatImage("data.img", ("big.txt", host));
        var (wcCode, wc, _) = await Photon(null, WasiExamples.Program("wc"), "/data/big.txt", "--grant", img + "=ro");
        var (shaCode, sha, _) = await Photon(null, WasiExamples.Program("sha256sum"), "/data/big.txt", "--grant", img + "=ro");
        Assert.Equal(0, wcCode);
        Assert.Equal(0, shaCode);
        // coreutils run on the same bytes, in a directory that makes the printed name the same.
        var linux = WasiExamples.Run("sh", ["-c", $"cd {_dir} && mkdir -p data && cp big.txt data/ && wc data/big.txt && sha256sum data/big.txt"]);
        Assert.Equal(0, linux.Code);
        var lines = linux.Output.Split('\n');
        Assert.Equal(lines[0].Replace("data/", "/data/"), wc.Stdout.TrimEnd('\n'));
        Assert.Equal(lines[1].Replace("data/", "/data/"), sha.Stdout.TrimEnd('\n'));
    }

    [Fact]
    public async Task Writing_through_a_read_write_grant_lands_in_the_image_and_fsck_is_clean()
    {
        var img = FatImage();
        var (code, o, photon) = await Photon(Encoding.UTF8.GetBytes("written by a guest\n"), WasiExamples.Program("tee"), "/data/out.txt", "--grant", img + "=rw");
        Assert.True(code == 0, $"exit {code}: {o.Stderr} {photon}");
        Assert.Equal("written by a guest\n", o.Stdout);
        var back = WasiExamples.Run("mtype", ["-i", img, "::/out.txt"]);
        Assert.Equal("written by a guest\n", back.Output);
        WasiExamples.MustRun("fsck.vfat", "-n", img);
    }

    [Fact]
    public async Task Writing_through_a_read_only_grant_is_refused_and_the_image_is_unchanged()
    {
        var img = FatImage();
        var before = File.ReadAllBytes(img);
        var (code, o, _) = await Photon(Encoding.UTF8.GetBytes("should not land\n"), WasiExamples.Program("tee"), "/data/out.txt", "/data/hello.txt", "--grant", img + "=ro");
        Assert.Equal(1, code);
        Assert.Equal("should not land\n", o.Stdout); // stdout still works; only the files were refused
        Assert.Equal(2, o.Stderr.Split('\n').Count(l => l.Contains("Capabilities insufficient") || l.Contains("Read-only")));
        Assert.Equal(before, File.ReadAllBytes(img));
    }

    [Fact]
    public async Task Exit_codes_propagate_and_a_missing_file_is_ENOENT()
    {
        var img = FatImage();
        var missing = await Photon(null, WasiExamples.Program("cat"), "/data/nope.txt", "--grant", img + "=ro");
        Assert.Equal(1, missing.Code);
        Assert.Contains("No such file or directory", missing.Out.Stderr);
        var usage = await Photon(null, WasiExamples.Program("wc"));
        Assert.Equal(2, usage.Code);
        Assert.Contains("usage: wc", usage.Out.Stderr);
        // stdin reaches the guest when no file is named; a normal return from main is exit 0.
        var piped = await Photon(Encoding.UTF8.GetBytes("from stdin\n"), WasiExamples.Program("cat"));
        Assert.Equal(0, piped.Code);
        Assert.Equal("from stdin\n", piped.Out.Stdout);
    }

    [Fact]
    public async Task An_ext4_grant_works_and_symlinks_that_would_leave_it_are_refused()
    {
        var content = Directory.CreateDirectory(Path.Combine(_dir, "content")).FullName;
        File.WriteAllText(Path.Combine(content, "hello.txt"), Hello);
        File.CreateSymbolicLink(Path.Combine(content, "etc"), "/etc");
        File.CreateSymbolicLink(Path.Combine(content, "passwd"), "/etc/passwd");
        var img = Path.Combine(_dir, "root.img");
        WasiExamples.MustRun("mkfs.ext4", "-q", "-F", "-d", content, img, "8M");
        var ok = await Photon(null, WasiExamples.Program("cat"), "/root/hello.txt", "--grant", img + "=ro");
        Assert.Equal(0, ok.Code);
        Assert.Equal(Hello, ok.Out.Stdout);
        // The VFS follows links inside the mount and re-roots absolute targets at the mount's root, so these never
        // reach the host's /etc: "/etc" names the image's own "etc" link again, a loop the VFS stops (ELOOP).
        foreach (var link in new[] { "/root/etc/passwd", "/root/passwd" })
        {
            var refused = await Photon(null, WasiExamples.Program("cat"), link, "--grant", img + "=ro");
            Assert.Equal(1, refused.Code);
            Assert.Equal("", refused.Out.Stdout);
            Assert.DoesNotContain("root:", refused.Out.Stderr);
            Assert.DoesNotContain("I/O error", refused.Out.Stderr); // a typed errno, not EIO
        }
    }

    [Theory]
    [InlineData("--grant", "missing.img=ro")]
    [InlineData("--grant", "IMG=rwx")]
    [InlineData("--grant", "IMG=ro@/a/b")]
    [InlineData("--fuel", "-1")]
    public async Task Bad_run_options_exit_125_without_running_anything(string option, string value)
    {
        var img = FatImage();
        var (code, o, photon) = await Photon(null, WasiExamples.Program("cat"), "/data/hello.txt", option, value.Replace("IMG", img));
        Assert.Equal(RunCommand.PhotonFailed, code);
        Assert.Equal("", o.Stdout);
        Assert.Contains("usage", photon);
    }

    [Fact]
    public async Task A_guest_that_runs_out_of_fuel_exits_134_and_photon_says_why()
    {
        var img = FatImage();
        var (code, _, photon) = await Photon(null, WasiExamples.Program("sha256sum"), "/data/hello.txt", "--grant", img + "=ro", "--fuel", "1000");
        Assert.Equal(RunCommand.GuestFaulted, code);
        Assert.Contains("fuel", photon);
    }
}
