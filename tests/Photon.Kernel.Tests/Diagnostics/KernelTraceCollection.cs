namespace Photon.Kernel.Tests.Diagnostics;

/// <summary>The trace session and the meter are per host process: tests that start a session or listen to the meter
/// run alone (xunit runs non-parallel collections after the parallel ones), so no other test's events leak in.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class KernelTraceCollection
{
    public const string Name = "kernel trace session";
}

/// <summary>Stops a session a failed test left recording, so the next test can start its own.</summary>
internal sealed class TraceGuard : IDisposable
{
    public void Dispose()
    {
        if (Photon.Kernel.Diagnostics.Tracing.KernelTrace.IsRecording) _ = Photon.Kernel.Diagnostics.Tracing.KernelTrace.Stop();
    }
}
