using Photon.Kernel.Capabilities;
using Photon.Kernel.Ipc;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Scheduling;
using Photon.Kernel.Syscalls;

namespace Photon.Bench;

/// <summary>
/// What the IPC rows measure between: two processes, "a" and "b", on one capability manager and IPC manager over
/// the given scheduler (no boot), and channels whose first end a holds and whose second end b holds.
/// </summary>
internal sealed class TwoProcessIpc : IDisposable
{
    private readonly PhysicalMemory _phys = new(16 * 1024 * 1024);

    public TwoProcessIpc(KernelScheduler scheduler)
    {
        var caps = new CapabilityManager();
        var ns = new NamespaceManager(caps);
        var pm = new ProcessManager(caps, ns, new MemoryManager(_phys, caps));
        Ipc = new ChannelSyscalls(new IpcManager(caps, ns, scheduler));
        A = pm.Spawn("a", ns.RootCapability).Value.Process;
        B = pm.Spawn("b", ns.RootCapability).Value.Process;
    }

    public ChannelSyscalls Ipc { get; }
    public Process A { get; }
    public Process B { get; }

    /// <summary>A new channel: the end a holds and the end moved to b.</summary>
    public (Handle InA, Handle InB) Channel(int depth = IpcManager.DefaultDepth)
    {
        var (ha, hbInA) = Ipc.CreateChannel(A, depth).Value;
        return (ha, B.AddHandle(A.Handles.Remove(hbInA).Value).Value);
    }

    public void Dispose() => _phys.Dispose();
}
