using System.Diagnostics;

namespace Photon.FileSystems.Tests.Crash;

/// <summary>
/// Runs one Linux tool (e2fsck, fsck.vfat) over many image files with one <c>sh</c> per core, each looping over its
/// share of the files. The tools take one image per run and finish a small image in milliseconds; starting a process
/// from the test host costs far more (and blocks pool threads on its pipes), so crash checks hand over whole batches.
/// </summary>
public static class ToolBatch
{
    /// <summary>Exit code and combined output of <c>tool args… file</c> for each file, in the order given.</summary>
    public static (int Code, string Output)[] Run(IReadOnlyList<string> files, string tool, params string[] args)
    {
        // The command line is built from constants; refuse anything a shell would read as more than a word.
        foreach (var word in args.Prepend(tool))
            if (word.Length == 0 || !word.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/' or '='))
                throw new ArgumentException($"not a plain word: '{word}'");
        if (files.Count == 0) return [];
        string command = string.Join(' ', args.Prepend(tool));
        string script = $"for f do {command} \"$f\" >\"$f.out\" 2>&1; echo $? >\"$f.rc\"; done";
        int shells = Math.Min(Environment.ProcessorCount, files.Count);
        var running = new List<Process>();
        try
        {
            for (int k = 0; k < shells; k++)
            {
                var psi = new ProcessStartInfo("sh") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
                psi.ArgumentList.Add("-c");
                psi.ArgumentList.Add(script);
                psi.ArgumentList.Add("sh");
                for (int i = k; i < files.Count; i += shells) psi.ArgumentList.Add(files[i]);
                psi.Environment["E2FSPROGS_FAKE_TIME"] = "";
                psi.Environment["LC_ALL"] = "C.UTF-8"; // the findings are parsed in English
                psi.Environment["TZ"] = "UTC";
                running.Add(Process.Start(psi)!);
            }
            // Each run of these tools on a test image takes well under a second; a minute per file means a hang.
            var deadline = TimeSpan.FromSeconds(60 + 10 * files.Count);
            foreach (var p in running)
            {
                var drained = Task.WhenAll(p.StandardOutput.ReadToEndAsync(), p.StandardError.ReadToEndAsync());
                if (!p.WaitForExit(deadline)) throw new TimeoutException($"{tool} batch of {files.Count} images did not finish");
                drained.Wait();
            }
        }
        finally
        {
            foreach (var p in running)
            {
                if (!p.HasExited) p.Kill(true);
                p.Dispose();
            }
        }
        var results = new (int Code, string Output)[files.Count];
        for (int i = 0; i < files.Count; i++)
        {
            string rc = files[i] + ".rc", output = files[i] + ".out";
            if (!File.Exists(rc)) throw new InvalidOperationException($"{tool} did not run on {files[i]}");
            results[i] = (int.Parse(File.ReadAllText(rc).Trim(), System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText(output));
            File.Delete(rc);
            File.Delete(output);
        }
        return results;
    }
}
