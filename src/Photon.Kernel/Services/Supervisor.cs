using Photon.Kernel.Capabilities;
using Photon.Kernel.Ipc;
using Photon.Kernel.Processes;
using Photon.Kernel.Scheduling;
using Photon.Kernel.Syscalls;

namespace Photon.Kernel.Services;

/// <summary>A native service: runs as the tasks of its own process, with direct capability access through it.</summary>
public interface IService
{
    /// <summary>Runs until <paramref name="ct"/> is cancelled (stop) or the service fails (throws / returns an error).</summary>
    Task<Result> RunAsync(ServiceContext context, CancellationToken ct);
}

/// <summary>What a running service instance gets: its process (handles, namespace, memory) and the kernel's IPC.</summary>
public sealed record ServiceContext(string Name, Process Process, SyscallTable Sys, IKernelTimers Timers, int Incarnation)
{
    /// <summary>Publishes an IPC listener at /svc/&lt;name&gt; in the service's namespace (the registry convention);
    /// clients find it through their own namespace with <see cref="ChannelSyscalls.Connect"/>.</summary>
    public Result<Handle> Publish(Handle serviceDirectory, int backlog = 16)
    {
        var listener = Sys.Channels.Listen(Process, backlog);
        if (!listener.IsOk) return listener;
        var bound = Sys.Namespaces.Bind(Process, serviceDirectory, Name, listener.Value, Rights.Connect | Rights.Delegate);
        return bound.IsOk ? listener : bound.Error;
    }
}

public sealed record RestartPolicy(int MaxRestarts = 5, TimeSpan? InitialBackoff = null, TimeSpan? MaxBackoff = null)
{
    public TimeSpan Initial => InitialBackoff ?? TimeSpan.FromMilliseconds(50);
    public TimeSpan Max => MaxBackoff ?? TimeSpan.FromSeconds(5);
}

public enum ServiceState { Starting, Running, Backoff, Stopped, Failed }

/// <summary>A service under supervision and what happened to it.</summary>
public sealed class SupervisedService
{
    internal readonly CancellationTokenSource Stopping = new();
    internal SupervisedService(string name) => Name = name;
    public string Name { get; }
    public ServiceState State { get; internal set; }
    public int Restarts { get; internal set; }
    public KernelError? LastError { get; internal set; }
    public Process? Current { get; internal set; }
    public Task Completion { get; internal set; } = Task.CompletedTask;
}

/// <summary>
/// Runs services and restarts the ones that fail: each incarnation gets a fresh process in the service's namespace
/// (so a crash leaves no half-updated in-memory state behind, and everything the old incarnation held is revoked),
/// with exponential backoff on kernel timers, up to a restart limit after which the service is marked Failed.
/// Incarnations are spawned and destroyed through the syscalls of <c>owner</c>, the process that supervises.
/// </summary>
public sealed class Supervisor(SyscallTable sys, IKernelTimers timers)
{
    /// <summary>Starts <paramref name="name"/> in the namespace <paramref name="ns"/> (a handle of
    /// <paramref name="owner"/>, which needs Create on it and may hand on at most <paramref name="namespaceRights"/>).</summary>
    public SupervisedService Start(Process owner, string name, Handle ns, Func<IService> factory, RestartPolicy? policy = null,
        Rights namespaceRights = Rights.Read | Rights.Enumerate | Rights.Bind)
    {
        policy ??= new RestartPolicy();
        var s = new SupervisedService(name);
        s.Completion = Loop(owner, s, ns, factory, policy, namespaceRights);
        return s;
    }

    public async Task StopAsync(SupervisedService s)
    {
        s.Stopping.Cancel();
        try { await s.Completion.ConfigureAwait(true); } catch (OperationCanceledException) { }
    }

    private async Task Loop(Process owner, SupervisedService s, Handle ns, Func<IService> factory, RestartPolicy policy, Rights nsRights)
    {
        var backoff = policy.Initial;
        for (int incarnation = 0; ; incarnation++)
        {
            s.State = ServiceState.Starting;
            var spawned = sys.Processes.Spawn(owner, ns, s.Name, nsRights);
            if (!spawned.IsOk) { s.LastError = spawned.Error; s.State = ServiceState.Failed; return; }
            var (control, process) = spawned.Value;
            s.Current = process;
            Result outcome;
            try
            {
                var service = factory();
                var ctx = new ServiceContext(s.Name, process, sys, timers, incarnation);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(s.Stopping.Token, process.Lifetime);
                s.State = ServiceState.Running;
                var body = Result.Ok;
                var run = process.Run(async ct => { body = await service.RunAsync(ctx, linked.Token).ConfigureAwait(true); }, "main");
                if (!run.IsOk) outcome = run.Error;
                else
                {
                    await run.Value.ConfigureAwait(true);
                    outcome = body;
                }
            }
            catch (OperationCanceledException) when (s.Stopping.IsCancellationRequested) { outcome = Result.Ok; }
            catch (KernelException e) { outcome = e.Error; }
            catch (Exception e) { outcome = Result.Fail(ErrorCode.Faulted, $"{e.GetType().Name}: {e.Message}"); }
            await sys.Processes.DestroyAsync(owner, control).ConfigureAwait(true);
            s.Current = null;
            if (s.Stopping.IsCancellationRequested) { s.State = ServiceState.Stopped; return; }
            if (outcome.IsOk) { s.State = ServiceState.Stopped; return; }
            s.LastError = outcome.Error;
            if (s.Restarts >= policy.MaxRestarts) { s.State = ServiceState.Failed; return; }
            s.Restarts++;
            s.State = ServiceState.Backoff;
            try { await timers.Delay(backoff, s.Stopping.Token).ConfigureAwait(true); }
            catch (OperationCanceledException) { s.State = ServiceState.Stopped; return; }
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, policy.Max.Ticks));
        }
    }
}
