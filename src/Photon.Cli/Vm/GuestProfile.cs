using System.Diagnostics;
using System.Globalization;

namespace Photon.Cli.Vm;

/// <summary>
/// A <c>perf</c> profile of Photon's own process inside the VM (<c>vm/run.sh --perf</c> puts Debian's <c>perf</c> and
/// its libraries in the initramfs and starts Photon with <c>DOTNET_PerfMapEnabled=1</c> and <c>PHOTON_VM_PERF=1</c>).
/// <see cref="Record"/> samples this process for a while (<c>perf record -e cpu-clock -g -p</c>: TCG has no PMU, so the
/// clock event), from the moment the measured stretch starts (the bench's QD1 run, the network sink's first upload);
/// <see cref="ReportAll"/> prints the top frames of each recording on the console (JIT-compiled methods by name from
/// <c>/tmp/perf-PID.map</c>; ReadyToRun code that was never re-JIT-compiled shows under its DLL).
/// </summary>
public static class GuestProfile
{
    private const string Perf = "/bin/perf";
    private static readonly List<(string Name, string File, Process Recorder)> Recordings = [];

    public static bool Enabled => Environment.GetEnvironmentVariable("PHOTON_VM_PERF") == "1" && File.Exists(Perf);

    /// <summary>Starts sampling this process for <paramref name="seconds"/> under <paramref name="name"/> (once per
    /// name; a no-op unless <see cref="Enabled"/>).</summary>
    public static void Record(string name, double seconds)
    {
        if (!Enabled) return;
        lock (Recordings)
        {
            if (Recordings.Any(r => r.Name == name)) return;
            string file = $"/tmp/perf-{name}.data";
            var start = new ProcessStartInfo(Perf) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var a in new[] { "record", "-q", "-e", "cpu-clock", "-F", "997", "-g", "-p", Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
                         "-o", file, "--", "/bin/sleep", seconds.ToString("0.#", CultureInfo.InvariantCulture) })
                start.ArgumentList.Add(a);
            try { Recordings.Add((name, file, Process.Start(start)!)); }
            catch (Exception e) { Console.WriteLine($"perf {name}: cannot start perf: {e.Message}"); }
        }
    }

    /// <summary>Waits for every recording to end and prints its top <paramref name="top"/> frames (self time, by
    /// symbol and DSO) and the same by DSO alone, as <c>perf NAME:</c> lines.</summary>
    public static void ReportAll(int top = 35)
    {
        List<(string Name, string File, Process Recorder)> all;
        lock (Recordings) all = [.. Recordings];
        foreach (var (name, file, recorder) in all)
        {
            if (!recorder.WaitForExit(120_000)) { try { recorder.Kill(); } catch (InvalidOperationException) { } }
            string err = recorder.StandardError.ReadToEnd().Trim();
            if (err.Length > 0) Console.WriteLine($"perf {name}: record said: {err.Replace('\n', ' ')}");
            // The third report: for each symbol above 10% of the samples, the call chains that led to it (who spins).
            foreach (var sort in new[] { "sym,dso", "dso", "callers" })
            {
                var start = new ProcessStartInfo(Perf) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
                string[] reportArgs = sort == "callers"
                    ? ["report", "-i", file, "--stdio", "--no-children", "-g", "graph,2,callee", "--sort", "sym", "--percent-limit", "10"]
                    : ["report", "-i", file, "--stdio", "--no-children", "-g", "none", "--sort", sort, "--percent-limit", "0.5"];
                foreach (var a in reportArgs) start.ArgumentList.Add(a);
                int limit = sort == "callers" ? 4 * top : top;
                try
                {
                    using var p = Process.Start(start)!;
                    var errors = p.StandardError.ReadToEndAsync();
                    var lines = p.StandardOutput.ReadToEnd().Split('\n');
                    p.WaitForExit();
                    int shown = 0;
                    foreach (var line in lines)
                    {
                        var l = line.TrimEnd();
                        if (l.Length == 0 || (l.StartsWith('#') && !l.Contains("Samples", StringComparison.Ordinal))) continue;
                        Console.WriteLine($"perf {name} [{sort}]: {l}");
                        if (++shown >= limit) break;
                    }
                    if (shown == 0)
                        Console.WriteLine($"perf {name}: report exited {p.ExitCode} with nothing ({(File.Exists(file) ? new FileInfo(file).Length : -1)} B of data, " +
                            $"recorder exited {recorder.ExitCode}): {errors.Result.Trim().Replace('\n', ' ')}");
                }
                catch (Exception e) { Console.WriteLine($"perf {name}: report failed: {e.Message}"); }
            }
        }
    }
}
