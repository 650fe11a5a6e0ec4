using Photon.Kernel.Capabilities;
using Photon.Kernel.Io;
using Photon.Kernel.Ipc;
using Photon.Kernel.Memory;
using Photon.Kernel.Processes;
using Photon.Kernel.Quotas;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Diagnostics.Monitoring;

/// <summary>
/// The kernel object behind <c>/kernel/monitor</c>: holding it with Read lets a process see kernel-wide figures
/// (run queues, device queues, memory). Everyone may see the processes and tenants in their own namespace subtree
/// without it. Device components register their queue pairs here so `photon top` can show their depth.
/// </summary>
public sealed class SystemMonitor : KernelObject
{
    public override ObjectKind Kind => ObjectKind.SystemMonitor;

    private readonly ProcessManager _processes;
    private readonly KernelScheduler _scheduler;
    private readonly IpcManager _ipc;
    private readonly TenantQuotas _quotas;
    private readonly PhysicalMemory _physical;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Func<QueuePairStats>> _queues = new(StringComparer.Ordinal);

    internal SystemMonitor(ProcessManager processes, KernelScheduler scheduler, IpcManager ipc, TenantQuotas quotas, PhysicalMemory physical)
        : base("monitor")
    {
        _processes = processes;
        _scheduler = scheduler;
        _ipc = ipc;
        _quotas = quotas;
        _physical = physical;
    }

    /// <summary>Registers a device queue under a name (replacing one of the same name); returns what unregisters it.</summary>
    internal IDisposable AddQueue(string name, Func<QueuePairStats> stats)
    {
        lock (_lock) _queues[name] = stats;
        return new Registration(() => { lock (_lock) _queues.Remove(name); });
    }

    /// <summary>Processes and tenants in <paramref name="scope"/>'s subtree ("/" sees all).</summary>
    internal (IReadOnlyList<ProcessStat> Processes, IReadOnlyList<TenantStat> Tenants) Scoped(string scope)
    {
        var processes = _processes.All
            .Where(p => Within(p.NamespacePath, scope))
            .Select(p => new ProcessStat(p.Pid, p.Name, p.NamespacePath, TenantQuotas.TenantOf(p.Principal), p.State,
                p.HandleCount, p.LiveTasks, p.Cpu.Used))
            .ToList();
        var tenants = _quotas.Tenants
            .Where(t => Within(t, scope) || Within(scope, t))
            .Select(t =>
            {
                var (used, limits) = _quotas.UsageAndLimits(t);
                return new TenantStat(t, used.MemoryBytes, limits.MemoryBytes, used.Tasks, limits.Tasks, used.Capabilities, limits.Capabilities);
            })
            .ToList();
        return (processes, tenants);
    }

    /// <summary>Every registered device queue (block and NIC), by name.</summary>
    internal List<QueueStat> Queues()
    {
        lock (_lock)
            return _queues.OrderBy(q => q.Key, StringComparer.Ordinal)
                .Select(q => { var st = q.Value(); return new QueueStat(q.Key, st.InFlight, st.Depth, st.Submitted, st.Completed); })
                .ToList();
    }

    internal SystemStat System()
    {
        var s = _scheduler.Stats;
        var queues = Queues();
        return new SystemStat(s.Workers, s.Spawned, s.InFlight, s.RunQueueLengths, s.GlobalQueueLength, s.Steals, s.StarvationReports,
            _ipc.MessagesSent, _ipc.MessagesReceived, _physical.TotalBytes, _physical.FreeFrames * PhysicalMemory.PageSize,
            _processes.Capabilities.LiveCount, queues, Tracing.KernelTrace.IsRecording);
    }

    /// <summary>True when <paramref name="path"/> is <paramref name="scope"/> or below it.</summary>
    internal static bool Within(string path, string scope) =>
        scope == "/" || path == scope || path.StartsWith(scope + "/", StringComparison.Ordinal);

    private sealed class Registration(Action remove) : IDisposable
    {
        private Action? _remove = remove;
        public void Dispose() => Interlocked.Exchange(ref _remove, null)?.Invoke();
    }
}
