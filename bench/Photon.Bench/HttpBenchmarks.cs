using System.Net;
using System.Net.Sockets;
using System.Text;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Hal.Host.Net;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Net;
using Photon.Net.Services;
using Photon.Net.Sockets;
using Photon.Net.Syscalls;

namespace Photon.Bench;

/// <summary>
/// Issue #15 §3, where an HTTP response's time goes: over one veth pair (phA here ↔ phB in a namespace, Linux at
/// 10.97.0.1; no relay), `curl` in the namespace fetches 256 MiB and a Python client times 500 small GETs, each on a
/// new connection as busybox httpd serves them. The same client programs run against (1) Linux's stack: a .NET socket
/// server for the bulk body, busybox httpd for the small page; (2) Photon's stack (AF_PACKET on phA) with a bare
/// TcpConnection responder (no HTTP server, no syscalls) — what the stack alone does; (3) Photon's HttpServer as a
/// process on socket syscalls, as `photon net up --http` runs it. (2) against (1) is the stack's share of the gap,
/// (3) against (2) the server's. Needs root, ethtool, curl, busybox and python3.
/// </summary>
public static class HttpBenchmarks
{
    // PHOTON_BENCH_TAG names the veths and the namespace (as in netloss), so concurrent runs do not collide.
    private static readonly string Tag = Environment.GetEnvironmentVariable("PHOTON_BENCH_TAG") is { Length: > 0 and <= 12 } t ? t : "ph";
    private static readonly string Ns = "photon-bench-http-" + Tag, A = Tag + "A", B = Tag + "B";
    private const long BulkBytes = 256L << 20;
    private const int Requests = 3000; // p99.9 needs thousands of samples: 500 gave five above p99
    private static readonly byte[] Page = Encoding.ASCII.GetBytes(new string('p', 512));

    private const string LatencyClient = """
import socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
req = ('GET /page HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' % host).encode()
times = []
for i in range(n + 20):
    t = time.perf_counter()
    s = socket.create_connection((host, port))
    s.sendall(req)
    while s.recv(65536): pass
    s.close()
    if i >= 20: times.append(time.perf_counter() - t)
times.sort()
q = lambda p: times[min(len(times) - 1, int(len(times) * p))] * 1e6
print('%f,%f,%f,%f,%f' % (q(0.5), q(0.9), q(0.99), q(0.999), times[-1] * 1e6))
""";

    public static IEnumerable<BenchResult> Run()
    {
        if (BenchHost.Sh($"ip link add {A} type veth peer name {B}").Code != 0)
        {
            Console.Error.WriteLine("http: SKIPPED (needs root to create a veth pair and a namespace)");
            return [];
        }
        var dir = Directory.CreateTempSubdirectory("photon-bench-http-").FullName;
        try
        {
            BenchHost.Check(BenchHost.Sh($"ip netns add {Ns} && ip link set {B} netns {Ns} && ip -n {Ns} addr add 10.97.0.1/24 dev {B} && " +
                     $"ip -n {Ns} link set {B} up && ip -n {Ns} link set lo up && ip link set {A} up && " +
                     $"ip netns exec {Ns} ethtool -K {B} tx off >/dev/null && ethtool -K {A} tx off >/dev/null"));
            File.WriteAllText("/tmp/photon-bench-http-latency.py", LatencyClient);
            File.WriteAllBytes(Path.Combine(dir, "page"), Page);

            BenchHost.Check(BenchHost.Sh($"ip addr add 10.97.0.3/24 dev {A}"));
            var linuxBulk = Curl("10.97.0.3:8080", LinuxBulkServer(8080));
            var busybox = System.Diagnostics.Process.Start("busybox", ["httpd", "-f", "-p", "10.97.0.3:8081", "-h", dir]);
            Percentiles linuxLatency;
            try { linuxLatency = Latency("10.97.0.3", 8081, "busybox httpd"); }
            finally { busybox.Kill(); busybox.WaitForExit(); }
            BenchHost.Check(BenchHost.Sh($"ip addr flush dev {A}"));

            var photon = PhotonRun().GetAwaiter().GetResult();
            return
            [
                new BenchResult("curl 256 MiB, bare TcpConnection responder", photon.BareBulk, "Linux stack (.NET Socket server)", linuxBulk, "MiB/s", false),
                new BenchResult("curl GET /bulk 256 MiB, HttpServer (process, syscalls)", photon.ServerBulk, "Linux stack (.NET Socket server)", linuxBulk, "MiB/s", false),
                new BenchResult("GET 512 B page, new connection each: p50, bare responder", photon.Bare.P50, "busybox httpd, Linux stack", linuxLatency.P50, "µs", true),
                new BenchResult("  same, p99, bare responder", photon.Bare.P99, "busybox httpd, Linux stack", linuxLatency.P99, "µs", true),
                new BenchResult("GET 512 B page, new connection each: p50, HttpServer", photon.Server.P50, "busybox httpd, Linux stack", linuxLatency.P50, "µs", true),
                new BenchResult("  same, p99, HttpServer", photon.Server.P99, "busybox httpd, Linux stack", linuxLatency.P99, "µs", true),
                new BenchResult("  same, p90, bare responder", photon.Bare.P90, "busybox httpd", linuxLatency.P90, "µs", true),
                new BenchResult("  same, p90, HttpServer", photon.Server.P90, "busybox httpd", linuxLatency.P90, "µs", true),
                new BenchResult("  same, p99.9, bare responder", photon.Bare.P999, "busybox httpd", linuxLatency.P999, "µs", true),
                new BenchResult("  same, p99.9, HttpServer", photon.Server.P999, "busybox httpd", linuxLatency.P999, "µs", true),
            ];
        }
        finally
        {
            BenchHost.Sh($"ip netns del {Ns}");
            BenchHost.Sh($"ip link del {A}");
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Answers one request on Linux's stack with the bulk body in 64 KiB sends.</summary>
    private static Task LinuxBulkServer(int port)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Parse("10.97.0.3"), port));
        listener.Listen();
        return Task.Run(() =>
        {
            using var l = listener;
            using var c = l.Accept();
            ReadHead(buffer => c.Receive(buffer));
            c.Send(BulkHead());
            var block = BulkBlock();
            for (long sent = 0; sent < BulkBytes; sent += block.Length) c.Send(block, (int)Math.Min(block.Length, BulkBytes - sent), SocketFlags.None);
            c.Shutdown(SocketShutdown.Send);
        });
    }

    private static byte[] BulkHead() => Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {BulkBytes}\r\nConnection: close\r\n\r\n");

    private static byte[] BulkBlock()
    {
        var block = new byte[BulkBody.BlockSize];
        BulkBody.Fill(block);
        return block;
    }

    private static void ReadHead(Func<byte[], int> receive)
    {
        var head = new byte[8192];
        var all = new List<byte>();
        while (all.Count < 8192 && !Encoding.ASCII.GetString(all.ToArray()).Contains("\r\n\r\n"))
        {
            int n = receive(head);
            if (n <= 0) return;
            all.AddRange(head.AsSpan(0, n).ToArray());
        }
    }

    private static double Curl(string host, Task server)
    {
        var r = BenchHost.Sh($"ip netns exec {Ns} curl -sS -o /dev/null -w %{{size_download}},%{{time_total}} --max-time 300 \"http://{host}/bulk?bytes={BulkBytes}\"");
        BenchHost.Check(r);
        server.Wait();
        var parts = r.Output.Trim().Split(',');
        var size = double.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
        if (size != BulkBytes) throw new InvalidOperationException($"curl got {size} bytes, expected {BulkBytes}");
        return size / 1048576.0 / double.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    private readonly record struct Percentiles(double P50, double P90, double P99, double P999, double Max);

    /// <summary>Times <see cref="Requests"/> GETs and prints, beside the percentiles, what this process spent on them:
    /// CPU time per request and the garbage collections and GC pause time during the run (for Photon's runs that is
    /// the stack's and the server's; for busybox's, only the bench's idle threads) — the evidence for or against GC
    /// pauses as the tail.</summary>
    private static Percentiles Latency(string host, int port, string label)
    {
        var self = System.Diagnostics.Process.GetCurrentProcess();
        var cpu = self.TotalProcessorTime;
        int[] gcs = [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];
        var pause = GC.GetTotalPauseDuration();
        var r = BenchHost.Sh($"ip netns exec {Ns} python3 /tmp/photon-bench-http-latency.py {host} {port} {Requests}");
        BenchHost.Check(r);
        self.Refresh();
        var f = r.Output.Trim().Split(',').Select(x => double.Parse(x, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        var p = new Percentiles(f[0], f[1], f[2], f[3], f[4]);
        Console.Error.WriteLine($"http: {label}: {Requests} GETs p50 {p.P50:F0} p90 {p.P90:F0} p99 {p.P99:F0} p99.9 {p.P999:F0} max {p.Max:F0} µs; " +
            $"this process: {(self.TotalProcessorTime - cpu).TotalMicroseconds / Requests:F0} µs CPU per request, " +
            $"GCs gen0/1/2 {GC.CollectionCount(0) - gcs[0]}/{GC.CollectionCount(1) - gcs[1]}/{GC.CollectionCount(2) - gcs[2]}, " +
            $"GC pauses {(GC.GetTotalPauseDuration() - pause).TotalMilliseconds:F1} ms in all, gcServer={System.Runtime.GCSettings.IsServerGC}");
        return p;
    }

    private static async Task<(double BareBulk, double ServerBulk, Percentiles Bare, Percentiles Server)> PhotonRun()
    {
        var dev = PacketSocketDevice.Open(A);
        if (!dev.IsOk) throw new InvalidOperationException(dev.Error.ToString());
        await using var device = dev.Value;
        await using var stack = new NetworkStack(new HostTimers(new HostClock()));
        stack.AddInterface(device, Ipv4Cidr.Parse("10.97.0.2/24").Value).Unwrap();
        stack.Start();

        // The stack alone: a responder straight on TcpConnection.
        double bareBulk;
        Percentiles bare;
        await using (var listener = stack.Tcp.Listen(8080).Value)
        {
            var serve = Task.Run(async () =>
            {
                var c = (await listener.AcceptAsync()).Value;
                await ReadHeadAsync(c);
                (await c.SendAsync(BulkHead())).Unwrap();
                var block = BulkBlock();
                for (long sent = 0; sent < BulkBytes; sent += block.Length) (await c.SendAsync(block.AsMemory(0, (int)Math.Min(block.Length, BulkBytes - sent)))).Unwrap();
                await c.CloseAsync();
            });
            bareBulk = Curl("10.97.0.2:8080", serve);
            using var stop = new CancellationTokenSource();
            var pages = Task.Run(async () =>
            {
                var response = Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {Page.Length}\r\nConnection: close\r\n\r\n").Concat(Page).ToArray();
                while (!stop.IsCancellationRequested)
                {
                    var c = await listener.AcceptAsync(stop.Token);
                    if (!c.IsOk) return;
                    _ = Task.Run(async () =>
                    {
                        await ReadHeadAsync(c.Value);
                        await c.Value.SendAsync(response);
                        await c.Value.CloseAsync();
                    });
                }
            });
            bare = Latency("10.97.0.2", 8080, "Photon bare responder");
            stop.Cancel();
            try { await pages; } catch (OperationCanceledException) { }
        }

        // The HTTP server as a process on a port grant, through socket syscalls, as `photon net up` runs it.
        using var phys = new PhysicalMemory(4 * 1024 * 1024);
        var caps = new CapabilityManager();
        var names = new NamespaceManager(caps);
        var processes = new Photon.Kernel.Processes.ProcessManager(caps, names, new MemoryManager(phys, caps));
        var sockets = new SocketService(stack, caps);
        SocketSyscalls.Register(caps, sockets).Unwrap();
        try
        {
            var web = names.CreateChild(names.RootCapability, "web").Value;
            names.Bind(web, "http", sockets.GrantPorts(TransportProtocol.Tcp, 8081, 8081, Principal.Kernel).Value, Rights.Listen).Unwrap();
            var httpd = processes.Spawn("httpd", web).Value.Process;
            var listener = SocketSyscalls.Listen(httpd, httpd.Open("http", Rights.Listen).Value, 8081).Value;
            using var stop = new CancellationTokenSource();
            var server = new HttpServer(httpd, listener, (r, _) => ValueTask.FromResult(r.Path == "/page"
                ? new HttpResponse(200, "text/plain", Page) : BulkBody.Respond(r)));
            var running = server.RunAsync(stop.Token);
            var serverBulk = Curl("10.97.0.2:8081", Task.CompletedTask);
            var latency = Latency("10.97.0.2", 8081, "Photon HttpServer");
            stop.Cancel();
            SocketSyscalls.Close(httpd, listener).Unwrap();
            return (bareBulk, serverBulk, bare, latency);
        }
        finally { SocketSyscalls.Unregister(caps); }
    }

    private static async Task ReadHeadAsync(Photon.Net.Tcp.TcpConnection c)
    {
        var buffer = new byte[8192];
        var all = new List<byte>();
        while (all.Count < 8192 && !Encoding.ASCII.GetString(all.ToArray()).Contains("\r\n\r\n"))
        {
            var n = await c.ReceiveAsync(buffer);
            if (!n.IsOk || n.Value == 0) return;
            all.AddRange(buffer.AsSpan(0, n.Value).ToArray());
        }
    }
}
