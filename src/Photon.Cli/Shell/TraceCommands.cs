using Photon.Kernel;
using Photon.Kernel.Diagnostics.Tracing;

namespace Photon.Cli.Shell;

/// <summary>
/// trace start [RECORDS] | trace stop FILE: starts the kernel's trace session and, on stop, writes what was recorded
/// as a Chrome/Perfetto trace to a host file. Both are syscalls on the trace control handle, which init delegates only
/// to a shell in the root namespace (a tenant's shell gets AccessDenied: a trace shows every tenant's events).
/// </summary>
public static class TraceCommands
{
    public static readonly IReadOnlyList<ShellCommand> All =
    [
        new("trace", "trace start [RECORDS] | trace stop FILE",
            "Record kernel events (scheduler, IPC, block/NIC, capabilities, syscalls); stop writes a Chrome/Perfetto trace to a host FILE.", Trace),
    ];

    private static Task<Result> Trace(ShellSession s, string[] args) => Task.FromResult(args switch
    {
        ["start"] => Start(s, KernelTrace.DefaultRecordsPerThread),
        ["start", var n] when int.TryParse(n, out int records) => Start(s, records),
        ["stop", var file] => Stop(s, file),
        _ => ShellCommands.Usage("trace"),
    });

    private static Result Start(ShellSession s, int recordsPerThread)
    {
        if (s.Trace is not { } trace) return NoCapability();
        var started = s.Sys.Trace.Start(s.Self, trace, recordsPerThread);
        if (started.IsOk) s.Out.WriteLine($"tracing ({recordsPerThread} records per thread)");
        return started;
    }

    private static Result Stop(ShellSession s, string file)
    {
        if (s.Trace is not { } trace) return NoCapability();
        var capture = s.Sys.Trace.Stop(s.Self, trace);
        if (!capture.IsOk) return capture.AsResult();
        try
        {
            using (var output = File.Create(file)) ChromeTraceWriter.Write(output, capture.Value);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Result.Fail(ErrorCode.IoError, $"cannot write {file}: {e.Message}");
        }
        s.Out.WriteLine($"{capture.Value.Recorded} events, {capture.Value.Dropped} dropped → {file} (open in ui.perfetto.dev)");
        return Result.Ok;
    }

    private static Result NoCapability() =>
        Result.Fail(ErrorCode.AccessDenied, "this shell holds no trace capability (init hands it only to a shell in the root namespace)");
}
