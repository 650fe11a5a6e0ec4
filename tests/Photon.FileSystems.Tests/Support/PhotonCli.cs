using System.Diagnostics;
using System.Text;

namespace Photon.FileSystems.Tests;

/// <summary>
/// Runs the built `photon fs` (src/Photon.Cli, same configuration as these tests) in a child process with stdout and
/// stderr redirected, as a script would.
/// </summary>
public static class PhotonCli
{
    public sealed record Run(int ExitCode, string Stdout, byte[] StdoutBytes, string Stderr);

    private static string PhotonDll()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Photon.sln"))) dir = dir.Parent;
        Assert.NotNull(dir);
        var config = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";
        var dll = Path.Combine(dir!.FullName, "src", "Photon.Cli", "bin", config, "net10.0", "photon.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: build the solution (dotnet build Photon.sln -c {config}) first");
        return dll;
    }

    public static Run Fs(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(PhotonDll());
        info.ArgumentList.Add("fs");
        foreach (var a in args) info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var stdout = new MemoryStream();
        var copy = p.StandardOutput.BaseStream.CopyToAsync(stdout);
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000)) { p.Kill(true); throw new TimeoutException("photon fs did not finish"); }
        copy.Wait();
        var bytes = stdout.ToArray();
        return new Run(p.ExitCode, Encoding.UTF8.GetString(bytes), bytes, stderr.Result);
    }
}
