using System.Diagnostics;
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
/// Issue #15 defect 4 and the bulk endpoint as figures, each Photon↔Linux against Linux↔Linux on the same path in one
/// run: plA here ↔ plR1 — a relay in this process — plR2 ↔ plB in a namespace with Linux at 10.95.0.1 (SACK and
/// timestamps on, Linux defaults). The relay copies frames between plR1 and plR2 over AF_PACKET and drops TCP
/// segments that carry data towards plB at random (tc netem is not in every kernel — not in this machine's — and
/// both runs cross the same relay, so the comparison stays fair):
/// <list type="bullet">
/// <item>TCP bulk send of 32 MiB to Linux `nc -l` under 1%, 2% and 5% loss of data segments (ACKs are not lost).
/// Baseline: a .NET socket on Linux's stack (CUBIC, RACK) from 10.95.0.3.</item>
/// <item>curl in the namespace fetching 256 MiB from GET /bulk of Photon's <see cref="HttpServer"/> (a process on
/// socket syscalls) against the same request answered by a .NET socket server on Linux's stack, no loss.</item>
/// </list>
/// Long (a minute or more): its own group, `netloss`. Needs root, ethtool, nc and curl.
/// </summary>
public static class NetworkLossBenchmarks
{
    private const string Ns = "photon-bench-loss";
    private const int LossBytes = 32 << 20;
    private const long CurlBytes = 256L << 20;

    public static IEnumerable<BenchResult> Run()
    {
        if (BenchHost.Sh("ip link add plA type veth peer name plR1 && ip link add plR2 type veth peer name plB").Code != 0)
        {
            Console.Error.WriteLine("netloss: SKIPPED (needs root to create a veth pair and a namespace)");
            return [];
        }
        try
        {
            BenchHost.Check(BenchHost.Sh($"ip netns add {Ns} && ip link set plB netns {Ns} && ip -n {Ns} addr add 10.95.0.1/24 dev plB && " +
                     $"ip -n {Ns} link set plB up && ip -n {Ns} link set lo up && ip link set plA up && ip link set plR1 up && ip link set plR2 up && " +
                     // As in NetworkBenchmarks: software checksums on both ends so AF_PACKET frames carry valid ones.
                     $"ip netns exec {Ns} ethtool -K plB tx off >/dev/null && ethtool -K plA tx off >/dev/null"));
            using var relay = new LossyRelay("plR1", "plR2");
            var losses = new[] { 1, 2, 5 };
            var linux = new Dictionary<int, double>();
            BenchHost.Check(BenchHost.Sh("ip addr add 10.95.0.3/24 dev plA"));
            foreach (var loss in losses)
            {
                relay.Loss = loss / 100.0;
                long dropped = relay.Dropped;
                var before = LinuxCounters();
                linux[loss] = SendLinux();
                var after = LinuxCounters();
                Console.Error.WriteLine($"netloss: Linux {loss}%: {linux[loss]:F2} MiB/s, dropped {relay.Dropped - dropped}, " +
                    string.Join(", ", after.Select(kv => $"{kv.Key} {kv.Value - before.GetValueOrDefault(kv.Key)}")));
            }
            relay.Loss = 0;
            var linuxCurl = CurlLinux();
            BenchHost.Check(BenchHost.Sh("ip addr flush dev plA"));

            var (photon, photonCurl) = PhotonRun(losses, relay).GetAwaiter().GetResult();
            var rows = losses.Select(l => new BenchResult($"TCP 32 MiB to Linux nc, {l}% data loss", photon[l], "Linux stack (.NET Socket)", linux[l], "MiB/s", false)).ToList();
            rows.Add(new BenchResult("curl GET /bulk 256 MiB from HttpServer", photonCurl, "Linux stack (.NET Socket server)", linuxCurl, "MiB/s", false));
            return rows;
        }
        finally
        {
            BenchHost.Sh($"ip netns del {Ns}");
            BenchHost.Sh("ip link del plA; ip link del plR2");
        }
    }

    /// <summary>Copies frames both ways between two interfaces; drops data-carrying TCP segments from the first to
    /// the second with probability <see cref="Loss"/> (seeded, so both runs see the same pattern of draws).</summary>
    private sealed class LossyRelay : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly PacketSocketDevice _a, _b;
        private readonly Task[] _loops;
        private readonly Random _rng = new(15);

        public double Loss { get; set; }

        /// <summary>Data segments dropped on purpose so far: what a sender had to resend at least.</summary>
        public long Dropped => Interlocked.Read(ref _dropped);
        private long _dropped;

        public LossyRelay(string a, string b)
        {
            _a = PacketSocketDevice.Open(a).Value;
            _b = PacketSocketDevice.Open(b).Value;
            _loops = [Task.Run(() => Copy(_a, _b, lossy: true)), Task.Run(() => Copy(_b, _a, lossy: false))];
        }

        private async Task Copy(PacketSocketDevice from, PacketSocketDevice to, bool lossy)
        {
            var buffer = new byte[2048];
            try
            {
                while (true)
                {
                    int n = await from.ReceiveAsync(buffer, _stop.Token);
                    if (lossy && CarriesTcpData(buffer.AsSpan(0, n)) && _rng.NextDouble() < Loss) { Interlocked.Increment(ref _dropped); continue; }
                    await to.SendAsync(buffer.AsMemory(0, n), _stop.Token);
                }
            }
            catch (OperationCanceledException) { }
        }

        private static bool CarriesTcpData(ReadOnlySpan<byte> f)
        {
            if (f.Length < 54 || f[12] != 8 || f[13] != 0 || f[23] != 6) return false;
            int ihl = (f[14] & 0xF) * 4;
            if (f.Length < 14 + ihl + 13) return false;
            int total = f[16] << 8 | f[17];
            return total - ihl - (f[14 + ihl + 12] >> 4) * 4 > 0;
        }

        public void Dispose()
        {
            _stop.Cancel();
            try { Task.WaitAll(_loops, TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
            _a.DisposeAsync().AsTask().Wait();
            _b.DisposeAsync().AsTask().Wait();
        }
    }

    /// <summary>Linux's own loss-recovery counters (nstat, whole host: the bench's connection is the only busy one on
    /// this path), so its retransmits and timeouts print beside Photon's.</summary>
    private static Dictionary<string, long> LinuxCounters()
    {
        var r = BenchHost.Sh("nstat -az TcpRetransSegs TcpExtTCPTimeouts TcpExtTCPLossProbes TcpExtTCPSackRecovery TcpExtTCPLostRetransmit 2>/dev/null");
        var counters = new Dictionary<string, long>();
        foreach (var line in r.Output.Split('\n'))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length >= 2 && f[0].StartsWith("Tcp", StringComparison.Ordinal) && long.TryParse(f[1], out var v)) counters[f[0]] = v;
        }
        return counters;
    }

    private static double SendLinux()
    {
        var data = BenchHost.Payload(LossBytes);
        var nc = Task.Run(() => BenchHost.Sh($"ip netns exec {Ns} nc -l -p 9000 < /dev/null > /dev/null"));
        using var s = BenchHost.ConnectRetry(new IPEndPoint(IPAddress.Parse("10.95.0.1"), 9000));
        var sw = Stopwatch.StartNew();
        for (int off = 0; off < LossBytes; off += 1 << 20) s.Send(data, off, 1 << 20, SocketFlags.None);
        s.Shutdown(SocketShutdown.Send);
        nc.Wait();
        return LossBytes / 1048576.0 / sw.Elapsed.TotalSeconds;
    }

    /// <summary>A minimal HTTP responder on Linux's stack: reads one request head, sends the same bulk body.</summary>
    private static double CurlLinux()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Parse("10.95.0.3"), 8080));
        listener.Listen();
        var server = Task.Run(() =>
        {
            using var c = listener.Accept();
            var head = new byte[8192];
            int got = 0;
            while (got < head.Length && head.AsSpan(0, got).IndexOf("\r\n\r\n"u8) < 0) got += c.Receive(head, got, head.Length - got, SocketFlags.None);
            c.Send(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {CurlBytes}\r\nConnection: close\r\n\r\n"));
            var block = new byte[BulkBody.BlockSize];
            BulkBody.Fill(block);
            for (long sent = 0; sent < CurlBytes; sent += block.Length) c.Send(block, (int)Math.Min(block.Length, CurlBytes - sent), SocketFlags.None);
            c.Shutdown(SocketShutdown.Send);
        });
        var rate = Curl("10.95.0.3:8080");
        server.Wait();
        return rate;
    }

    private static double Curl(string host)
    {
        var r = BenchHost.Sh($"ip netns exec {Ns} curl -sS -o /dev/null -w %{{size_download}},%{{time_total}} --max-time 300 \"http://{host}/bulk?bytes={CurlBytes}\"");
        BenchHost.Check(r);
        var parts = r.Output.Trim().Split(',');
        var size = double.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
        if (size != CurlBytes) throw new InvalidOperationException($"curl got {size} bytes, expected {CurlBytes}");
        return size / 1048576.0 / double.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task<(Dictionary<int, double> Loss, double Curl)> PhotonRun(int[] losses, LossyRelay relay)
    {
        var dev = PacketSocketDevice.Open("plA");
        if (!dev.IsOk) throw new InvalidOperationException(dev.Error.ToString());
        await using var device = dev.Value;
        await using var stack = new NetworkStack(new HostTimers(new HostClock()));
        stack.AddInterface(device, Ipv4Cidr.Parse("10.95.0.2/24").Value).Unwrap();
        stack.Start();

        var data = BenchHost.Payload(LossBytes);
        var results = new Dictionary<int, double>();
        foreach (var loss in losses)
        {
            relay.Loss = loss / 100.0;
            var nc = Task.Run(() => BenchHost.Sh($"ip netns exec {Ns} nc -l -p 9000 < /dev/null > /dev/null"));
            Photon.Kernel.Result<Photon.Net.Tcp.TcpConnection> conn = default;
            for (int i = 0; i < 50 && !(conn = await stack.Tcp.ConnectAsync(new IpEndpoint(Ipv4Address.Parse("10.95.0.1").Value, 9000))).IsOk; i++)
                await Task.Delay(100);
            Counter[] recovery = [Counter.TcpRetransmits, Counter.TcpTimeouts, Counter.TcpFastRetransmits, Counter.TcpSackRetransmits,
                Counter.TcpRackRetransmits, Counter.TcpRescueRetransmits, Counter.TcpTailLossProbes, Counter.TcpDuplicateSacks];
            var before = recovery.Select(c => stack[c]).ToArray();
            long dropped = relay.Dropped;
            var sw = Stopwatch.StartNew();
            for (int off = 0; off < LossBytes; off += 1 << 20) (await conn.Value.SendAsync(data.AsMemory(off, 1 << 20))).Unwrap();
            await conn.Value.CloseAsync();
            await nc;
            results[loss] = LossBytes / 1048576.0 / sw.Elapsed.TotalSeconds;
            // Retransmits beyond the drops were spurious (the relay drops only on purpose, ACKs never).
            Console.Error.WriteLine($"netloss: Photon {loss}%: {results[loss]:F2} MiB/s, dropped {relay.Dropped - dropped}, " +
                string.Join(", ", recovery.Select((c, i) => $"{c} {stack[c] - before[i]}")) + $", at the end {conn.Value.Info}");
        }
        relay.Loss = 0;

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
            names.Bind(web, "http", sockets.GrantPorts(TransportProtocol.Tcp, 8080, 8080, Principal.Kernel).Value, Rights.Listen).Unwrap();
            var httpd = processes.Spawn("httpd", web).Value.Process;
            var listener = SocketSyscalls.Listen(httpd, httpd.Open("http", Rights.Listen).Value, 8080).Value;
            using var stop = new CancellationTokenSource();
            var server = new HttpServer(httpd, listener, (r, _) => ValueTask.FromResult(BulkBody.Respond(r)));
            var running = server.RunAsync(stop.Token);
            var curl = Curl("10.95.0.2:8080");
            stop.Cancel();
            SocketSyscalls.Close(httpd, listener).Unwrap();
            return (results, curl);
        }
        finally { SocketSyscalls.Unregister(caps); }
    }
}
