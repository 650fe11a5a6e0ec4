using Photon.Kernel.FileSystems;
using Photon.Kernel.Ipc;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Syscalls;

/// <summary>
/// The kernel's system-call table: the one way processes, Wasm guests, native services and the CLI act on the
/// kernel. Every call takes the calling <see cref="Process"/> and handles, resolves each handle with the rights it
/// needs (<c>Process.Get&lt;T&gt;</c>), and then calls a method on the object; the principal for audit and quotas is
/// the caller, never an argument, and no call returns a capability token. (Spawn returns the new process's identity
/// for the native code started in it, and Accept the client's principal, like SO_PEERCRED: docs/security.md.)
/// </summary>
public sealed class SyscallTable
{
    public SyscallTable(ProcessManager processes, IpcManager ipc, VirtualFileSystem? vfs = null, Modules.ModuleLoader? modules = null,
        Audit.InMemoryAuditSink? recentAudit = null, Quotas.TenantQuotas? quotas = null)
    {
        Modules = modules is null ? null : new ModuleSyscalls(modules, processes.Capabilities);
        Handles = new HandleSyscalls(processes.Capabilities);
        Namespaces = new NamespaceSyscalls(processes.Namespaces, processes.Capabilities);
        Memory = new MemorySyscalls(processes.Memory);
        Processes = new ProcessSyscalls(processes);
        Channels = new ChannelSyscalls(ipc);
        Introspection = new IntrospectionSyscalls(processes, recentAudit, quotas);
        Files = vfs is null ? null : new FileSyscalls(vfs, processes.Capabilities);
        Dma = new DmaSyscalls(new Drivers.Dma.DmaLender(processes.Capabilities,
            (p, pages) => processes.Memory.Quota?.Invoke(p, pages) ?? Result.Ok));
    }

    public HandleSyscalls Handles { get; }
    public NamespaceSyscalls Namespaces { get; }
    public MemorySyscalls Memory { get; }
    public ProcessSyscalls Processes { get; }
    public ChannelSyscalls Channels { get; }
    public FileSyscalls? Files { get; }
    public IntrospectionSyscalls Introspection { get; }
    public ModuleSyscalls? Modules { get; }
    public DmaSyscalls Dma { get; }

    /// <summary>Start and stop the kernel trace session (needs the <c>/kernel/trace</c> capability).</summary>
    public TraceSyscalls Trace { get; } = new();

    /// <summary>Process, tenant and kernel-wide figures (`photon top`); set once the kernel's monitor exists.</summary>
    public MonitorSyscalls? Monitor { get; internal set; }
}
