using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Photon.Kernel.Tests.Shell;

namespace Photon.Kernel.Tests.Cli;

/// <summary>
/// The real `dotnet-counters` (pinned in .config/dotnet-tools.json) attached to a running `photon top` reads the
/// kernel's meter, "Photon.Kernel", over the runtime's diagnostics port — what an operator would do.
/// </summary>
public sealed class DotnetCountersTests
{
    // photon.dll is at src/Photon.Cli/bin/CONFIG/net10.0/.
    private static string RepoRoot() => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(PhotonShellProcess.PhotonDll())!, "..", "..", "..", "..", ".."));

    private static (int Code, string Output) Run(string file, IEnumerable<string> args, string cwd)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = cwd };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(180_000)) { p.Kill(true); Assert.Fail($"{file} {string.Join(' ', args)} did not finish"); }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    [Fact]
    public async Task Dotnet_counters_reads_tasks_queues_and_tenant_quotas_from_a_running_photon()
    {
        var root = RepoRoot();
        Assert.True(File.Exists(Path.Combine(root, "Photon.sln")), root);
        var restore = Run("dotnet", ["tool", "restore"], root);
        Assert.True(restore.Code == 0, restore.Output);

        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { PhotonShellProcess.PhotonDll(), "top", "--plain", "--seconds", "120", "--interval", "500" }) info.ArgumentList.Add(a);
        using var top = new Process { StartInfo = info };
        // Drain both pipes as lines arrive (a full pipe would stop top); the first "# queues" line means the kernel is
        // up, the demo ran and the tenants' load is running.
        var firstView = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var output = new System.Text.StringBuilder();
        top.OutputDataReceived += (_, e) =>
        {
            if (e.Data == "# queues") firstView.TrySetResult();
            else if (e.Data is not null && !firstView.Task.IsCompleted) lock (output) output.AppendLine(e.Data);
        };
        top.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        top.Start();
        top.BeginOutputReadLine();
        top.BeginErrorReadLine();
        var file = Path.Combine(Path.GetTempPath(), $"photon-counters-{Guid.NewGuid():N}.json");
        try
        {
            var ready = await Task.WhenAny(firstView.Task, top.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(180)));
            if (ready != firstView.Task)
            {
                // Say what top was doing: its exit code, or the managed stacks of the still-running process.
                var state = top.HasExited ? $"exited with {top.ExitCode}"
                    : "still running; its stacks:\n" + Run("dotnet", ["tool", "run", "dotnet-stack", "report", "-p", top.Id.ToString(CultureInfo.InvariantCulture)], root).Output;
                string said;
                lock (output) said = output.ToString();
                Assert.Fail($"photon top did not show its first view ({state}); it printed:\n{said}");
            }

            var collect = Run("dotnet", ["tool", "run", "dotnet-counters", "collect", "-p", top.Id.ToString(CultureInfo.InvariantCulture),
                "--counters", "Photon.Kernel", "--format", "json", "--duration", "00:00:00:05", "-o", file], root);
            Assert.True(collect.Code == 0, collect.Output);

            using var json = JsonDocument.Parse(await File.ReadAllBytesAsync(file));
            var events = json.RootElement.GetProperty("Events").EnumerateArray()
                .Where(e => e.GetProperty("provider").GetString() == "Photon.Kernel")
                .Select(e => (Name: e.GetProperty("name").GetString()!, Tags: e.GetProperty("tags").GetString() ?? "", Value: e.GetProperty("value").GetDouble()))
                .ToList();
            double Max(string name, string tags = "") =>
                events.Where(e => e.Name.StartsWith(name + " ", StringComparison.Ordinal) && e.Tags.Contains(tags, StringComparison.Ordinal))
                      .Select(e => e.Value).DefaultIfEmpty(-1).Max();
            Assert.True(Max("photon.tasks.in_flight") > 0, "kernel tasks in flight");           // the tenants' load
            Assert.True(Max("photon.capabilities.live") > 10, "live capabilities");
            Assert.True(Max("photon.quota.memory", "tenant=/tenant-a") >= 256 * 1024, "tenant-a holds its load's region");
            Assert.True(Max("photon.queue.in_flight", "queue=nvme0.q0") >= 0, "the NVMe-style device's queue is reported");
            Assert.True(Max("photon.ipc.messages_sent") >= 0, "IPC rate is reported");
        }
        finally
        {
            if (!top.HasExited) top.Kill(true);
            File.Delete(file);
        }
    }
}
