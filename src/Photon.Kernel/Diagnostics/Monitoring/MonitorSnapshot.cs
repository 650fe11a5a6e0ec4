using Photon.Kernel.Processes;

namespace Photon.Kernel.Diagnostics.Monitoring;

/// <summary>One process as the monitor reports it.</summary>
/// <param name="CpuTime">Time its tasks' work items ran on kernel CPUs.</param>
public sealed record ProcessStat(int Pid, string Name, string Namespace, string? Tenant, ProcessState State, int Handles, int Tasks, TimeSpan CpuTime);

/// <summary>One tenant's quota use and limits (null: unlimited).</summary>
public sealed record TenantStat(string Tenant, long MemoryBytes, long? MemoryLimit, int Tasks, int? TaskLimit, int Capabilities, int? CapabilityLimit);

/// <summary>One device queue pair: requests in flight against its depth, and totals.</summary>
public sealed record QueueStat(string Name, int InFlight, int Depth, long Submitted, long Completed);

/// <summary>Kernel-wide figures (only for callers holding the monitor capability with Read).</summary>
public sealed record SystemStat(
    int Cpus,
    long TasksSpawned,
    long TasksInFlight,
    IReadOnlyList<int> RunQueueLengths,
    int GlobalQueueLength,
    long Steals,
    long StarvationReports,
    long IpcMessagesSent,
    long IpcMessagesReceived,
    long MemoryTotalBytes,
    long MemoryFreeBytes,
    long LiveCapabilities,
    IReadOnlyList<QueueStat> Queues,
    bool Tracing);

/// <summary>What a process may see of the system: the processes and tenants in its namespace subtree (<see cref="Scope"/>),
/// and the kernel-wide figures when it holds the monitor capability.</summary>
public sealed record MonitorSnapshot(string Scope, IReadOnlyList<ProcessStat> Processes, IReadOnlyList<TenantStat> Tenants, SystemStat? System);
