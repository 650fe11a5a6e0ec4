using Photon.Kernel.Audit;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Diagnostics;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Ipc;
using Photon.Kernel.Modules;
using Photon.Kernel.Hal;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Quotas;
using Photon.Kernel.Scheduling;
using Photon.Kernel.Syscalls;
using Process = Photon.Kernel.Processes.Process;

namespace Photon.Kernel.Boot;

/// <summary>
/// A booted kernel instance: every subsystem, brought up in dependency order by <see cref="Boot"/> and torn down in
/// reverse by <see cref="DisposeAsync"/>. Several kernels can run side by side in one host process (tests do).
/// </summary>
public sealed class PhotonKernel : IAsyncDisposable
{
    private readonly List<BootStep> _steps = new();
    private readonly List<Func<ValueTask>> _shutdown = new();

    private PhotonKernel(KernelConfig config)
    {
        Config = config;
        Clock = config.Platform.Clock;
        Console = config.Platform.Console;
        Log = new KernelLog(Clock, Console) { Echo = config.EchoLog };
    }

    public KernelConfig Config { get; }
    public Platform Platform => Config.Platform;
    public IClock Clock { get; }
    public IConsole Console { get; }
    public KernelLog Log { get; }
    public IReadOnlyList<BootStep> BootSteps => _steps;

    public IInterruptController Interrupts { get; private set; } = null!;

    /// <summary>Cancelled when the shutdown interrupt fires (Ctrl-C / SIGTERM on the host when signals are captured).</summary>
    public CancellationToken ShutdownRequested => _shutdownRequested.Token;

    /// <summary>Timer interrupts taken since boot.</summary>
    public long Ticks => Interlocked.Read(ref _ticks);

    private readonly CancellationTokenSource _shutdownRequested = new();
    private long _ticks;

    public PhysicalMemory Physical { get; private set; } = null!;
    public ICapabilityAuditSink AuditSink { get; private set; } = null!;

    /// <summary>The last capability events, in memory (for reports).</summary>
    public InMemoryAuditSink RecentAudit { get; private set; } = null!;

    /// <summary>The persistent hash-chained audit log, when the config gave storage for one.</summary>
    public HashChainedAuditLog? AuditLog { get; private set; }
    public CapabilityManager Capabilities { get; private set; } = null!;
    public NamespaceManager Namespaces { get; private set; } = null!;
    public MemoryManager Memory { get; private set; } = null!;
    public KernelScheduler Scheduler { get; private set; } = null!;
    public ProcessManager Processes { get; private set; } = null!;

    public IpcManager Ipc { get; private set; } = null!;

    /// <summary>Per-tenant limits, wired into memory, capabilities, tasks and IPC at boot.</summary>
    public TenantQuotas Quotas { get; private set; } = null!;

    /// <summary>The system-call table every process-facing call goes through.</summary>
    public SyscallTable Sys { get; private set; } = null!;

    /// <summary>The first process (pid 1, at the root namespace with every right); the CLI acts as it.</summary>
    public Process Init { get; private set; } = null!;

    /// <summary>Init's handle to the root namespace.</summary>
    public Handle InitRoot { get; private set; }

    /// <summary>Init's handle to <c>/kernel/trace</c> (Manage: may start and stop tracing).</summary>
    public Handle InitTrace { get; private set; }

    /// <summary>Init's handle to <c>/kernel/monitor</c> (Read: sees kernel-wide figures).</summary>
    public Handle InitMonitor { get; private set; }

    /// <summary>The kernel's monitor object (device components register their queues with it).</summary>
    public Diagnostics.Monitoring.SystemMonitor Monitor { get; private set; } = null!;

    /// <summary>Init's handle to the module loader (Manage: may load native modules).</summary>
    public Handle InitModuleLoader { get; private set; }

    internal CapabilityToken InitControl { get; private set; }
    /// <summary>The kernel's capability to <c>/dev</c>, where device components bind their devices.</summary>
    internal CapabilityToken DevNamespace { get; private set; }

    /// <summary>The kernel's capability to <c>/mounts</c>, where mount components bind each mount with every right
    /// (the administrator's view: init can unmount through it).</summary>
    internal CapabilityToken MountsNamespace { get; private set; }

    public FileSystemRegistry FileSystems { get; private set; } = null!;
    public VirtualFileSystem Vfs { get; private set; } = null!;
    public ModuleLoader Modules { get; private set; } = null!;

    /// <summary>Kernel timers (the scheduler's timer queue).</summary>
    public IKernelTimers Timers => Scheduler;

    /// <summary>Boots a kernel. Each step is logged with its duration; a failing step unwinds the ones before it.</summary>
    public static async Task<Result<PhotonKernel>> BootAsync(KernelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(config.Platform);
        var platform = config.Platform;
        var clock = platform.Clock;
        var k = new PhotonKernel(config);
        try
        {
            k.Step("hal", () => $"{platform.Name}: clock={clock.GetType().Name} console={platform.Console.GetType().Name} cpus={platform.Processors.Count}");
            k.Step("interrupts", () =>
            {
                k.Interrupts = platform.Interrupts;
                k._shutdown.Add(() => { k.Interrupts.Dispose(); return ValueTask.CompletedTask; });
                // Interrupt handlers only flip state; kernel tasks observe it.
                k.Interrupts.Register(InterruptVectors.Shutdown, _ =>
                {
                    k.Log.Warn("irq", "shutdown requested");
                    k._shutdownRequested.Cancel();
                });
                k.Interrupts.Register(InterruptVectors.Timer, _ => Interlocked.Increment(ref k._ticks));
                k.Interrupts.StartTimer(config.TickPeriod);
                return $"{k.Interrupts.GetType().Name}, timer tick every {config.TickPeriod.TotalMilliseconds} ms";
            });
            k.Step("memory", () =>
            {
                k.Physical = new PhysicalMemory(config.MemoryBytes);
                k._shutdown.Add(() => { k.Physical.Dispose(); return ValueTask.CompletedTask; });
                return $"{config.MemoryBytes / (1024 * 1024)} MiB arena, {k.Physical.TotalFrames} frames of {PhysicalMemory.PageSize} B (buddy)";
            });
            k.Step("scheduler", () =>
            {
                k.Scheduler = new KernelScheduler(platform.Processors, clock, new SchedulerOptions(Workers: config.Cpus));
                k._shutdown.Add(() => k.Scheduler.DisposeAsync());
                return $"{k.Scheduler.WorkerCount} CPU workers";
            });
            if (config.AuditStorage is { } auditStorage)
            {
                // An unkeyed SHA-256 chain can be recomputed by anyone who can write the file: not an audit trail.
                if (config.AuditOptions?.Key is not { Length: > 0 })
                    throw new KernelException(ErrorCode.InvalidArgument, "a persistent audit log needs an HMAC key kept outside the log (AuditOptions.Key)");
                var opened = await HashChainedAuditLog.OpenAsync(auditStorage, k.Scheduler, config.AuditOptions).ConfigureAwait(false);
                if (!opened.IsOk) throw opened.Error.ToException();
                k.AuditLog = opened.Value;
                k._shutdown.Add(() => k.AuditLog.DisposeAsync());
                k.Step("audit", () => $"hash-chained log {auditStorage.Name} (HMAC-SHA256, key outside the log, " +
                    $"anchor {config.AuditOptions.Anchor?.Name ?? "none"}), continuing at record {k.AuditLog.Recorded}");
            }
            k.Step("capabilities", () =>
            {
                k.RecentAudit = new InMemoryAuditSink();
                var sinks = new List<ICapabilityAuditSink> { k.RecentAudit };
                if (k.AuditLog is not null) sinks.Add(k.AuditLog);
                if (config.Audit is not null) sinks.Add(config.Audit);
                k.AuditSink = new TeeAuditSink(sinks);
                k.Capabilities = new CapabilityManager(k.AuditSink, () => clock.WallClock);
                return $"derivation tree ready, audit -> {string.Join(" + ", sinks.Select(x => x.GetType().Name))}";
            });
            k.Step("namespaces", () =>
            {
                k.Namespaces = new NamespaceManager(k.Capabilities);
                return "root namespace '/'";
            });
            k.Step("regions", () =>
            {
                k.Memory = new MemoryManager(k.Physical, k.Capabilities);
                return "capability-scoped region allocator";
            });
            k.Step("processes", () =>
            {
                k.Processes = new ProcessManager(k.Capabilities, k.Namespaces, k.Memory,
                    (body, name) => k.Scheduler.Spawn(body, name).Completion) { Timers = k.Scheduler };
                return "process table ready";
            });
            k.Step("ipc", () =>
            {
                k.Ipc = new IpcManager(k.Capabilities, k.Namespaces, k.Scheduler);
                // A teardown can leave message cycles nobody can receive: collect them.
                k.Processes.ProcessDestroyed += () => k.Ipc.CollectUnreachable();
                return $"channels (≤{IpcManager.MaxMessageBytes} B messages, depth ≤{IpcManager.MaxDepth}), listeners, ports";
            });
            k.Step("quotas", () =>
            {
                k.Quotas = new TenantQuotas();
                k.Quotas.Attach(k.Capabilities, k.Memory, k.Processes, k.Ipc, k.Namespaces);
                foreach (var (tenant, limits) in config.TenantQuotas) k.Quotas.SetLimits(tenant, limits).Unwrap();
                return $"per-tenant memory, task, capability and IPC limits ({config.TenantQuotas.Count} configured)";
            });
            k.Step("vfs", () =>
            {
                k.FileSystems = new FileSystemRegistry(k.Capabilities);
                k.Namespaces.Bind(k.Namespaces.RootCapability, "filesystems", k.FileSystems.Capability,
                    Rights.Read | Rights.Bind | Rights.Delegate).Unwrap();
                k.Vfs = new VirtualFileSystem(k.Capabilities, k.Namespaces) { Timers = k.Scheduler };
                return "filesystem registry at /filesystems, mount table ready";
            });
            k.Step("devices", () =>
            {
                k.DevNamespace = k.Namespaces.CreateChild(k.Namespaces.RootCapability, "dev").Unwrap();
                k.MountsNamespace = k.Namespaces.CreateChild(k.Namespaces.RootCapability, "mounts").Unwrap();
                return "/dev (devices), /mounts (mounts, administrator's view)";
            });
            k.Step("modules", () =>
            {
                var modulesNs = k.Namespaces.CreateChild(k.Namespaces.RootCapability, "modules").Value;
                k.Modules = new ModuleLoader(k.Capabilities, k.Namespaces, k.Processes, k.Scheduler,
                    platform.ModuleImages, modulesNs, k.Log, config.ModulePins, config.BuiltInModules);
                return "native modules (trusted kernel code) under /modules, loading needs the loader's Manage capability; " +
                    (config.ModulePins is { } pins ? $"{pins.Count} pinned image digests" : "pinning OFF") +
                    (config.BuiltInModules is { Names.Count: > 0 } b ? $"; built in: {string.Join(", ", b.Names)}" : "");
            });
            k.Step("init", () =>
            {
                k.Sys = new SyscallTable(k.Processes, k.Ipc, k.Vfs, k.Modules, k.RecentAudit, k.Quotas);
                k.Modules.Sys = k.Sys;
                // Like Zircon's userboot: the first process holds the root namespace with every right; the CLI and
                // the kernel's own setup act through its syscalls, never through kernel objects.
                var init = k.Processes.Spawn("init", k.Namespaces.RootCapability, Rights.All, Principal.Kernel).Unwrap();
                k.Init = init.Process;
                k.InitControl = init.Control;
                k.InitRoot = k.Sys.Namespaces.Open(k.Init, "", Rights.All).Unwrap();
                // Loading native modules is the administrator's power: init holds the loader's Manage capability.
                var loader = k.Capabilities.DeriveForKernel(k.Modules.Capability, Rights.Manage | Rights.Read | Rights.Delegate, k.Init.Principal, Principal.Kernel).Unwrap();
                k.InitModuleLoader = k.Init.AddHandle(loader).Unwrap();
                k.BindDiagnostics();
                return $"syscall table ready, {k.Init} holds the root namespace";
            });
            foreach (var component in config.Components)
                await k.StartComponentAsync(component).ConfigureAwait(false);
            k.Log.Info("boot", $"kernel up in {k._steps.Sum(s => s.Elapsed.TotalMilliseconds):F2} ms");
            return k;
        }
        catch (KernelException e)
        {
            k.Log.Error("boot", e.Message);
            await k.DisposeAsync().ConfigureAwait(false);
            return e.Error;
        }
    }

    /// <summary>
    /// <c>/kernel/trace</c> (start/stop tracing: Manage) and <c>/kernel/monitor</c> (kernel-wide figures: Read), held by
    /// init; tenants are spawned in their own namespaces and see neither unless granted. Also puts this kernel's
    /// figures on the "Photon.Kernel" meter until it shuts down.
    /// </summary>
    private void BindDiagnostics()
    {
        Monitor = new Diagnostics.Monitoring.SystemMonitor(Processes, Scheduler, Ipc, Quotas, Physical);
        Sys.Monitor = new MonitorSyscalls(Monitor);
        var kernelNs = Namespaces.CreateChild(Namespaces.RootCapability, "kernel").Unwrap();
        var trace = Capabilities.Create(new Diagnostics.Tracing.TraceControl(), Rights.Manage | Rights.Read | Rights.Delegate, Principal.Kernel).Unwrap();
        Namespaces.Bind(kernelNs, "trace", trace, Rights.Manage | Rights.Read | Rights.Delegate).Unwrap();
        var monitor = Capabilities.Create(Monitor, Rights.Read | Rights.Delegate, Principal.Kernel).Unwrap();
        Namespaces.Bind(kernelNs, "monitor", monitor, Rights.Read | Rights.Delegate).Unwrap();
        InitTrace = Sys.Namespaces.Open(Init, "kernel/trace", Rights.Manage | Rights.Read | Rights.Delegate).Unwrap();
        InitMonitor = Sys.Namespaces.Open(Init, "kernel/monitor", Rights.Read | Rights.Delegate).Unwrap();
        var metrics = Diagnostics.Metrics.KernelMetrics.Register(this);
        _shutdown.Add(() => { metrics.Dispose(); return ValueTask.CompletedTask; });
    }

    /// <summary>Runs a kernel-mode function on the scheduler and waits for it (how the CLI and tests enter the kernel).</summary>
    public Task<T> RunAsync<T>(Func<Task<T>> body, string name = "main") => Scheduler.Spawn(body, name).Completion;

    public Task RunAsync(Func<Task> body, string name = "main") => Scheduler.Spawn(body, name).Completion;

    /// <summary>Starts one component as a kernel task; it is stopped (also after a failed start) at disposal, in
    /// reverse order.</summary>
    private async Task StartComponentAsync(IKernelComponent component)
    {
        var started = Clock.Monotonic;
        _shutdown.Add(async () =>
        {
            try
            {
                await RunAsync(() => component.StopAsync().AsTask(), $"stop:{component.Name}").ConfigureAwait(false);
                Log.Info("shutdown", $"{component.Name} stopped");
            }
            catch (Exception e) { Log.Error("shutdown", $"{component.Name} failed to stop: {e.Message}"); }
        });
        Result<string> result;
        try { result = await RunAsync(() => component.StartAsync(this, ShutdownRequested).AsTask(), $"start:{component.Name}").ConfigureAwait(false); }
        catch (Exception e) when (e is not KernelException)
        {
            result = Errors.Of(ErrorCode.Faulted, $"{e.GetType().Name}: {e.Message}");
        }
        if (!result.IsOk)
            throw new KernelException(result.Error.Code, $"boot step '{component.Name}' failed: {result.Error.Message}");
        var step = new BootStep(component.Name, result.Value, Clock.Monotonic - started);
        _steps.Add(step);
        Log.Info("boot", $"{component.Name,-13} {result.Value} ({step.Elapsed.TotalMilliseconds:F2} ms)");
    }

    private void Step(string name, Func<string> body)
    {
        var started = Clock.Monotonic;
        string detail;
        try { detail = body(); }
        catch (Exception e) when (e is not KernelException)
        {
            throw new KernelException(ErrorCode.Faulted, $"boot step '{name}' failed: {e.Message}");
        }
        var step = new BootStep(name, detail, Clock.Monotonic - started);
        _steps.Add(step);
        Log.Info("boot", $"{name,-13} {detail} ({step.Elapsed.TotalMilliseconds:F2} ms)");
    }

    public async ValueTask DisposeAsync()
    {
        for (int i = _shutdown.Count - 1; i >= 0; i--) await _shutdown[i]().ConfigureAwait(false);
        _shutdown.Clear();
    }
}
