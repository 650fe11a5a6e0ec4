using Photon.Kernel.Capabilities;
using Photon.Kernel.Diagnostics.Monitoring;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Tests.Diagnostics;

public sealed class MonitorSyscallTests
{
    [Fact]
    public async Task A_tenant_process_sees_only_its_tenants_processes_and_quota_and_no_kernel_wide_figures()
    {
        await using var w = await ObservedWorkload.BootAsync();
        var k = w.Kernel;
        var sys = k.Sys;
        var a = sys.Namespaces.Open(k.Init, "/tenant-a", Rights.Read | Rights.Enumerate | Rights.Create | Rights.Delegate).Value;
        var b = sys.Namespaces.Open(k.Init, "/tenant-b", Rights.Read | Rights.Enumerate | Rights.Create | Rights.Delegate).Value;
        var (_, inA) = sys.Processes.Spawn(k.Init, a, "svc-a").Value;
        var (_, inB) = sys.Processes.Spawn(k.Init, b, "svc-b").Value;

        var seenByA = sys.Monitor!.Snapshot(inA).Value;
        Assert.Equal("/tenant-a", seenByA.Scope);
        Assert.Contains(seenByA.Processes, p => p.Pid == inA.Pid);
        Assert.All(seenByA.Processes, p => Assert.Equal("/tenant-a", p.Tenant));
        Assert.Equal(["/tenant-a"], seenByA.Tenants.Select(t => t.Tenant));
        Assert.Null(seenByA.System);
        // The monitor handle is init's: in tenant-a's table that number names nothing (or not a monitor).
        Assert.False(sys.Monitor.Snapshot(inA, k.InitMonitor).IsOk);
        Assert.Equal(ErrorCode.NotFound, sys.Namespaces.Open(inA, "/kernel/monitor", Rights.Read).Code);

        var seenByInit = sys.Monitor.Snapshot(k.Init, k.InitMonitor).Value;
        Assert.Contains(seenByInit.Processes, p => p.Pid == inA.Pid);
        Assert.Contains(seenByInit.Processes, p => p.Pid == inB.Pid);
        Assert.Superset(new HashSet<string> { "/tenant-a", "/tenant-b" }, seenByInit.Tenants.Select(t => t.Tenant).ToHashSet());
        Assert.NotNull(seenByInit.System);
        Assert.Contains(seenByInit.System!.Queues, q => q.Name.StartsWith("blk0.q", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Cpu_time_tasks_memory_queue_and_ipc_figures_move_when_load_is_applied()
    {
        await using var w = await ObservedWorkload.BootAsync();
        var k = w.Kernel;
        var sys = k.Sys;
        var a = sys.Namespaces.Open(k.Init, "/tenant-a", Rights.Read | Rights.Enumerate | Rights.Create | Rights.Delegate).Value;
        var (_, p) = sys.Processes.Spawn(k.Init, a, "busy").Value;
        MonitorSnapshot Read() => sys.Monitor!.Snapshot(k.Init, k.InitMonitor).Value;
        ProcessStat Busy(MonitorSnapshot s) => s.Processes.Single(x => x.Pid == p.Pid);
        TenantStat TenantA(MonitorSnapshot s) => s.Tenants.Single(t => t.Tenant == "/tenant-a");

        var before = Read();
        Assert.Equal(TimeSpan.Zero, Busy(before).CpuTime);
        Assert.Equal(0, Busy(before).Tasks);

        // Load: a region charged to tenant-a, a task that spins on a CPU for a while, one parked on a gate.
        var region = sys.Memory.Allocate(p, 64 * 1024).Value;
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var parked = sys.Processes.StartTask(p, async _ => await gate.Task, "parked").Value;
        var spin = sys.Processes.StartTask(p, _ =>
        {
            var until = System.Diagnostics.Stopwatch.GetTimestamp() + System.Diagnostics.Stopwatch.Frequency / 50; // 20 ms of CPU
            while (System.Diagnostics.Stopwatch.GetTimestamp() < until) Thread.SpinWait(100);
            return Task.CompletedTask;
        }, "spin").Value;
        await spin;
        var during = Read();
        Assert.True(Busy(during).CpuTime >= TimeSpan.FromMilliseconds(10), $"cpu {Busy(during).CpuTime}");
        Assert.Equal(1, Busy(during).Tasks);
        Assert.True(TenantA(during).MemoryBytes >= TenantA(before).MemoryBytes + 64 * 1024);
        Assert.True(TenantA(during).Tasks >= TenantA(before).Tasks + 1);

        await w.RunAsync("io-worker");
        var after = Read();
        Assert.True(after.System!.IpcMessagesSent >= before.System!.IpcMessagesSent + 8);
        Assert.True(after.System.Queues.Sum(q => q.Completed) >= before.System.Queues.Sum(q => q.Completed) + 3);
        Assert.True(after.System.TasksSpawned > before.System.TasksSpawned);

        gate.SetResult();
        await parked;
        Assert.True(sys.Memory.Free(p, region).IsOk);
        Assert.True(TenantA(Read()).MemoryBytes < TenantA(during).MemoryBytes);
    }
}
