using Photon.Kernel.Capabilities;
using Photon.Kernel.Diagnostics.Tracing;

namespace Photon.Kernel.Tests.Diagnostics;

[Collection(KernelTraceCollection.Name)]
public sealed class TraceSessionTests
{
    private static byte[] Json(TraceCapture capture)
    {
        var ms = new MemoryStream();
        ChromeTraceWriter.Write(ms, capture);
        return ms.ToArray();
    }

    [Fact]
    public async Task A_traced_workload_yields_valid_Chrome_JSON_with_events_from_every_kernel_category_it_exercised()
    {
        using var guard = new TraceGuard();
        await using var w = await ObservedWorkload.BootAsync();
        var k = w.Kernel;
        Assert.False(KernelTrace.Enabled); // off by default: booting started nothing
        Assert.True(k.Sys.Trace.Start(k.Init, k.InitTrace).IsOk);
        var tag = await w.RunAsync("traced-worker");
        var capture = k.Sys.Trace.Stop(k.Init, k.InitTrace).Value;
        Assert.False(KernelTrace.Enabled);

        var events = ChromeTraceJson.Validate(Json(capture));
        string[] NamesIn(string cat) => events.Where(e => e.TryGetProperty("cat", out var c) && c.GetString() == cat)
            .Select(e => e.GetProperty("name").GetString()!).Distinct().ToArray();
        Assert.Superset(new HashSet<string> { "spawn", "run", "block", "wake", "finish" }, NamesIn("sched").ToHashSet());
        Assert.Superset(new HashSet<string> { "ipc.send", "ipc.receive" }, NamesIn("ipc").ToHashSet());
        Assert.Superset(new HashSet<string> { "block.read", "block.write", "block.flush" }, NamesIn("blockio").ToHashSet());
        Assert.Superset(new HashSet<string> { "cap.create", "cap.derive", "cap.revoke", "cap.deny" }, NamesIn("cap").ToHashSet());
        Assert.Superset(new HashSet<string> { "syscall.handle", "syscall.trace", "sys.ns.open", "sys.proc.spawn", "sys.proc.start_task",
            "sys.ipc.create_channel", "sys.ipc.send", "sys.ipc.try_send", "sys.ipc.receive", "sys.ipc.try_receive", "sys.handle.duplicate",
            "sys.proc.destroy" }, NamesIn("syscall").ToHashSet());
        // One complete span per system call, carrying the caller: the worker's sends and receives are its own.
        var worker = events.Where(e => e.GetProperty("name").GetString() == "sys.ipc.create_channel").Select(e => e.GetProperty("args").GetProperty("pid").GetInt64()).Single();
        Assert.NotEqual(k.Init.Pid, worker);
        Assert.All(events.Where(e => e.GetProperty("name").GetString()!.StartsWith("sys.ipc.", StringComparison.Ordinal)), e =>
        {
            Assert.Equal("X", e.GetProperty("ph").GetString());
            Assert.Equal(worker, e.GetProperty("args").GetProperty("pid").GetInt64());
            Assert.True(e.GetProperty("dur").GetDouble() >= 0);
        });
        Assert.Contains(events, e => e.GetProperty("name").GetString() == "sys.proc.destroy" && e.GetProperty("args").GetProperty("pid").GetInt64() == k.Init.Pid);
        // The workload's own task is named in its spawn and run events, and its block I/O has a latency.
        Assert.Contains(events, e => e.GetProperty("name").GetString() == "spawn"
            && e.GetProperty("args").GetProperty("task_name").GetString()!.EndsWith(tag, StringComparison.Ordinal));
        Assert.All(events.Where(e => e.GetProperty("name").GetString() == "block.write"),
            e => Assert.Equal(512, e.GetProperty("args").GetProperty("bytes").GetInt64()));
        Assert.Equal(0, capture.Dropped);
    }

    [Fact]
    public async Task With_tracing_off_nothing_is_recorded()
    {
        using var guard = new TraceGuard();
        await using var w = await ObservedWorkload.BootAsync();
        var k = w.Kernel;
        Assert.False(KernelTrace.Enabled);
        var tag = await w.RunAsync("untraced-worker");
        // A session started afterwards holds only what happened while it ran: its own start, and the stop call
        // (its handle check and its event).
        Assert.True(k.Sys.Trace.Start(k.Init, k.InitTrace).IsOk);
        var capture = k.Sys.Trace.Stop(k.Init, k.InitTrace).Value;
        var records = capture.Threads.SelectMany(t => t.Records).ToList();
        Assert.All(records, r => Assert.True(r.Point == TracePoint.SyscallTrace
            || (r.Point == TracePoint.SyscallHandle && r.A0 == k.Init.Pid && r.Label == nameof(TraceControl)), r.ToString()));
        Assert.Equal(3, records.Count);
        Assert.DoesNotContain(records, r => r.Label?.Contains(tag, StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task Rings_too_small_for_the_workload_keep_the_newest_records_and_count_the_rest_as_dropped()
    {
        using var guard = new TraceGuard();
        await using var w = await ObservedWorkload.BootAsync();
        var k = w.Kernel;
        Assert.True(k.Sys.Trace.Start(k.Init, k.InitTrace, recordsPerThread: KernelTrace.MinRecordsPerThread).IsOk);
        await w.RunAsync("flooding-worker");
        var capture = k.Sys.Trace.Stop(k.Init, k.InitTrace).Value;
        Assert.True(capture.Dropped > 0, "the workload writes more than 16 records on some thread");
        Assert.All(capture.Threads, t => Assert.True(t.Records.Count <= KernelTrace.MinRecordsPerThread));
        // Every thread's records are its newest: the stop syscall's event is the last on its thread.
        Assert.Contains(capture.Threads, t => t.Records.Count > 0 && t.Records[^1].Point == TracePoint.SyscallTrace);
        ChromeTraceJson.Validate(Json(capture)); // still balanced after losing span begins
    }

    [Fact]
    public async Task Starting_and_stopping_needs_the_trace_capability_and_bad_requests_get_typed_errors()
    {
        using var guard = new TraceGuard();
        await using var w = await ObservedWorkload.BootAsync();
        var k = w.Kernel;
        var sys = k.Sys;
        var tenant = sys.Namespaces.Open(k.Init, "/tenant-b", Rights.Read | Rights.Enumerate | Rights.Create | Rights.Delegate).Value;
        var (_, p) = sys.Processes.Spawn(k.Init, tenant, "curious").Value;
        // A tenant process cannot name /kernel/trace, and a handle it has is not a trace capability.
        Assert.Equal(ErrorCode.NotFound, sys.Namespaces.Open(p, "/kernel/trace", Rights.Manage).Code);
        Assert.Equal(ErrorCode.InvalidHandle, sys.Trace.Start(p, k.InitTrace).Code);
        // Read-only delegation does not let it start or stop.
        var readOnly = sys.Handles.Duplicate(k.Init, k.InitTrace, Rights.Read).Value;
        Assert.Equal(ErrorCode.AccessDenied, sys.Trace.Start(k.Init, readOnly).Code);
        Assert.False(sys.Trace.IsRecording(k.Init, readOnly).Value);

        Assert.Equal(ErrorCode.InvalidArgument, sys.Trace.Start(k.Init, k.InitTrace, 0).Code);
        Assert.Equal(ErrorCode.InvalidArgument, sys.Trace.Start(k.Init, k.InitTrace, int.MaxValue).Code);
        Assert.Equal(ErrorCode.NotFound, sys.Trace.Stop(k.Init, k.InitTrace).Code);
        Assert.True(sys.Trace.Start(k.Init, k.InitTrace).IsOk);
        try { Assert.Equal(ErrorCode.Busy, sys.Trace.Start(k.Init, k.InitTrace).Code); }
        finally { Assert.True(sys.Trace.Stop(k.Init, k.InitTrace).IsOk); }
        Assert.False(KernelTrace.Enabled);
    }
}
