using Photon.Kernel.Capabilities;

namespace Photon.Kernel.Diagnostics.Tracing;

/// <summary>The kernel object behind <c>/kernel/trace</c>: holding it with Manage lets a process start and stop the
/// kernel's trace session (it sees every subsystem's events, so only the administrator holds it by default).</summary>
public sealed class TraceControl() : KernelObject("trace")
{
    public override ObjectKind Kind => ObjectKind.TraceControl;
}
