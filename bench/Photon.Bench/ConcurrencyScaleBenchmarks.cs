using System.Diagnostics;
using System.Threading.Channels;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Ipc;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Scheduling;
using Photon.Kernel.Syscalls;
using Photon.Memory.Native;
using Photon.Net;
using Photon.Net.Tcp;

namespace Photon.Bench;

/// <summary>
/// Concurrency scale curves (issues #11, #15): TCP with 1..1,000 connections between two Photon stacks on an in-memory
/// wire, and IPC with 1..10,000 channels between two processes of one kernel. The same total work is split evenly over
/// the connections/channels, all busy at once; baseline: the first (single) point, so 1.00x means "no collapse".
/// </summary>
public static class ConcurrencyScaleBenchmarks
{
    private const int TcpTotalBytes = 64 << 20;
    private const int IpcTotalMessages = 1_000_000;
    private const int Runs = 5;

    /// <summary>The TCP rows alone (<c>-- scaletcp</c>).</summary>
    public static IEnumerable<BenchResult> Tcp() => Tcp(null);

    /// <summary>The IPC rows alone (<c>-- scaleipc</c>).</summary>
    public static IEnumerable<BenchResult> Ipc() => Ipc(null);

    internal static IEnumerable<BenchResult> Tcp(ScaleCurve? curve)
    {
        Console.Error.WriteLine($"scale tcp: load average at start {LoadAverage()}");
        double first = 0, firstCpu = 0, firstHeap = 0;
        // PHOTON_BENCH_SCALETCP_POINTS=1: only the 1-connection point (its two modes, net12/tcp13), comma-separated counts.
        var points = Environment.GetEnvironmentVariable("PHOTON_BENCH_SCALETCP_POINTS") is { Length: > 0 } only
            ? only.Split(',').Select(int.Parse).Where(x => x is >= 1 and <= 1_000).ToArray() : [1, 100, 1_000];
        foreach (int n in points)
        {
            var p = TcpPoint(n).GetAwaiter().GetResult();
            if (first == 0) { first = p.MiBps; firstCpu = p.CpuMsPerMiB; }
            // One connection's few KiB are below what two full collections settle to (it read -1.8 KiB once): the
            // heap rows start at 100 connections, the first point that resolves them, which is their baseline.
            if (firstHeap == 0 && n >= 100) firstHeap = p.HeapPerConnection;
            curve?.Points.Add((n, p.MiBps, first));
            Console.Error.WriteLine($"scale tcp: {n} connections: runs {string.Join(", ", p.Runs.Select(r => r.ToString("F0")))} MiB/s, load {LoadAverage()}");
            yield return new BenchResult($"TCP {n:N0} concurrent connection(s), 64 MiB in all: aggregate throughput", p.MiBps, "1 connection", first, "MiB/s", LowerIsBetter: false);
            yield return new BenchResult($"TCP {n:N0} concurrent connection(s): process CPU per MiB", p.CpuMsPerMiB, "1 connection", firstCpu, "ms/MiB", LowerIsBetter: true);
            if (n >= 100)
                yield return new BenchResult($"TCP {n:N0} concurrent connection(s): heap per idle connection (both ends)", p.HeapPerConnection, "100 connections", firstHeap, "B/conn", LowerIsBetter: true);
        }
        Console.Error.WriteLine($"scale tcp: load average at end {LoadAverage()}");
    }

    private sealed record TcpResult(double MiBps, double CpuMsPerMiB, double HeapPerConnection, List<double> Runs);

    private static async Task<TcpResult> TcpPoint(int n)
    {
        var timers = new HostTimers(new HostClock());
        var (a, b) = SynFloodBenchmark.PairedDevice.Pair();
        var options = new NetworkStackOptions { TcpMsl = TimeSpan.FromMilliseconds(200), TcpMaxHalfOpen = 1024 };
        await using var left = new NetworkStack(timers, options);
        await using var right = new NetworkStack(timers, options);
        left.AddInterface(a, Ipv4Cidr.Parse("10.9.0.1/24").Value).Unwrap();
        right.AddInterface(b, Ipv4Cidr.Parse("10.9.0.2/24").Value).Unwrap();
        left.Start();
        right.Start();
        await using var listener = right.Tcp.Listen(8080, backlog: 4096).Value;
        var remote = new IpEndpoint(Ipv4Address.Parse("10.9.0.2").Value, 8080);
        // Warm the path (ARP, JIT) so the first point does not pay for it in its heap figure.
        {
            var accept = listener.AcceptAsync();
            var c = (await left.Tcp.ConnectAsync(remote)).Value;
            var s = (await accept).Value;
            // Tiered JIT: without a warm transfer the first point ran partly unoptimized code.
            var chunk = new byte[64 * 1024];
            var reader = Task.Run(async () => { var buf = new byte[16 * 1024]; for (int got = 0; got < 16 << 20;) got += (await s.ReceiveAsync(buf)).Value; });
            for (int off = 0; off < 16 << 20; off += chunk.Length) (await c.SendAsync(chunk)).Unwrap();
            await reader;
            await c.AbortAsync();
            await s.AbortAsync();
        }
        long before = Settle();
        var clients = new TcpConnection[n];
        var servers = new TcpConnection[n];
        // Waves of 128 so the listener's half-open cache is never the limit being measured.
        for (int start = 0; start < n; start += 128)
        {
            int count = Math.Min(128, n - start);
            var accepts = Task.Run(async () => { for (int i = 0; i < count; i++) servers[start + i] = (await listener.AcceptAsync()).Value; });
            var connects = Enumerable.Range(start, count).Select(async i => clients[i] = (await left.Tcp.ConnectAsync(remote)).Value).ToArray();
            await Task.WhenAll(connects);
            await accepts;
        }
        double heap = (Settle() - before) / (double)n;

        int perConnection = TcpTotalBytes / n;
        var data = new byte[64 * 1024];
        var runs = new List<double>();
        var cpus = new List<double>();
        for (int run = 0; run < Runs; run++)
        {
            GC.Collect();
            var cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            var work = new List<Task>(2 * n);
            for (int i = 0; i < n; i++)
            {
                var client = clients[i];
                var server = servers[i];
                work.Add(Task.Run(async () =>
                {
                    for (int off = 0; off < perConnection; off += data.Length)
                        (await client.SendAsync(data.AsMemory(0, Math.Min(data.Length, perConnection - off)))).Unwrap();
                }));
                work.Add(Task.Run(async () =>
                {
                    var buffer = new byte[16 * 1024];
                    for (int got = 0; got < perConnection;)
                    {
                        int r = (await server.ReceiveAsync(buffer)).Value;
                        if (r == 0) throw new InvalidOperationException("connection closed early");
                        got += r;
                    }
                }));
            }
            await Task.WhenAll(work);
            double seconds = sw.Elapsed.TotalSeconds;
            double mib = (double)perConnection * n / (1 << 20);
            runs.Add(mib / seconds);
            cpus.Add((System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds / mib);
            if (n == 1) // what tells the 1-connection point's two modes apart: the buffers autotuning grew, the window, the RTT
                Console.Error.WriteLine($"scale tcp: 1 connection, run {run}: {mib / seconds:F0} MiB/s; send/receive buffers {clients[0].BufferCapacities.Send}/" +
                    $"{servers[0].BufferCapacities.Receive} B; cwnd {clients[0].Info.CongestionWindow} B; srtt {clients[0].Info.SmoothedRtt.TotalMicroseconds:F0} µs / " +
                    $"{servers[0].Info.SmoothedRtt.TotalMicroseconds:F0} µs; receiver's own RTT {servers[0].ReceiveRtt.Rtt.TotalMicroseconds:F0} µs " +
                    $"({servers[0].ReceiveRtt.Samples} samples); retransmits {clients[0].Retransmits}");
        }
        // The counters that tell a point's regime (retransmits, window stalls) when its runs disagree.
        Console.Error.WriteLine($"scale tcp: {n} connections, sender counters: {string.Join(", ", left.Statistics.Where(kv => kv.Key.StartsWith("Tcp") && kv.Value != 0).Select(kv => $"{kv.Key}={kv.Value}"))}");
        foreach (var c in clients) await c.AbortAsync();
        foreach (var s in servers) await s.AbortAsync();
        if (left.Dropped(DropReason.InternalError) + right.Dropped(DropReason.InternalError) != 0)
            throw new InvalidOperationException($"stack internal error: {left.LastInternalError ?? right.LastInternalError}");
        return new TcpResult(Median(runs), Median(cpus), heap, runs);
    }

    internal static IEnumerable<BenchResult> Ipc(ScaleCurve? curve)
    {
        Console.Error.WriteLine($"scale ipc: load average at start {LoadAverage()}");
        var s = LinuxPlatform.CreateScheduler();
        try
        {
            double first = 0, firstHeap = 0, firstCpu = 0;
            foreach (int n in new[] { 1, 10, 100, 1_000, 10_000 })
            {
                var p = IpcPoint(s, n);
                double channels = ChannelsPoint(n);
                if (first == 0) { first = p.MsgPerSecond; firstCpu = p.CpuNsPerMessage; }
                // As for TCP: below 100 channels the heap per channel is within the GC's settling noise (10 read 536 B
                // and 1,392 B in two runs), so the heap rows start at 100 channels, their baseline.
                if (firstHeap == 0 && n >= 100) firstHeap = p.HeapPerChannel;
                curve?.Points.Add((n, p.MsgPerSecond / 1e6, channels / 1e6));
                Console.Error.WriteLine($"scale ipc: {n} channels: {p.MsgPerSecond / 1e6:F2} M msg/s, Channel<byte[]> pairs {channels / 1e6:F2}, load {LoadAverage()}");
                yield return new BenchResult($"IPC {n:N0} busy channel(s), 64 B messages: aggregate rate", p.MsgPerSecond / 1e6, "1 channel", first / 1e6, "M msg/s", LowerIsBetter: false);
                yield return new BenchResult($"IPC {n:N0} busy channel(s): same work over bounded Channel<byte[]> pairs", p.MsgPerSecond / 1e6, $"{n:N0} Channel<byte[]>", channels / 1e6, "M msg/s", LowerIsBetter: false);
                yield return new BenchResult($"IPC {n:N0} busy channel(s): process CPU per message", p.CpuNsPerMessage, "1 channel", firstCpu, "ns/msg", LowerIsBetter: true);
                if (n >= 100)
                    yield return new BenchResult($"IPC {n:N0} channel(s): heap per idle channel (both ends, handles)", p.HeapPerChannel, "100 channels", firstHeap, "B/chan", LowerIsBetter: true);
            }
        }
        finally { s.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
        Console.Error.WriteLine($"scale ipc: load average at end {LoadAverage()}");
    }

    private sealed record IpcResult(double MsgPerSecond, double CpuNsPerMessage, double HeapPerChannel);

    private static IpcResult IpcPoint(KernelScheduler s, int n)
    {
        using var two = new TwoProcessIpc(s);
        var (ipc, a, b) = (two.Ipc, two.A, two.B);
        // Warm the calls once so the heap figure holds channels, not JIT or first-use state.
        {
            var (wa, wb) = two.Channel();
            CostBenchmarks.WarmUp(() => UserspaceBenchmarks.PhotonStreamInto(s, ipc, a, wa, b, wb, new byte[64], 50_000));
        }
        long before = Settle();
        var ends = new (Handle A, Handle B)[n];
        for (int i = 0; i < n; i++)
        {
            ends[i] = two.Channel();
        }
        double heap = (Settle() - before) / (double)n;

        int perChannel = IpcTotalMessages / n;
        var payload = new byte[64];
        var rates = new List<double>();
        var cpus = new List<double>();
        for (int run = 0; run < Runs; run++)
        {
            GC.Collect();
            var cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            var work = new List<Task>(2 * n);
            foreach (var (ha, hb) in ends)
            {
                work.Add(s.Spawn(async () =>
                {
                    var buffer = new byte[128];
                    for (int i = 0; i < perChannel; i++) (await ipc.ReceiveIntoAsync(b, hb, buffer)).Unwrap();
                }, "reader").Completion);
                work.Add(s.Spawn(async () => { for (int i = 0; i < perChannel; i++) (await ipc.SendAsync(a, ha, payload)).Unwrap(); }, "writer").Completion);
            }
            Task.WhenAll(work).GetAwaiter().GetResult();
            double seconds = sw.Elapsed.TotalSeconds;
            rates.Add((double)perChannel * n / seconds);
            cpus.Add((System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalNanoseconds / ((double)perChannel * n));
        }
        return new IpcResult(Median(rates), Median(cpus), heap);
    }

    /// <summary>The dashed line: the same messages over <paramref name="n"/> bounded <c>Channel&lt;byte[]&gt;</c>s (depth
    /// 64, as the kernel channels), a pool task writing (a copy per message, as a send copies) and one reading each.</summary>
    private static double ChannelsPoint(int n)
    {
        int perChannel = IpcTotalMessages / n;
        var payload = new byte[64];
        var rates = new List<double>();
        CostBenchmarks.WarmUp(() => UserspaceBenchmarks.ChannelStream(payload, 50_000));
        for (int run = 0; run < Runs; run++)
        {
            var channels = Enumerable.Range(0, n).Select(_ => Channel.CreateBounded<byte[]>(IpcManager.DefaultDepth)).ToArray();
            GC.Collect();
            var sw = Stopwatch.StartNew();
            var work = new List<Task>(2 * n);
            foreach (var ch in channels)
            {
                work.Add(Task.Run(async () => { for (int i = 0; i < perChannel; i++) await ch.Reader.ReadAsync(); }));
                work.Add(Task.Run(async () => { for (int i = 0; i < perChannel; i++) await ch.Writer.WriteAsync(payload.ToArray()); }));
            }
            Task.WhenAll(work).GetAwaiter().GetResult();
            rates.Add((double)perChannel * n / sw.Elapsed.TotalSeconds);
        }
        return Median(rates);
    }

    private static long Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private static string LoadAverage()
    {
        try { return File.ReadAllText("/proc/loadavg").Trim(); }
        catch (IOException) { return "unknown"; }
    }

    private static double Median(List<double> xs)
    {
        xs.Sort();
        return xs[xs.Count / 2];
    }
}
