using System.Diagnostics;

namespace Photon.Cli;

/// <summary>Runs a host shell command (iproute2, curl, nc) for the CLI's network set-up and demos, with a timeout.</summary>
public static class HostShell
{
    public static (int Code, string Output) Run(string cmd, int timeoutMs = 120_000)
    {
        using var p = Process.Start(new ProcessStartInfo("sh", ["-c", cmd]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutMs)) { p.Kill(true); return (-1, $"timed out: {cmd}"); }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
