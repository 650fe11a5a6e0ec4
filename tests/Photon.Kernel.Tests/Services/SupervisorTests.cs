using System.Text;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Ipc;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Services;
using Photon.Kernel.Syscalls;

namespace Photon.Kernel.Tests.Services;

public sealed class SupervisorTests : IDisposable
{
    private readonly PhysicalMemory _phys = new(8 * 1024 * 1024);
    private readonly CapabilityManager _caps = new();
    private readonly NamespaceManager _ns;
    private readonly ProcessManager _pm;
    private readonly IpcManager _ipc;
    private readonly Supervisor _supervisor;
    private readonly HostTimers _timers = new(new HostClock());

    public SupervisorTests()
    {
        _ns = new NamespaceManager(_caps);
        _pm = new ProcessManager(_caps, _ns, new MemoryManager(_phys, _caps)) { Timers = _timers };
        _ipc = new IpcManager(_caps, _ns, _timers);
        _sys = new SyscallTable(_pm, _ipc);
        _supervisor = new Supervisor(_sys, _timers);
        // The supervising process: holds the root namespace, as the kernel's init does.
        _init = _pm.Spawn("init", _ns.RootCapability, Rights.All).Value.Process;
        _root = _init.Open("", Rights.All).Value;
    }

    private readonly SyscallTable _sys;
    private readonly Process _init;
    private readonly Handle _root;

    public void Dispose() => _phys.Dispose();

    private sealed class FlakyService(int failures, List<int> incarnations) : IService
    {
        public async Task<Result> RunAsync(ServiceContext ctx, CancellationToken ct)
        {
            lock (incarnations) incarnations.Add(ctx.Incarnation);
            if (ctx.Incarnation < failures) throw new InvalidOperationException($"crash #{ctx.Incarnation}");
            await Task.Delay(Timeout.Infinite, ct);
            return Result.Ok;
        }
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        for (int i = 0; i < 500 && !condition(); i++) await Task.Delay(10);
        Assert.True(condition());
    }

    [Fact]
    public async Task A_crashing_service_is_restarted_in_a_fresh_process_with_backoff()
    {
        var seen = new List<int>();
        var s = _supervisor.Start(_init, "flaky", _root, () => new FlakyService(2, seen), new RestartPolicy(InitialBackoff: TimeSpan.FromMilliseconds(10)));
        await WaitFor(() => s.State == ServiceState.Running && s.Restarts == 2);
        Assert.Equal([0, 1, 2], seen);
        Assert.Contains("crash #1", s.LastError!.Value.Message);
        var pid = s.Current!.Pid;
        Assert.Equal(4, pid); // third incarnation (after init): every incarnation gets a new process
        await _supervisor.StopAsync(s);
        Assert.Equal(ServiceState.Stopped, s.State);
        Assert.Equal(ErrorCode.NotFound, _pm.Get(pid).Code);
    }

    [Fact]
    public async Task A_service_that_keeps_failing_is_marked_failed_after_the_restart_limit()
    {
        var seen = new List<int>();
        var s = _supervisor.Start(_init, "doomed", _root, () => new FlakyService(int.MaxValue, seen), new RestartPolicy(MaxRestarts: 3, InitialBackoff: TimeSpan.FromMilliseconds(5)));
        await s.Completion;
        Assert.Equal(ServiceState.Failed, s.State);
        Assert.Equal(3, s.Restarts);
        Assert.Equal(4, seen.Count);
        Assert.Equal([_init], _pm.All); // every incarnation was destroyed
    }

    private sealed class EchoService : IService
    {
        public async Task<Result> RunAsync(ServiceContext ctx, CancellationToken ct)
        {
            var dir = ctx.Sys.Namespaces.Open(ctx.Process, "/svc", Rights.Bind | Rights.Read);
            if (!dir.IsOk) return dir.AsResult();
            var listener = ctx.Publish(dir.Value);
            if (!listener.IsOk) return listener.AsResult();
            while (!ct.IsCancellationRequested)
            {
                var conn = await ctx.Sys.Channels.AcceptAsync(ctx.Process, listener.Value, ct);
                if (!conn.IsOk) return conn.Code == ErrorCode.Cancelled ? Result.Ok : conn.AsResult();
                var req = await ctx.Sys.Channels.ReceiveAsync(ctx.Process, conn.Value.Endpoint, ct);
                if (req.IsOk) await ctx.Sys.Channels.ReplyAsync(ctx.Process, req.Value, req.Value.Data.Reverse().ToArray());
            }
            return Result.Ok;
        }
    }

    [Fact]
    public async Task Services_register_under_svc_and_clients_resolve_them_through_their_namespace()
    {
        var tenant = _ns.CreateChild(_ns.RootCapability, "tenant-a").Value;
        var svc = _ns.CreateChild(tenant, "svc").Value;
        var s = _supervisor.Start(_init, "echo", _init.Open("/tenant-a", Rights.All).Value, () => new EchoService());
        var (client, _) = _pm.Spawn("client", tenant).Value;
        await WaitFor(() => s.State == ServiceState.Running);
        var conn = _ipc.Connect(client, "/svc/echo");
        var reply = await _ipc.CallAsync(client, conn.Value, "abc"u8.ToArray(), TimeSpan.FromSeconds(5));
        Assert.Equal("cba", Encoding.UTF8.GetString(reply.Value.Data));
        var (outsider, _) = _pm.Spawn("client", _ns.CreateChild(_ns.RootCapability, "tenant-b").Value).Value;
        Assert.Equal(ErrorCode.NotFound, _ipc.Connect(outsider, "/svc/echo").Code);
        await _supervisor.StopAsync(s);
        Assert.Equal(ServiceState.Stopped, s.State);
        Assert.Equal(ErrorCode.Revoked, _ns.Lookup(svc, "/echo").Code); // the registration died with the service's process
    }
}
