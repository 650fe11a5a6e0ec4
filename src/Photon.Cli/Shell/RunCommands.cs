using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Sandbox;
using Photon.Sandbox.Syscalls;
using Photon.Sandbox.Wasi;

namespace Photon.Cli.Shell;

/// <summary>
/// run PROGRAM.wasm: starts a WASI command in the Wasm sandbox as a child of the shell's namespace, through the
/// sandbox handle init gave the shell. Each <c>--grant PATH[=ro|rw]</c> hands the guest a mount binding the shell can
/// reach, preopened at /LAST-SEGMENT. The program file itself is read from the host (the one thing the shell loads
/// from outside the kernel, like <c>photon run</c>).
/// </summary>
public static class RunCommands
{
    /// <summary>Largest program the shell loads.</summary>
    public const int MaxProgramBytes = 64 * 1024 * 1024;

    private static int _instances;

    public static readonly IReadOnlyList<ShellCommand> All =
    [
        new("run", "run PROGRAM.wasm [--grant PATH[=ro|rw]]… [ARGS…]", "Run a WASI program (a host file) in the sandbox, in the shell's namespace; prints its exit code.", Run),
    ];

    private sealed class Output(TextWriter writer) : IWasiOutput
    {
        public void Write(int fd, ReadOnlySpan<byte> data)
        {
            lock (writer) writer.Write(System.Text.Encoding.UTF8.GetString(data));
        }
    }

    private static async Task<Result> Run(ShellSession s, string[] args)
    {
        if (args.Length == 0) return ShellCommands.Usage("run");
        if (s.Sandbox is not { } sandbox) return Result.Fail(ErrorCode.NotSupported, "this kernel has no Wasm sandbox");
        var grants = new List<HandleGrant>();
        var preopens = new List<WasiPreopen>();
        var guestArgs = new List<string> { Path.GetFileName(args[0]) };
        try
        {
            for (int i = 1; i < args.Length; i++)
            {
                if (args[i] != "--grant") { guestArgs.Add(args[i]); continue; }
                if (++i >= args.Length) return ShellCommands.Usage("run");
                var g = OpenGrant(s, args[i], grants.Count);
                if (!g.IsOk) return g.Error;
                grants.Add(g.Value.Grant);
                preopens.Add(g.Value.Preopen);
            }
            byte[] wasm;
            try
            {
                var info = new FileInfo(args[0]);
                if (!info.Exists) return Result.Fail(ErrorCode.NotFound, $"no program {args[0]} on the host");
                if (info.Length > MaxProgramBytes) return Result.Fail(ErrorCode.InvalidArgument, $"{args[0]} is larger than {MaxProgramBytes} bytes");
                wasm = await File.ReadAllBytesAsync(args[0]).ConfigureAwait(true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return Result.Fail(ErrorCode.IoError, $"{args[0]}: {e.Message}"); }
            var options = new WasiOptions { Args = guestArgs, Preopens = preopens, Output = new Output(s.Out) };
            var name = $"run{Interlocked.Increment(ref _instances)}";
            // The guest runs on its own thread (it may block in WASI calls); the shell's task waits for it.
            var exit = await Task.Run(() =>
            {
                var instance = SandboxSyscalls.InstantiateWasi(s.Self, sandbox, s.Root, name, wasm, grants, options);
                if (!instance.IsOk) return Result<int>.Fail(instance.Error);
                var code = instance.Value.RunCommand();
                instance.Value.Exited.Wait(TimeSpan.FromSeconds(10));
                return code;
            }).ConfigureAwait(true);
            if (!exit.IsOk) return exit.Error;
            s.Out.WriteLine($"[exit {exit.Value}]");
            return exit.Value == 0 ? Result.Ok : Result.Fail(ErrorCode.Faulted, $"{args[0]} exited with {exit.Value}");
        }
        finally
        {
            foreach (var g in grants) s.Sys.Handles.Close(s.Self, g.Handle);
        }
    }

    private static Result<(HandleGrant Grant, WasiPreopen Preopen)> OpenGrant(ShellSession s, string spec, int index)
    {
        int eq = spec.LastIndexOf('=');
        var path = ShellPaths.Absolute(eq < 0 ? spec : spec[..eq]);
        var mode = eq < 0 ? "ro" : spec[(eq + 1)..];
        if (mode is not ("ro" or "rw")) return Errors.Of(ErrorCode.InvalidArgument, $"a grant is PATH=ro or PATH=rw, not '{spec}'");
        var rights = ShellRights.Parse(mode).Value;
        var h = s.Sys.Namespaces.Open(s.Self, path, rights | Rights.Delegate);
        if (!h.IsOk) return h.Error;
        var leaf = path.TrimEnd('/').Split('/')[^1];
        var binding = $"grant{index}";
        return (new HandleGrant(binding, h.Value, rights), new WasiPreopen("/" + (leaf.Length == 0 ? binding : leaf), binding));
    }
}
