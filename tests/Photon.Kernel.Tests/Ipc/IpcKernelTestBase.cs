using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Ipc;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Scheduling;
using Photon.Kernel.Syscalls;

namespace Photon.Kernel.Tests.Ipc;

/// <summary>
/// IPC on a real kernel scheduler: two processes joined by a channel (<see cref="Pair"/>), and test bodies run as
/// kernel tasks (<see cref="OnKernel{T}"/>) so that receives park and are handed messages as they are in the kernel.
/// Shared by the hand-off and the receive-into tests.
/// </summary>
public abstract class IpcKernelTestBase : IAsyncDisposable
{
    protected static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    protected readonly PhysicalMemory _phys = new(8 * 1024 * 1024);
    protected readonly CapabilityManager _caps = new();
    protected readonly NamespaceManager _ns;
    protected readonly ProcessManager _pm;
    protected readonly KernelScheduler _scheduler;
    protected readonly IpcManager _manager;
    protected readonly ChannelSyscalls _ipc;
    private readonly string _taskName;

    protected IpcKernelTestBase(int cpus, string taskName)
    {
        _taskName = taskName;
        _ns = new NamespaceManager(_caps);
        _pm = new ProcessManager(_caps, _ns, new MemoryManager(_phys, _caps));
        _scheduler = new KernelScheduler(new HostProcessors(cpus), new HostClock(),
            new SchedulerOptions(Workers: cpus, StarvationThreshold: TimeSpan.FromSeconds(30)));
        _manager = new IpcManager(_caps, _ns, _scheduler);
        _ipc = new ChannelSyscalls(_manager);
    }

    public async ValueTask DisposeAsync()
    {
        await _scheduler.DisposeAsync();
        _phys.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Processes a and b with the two ends of one channel (b's end moved into b's table).</summary>
    protected (Process A, Handle Ha, Process B, Handle Hb) Pair(int depth = IpcManager.DefaultDepth)
    {
        var a = _pm.Spawn("a", _ns.RootCapability).Value.Process;
        var b = _pm.Spawn("b", _ns.RootCapability).Value.Process;
        var (x, y) = _ipc.CreateChannel(a, depth).Value;
        return (a, x, b, b.AddHandle(a.Handles.Remove(y).Value).Value);
    }

    protected static ChannelEndpoint Endpoint(Process p, Handle h) => p.Get<ChannelEndpoint>(h, Rights.None).Value;

    protected Task<T> OnKernel<T>(Func<Task<T>> body) => _scheduler.Spawn(body, _taskName).Completion.WaitAsync(Timeout);
}
