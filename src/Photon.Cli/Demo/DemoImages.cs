using System.IO.Compression;

namespace Photon.Cli.Demo;

/// <summary>Host-side helper: unpacks the demo disk images shipped in images/ into a temporary folder.</summary>
public sealed class DemoImages : IDisposable
{
    private DemoImages(string dir) => Directory = dir;

    public string Directory { get; }
    public string Fat16 => Path.Combine(Directory, "demo-fat16.img");
    public string Ext4 => Path.Combine(Directory, "demo-ext4.img");

    public static DemoImages Unpack()
    {
        var source = FindImagesFolder();
        var dir = Path.Combine(Path.GetTempPath(), $"photon-demo-{Environment.ProcessId}-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(dir);
        foreach (var name in new[] { "demo-fat16.img", "demo-ext4.img" })
        {
            using var input = new GZipStream(File.OpenRead(Path.Combine(source, name + ".gz")), CompressionMode.Decompress);
            using var output = File.Create(Path.Combine(dir, name));
            input.CopyTo(output);
        }
        return new DemoImages(dir);
    }

    private static string FindImagesFolder()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, System.IO.Directory.GetCurrentDirectory() })
        {
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            {
                var candidate = Path.Combine(d.FullName, "images");
                if (File.Exists(Path.Combine(candidate, "demo-fat16.img.gz"))) return candidate;
            }
        }
        throw new Photon.Kernel.KernelException(Photon.Kernel.ErrorCode.NotFound, "demo images (images/demo-*.img.gz) not found above the program or the current folder");
    }

    /// <summary>Runs a Linux checker (fsck.vfat -n, e2fsck -fn) if it is installed; null when it is not.</summary>
    public static (int ExitCode, string Output)? RunChecker(string tool, string args)
    {
        var path = new[] { "/usr/sbin", "/sbin", "/usr/bin", "/bin" }.Select(p => Path.Combine(p, tool)).FirstOrDefault(File.Exists);
        if (path is null) return null;
        var psi = new System.Diagnostics.ProcessStartInfo(path, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = System.Diagnostics.Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output.Trim());
    }

    public void Dispose()
    {
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
