using System.Diagnostics;
using System.Text;
using Photon.Sandbox.Wasi;

namespace Photon.Kernel.Tests.Sandbox.Wasi;

/// <summary>
/// The C examples (examples/*.c), built to wasm32-wasi by examples/build.sh with Debian's clang and wasi-libc (test.sh
/// runs it first; built here if it has not been), and the host tools the tests compare against.
/// </summary>
internal static class WasiExamples
{
    private static readonly Lazy<string> OutDir = new(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string Repo
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "examples", "build.sh"))) return d.FullName;
            throw new InvalidOperationException("examples/build.sh not found above " + AppContext.BaseDirectory);
        }
    }

    public static string Program(string name) => Path.Combine(OutDir.Value, name + ".wasm");

    private static string Build()
    {
        var out_ = Path.Combine(Repo, "examples", "out");
        var sources = new[] { "cat", "ls", "wc", "sha256sum", "tee", "kv" };
        if (sources.All(s => File.Exists(Path.Combine(out_, s + ".wasm")))) return out_;
        var (code, output) = Run(Path.Combine(Repo, "examples", "build.sh"), []);
        if (code != 0) throw new InvalidOperationException("examples/build.sh failed (are clang, lld, wasi-libc installed?):\n" + output);
        return out_;
    }

    public static (int Code, string Output) Run(string tool, IEnumerable<string> args, string? stdin = null)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin is not null };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        if (stdin is not null) { p.StandardInput.Write(stdin); p.StandardInput.Close(); }
        var stderr = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output + stderr.Result);
    }

    public static void MustRun(string tool, params string[] args)
    {
        var (code, output) = Run(tool, args);
        Assert.True(code == 0, $"{tool} {string.Join(' ', args)}: {output}");
    }
}

/// <summary>Collects what a guest writes to stdout and stderr.</summary>
internal sealed class CapturedOutput : IWasiOutput
{
    private readonly MemoryStream _out = new(), _err = new();

    public void Write(int fd, ReadOnlySpan<byte> data)
    {
        lock (this) (fd == 2 ? _err : _out).Write(data);
    }

    public string Stdout { get { lock (this) return Encoding.UTF8.GetString(_out.ToArray()); } }
    public string Stderr { get { lock (this) return Encoding.UTF8.GetString(_err.ToArray()); } }
}
