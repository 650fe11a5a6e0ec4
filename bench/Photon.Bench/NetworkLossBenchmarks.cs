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
/// run: one veth pair, A here ↔ B in a namespace with Linux at 10.95.0.1 (10.95.N.1 for a tagged run) (SACK and timestamps on, Linux defaults).
/// The loss is an nftables rule on B's ingress hook in that namespace (`numgen random`): it drops TCP segments that
/// carry data towards Linux at random, inside the kernel, before Linux's receiver sees them — the only losses on the
/// path (ACKs are never dropped). This machine's kernel has no `sch_netem`; an earlier version relayed frames through
/// AF_PACKET in this process and dropped there, but that relay lost bursts of frames of its own when a sender burst
/// (D-SACKs showed it), so both stacks saw more loss than the nominal rate. Every run prints the rule's counters (data
/// segments offered and dropped: the real loss rate) beside drops anywhere else on the path (the veths' counters,
/// Photon's RX ring, the host's input backlog), and both stacks' recovery counters.
/// <list type="bullet">
/// <item>TCP bulk send of 32 MiB to Linux `nc -l` under 1%, 2% and 5% loss of data segments. Baseline: a .NET socket
/// on Linux's stack (RACK, PRR) from 10.95.0.3 on A, once with CUBIC (Photon's default controller: like for like) and
/// once with the host's default if that differs — BBR on this machine, which does not cut its window per loss
/// episode, so it keeps its rate under random loss where any loss-based controller cannot (branch loss11). `PHOTON_BENCH_REPEAT=N` repeats the pairs N times,
/// interleaved, and reports the medians.</item>
/// <item>curl in the namespace fetching 256 MiB from GET /bulk of Photon's <see cref="HttpServer"/> (a process on
/// socket syscalls) against the same request answered by a .NET socket server on Linux's stack, no loss.</item>
/// </list>
/// Long (a minute or more): its own group, `netloss`. Needs root, ethtool, nc, curl and nft (Debian `nftables`).
/// `PHOTON_BENCH_TAG` names the veths ({tag}A, {tag}B) and the namespace, so runs by different people do not collide.
/// </summary>
public static class NetworkLossBenchmarks
{
    private static readonly string Tag = Environment.GetEnvironmentVariable("PHOTON_BENCH_TAG") is { Length: > 0 and <= 12 } t ? t : "pl";
    private static readonly string Ns = "photon-bench-loss-" + Tag, A = Tag + "A", B = Tag + "B";
    // A tagged run gets its own /24 (10.95.N.0), so two runs with different tags can share the host's routing table.
    private static readonly string Net = "10.95." + (Tag == "pl" ? 0 : 1 + (int)((uint)Tag.Aggregate(17, (h, ch) => h * 31 + ch) % 250)) + ".";
    /// <summary>Linux's congestion controllers the baseline runs under, per socket (TCP_CONGESTION): CUBIC, Photon's
    /// default, is the like-for-like baseline; the host's default (this machine's is BBR) is printed beside it.</summary>
    private static readonly string[] LinuxControllers = new[] { "cubic", HostDefaultController() }.Distinct().ToArray();
    private const int LossBytes = 32 << 20;
    private const long CurlBytes = 256L << 20;

    public static IEnumerable<BenchResult> Run()
    {
        if (BenchHost.Sh("nft --version").Code != 0)
        {
            Console.Error.WriteLine("netloss: SKIPPED (needs nft, Debian package nftables)");
            return [];
        }
        if (BenchHost.Sh($"ip link add {A} type veth peer name {B}").Code != 0)
        {
            Console.Error.WriteLine("netloss: SKIPPED (needs root to create a veth pair and a namespace)");
            return [];
        }
        try
        {
            BenchHost.Check(BenchHost.Sh($"ip netns add {Ns} && ip link set {B} netns {Ns} && ip -n {Ns} addr add {Net}1/24 dev {B} && " +
                     $"ip -n {Ns} link set {B} up && ip -n {Ns} link set lo up && ip link set {A} up && ip addr add {Net}3/24 dev {A} && " +
                     // As in NetworkBenchmarks: software checksums on both ends so AF_PACKET frames carry valid ones.
                     $"ip netns exec {Ns} ethtool -K {B} tx off >/dev/null && ethtool -K {A} tx off >/dev/null"));
            int repeat = int.TryParse(Environment.GetEnvironmentVariable("PHOTON_BENCH_REPEAT"), out var r) && r is > 0 and <= 20 ? r : 1;
            // 0% first: each stack's lossless rate on this path (and the JIT's warm-up), against which the lossy rates
            // are read — with no loss the two stacks differ by their per-frame cost alone (Photon's frames cross
            // AF_PACKET and user space), which no recovery can make up; the share of its own lossless rate each stack
            // keeps under loss is what loss recovery decides.
            var losses = new[] { 0, 1, 2, 5 };
            // Linux's rates per congestion controller (CUBIC first: the like-for-like baseline) and loss rate.
            var linux = LinuxControllers.ToDictionary(cc => cc, _ => losses.ToDictionary(l => l, _ => new List<double>()));
            var photon = losses.ToDictionary(l => l, _ => new List<double>());
            double photonCurl = 0, linuxCurl = 0;
            bool curl = Environment.GetEnvironmentVariable("PHOTON_BENCH_NETLOSS_CURL") != "0";
            // Photon uses its own MAC (the interface goes promiscuous), so the host's address on A can stay.
            var dev = PacketSocketDevice.Open(A, [0x02, 0x00, 0x0a, 0x5f, 0x00, 0x02]);
            if (!dev.IsOk) throw new InvalidOperationException(dev.Error.ToString());
            var device = dev.Value;
            var stack = new NetworkStack(new HostTimers(new HostClock()));
            try
            {
                stack.AddInterface(device, Ipv4Cidr.Parse(Net + "2/24").Value).Unwrap();
                stack.Start();
                SetLoss(0); // a warm-up transfer each, not counted (the JIT, the ARP caches)
                SendLinux(LinuxControllers[0]);
                SendPhoton(stack).GetAwaiter().GetResult();
                for (int rep = 0; rep < repeat; rep++)
                    foreach (var loss in losses)
                    {
                        SetLoss(loss);
                        foreach (var cc in LinuxControllers)
                            linux[cc][loss].Add(Measure($"Linux ({cc}) {loss}%", device, () => SendLinux(cc)));
                        photon[loss].Add(Measure($"Photon {loss}%", device, () => SendPhoton(stack).GetAwaiter().GetResult()));
                        Console.Error.WriteLine($"netloss: load {BenchHost.Sh("cut -d' ' -f1-3 /proc/loadavg").Output.Trim()}");
                    }
                SetLoss(0);
                if (curl)
                {
                    linuxCurl = CurlLinux();
                    photonCurl = CurlPhoton(stack).GetAwaiter().GetResult();
                }
            }
            finally
            {
                stack.DisposeAsync().AsTask().Wait();
                device.DisposeAsync().AsTask().Wait();
            }
            string of = repeat > 1 ? $" (median of {repeat})" : "";
            var rows = new List<BenchResult>();
            foreach (var cc in LinuxControllers)
            {
                rows.AddRange(losses.Select(l => new BenchResult($"TCP 32 MiB to Linux nc, {l}% data loss, Linux {cc}{of}",
                    Median(photon[l]), $"Linux stack (.NET Socket, {cc})", Median(linux[cc][l]), "MiB/s", false)));
                // Per run, each stack's rate under loss as a share of its own lossless rate in the same repetition.
                foreach (var l in losses.Where(l => l > 0))
                {
                    var kept = Enumerable.Range(0, repeat).Select(i => (Photon: photon[l][i] / photon[0][i], Linux: linux[cc][l][i] / linux[cc][0][i])).ToList();
                    rows.Add(new BenchResult($"share of own lossless rate kept, {l}% loss, Linux {cc}{of}", 100 * Median(kept.Select(k => k.Photon).ToList()),
                        $"Linux stack (.NET Socket, {cc})", 100 * Median(kept.Select(k => k.Linux).ToList()), "%", false));
                    Console.Error.WriteLine($"netloss: {l}% per-run rate ratios to Linux {cc} " + string.Join(" ", photon[l].Zip(linux[cc][l], (p, q) => $"{p / q:F2}x")) +
                        "; shares kept (Photon/Linux) " + string.Join(" ", kept.Select(k => $"{100 * k.Photon:F0}%/{100 * k.Linux:F0}%")));
                }
            }
            if (curl)
            rows.Add(new BenchResult("curl GET /bulk 256 MiB from HttpServer", photonCurl, "Linux stack (.NET Socket server)", linuxCurl, "MiB/s", false));
            return rows;
        }
        finally
        {
            BenchHost.Sh($"ip netns del {Ns}");
            BenchHost.Sh($"ip link del {A}");
        }
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    /// <summary>Drops <paramref name="percent"/>% of the TCP segments that carry data (IP length over 100: no ACK with
    /// options is that long) arriving on B, counting those offered, those over the MTU (super-packets) and those dropped.</summary>
    private static void SetLoss(int percent) =>
        BenchHost.Check(BenchHost.Sh($"ip netns exec {Ns} nft -f - <<'EOF'\nflush ruleset\ntable netdev photonloss {{\n chain in {{\n" +
            $"  type filter hook ingress device \"{B}\" priority 0;\n  ip protocol tcp ip length > 100 counter\n  ip protocol tcp ip length > 1500 counter\n" +
            $"  ip protocol tcp ip length > 100 numgen random mod 10000 < {percent * 100} counter drop\n }}\n}}\nEOF"));

    /// <summary>Runs one transfer and prints its rate with every drop on the path and both stacks' recovery counters:
    /// the rule's (offered, dropped), the veths' own drop counters, Photon's RX ring, the host's input backlog
    /// (/proc/net/softnet_stat, host-wide), and nstat on each side (the sender's and the receiver's namespace).</summary>
    private static double Measure(string what, PacketSocketDevice photonDevice, Func<double> run)
    {
        var before = PathCounters(photonDevice);
        double rate = run();
        var after = PathCounters(photonDevice);
        Console.Error.WriteLine($"netloss: {what}: {rate:F2} MiB/s, " +
            string.Join(", ", after.Where(kv => kv.Value != before.GetValueOrDefault(kv.Key)).Select(kv => $"{kv.Key} {kv.Value - before.GetValueOrDefault(kv.Key)}")));
        return rate;
    }

    private static Dictionary<string, long> PathCounters(PacketSocketDevice photonDevice)
    {
        var c = new Dictionary<string, long>();
        var rule = BenchHost.Sh($"ip netns exec {Ns} nft list chain netdev photonloss in").Output;
        var packets = System.Text.RegularExpressions.Regex.Matches(rule, @"counter packets (\d+)");
        if (packets.Count == 3)
        {
            c["offered"] = long.Parse(packets[0].Groups[1].Value);
            // Packets over the MTU would be GSO/GRO super-packets, which the rule would drop whole (one draw for many
            // segments): with TSO off on both veth ends (no checksum offload) and no GRO there are none — counted to
            // show it, as the rule's rate is only per wire segment then.
            c["over-MTU"] = long.Parse(packets[1].Groups[1].Value);
            c["DROPPED(rule)"] = long.Parse(packets[2].Groups[1].Value);
        }
        foreach (var (ns, dev) in new[] { ("", A), ($"ip netns exec {Ns} ", B) })
        {
            var s = BenchHost.Sh($"{ns}cat /sys/class/net/{dev}/statistics/rx_dropped /sys/class/net/{dev}/statistics/tx_dropped").Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            if (s.Length == 2) { c[$"{dev}-rx-dropped"] = long.Parse(s[0]); c[$"{dev}-tx-dropped"] = long.Parse(s[1]); }
        }
        c["photon-ring-dropped"] = photonDevice.DroppedFrames;
        long backlog = 0;
        foreach (var line in BenchHost.Sh("cat /proc/net/softnet_stat").Output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            backlog += Convert.ToInt64(line.Split(' ')[1], 16);
        c["host-backlog-dropped"] = backlog;
        foreach (var (prefix, ns) in new[] { ("host:", ""), ("ns:", $"ip netns exec {Ns} ") })
        {
            var r = BenchHost.Sh($"{ns}nstat -az TcpRetransSegs TcpExtTCPTimeouts TcpExtTCPLossProbes TcpExtTCPSackRecovery TcpExtTCPLostRetransmit " +
                "TcpExtTCPDSACKRecv TcpExtTCPDSACKOldSent TcpExtTCPDSACKOfoSent TcpExtTCPSpuriousRTOs TcpExtTCPSACKReorder 2>/dev/null");
            foreach (var line in r.Output.Split('\n'))
            {
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length >= 2 && f[0].StartsWith("Tcp", StringComparison.Ordinal) && long.TryParse(f[1], out var v)) c[prefix + f[0]] = v;
            }
        }
        return c;
    }

    /// <summary>The host's default TCP congestion controller (net.ipv4.tcp_congestion_control; BBR on this machine).</summary>
    private static string HostDefaultController() =>
        File.ReadAllText("/proc/sys/net/ipv4/tcp_congestion_control").Trim() is { Length: > 0 } cc ? cc : "cubic";

    private static double SendLinux(string controller)
    {
        var data = BenchHost.Payload(LossBytes);
        var nc = Task.Run(() => BenchHost.Sh($"ip netns exec {Ns} nc -l -p 9000 < /dev/null > /dev/null"));
        using var s = BenchHost.ConnectRetry(new IPEndPoint(IPAddress.Parse(Net + "1"), 9000));
        // TCP_CONGESTION (13): this socket's controller, whatever the host's default.
        s.SetRawSocketOption(6, 13, Encoding.ASCII.GetBytes(controller));
        var sw = Stopwatch.StartNew();
        for (int off = 0; off < LossBytes; off += 1 << 20) s.Send(data, off, 1 << 20, SocketFlags.None);
        s.Shutdown(SocketShutdown.Send);
        nc.Wait();
        return LossBytes / 1048576.0 / sw.Elapsed.TotalSeconds;
    }

    private static readonly Counter[] Recovery = [Counter.TcpRetransmits, Counter.TcpTimeouts, Counter.TcpFastRetransmits /* recovery episodes */, Counter.TcpSackRetransmits,
        Counter.TcpRackRetransmits, Counter.TcpRescueRetransmits, Counter.TcpTailLossProbes, Counter.TcpDuplicateSacks, Counter.TcpSpuriousRecoveriesUndone];

    private static async Task<double> SendPhoton(NetworkStack stack)
    {
        var data = BenchHost.Payload(LossBytes);
        var nc = Task.Run(() => BenchHost.Sh($"ip netns exec {Ns} nc -l -p 9000 < /dev/null > /dev/null"));
        Photon.Kernel.Result<Photon.Net.Tcp.TcpConnection> conn = default;
        for (int i = 0; i < 50 && !(conn = await stack.Tcp.ConnectAsync(new IpEndpoint(Ipv4Address.Parse(Net + "1").Value, 9000))).IsOk; i++)
            await Task.Delay(100);
        var before = Recovery.Select(c => stack[c]).ToArray();
        var sw = Stopwatch.StartNew();
        for (int off = 0; off < LossBytes; off += 1 << 20) (await conn.Value.SendAsync(data.AsMemory(off, 1 << 20))).Unwrap();
        await conn.Value.CloseAsync();
        await nc;
        double rate = LossBytes / 1048576.0 / sw.Elapsed.TotalSeconds;
        Console.Error.WriteLine("netloss:   Photon's counters: " + string.Join(", ", Recovery.Select((c, i) => $"{c} {stack[c] - before[i]}")) + $", at the end {conn.Value.Info}");
        return rate;
    }

    /// <summary>A minimal HTTP responder on Linux's stack: reads one request head, sends the same bulk body.</summary>
    private static double CurlLinux()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Parse(Net + "3"), 8080));
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
        var rate = Curl(Net + "3:8080");
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

    private static async Task<double> CurlPhoton(NetworkStack stack)
    {
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
            var curl = Curl(Net + "2:8080");
            stop.Cancel();
            SocketSyscalls.Close(httpd, listener).Unwrap();
            return curl;
        }
        finally { SocketSyscalls.Unregister(caps); }
    }
}
