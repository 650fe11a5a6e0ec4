using Photon.Kernel;

namespace Photon.Cli.Shell;

/// <summary>
/// trace start|stop. The kernel has no event tracer yet (it is being built as <c>photon trace</c>, in
/// Photon.Kernel.Diagnostics), so both give NotSupported. Hook: when the tracer lands, add a syscall that starts and
/// stops it for the caller's namespace and call it from <see cref="Trace"/> — nothing else in the shell changes.
/// </summary>
public static class TraceCommands
{
    public static readonly IReadOnlyList<ShellCommand> All =
    [
        new("trace", "trace start | trace stop FILE", "Record kernel events (not available yet in this build).", Trace),
    ];

    private static Task<Result> Trace(ShellSession s, string[] args) => Task.FromResult(args switch
    {
        ["start"] or ["stop", _] or ["stop"] => Result.Fail(ErrorCode.NotSupported, "tracing is not available in this kernel build (no tracer in Photon.Kernel.Diagnostics yet)"),
        _ => ShellCommands.Usage("trace"),
    });
}
