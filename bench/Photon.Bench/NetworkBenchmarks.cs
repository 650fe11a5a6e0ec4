using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Net;
using Photon.Kernel.Hal;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Hal.Host.Net;
using Photon.Net;

namespace Photon.Bench;

/// <summary>
/// TCP throughput and request latency, Photon↔Linux against Linux↔Linux over the same veth pair in one run.
/// The pair is pbA (this namespace) ↔ pbB (a namespace of its own, Linux at 10.98.0.1). Baseline: pbA carries
/// 10.98.0.3 and .NET sockets use Linux's stack. Photon: pbA's address is removed and Photon's stack (10.98.0.2) owns
/// the interface through an AF_PACKET socket. The Linux-side programs are the same in both runs: `nc -l` sinks the
/// bulk transfer; a small Python client times 64-byte request/response round trips against an echo server.
/// Measured twice: with Linux's default offloads on both veth ends and Photon's AF_PACKET device using the same through
/// its virtio_net_hdr (the main rows), then with checksum offload off on both ends, where both stacks checksum in software.
/// Needs root (veth, namespaces, AF_PACKET), ethtool and python3; prints why and measures nothing otherwise.
/// </summary>
public static class NetworkBenchmarks
{
    /// <summary>PHOTON_BENCH_NET_TAG: a suffix for the namespace and veth names, so two engineers' runs do not collide.</summary>
    private static readonly string Tag = Environment.GetEnvironmentVariable("PHOTON_BENCH_NET_TAG") is { Length: > 0 and <= 8 } t ? t : "";
    private static readonly string Ns = "photon-bench" + Tag;
    private static readonly string VethA = "pbA" + Tag, VethB = "pbB" + Tag;
    /// <summary>PHOTON_BENCH_NET_INLINE=0: Photon's echo socket resumed through the thread pool as before (for before/after
    /// in one build); otherwise its receives resume on the stack's receive thread (<c>ResumeReceivesInline</c>).</summary>
    private static readonly bool ResumeInline = Environment.GetEnvironmentVariable("PHOTON_BENCH_NET_INLINE") != "0";
    /// <summary>PHOTON_BENCH_NET_BUSY_POLL=µs: the AF_PACKET device's receive threads busy-poll this long after each
    /// burst before sleeping in poll(2) (<see cref="HostNetworkDevice.BusyPollMicroseconds"/>; off by default).</summary>
    private static readonly int BusyPoll = int.TryParse(Environment.GetEnvironmentVariable("PHOTON_BENCH_NET_BUSY_POLL"), out var bp) && bp is > 0 and <= HostNetworkDevice.MaxBusyPollMicroseconds ? bp : 0;
    /// <summary>PHOTON_BENCH_NET_NIC_INLINE=0: the NIC driver's completions hop through the thread pool as before
    /// (<see cref="NicOptions.InlineCompletions"/> off), for before/after in one build.</summary>
    private static readonly bool NicInline = Environment.GetEnvironmentVariable("PHOTON_BENCH_NET_NIC_INLINE") != "0";
    private const int BulkBytes = 256 << 20;
    /// <summary>PHOTON_BENCH_NET_ROUND_TRIPS: round trips per client run (5,000; more for a profile of the steady state).</summary>
    private static readonly int RoundTrips = int.TryParse(Environment.GetEnvironmentVariable("PHOTON_BENCH_NET_ROUND_TRIPS"), out var rt) && rt is >= 1000 and <= 10_000_000 ? rt : 5000;

    private const string EchoClient = """
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
msg = b'x' * 64
n = int(sys.argv[3])
for i in range(200):
    s.sendall(msg); got = 0
    while got < 64: got += len(s.recv(64 - got))
t = time.perf_counter()
for i in range(n):
    s.sendall(msg); got = 0
    while got < 64: got += len(s.recv(64 - got))
print((time.perf_counter() - t) / n * 1e6)
""";

    public static IEnumerable<BenchResult> Run()
    {
        if (BenchHost.Sh($"ip link add {VethA} type veth peer name {VethB}").Code != 0)
        {
            Console.Error.WriteLine("network: SKIPPED (needs root to create a veth pair and a namespace)");
            return [];
        }
        try
        {
            BenchHost.Check(BenchHost.Sh($"ip netns add {Ns} && ip link set {VethB} netns {Ns} && ip -n {Ns} addr add 10.98.0.1/24 dev {VethB} && " +
                     $"ip -n {Ns} link set {VethB} up && ip -n {Ns} link set lo up && ip link set {VethA} up && " +
                     $"ip netns exec {Ns} sysctl -qw net.ipv4.tcp_sack=0"));
            File.WriteAllText($"/tmp/photon-bench-echo{Tag}.py", EchoClient);
            Console.Error.WriteLine($"network: load average at start {File.ReadAllText("/proc/loadavg").Trim()}");

            // Offloads on: Linux's defaults on both veth ends (checksum offload, TSO), and Photon with the same through
            // AF_PACKET's virtio_net_hdr (64 KiB TSO segments with partial checksums; Linux's large segments taken whole).
            // PHOTON_BENCH_NET_PROFILE=direct|driver: only that Photon run with offloads (for perf/strace around it).
            // PHOTON_BENCH_NET_RTT_ONLY=1: only the 64-byte round trips, Linux's and Photon's direct (no bulk), with
            // process CPU per round trip beside the wall clock.
            // PHOTON_BENCH_NET_RTT_ONLY=photon: Photon's round trips alone (strace/perf of Photon's side only).
            // PHOTON_BENCH_NET_RTT_ONLY=driver: Photon's round trips through NicDriver alone.
            // PHOTON_BENCH_NET_RTT_ONLY=both: Linux's, Photon's direct and through NicDriver (no bulk).
            if (Environment.GetEnvironmentVariable("PHOTON_BENCH_NET_RTT_ONLY") is ("1" or "photon" or "driver" or "both") and var rttOnly)
            {
                double linux = double.NaN;
                if (rttOnly is "1" or "both")
                {
                    BenchHost.Check(BenchHost.Sh($"ip addr add 10.98.0.3/24 dev {VethA}"));
                    linux = LatencyLinux();
                    BenchHost.Check(BenchHost.Sh($"ip addr flush dev {VethA}"));
                }
                List<BenchResult> rows = [];
                if (rttOnly != "driver")
                    rows.Add(new BenchResult($"TCP 64 B request/response round trip, offloads on, inline {(ResumeInline ? "on" : "off")}", PhotonRtt(viaDriver: false).GetAwaiter().GetResult(), "Linux stack, its default offloads", linux, "µs", true));
                if (rttOnly is "driver" or "both")
                    rows.Add(new BenchResult("  round trip through NicDriver, offloads on", PhotonRtt(viaDriver: true).GetAwaiter().GetResult(), "Linux stack, its default offloads", linux, "µs", true));
                Console.Error.WriteLine($"network: load average at end {File.ReadAllText("/proc/loadavg").Trim()}");
                return rows;
            }
            if (Environment.GetEnvironmentVariable("PHOTON_BENCH_NET_PROFILE") is { Length: > 0 } only)
            {
                var (bulk, rtt) = PhotonRun(viaDriver: only == "driver", offloads: true).GetAwaiter().GetResult();
                return [new BenchResult($"TCP bulk send 256 MiB, offloads on, {only} (profiled alone)", bulk, "none", bulk, "MiB/s", false)];
            }
            var (linuxBulkOn, linuxRttOn) = LinuxRun();
            var (photonBulkOn, photonRttOn) = PhotonRun(viaDriver: false, offloads: true).GetAwaiter().GetResult();
            // As the kernel's network component runs it: the stack on NicDriver's queue pairs over the device.
            var (driverBulkOn, driverRttOn) = PhotonRun(viaDriver: true, offloads: true).GetAwaiter().GetResult();

            BenchResult[] offloadsOn =
            [
                new BenchResult("TCP bulk send 256 MiB to Linux nc, offloads on (TSO/CSUM)", photonBulkOn, "Linux stack, its default offloads", linuxBulkOn, "MiB/s", false),
                new BenchResult("TCP 64 B request/response round trip, offloads on", photonRttOn, "Linux stack, its default offloads", linuxRttOn, "µs", true),
                new BenchResult("  same bulk send through NicDriver's queue pairs, offloads on", driverBulkOn, "Linux stack, its default offloads", linuxBulkOn, "MiB/s", false),
                new BenchResult("  round trip through NicDriver, offloads on", driverRttOn, "Linux stack, its default offloads", linuxRttOn, "µs", true),
            ];
            if (Environment.GetEnvironmentVariable("PHOTON_BENCH_NET_OFFLOADS_ONLY") == "1")
            {
                Console.Error.WriteLine($"network: load average at end {File.ReadAllText("/proc/loadavg").Trim()}");
                return offloadsOn;
            }
            // Offloads off: veth leaves TCP checksums to "hardware" (CHECKSUM_PARTIAL), so a frame read off pbA by
            // AF_PACKET without the header would carry no valid checksum. Both stacks checksum in software here.
            BenchHost.Check(BenchHost.Sh($"ip netns exec {Ns} ethtool -K {VethB} tx off >/dev/null && ethtool -K {VethA} tx off >/dev/null"));
            var (linuxBulk, linuxRtt) = LinuxRun();
            var (photonBulk, photonRtt) = PhotonRun(viaDriver: false, offloads: false).GetAwaiter().GetResult();
            var (driverBulk, driverRtt) = PhotonRun(viaDriver: true, offloads: false).GetAwaiter().GetResult();
            Console.Error.WriteLine($"network: load average at end {File.ReadAllText("/proc/loadavg").Trim()}");
            return
            [
                .. offloadsOn,
                new BenchResult("TCP bulk send 256 MiB, offloads off both ends", photonBulk, "Linux stack, offloads off", linuxBulk, "MiB/s", false),
                new BenchResult("  same, through NicDriver's queue pairs", driverBulk, "Linux stack, offloads off", linuxBulk, "MiB/s", false),
                new BenchResult("  round trip through NicDriver, offloads off", driverRtt, "Linux stack, offloads off", linuxRtt, "µs", true),
                new BenchResult("TCP 64 B request/response round trip, offloads off", photonRtt, "Linux stack, offloads off", linuxRtt, "µs", true),
            ];
        }
        finally
        {
            BenchHost.Sh($"ip netns del {Ns}");
            BenchHost.Sh($"ip link del {VethA}");
        }
    }

    /// <summary>Linux's stack on pbA (10.98.0.3) against the same peer programs, then the address removed again.</summary>
    private static (double Bulk, double Rtt) LinuxRun()
    {
        BenchHost.Check(BenchHost.Sh($"ip addr add 10.98.0.3/24 dev {VethA}"));
        var bulk = BulkLinux();
        var rtt = LatencyLinux();
        BenchHost.Check(BenchHost.Sh($"ip addr flush dev {VethA}"));
        return (bulk, rtt);
    }

    private const int BulkRuns = 5;

    /// <summary>PHOTON_BENCH_NET_REPEAT: each bulk transfer sends the 256 MiB payload this many times (longer runs to profile).</summary>
    private static readonly int Repeats = int.TryParse(Environment.GetEnvironmentVariable("PHOTON_BENCH_NET_REPEAT"), out var r) && r is > 0 and <= 64 ? r : 1;
    private static double BulkMiB => (double)BulkBytes * Repeats / 1048576.0;

    /// <summary>Median of <see cref="BulkRuns"/> transfers: veth throughput on a busy 2-core machine is noisy.</summary>
    private static double Median(List<double> xs) { xs.Sort(); return xs[xs.Count / 2]; }

    /// <summary>Voluntary and involuntary context switches summed over this process's threads (/proc/self/task/*/status):
    /// each voluntary one is a thread going to sleep, so a wake-up later.</summary>
    private static long ContextSwitches() => ContextSwitchesByThread().Values.Sum(v => v.Voluntary + v.Involuntary);

    /// <summary>Per thread (keyed by name and id): voluntary and involuntary context switches so far.</summary>
    private static Dictionary<string, (long Voluntary, long Involuntary)> ContextSwitchesByThread()
    {
        var byThread = new Dictionary<string, (long, long)>();
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                string name = "";
                long voluntary = 0, involuntary = 0;
                foreach (var line in File.ReadLines(Path.Combine(task, "status")))
                {
                    if (line.StartsWith("Name:", StringComparison.Ordinal)) name = line[5..].Trim();
                    else if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal)) voluntary = long.Parse(line.AsSpan(line.IndexOf(':') + 1).Trim());
                    else if (line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal)) involuntary = long.Parse(line.AsSpan(line.IndexOf(':') + 1).Trim());
                }
                byThread[$"{name}/{Path.GetFileName(task)}"] = (voluntary, involuntary);
            }
            catch (IOException) { } // a thread that exited meanwhile
        }
        return byThread;
    }

    /// <summary>This process's CPU time (user + system, all threads) — load-insensitive beside the wall-clock rate.</summary>
    private static TimeSpan ProcessCpu() => Process.GetCurrentProcess().TotalProcessorTime;

    private static void ReportCpu(string who, List<double> cpuMsPerMiB) =>
        Console.Error.WriteLine($"network: {who} process CPU per MiB sent: median {Median(new List<double>(cpuMsPerMiB)):F3} ms " +
            $"(runs: {string.Join(", ", cpuMsPerMiB.Select(x => x.ToString("F3")))})");

    private static double BulkLinux()
    {
        var data = BenchHost.Payload(BulkBytes);
        var runs = new List<double>();
        var cpu = new List<double>();
        for (int r = 0; r < BulkRuns; r++)
        {
            var nc = Task.Run(() => BenchHost.Sh($"ip netns exec {Ns} nc -l -p 9000 < /dev/null > /dev/null"));
            using var s = BenchHost.ConnectRetry(new IPEndPoint(IPAddress.Parse("10.98.0.1"), 9000));
            var cpu0 = ProcessCpu();
            var sw = Stopwatch.StartNew();
            for (int rep = 0; rep < Repeats; rep++)
                for (int off = 0; off < BulkBytes; off += 1 << 20) s.Send(data, off, 1 << 20, SocketFlags.None);
            s.Shutdown(SocketShutdown.Send);
            nc.Wait();
            runs.Add(BulkMiB / sw.Elapsed.TotalSeconds);
            cpu.Add((ProcessCpu() - cpu0).TotalMilliseconds / BulkMiB);
        }
        ReportCpu("Linux", cpu);
        return Median(runs);
    }

    private static double LatencyLinux()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Parse("10.98.0.3"), 9001));
        listener.Listen();
        var server = Task.Run(() =>
        {
            while (true) // one connection per client run, warm-ups included, until the listener is closed
            {
                Socket accepted;
                try { accepted = listener.Accept(); }
                catch (Exception e) when (e is SocketException or ObjectDisposedException) { break; }
                using var c = accepted;
                c.NoDelay = true;
                var buf = new byte[64];
                int n;
                while ((n = c.Receive(buf)) > 0) c.Send(buf, n, SocketFlags.None);
            }
        });
        var rtt = EchoClientRuns("10.98.0.3", "Linux");
        listener.Close();
        server.Wait();
        return rtt;
    }

    private static async Task<(double Bulk, double Rtt)> PhotonRun(bool viaDriver, bool offloads)
    {
        var dev = PacketSocketDevice.Open(VethA, offloads: offloads);
        if (!dev.IsOk) throw new InvalidOperationException(dev.Error.ToString());
        await using var device = dev.Value;
        device.BusyPollMicroseconds = BusyPoll;
        if (offloads && device.Offloads == NetworkOffloads.None) Console.Error.WriteLine($"network: offloads refused: {device.OffloadStatus}");
        NicDriver? driver = viaDriver ? NicDriver.Start(device, new CapabilityManager(), new NicOptions(OwnsDevice: false, InlineCompletions: NicInline)).Value.Driver : null;
        await using var stack = new NetworkStack(new HostTimers(new HostClock()));
        stack.AddInterface(driver is null ? device : driver, Ipv4Cidr.Parse("10.98.0.2/24").Value).Unwrap();
        stack.Start();

        var data = BenchHost.Payload(BulkBytes);
        var runs = new List<double>();
        var cpu = new List<double>();
        for (int run = 0; run < BulkRuns; run++)
        {
            var nc = Task.Run(() => BenchHost.Sh($"ip netns exec {Ns} nc -l -p 9000 < /dev/null > /dev/null"));
            Photon.Kernel.Result<Photon.Net.Tcp.TcpConnection> conn = default;
            for (int i = 0; i < 50 && !(conn = await stack.Tcp.ConnectAsync(new IpEndpoint(Ipv4Address.Parse("10.98.0.1").Value, 9000))).IsOk; i++)
                await Task.Delay(100);
            var cpu0 = ProcessCpu();
            var sw = Stopwatch.StartNew();
            for (int rep = 0; rep < Repeats; rep++)
                for (int off = 0; off < BulkBytes; off += 1 << 20) (await conn.Value.SendAsync(data.AsMemory(off, 1 << 20))).Unwrap();
            await conn.Value.CloseAsync();
            await nc;
            runs.Add(BulkMiB / sw.Elapsed.TotalSeconds);
            cpu.Add((ProcessCpu() - cpu0).TotalMilliseconds / BulkMiB);
        }
        ReportCpu($"Photon{(viaDriver ? " via NicDriver" : "")}{(offloads ? "" : " offloads off")}", cpu);
        Console.Error.WriteLine($"network: Photon counters: {string.Join(", ", stack.Statistics.Where(kv => kv.Key.StartsWith("Tcp")).Select(kv => $"{kv.Key}={kv.Value}"))}");
        double bulk = Median(runs);

        var rtt = await PhotonEcho(stack, $"Photon{(viaDriver ? " via NicDriver" : "")}{(offloads ? "" : " offloads off")}", device);
        await stack.DisposeAsync();
        if (driver is not null) await driver.DisposeAsync();
        return (bulk, rtt);
    }

    /// <summary>The round trips alone against Photon's stack on AF_PACKET, offloads on: directly, or on NicDriver's queue
    /// pairs over the device.</summary>
    private static async Task<double> PhotonRtt(bool viaDriver)
    {
        var dev = PacketSocketDevice.Open(VethA, offloads: true);
        if (!dev.IsOk) throw new InvalidOperationException(dev.Error.ToString());
        await using var device = dev.Value;
        device.BusyPollMicroseconds = BusyPoll;
        NicDriver? driver = viaDriver ? NicDriver.Start(device, new CapabilityManager(), new NicOptions(OwnsDevice: false, InlineCompletions: NicInline)).Value.Driver : null;
        var stack = new NetworkStack(new HostTimers(new HostClock()));
        stack.AddInterface(driver is null ? device : driver, Ipv4Cidr.Parse("10.98.0.2/24").Value).Unwrap();
        stack.Start();
        var rtt = await PhotonEcho(stack, (viaDriver ? "Photon via NicDriver" : "Photon") + (BusyPoll > 0 ? $" (busy-poll {BusyPoll} µs)" : ""), device);
        if (BusyPoll > 0) Console.Error.WriteLine($"network: busy-poll windows that found frames / ran out: {device.BusyPolls.Hits} / {device.BusyPolls.Misses}");
        await stack.DisposeAsync();
        if (driver is not null) await driver.DisposeAsync();
        return rtt;
    }

    /// <summary>Photon's echo server (port 9001) against the Python client, one connection per run.</summary>
    private static async Task<double> PhotonEcho(NetworkStack stack, string who, HostNetworkDevice device)
    {
        await using var listener = stack.Tcp.Listen(9001).Value;
        long before = stack[Counter.TcpReceivesResumedInline], beforeLater = stack[Counter.TcpReceivesResumedLater];
        var echo = Task.Run(async () =>
        {
            while (true) // one connection per client run, warm-ups included, until the listener is closed
            {
                var accepted = await listener.AcceptAsync();
                if (!accepted.IsOk) break;
                var c = accepted.Value;
                c.ResumeReceivesInline = ResumeInline;
                var buf = new byte[64];
                while (true)
                {
                    var n = await c.ReceiveValueAsync(buf);
                    if (!n.IsOk || n.Value == 0) break;
                    await c.SendAsync(buf.AsMemory(0, n.Value));
                }
                await c.CloseAsync();
            }
        });
        var rtt = EchoClientRuns("10.98.0.2", who, () => device.HostCalls);
        await listener.DisposeAsync();
        await echo;
        Console.Error.WriteLine($"network: {who} echo: receives resumed inline {stack[Counter.TcpReceivesResumedInline] - before}, " +
            $"posted {stack[Counter.TcpReceivesResumedLater] - beforeLater}, segments in/out {stack[Counter.TcpSegmentsIn]}/{stack[Counter.TcpSegmentsOut]}");
        return rtt;
    }

    /// <summary>Median over <see cref="BulkRuns"/> runs of the Python echo client (one connection each).</summary>
    private static double EchoClientRuns(string server, string who, Func<(long Waits, long Reads, long Writes)>? hostCalls = null)
    {
        // One unmeasured run first: the tiered JIT compiles the server's path during the first tens of thousands of
        // round trips, which a 200-round-trip warm-up does not cover (it made the first runs 2-4x slower).
        BenchHost.Check(BenchHost.Sh($"ip netns exec {Ns} python3 /tmp/photon-bench-echo{Tag}.py {server} 9001 {RoundTrips * 4}"));
        // Then more until a whole run compiles nothing (tcp18): the tiering thread promotes methods for seconds after
        // their first calls (call counting, then a 100 ms delay that restarts with each new method), and its CPU is this
        // process's — the NicDriver path, with more methods, was measured with its tier-1 compiles still running.
        int warmups = 1;
        for (; warmups < 12; warmups++)
        {
            long compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
            BenchHost.Check(BenchHost.Sh($"ip netns exec {Ns} python3 /tmp/photon-bench-echo{Tag}.py {server} 9001 {RoundTrips}"));
            if (System.Runtime.JitInfo.GetCompiledMethodCount() == compiled) break;
        }
        long jitted0 = System.Runtime.JitInfo.GetCompiledMethodCount();
        var jitTime0 = System.Runtime.JitInfo.GetCompilationTime();
        var runs = new List<double>();
        var cpu = new List<double>();
        var heap = new List<double>();
        var hops = new List<double>();
        var switches = new List<double>();
        var calls = new List<(double Waits, double Reads, double Writes)>();
        // PHOTON_BENCH_NET_ALLOC=1: which types the round trips allocate (sampled AllocationTick events, all runs).
        using var sampler = Environment.GetEnvironmentVariable("PHOTON_BENCH_NET_ALLOC") == "1" ? new AllocationSampler() : null;
        sampler?.Start();
        for (int run = 0; run < BulkRuns; run++)
        {
            var byThread0 = ContextSwitchesByThread();
            long switches0 = byThread0.Values.Sum(v => v.Voluntary + v.Involuntary);
            var calls0 = hostCalls?.Invoke() ?? default;
            long items0 = ThreadPool.CompletedWorkItemCount;
            var cpu0 = ProcessCpu();
            sampler?.Open();
            long heap0 = GC.GetTotalAllocatedBytes(precise: true);
            var r = BenchHost.Sh($"ip netns exec {Ns} python3 /tmp/photon-bench-echo{Tag}.py {server} 9001 {RoundTrips}");
            // CPU and heap first: the /proc reads below allocate and cost CPU of their own.
            var cpu1 = ProcessCpu();
            long heap1 = GC.GetTotalAllocatedBytes(precise: true);
            sampler?.Close();
            BenchHost.Check(r);
            // Hops: thread-pool work items run (the shell's own reader tasks included: a few per run, not per round
            // trip), thread wakes: context switches of this process's threads, and the device's host syscalls.
            double perRt = RoundTrips + 200;
            hops.Add((ThreadPool.CompletedWorkItemCount - items0) / perRt);
            var byThread1 = ContextSwitchesByThread();
            switches.Add((byThread1.Values.Sum(v => v.Voluntary + v.Involuntary) - switches0) / perRt);
            // PHOTON_BENCH_NET_SWITCHES=1: which threads switch (voluntary/involuntary per round trip), busiest first.
            if (Environment.GetEnvironmentVariable("PHOTON_BENCH_NET_SWITCHES") == "1")
                Console.Error.WriteLine($"network: {who} run {run} context switches per round trip by thread: " + string.Join(", ", byThread1
                    .Select(kv => (kv.Key, V: (kv.Value.Voluntary - byThread0.GetValueOrDefault(kv.Key).Voluntary) / perRt,
                        I: (kv.Value.Involuntary - byThread0.GetValueOrDefault(kv.Key).Involuntary) / perRt))
                    .Where(t => t.V + t.I >= 0.01).OrderByDescending(t => t.V + t.I).Take(8).Select(t => $"{t.Key} {t.V:F2}/{t.I:F2}")));
            var calls1 = hostCalls?.Invoke() ?? default;
            calls.Add(((calls1.Waits - calls0.Waits) / perRt, (calls1.Reads - calls0.Reads) / perRt, (calls1.Writes - calls0.Writes) / perRt));
            // The server's CPU (this process) per round trip, the client's 200 warm-up round trips included; the same for
            // the managed heap it allocated (Linux's server: the .NET Socket echo loop; Photon's: device to socket and back).
            cpu.Add((cpu1 - cpu0).TotalMicroseconds / (RoundTrips + 200));
            heap.Add((heap1 - heap0) / (double)(RoundTrips + 200));
            runs.Add(double.Parse(r.Output.Trim(), System.Globalization.CultureInfo.InvariantCulture));
        }
        Console.Error.WriteLine($"network: {who} round trip: median {Median(new List<double>(runs)):F1} µs (runs: {string.Join(", ", runs.Select(x => x.ToString("F1")))}); " +
            $"server process CPU per round trip: median {Median(new List<double>(cpu)):F1} µs (runs: {string.Join(", ", cpu.Select(x => x.ToString("F1")))}); " +
            $"heap per round trip: median {Median(new List<double>(heap)):F0} B");
        Console.Error.WriteLine($"network: {who} warm-up runs {warmups + 1}; methods jitted during the measured runs " +
            $"{System.Runtime.JitInfo.GetCompiledMethodCount() - jitted0} ({(System.Runtime.JitInfo.GetCompilationTime() - jitTime0).TotalMilliseconds:F1} ms)");
        Console.Error.WriteLine($"network: {who} per round trip: thread-pool work items {Median(new List<double>(hops)):F2}, " +
            $"context switches {Median(new List<double>(switches)):F2}" + (hostCalls is null ? "" :
            $", host syscalls poll {Median(calls.Select(c => c.Waits).ToList()):F2} / recvmmsg-or-read {Median(calls.Select(c => c.Reads).ToList()):F2} / " +
            $"sendmmsg-or-write {Median(calls.Select(c => c.Writes).ToList()):F2}"));
        sampler?.Stop();
        if (sampler is not null) Console.Error.WriteLine($"network: {who} heap per round trip by type (sampled): {sampler.Report(heap.Average())}");
        return Median(runs);
    }
}
