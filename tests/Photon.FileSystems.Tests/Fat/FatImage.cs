using System.Diagnostics;
using Photon.FileSystems.Fat;
using Photon.Kernel;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Io;

namespace Photon.FileSystems.Tests.Fat;

/// <summary>A real FAT image file made by mkfs.vfat in a temp directory, plus the dosfstools/mtools to inspect it.</summary>
public sealed class FatImage : IDisposable
{
    public string Directory { get; }
    public string Path { get; }
    public int FatBits { get; }

    private FatImage(string directory, string path, int fatBits)
    {
        Directory = directory;
        Path = path;
        FatBits = fatBits;
    }

    /// <summary>Sizes chosen so each type holds a 5 MB file and mkfs picks exactly the requested FAT width.</summary>
    public static FatImage Create(int fatBits)
    {
        var dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "photon-fat-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(dir);
        var path = System.IO.Path.Combine(dir, "disk.img");
        var (megabytes, options) = fatBits switch
        {
            12 => (16, new[] { "-F", "12", "-s", "16" }),
            16 => (32, new[] { "-F", "16", "-s", "4" }),
            _ => (40, new[] { "-F", "32", "-s", "1" }),
        };
        using (var file = File.Create(path)) file.SetLength(megabytes * 1024L * 1024);
        Run("mkfs.vfat", [.. options, "-n", "PHOTON", path]).AssertOk();
        return new FatImage(dir, path, fatBits);
    }

    public static async Task<(IFileSystem Fs, HostImageStorage Storage)> MountAsync(string path, bool readOnly = false)
    {
        var storage = HostImageStorage.Open(path).Value;
        var device = TestDevices.Nvme(storage);
        var mounted = await new FatFileSystemDriver().MountAsync(device, new MountOptions(readOnly));
        if (!mounted.IsOk)
        {
            await storage.DisposeAsync();
            throw new Xunit.Sdk.XunitException("mount failed: " + mounted.Error);
        }
        return (mounted.Value, storage);
    }

    public async Task<Mounted> MountAsync(bool readOnly = false)
    {
        var (fs, storage) = await MountAsync(Path, readOnly);
        return new Mounted(fs, storage);
    }

    public string HostFile(string name) => System.IO.Path.Combine(Directory, name);

    /// <summary>Copies a host file into the image with mcopy.</summary>
    public void Put(byte[] content, string imagePath)
    {
        var host = HostFile("put-" + Guid.NewGuid().ToString("N"));
        File.WriteAllBytes(host, content);
        Run("mcopy", ["-i", Path, host, "::" + imagePath]).AssertOk();
    }

    /// <summary>Reads a file out of the image with mcopy.</summary>
    public byte[] Get(string imagePath)
    {
        var host = HostFile("get-" + Guid.NewGuid().ToString("N"));
        Run("mcopy", ["-i", Path, "::" + imagePath, host]).AssertOk();
        return File.ReadAllBytes(host);
    }

    public void MakeDirectory(string imagePath) => Run("mmd", ["-i", Path, "::" + imagePath]).AssertOk();

    /// <summary>Bare names in a directory as mtools lists them (long names where present).</summary>
    public List<string> List(string imagePath)
    {
        var result = Run("mdir", ["-i", Path, "-b", "::" + imagePath]);
        result.AssertOk();
        return result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.TrimEnd('/'))
            .Select(line => line[(line.LastIndexOf('/') + 1)..])
            .ToList();
    }

    /// <summary>fsck.vfat in no-write mode; asserts a clean exit.</summary>
    public void AssertFsckClean()
    {
        var result = Run("fsck.vfat", ["-n", "-v", Path]);
        Assert.True(result.ExitCode == 0, $"fsck.vfat reported problems (exit {result.ExitCode}):\n{result.Stdout}\n{result.Stderr}");
    }

    public sealed record ToolResult(int ExitCode, string Stdout, string Stderr)
    {
        public void AssertOk() => Assert.True(ExitCode == 0, $"tool failed (exit {ExitCode}):\n{Stdout}\n{Stderr}");
    }

    public static ToolResult Run(string tool, string[] args)
    {
        var info = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        // mtools accepts images whose geometry does not match a floppy only with this, and needs UTF-8 for long names.
        info.Environment["MTOOLS_SKIP_CHECK"] = "1";
        info.Environment["LC_ALL"] = "C.UTF-8";
        info.Environment["TZ"] = "UTC"; // FAT stores local time; Photon writes UTC
        using var process = Process.Start(info) ?? throw new InvalidOperationException("cannot start " + tool);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(60_000))
        {
            process.Kill(true);
            throw new TimeoutException(tool + " did not finish");
        }
        return new ToolResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, true); } catch (IOException) { }
    }

    /// <summary>A mounted filesystem that flushes and releases the image file when disposed.</summary>
    public sealed class Mounted(IFileSystem fs, HostImageStorage storage) : IAsyncDisposable
    {
        public IFileSystem Fs { get; } = fs;

        public async ValueTask DisposeAsync()
        {
            await Fs.DisposeAsync();
            await storage.DisposeAsync();
        }
    }
}

internal static class FatTestExtensions
{
    public static void AssertOk(this Result result) => Assert.True(result.IsOk, result.ToString());

    public static T AssertOk<T>(this Result<T> result)
    {
        Assert.True(result.IsOk, result.ToString());
        return result.Value;
    }

    public static void AssertFails(this Result result, ErrorCode code) => Assert.True(result.Code == code, $"expected {code}, got {result}");

    public static void AssertFails<T>(this Result<T> result, ErrorCode code) => Assert.True(result.Code == code, $"expected {code}, got {result}");

    public static async Task<byte[]> ReadAllAsync(this IFileSystem fs, string path)
    {
        var stat = (await fs.StatAsync(path)).AssertOk();
        var buffer = new byte[stat.Length];
        int total = 0;
        while (total < buffer.Length)
        {
            int n = (await fs.ReadAsync(path, total, buffer.AsMemory(total))).AssertOk();
            if (n == 0) break;
            total += n;
        }
        Assert.Equal(buffer.Length, total);
        return buffer;
    }

    public static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
