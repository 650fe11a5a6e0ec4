using Photon.Kernel.Audit;
using Photon.Kernel.Hal;

namespace Photon.Kernel.Boot;

/// <summary>What the kernel boots with: the platform (required) and sizes and options with defaults.</summary>
public sealed record KernelConfig
{
    /// <summary>The machine: clock, console, CPUs, interrupts, module images (<c>LinuxPlatform.Create()</c> on the host).</summary>
    public required Platform Platform { get; init; }

    /// <summary>Size of the physical memory arena taken at boot.</summary>
    public long MemoryBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>Scheduler CPU workers (0 = one per platform processor).</summary>
    public int Cpus { get; init; }

    /// <summary>SHA-256 digests of the module images (and their private dependencies) allowed to load; null turns
    /// pinning off. Native modules are trusted kernel code, so production configurations pin them.</summary>
    public Modules.ModulePins? ModulePins { get; init; }

    /// <summary>Modules compiled into this binary (an ahead-of-time build, which cannot load module code): a module
    /// component naming one starts it from here.</summary>
    public Modules.BuiltInModules? BuiltInModules { get; init; }

    /// <summary>Period of the timer interrupt.</summary>
    public TimeSpan TickPeriod { get; init; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Echo the kernel log to the console while booting.</summary>
    public bool EchoLog { get; init; } = true;

    /// <summary>Storage for the persistent hash-chained audit log (none: events are kept in memory only).</summary>
    public IAppendLogStorage? AuditStorage { get; init; }

    /// <summary>Key, anchor and batching of the persistent log. A persistent log needs <see cref="AuditLogOptions.Key"/>.</summary>
    public AuditLogOptions? AuditOptions { get; init; }

    /// <summary>Limits per tenant (top-level namespace such as "/tenant-a"), applied at boot.</summary>
    public IReadOnlyDictionary<string, Quotas.QuotaLimits> TenantQuotas { get; init; } = new Dictionary<string, Quotas.QuotaLimits>();

    /// <summary>The system to bring up after init, in order: devices, modules, mounts, tenants, the network stack, the
    /// sandbox. Each is one logged boot step; they stop in reverse at shutdown, and a failing one unwinds the ones
    /// before it.</summary>
    public IReadOnlyList<IKernelComponent> Components { get; init; } = [];

    /// <summary>An extra sink that also receives every capability event.</summary>
    public ICapabilityAuditSink? Audit { get; init; }
}

/// <summary>One boot step and how long it took.</summary>
public sealed record BootStep(string Name, string Detail, TimeSpan Elapsed);
