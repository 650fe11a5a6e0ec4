using System.Diagnostics;

namespace Photon.Kernel.Tests.Shell;

/// <summary>Runs the built `photon` (src/Photon.Cli, same configuration as these tests) as a child process.</summary>
public static class PhotonShellProcess
{
    public static string PhotonDll()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Photon.sln"))) dir = dir.Parent;
        Assert.NotNull(dir);
        var config = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}") ? "Release" : "Debug";
        var dll = Path.Combine(dir!.FullName, "src", "Photon.Cli", "bin", config, "net10.0", "photon.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: build the solution first");
        return dll;
    }

    /// <summary>`photon shell ARGS` with <paramref name="stdin"/> piped in (so stdin is not a terminal).</summary>
    public static (int Code, string Stdout, string Stderr) Run(string stdin, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(PhotonDll());
        info.ArgumentList.Add("shell");
        foreach (var a in args) info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        if (!p.WaitForExit(300_000)) { p.Kill(true); Assert.Fail("photon shell did not finish"); }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
