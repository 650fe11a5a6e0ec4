using System.Diagnostics;
using Photon.Kernel.Hal.Host;

namespace Photon.Kernel.Tests.Drivers;

/// <summary>
/// The fallback as a user meets it: `photon fs info` (the built CLI in a child process) on a FAT image made by mkfs.vfat
/// names the storage backend it got — io_uring by default (and with PHOTON_STORAGE_BACKEND=auto or io_uring), the thread pool
/// when the variable says threadpool, and by default the thread pool with the reason when the host refuses io_uring_setup (a real seccomp filter installed in the child
/// before it execs dotnet, returning EPERM or ENOSYS as a container runtime or an old kernel does).
/// </summary>
public sealed class StorageBackendFallbackTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("photon-fallback-").FullName;
    private readonly string _image;

    public StorageBackendFallbackTests()
    {
        _image = Path.Combine(_dir, "fat.img");
        var mkfs = Exec("mkfs.vfat", ["-C", _image, "8192"], null);
        Assert.True(mkfs.Code == 0, mkfs.Output);
    }

    public void Dispose() => Directory.Delete(_dir, true);

    // Installs a seccomp filter that fails syscall 425 (io_uring_setup on x86-64 and arm64) with the given errno, then
    // execs the rest of the command line; the filter is inherited by every thread of the .NET process.
    private const string RefuseIoUring = """
        import ctypes, os, struct, sys
        libc = ctypes.CDLL(None, use_errno=True)
        errno = int(sys.argv[1])
        prog = [(0x20, 0, 0, 0), (0x15, 0, 1, 425), (0x06, 0, 0, 0x00050000 | errno), (0x06, 0, 0, 0x7fff0000)]
        code = b"".join(struct.pack("HBBI", *f) for f in prog)
        buf = ctypes.create_string_buffer(code)
        fprog = struct.pack("HxxxxxxQ", len(prog), ctypes.addressof(buf))
        fbuf = ctypes.create_string_buffer(fprog)
        ul = ctypes.c_ulong
        assert libc.prctl(38, ul(1), ul(0), ul(0), ul(0)) == 0, "PR_SET_NO_NEW_PRIVS"
        assert libc.prctl(22, ul(2), ul(ctypes.addressof(fbuf)), ul(0), ul(0)) == 0, "PR_SET_SECCOMP"
        os.execvp(sys.argv[2], sys.argv[2:])
        """;

    private static (int Code, string Output) Exec(string file, IEnumerable<string> args, string? backendEnv)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment.Remove(HostStorageBackends.EnvironmentVariable);
        if (backendEnv is not null) info.Environment[HostStorageBackends.EnvironmentVariable] = backendEnv;
        info.Environment["COLUMNS"] = "300";
        using var p = Process.Start(info)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(120_000)) { p.Kill(true); throw new TimeoutException($"{file} did not finish"); }
        return (p.ExitCode, stdout + stderr.Result);
    }

    private string[] PhotonFsInfo => ["dotnet", Path.Combine(AppContext.BaseDirectory, "photon.dll"), "fs", "info", _image];

    [Fact]
    public void By_default_and_with_auto_the_image_is_driven_by_io_uring()
    {
        var run = Exec(PhotonFsInfo[0], PhotonFsInfo[1..], null);
        Assert.True(run.Code == 0, run.Output);
        Assert.Matches(@"storage backend\s+io_uring", run.Output);
        var auto = Exec(PhotonFsInfo[0], PhotonFsInfo[1..], "auto");
        Assert.True(auto.Code == 0, auto.Output);
        Assert.Matches(@"storage backend\s+io_uring", auto.Output);
    }

    [Fact]
    public void The_environment_variable_forces_the_thread_pool_fallback()
    {
        var run = Exec(PhotonFsInfo[0], PhotonFsInfo[1..], "threadpool");
        Assert.True(run.Code == 0, run.Output);
        Assert.Matches(@"storage backend\s+thread pool\s*$", run.Output.Split('\n').First(l => l.Contains("storage backend")));
        Assert.Matches(@"type\s+vfat", run.Output);
    }

    [Fact]
    public void A_misspelt_backend_is_refused_with_a_message_not_ignored()
    {
        var run = Exec(PhotonFsInfo[0], PhotonFsInfo[1..], "uring2");
        Assert.Equal(1, run.Code);
        Assert.Contains("PHOTON_STORAGE_BACKEND", run.Output);
    }

    [Theory]
    [InlineData(1, "EPERM")]
    [InlineData(38, "ENOSYS")]
    public void When_the_host_refuses_io_uring_setup_the_thread_pool_serves_the_image(int errno, string name)
    {
        // No variable: the default itself falls back.
        var run = Exec("python3", ["-c", RefuseIoUring, errno.ToString(), .. PhotonFsInfo], null);
        Assert.True(run.Code == 0, run.Output);
        Assert.Matches($@"storage backend\s+thread pool \(fallback: io_uring unavailable: {name}\)", run.Output);
        Assert.Matches(@"type\s+vfat", run.Output);
    }
}
