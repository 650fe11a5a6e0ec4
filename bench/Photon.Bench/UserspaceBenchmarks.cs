using Stopwatch = System.Diagnostics.Stopwatch;
using System.Threading.Channels;
using Photon.Kernel.Audit;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Ipc;
using Photon.Kernel.Syscalls;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Scheduling;
using Photon.Sandbox;

namespace Photon.Bench;

/// <summary>IPC, Wasm host calls and audit appends, each against a baseline measured in the same run.</summary>
public static class UserspaceBenchmarks
{
    public static IEnumerable<BenchResult> Run()
    {
        using var phys = new PhysicalMemory(16 * 1024 * 1024);
        var caps = new CapabilityManager();
        var ns = new NamespaceManager(caps);
        var pm = new ProcessManager(caps, ns, new MemoryManager(phys, caps));
        // The two processes' code runs as kernel tasks on two kernel CPUs, as a process's code does in the kernel.
        var scheduler = new KernelScheduler(new HostProcessors(2), new HostClock(),
            new SchedulerOptions(Workers: 2, StarvationThreshold: TimeSpan.FromSeconds(30), Name: "bench-cpu"));
        var ipcManager = new IpcManager(caps, ns, scheduler);
        var ipc = new ChannelSyscalls(ipcManager);
        var (a, _) = pm.Spawn("a", ns.RootCapability).Value;
        var (b, _) = pm.Spawn("b", ns.RootCapability).Value;
        var (ha, hbInA) = ipc.CreateChannel(a, depth: 256).Value;
        var hb = b.AddHandle(a.Handles.Remove(hbInA).Value).Value;

        try
        {
            yield return IpcRoundTrip(scheduler, ipc, a, ha, b, hb);
            yield return IpcRoundTripAllocations(scheduler, ipc, a, ha, b, hb);
            yield return IpcThroughput(scheduler, ipc, a, ha, b, hb);
            yield return IpcBatchedThroughput(scheduler, ipc, a, ha, b, hb);
            yield return WasmHostCall(caps, ns, pm, phys, ipcManager);
            yield return AuditAppend();
        }
        finally { scheduler.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
    }

    private static BenchResult IpcRoundTrip(KernelScheduler s, ChannelSyscalls ipc, Process a, Handle ha, Process b, Handle hb)
    {
        const int N = 100_000;
        var payload = new byte[16];
        var photon = Measure.Median(() => PhotonPingPong(s, ipc, a, ha, b, hb, payload, N), runs: 3);
        var baseline = Measure.Median(() => ChannelPingPong(payload, N), runs: 3);
        return new BenchResult("IPC round trip (16 B, two processes)", photon.TotalNanoseconds / N, "Channel<byte[]> ping-pong", baseline.TotalNanoseconds / N, "ns", LowerIsBetter: true);
    }

    /// <summary>Heap bytes allocated per 16 B round trip (all threads), Photon vs the Channel&lt;byte[]&gt; ping-pong:
    /// a figure that load on the machine does not move.</summary>
    private static BenchResult IpcRoundTripAllocations(KernelScheduler s, ChannelSyscalls ipc, Process a, Handle ha, Process b, Handle hb)
    {
        const int N = 100_000;
        var payload = new byte[16];
        double photon = AllocatedPerOp(() => PhotonPingPong(s, ipc, a, ha, b, hb, payload, N), N);
        double baseline = AllocatedPerOp(() => ChannelPingPong(payload, N), N);
        return new BenchResult("IPC round trip heap allocation (16 B)", photon, "Channel<byte[]> ping-pong", baseline, "B/round trip", LowerIsBetter: true);

        static double AllocatedPerOp(Func<Task> body, int ops)
        {
            body().GetAwaiter().GetResult(); // warm-up: JIT and tiering allocate too
            long before = GC.GetTotalAllocatedBytes(precise: true);
            body().GetAwaiter().GetResult();
            return (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)ops;
        }
    }

    /// <summary>n round trips of <paramref name="payload"/> between two processes over a channel (b echoes), each
    /// process's loop a kernel task.</summary>
    internal static Task PhotonPingPong(KernelScheduler s, ChannelSyscalls ipc, Process a, Handle ha, Process b, Handle hb, byte[] payload, int n)
    {
        var echo = s.Spawn(async () =>
        {
            for (int i = 0; i < n; i++)
            {
                var m = (await ipc.ReceiveAsync(b, hb)).Value;
                await ipc.SendAsync(b, hb, m.Data);
                m.Dispose(); // back to the endpoint for the next receive (no array or message per round trip)
            }
        }, "echo").Completion;
        var client = s.Spawn(async () =>
        {
            for (int i = 0; i < n; i++)
            {
                await ipc.SendAsync(a, ha, payload);
                (await ipc.ReceiveAsync(a, ha)).Value.Dispose();
            }
        }, "client").Completion;
        return Task.WhenAll(echo, client);
    }

    /// <summary>As <see cref="PhotonPingPong"/>, each process receiving into its own buffer (no array per message).</summary>
    internal static Task PhotonPingPongInto(KernelScheduler s, ChannelSyscalls ipc, Process a, Handle ha, Process b, Handle hb, byte[] payload, int n)
    {
        var echo = s.Spawn(async () =>
        {
            var buffer = new byte[IpcManager.MaxMessageBytes];
            for (int i = 0; i < n; i++)
            {
                var m = await ipc.ReceiveIntoAsync(b, hb, buffer);
                await ipc.SendAsync(b, hb, buffer.AsMemory(0, m.Value.Length));
            }
        }, "echo").Completion;
        var client = s.Spawn(async () =>
        {
            var buffer = new byte[IpcManager.MaxMessageBytes];
            for (int i = 0; i < n; i++)
            {
                await ipc.SendAsync(a, ha, payload);
                await ipc.ReceiveIntoAsync(a, ha, buffer);
            }
        }, "client").Completion;
        return Task.WhenAll(echo, client);
    }

    /// <summary>n messages streamed from a to b, both loops kernel tasks, b receiving into its own buffer.</summary>
    internal static Task PhotonStreamInto(KernelScheduler s, ChannelSyscalls ipc, Process a, Handle ha, Process b, Handle hb, byte[] payload, int n)
    {
        var reader = s.Spawn(async () =>
        {
            var buffer = new byte[IpcManager.MaxMessageBytes];
            for (int i = 0; i < n; i++) await ipc.ReceiveIntoAsync(b, hb, buffer);
        }, "reader").Completion;
        var writer = s.Spawn(async () => { for (int i = 0; i < n; i++) await ipc.SendAsync(a, ha, payload); }, "writer").Completion;
        return Task.WhenAll(reader, writer);
    }

    /// <summary>n messages of <paramref name="size"/> bytes streamed from a to b in packed batches of
    /// <paramref name="batch"/> (<c>SendPackedAsync</c>), b taking up to 256 at a time into its own buffer
    /// (<c>ReceiveBatchIntoAsync</c>), both loops kernel tasks. n is a multiple of the batch.</summary>
    internal static Task PhotonPackedStream(KernelScheduler s, ChannelSyscalls ipc, Process a, Handle ha, Process b, Handle hb, int size, int n,
        int batch = 64)
    {
        int Batch = batch;
        var reader = s.Spawn(async () =>
        {
            var buffer = new byte[256 * size];
            var lengths = new int[256];
            for (int got = 0; got < n;) got += (await ipc.ReceiveBatchIntoAsync(b, hb, buffer, lengths)).Value;
        }, "reader").Completion;
        var writer = s.Spawn(async () =>
        {
            var packed = new byte[Batch * size];
            var lengths = Enumerable.Repeat(size, Batch).ToArray();
            for (int i = 0; i < n; i += Batch) _ = (await ipc.SendPackedAsync(a, ha, packed, lengths)).Value;
        }, "writer").Completion;
        return Task.WhenAll(reader, writer);
    }

    /// <summary>The throughput baseline: n messages through a bounded <c>Channel&lt;byte[]&gt;</c>, a copy per message.</summary>
    internal static async Task ChannelStream(byte[] payload, int n)
    {
        var ch = Channel.CreateBounded<byte[]>(256);
        var reader = Task.Run(async () => { for (int i = 0; i < n; i++) await ch.Reader.ReadAsync(); });
        for (int i = 0; i < n; i++) await ch.Writer.WriteAsync(payload.ToArray());
        await reader;
    }

    /// <summary>The baseline: the same ping-pong over two bounded <c>Channel&lt;byte[]&gt;</c>s, a copy per message.</summary>
    internal static async Task ChannelPingPong(byte[] payload, int n)
    {
        var ping = Channel.CreateBounded<byte[]>(256);
        var pong = Channel.CreateBounded<byte[]>(256);
        var echo = Task.Run(async () =>
        {
            for (int i = 0; i < n; i++) await pong.Writer.WriteAsync(await ping.Reader.ReadAsync());
        });
        for (int i = 0; i < n; i++)
        {
            await ping.Writer.WriteAsync(payload.ToArray());
            await pong.Reader.ReadAsync();
        }
        await echo;
    }

    private static BenchResult IpcThroughput(KernelScheduler s, ChannelSyscalls ipc, Process a, Handle ha, Process b, Handle hb)
    {
        const int N = 500_000;
        var payload = new byte[64];
        var photon = Measure.Median(() =>
        {
            var reader = s.Spawn(async () => { for (int i = 0; i < N; i++) (await ipc.ReceiveAsync(b, hb)).Value.Dispose(); }, "reader").Completion;
            var writer = s.Spawn(async () => { for (int i = 0; i < N; i++) await ipc.SendAsync(a, ha, payload); }, "writer").Completion;
            return Task.WhenAll(reader, writer);
        }, runs: 3);
        var baseline = Measure.Median(async () =>
        {
            var ch = Channel.CreateBounded<byte[]>(256);
            var reader = Task.Run(async () => { for (int i = 0; i < N; i++) await ch.Reader.ReadAsync(); });
            for (int i = 0; i < N; i++) await ch.Writer.WriteAsync(payload.ToArray());
            await reader;
        }, runs: 3);
        return new BenchResult("IPC throughput (64 B messages)", N / photon.TotalSeconds / 1e6, "Channel<byte[]> (bounded 256)", N / baseline.TotalSeconds / 1e6, "M msg/s", LowerIsBetter: false);
    }

    /// <summary>64 B messages sent with the packed batched system calls (64 per send, up to 256 per receive into the
    /// reader's buffer, both loops kernel tasks) vs the same bounded Channel&lt;byte[]&gt; baseline as the unbatched row,
    /// which writes and reads one message per call as a user of Channel does.</summary>
    private static BenchResult IpcBatchedThroughput(KernelScheduler s, ChannelSyscalls ipc, Process a, Handle ha, Process b, Handle hb)
    {
        const int N = 512_000; // whole batches of 64 only
        var payload = new byte[64];
        var photon = Measure.Median(() => PhotonPackedStream(s, ipc, a, ha, b, hb, payload.Length, N), runs: 3);
        var baseline = Measure.Median(() => ChannelStream(payload, N), runs: 3);
        return new BenchResult("IPC throughput 64 B batched (packed, 64 per send)", N / photon.TotalSeconds / 1e6,
            "Channel<byte[]> (bounded 256), one message per call", N / baseline.TotalSeconds / 1e6, "M msg/s", LowerIsBetter: false);
    }

    private static BenchResult WasmHostCall(CapabilityManager caps, NamespaceManager ns, ProcessManager pm, PhysicalMemory phys, IpcManager ipc)
    {
        const int Calls = 1_000_000;
        var wat = $$"""
            (module
              (import "photon" "clock_now" (func $now (result i64)))
              (memory (export "memory") 1)
              (func (export "run") (result i32)
                (local $i i32)
                (loop $l
                  (drop (call $now))
                  (local.set $i (i32.add (local.get $i) (i32.const 1)))
                  (br_if $l (i32.lt_u (local.get $i) (i32.const {{Calls}}))))
                (local.get $i)))
            """;
        var clock = new HostClock();
        using var sandbox = new WasmSandbox(caps, ns, pm, new MemoryManager(phys, caps), ipc, () => clock.Monotonic);
        var tenant = ns.CreateChild(ns.RootCapability, "bench").Value;
        var g = sandbox.Instantiate(tenant, "calls", wat, [], new SandboxLimits(FuelPerCall: 1_000_000_000)).Value;
        var photon = Measure.Median(() => g.Call("run").Unwrap(), runs: 3);
        Func<TimeSpan> direct = () => clock.Monotonic;
        var baseline = Measure.Median(() =>
        {
            long sink = 0;
            for (int i = 0; i < Calls; i++) sink += (long)direct().TotalNanoseconds;
            GC.KeepAlive(sink);
        }, runs: 3);
        return new BenchResult("Wasm guest → host call (clock_now)", photon.TotalNanoseconds / Calls, "direct .NET delegate call", baseline.TotalNanoseconds / Calls, "ns/call", LowerIsBetter: true);
    }

    private static BenchResult AuditAppend()
    {
        var dir = Directory.CreateTempSubdirectory("photon-audit-bench-").FullName;
        try
        {
            var timers = new HostTimers(new HostClock());
            var e = new CapabilityAuditEvent(AuditAction.Derive, DateTimeOffset.UtcNow, "bench[1]", "/tenant-a", new CapabilityToken(12345, 1),
                new CapabilityToken(678, 1), ObjectKind.MemoryRegion, "region", Rights.Read, Photon.Kernel.ErrorCode.None, "bench");
            const int Batched = 200_000, Single = 500;
            double batched = Rate(Path.Combine(dir, "batched.log"), Batched, new AuditLogOptions(), perRecordFlush: false);
            double single = Rate(Path.Combine(dir, "single.log"), Single, new AuditLogOptions(), perRecordFlush: true);
            return new BenchResult("audit append (group commit, fsync per batch)", batched, "fsync after every record", single, "records/s", LowerIsBetter: false);

            double Rate(string path, int n, AuditLogOptions options, bool perRecordFlush)
            {
                var log = HashChainedAuditLog.OpenAsync(HostAppendLog.Open(path).Value, timers, options).GetAwaiter().GetResult().Value;
                var sw = Stopwatch.StartNew();
                for (int i = 0; i < n; i++)
                {
                    log.Record(e);
                    if (perRecordFlush) log.FlushAsync().GetAwaiter().GetResult().Unwrap();
                }
                log.FlushAsync().GetAwaiter().GetResult().Unwrap();
                var rate = n / sw.Elapsed.TotalSeconds;
                log.DisposeAsync().AsTask().GetAwaiter().GetResult();
                return rate;
            }
        }
        finally { Directory.Delete(dir, true); }
    }
}
