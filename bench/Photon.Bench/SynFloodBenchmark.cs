using System.Buffers.Binary;
using System.Diagnostics;
using System.Threading.Channels;
using Photon.Kernel.Hal;
using Photon.Kernel.Hal.Host;
using Photon.Net;

namespace Photon.Bench;

/// <summary>
/// Issue #15 defect 1 as a figure: memory and CPU per 100k SYNs to a listener whose half-open cache is full (every SYN
/// answered with a SYN cookie), through an in-memory wire between two stacks. Baseline, same run and wire: 100k ICMP
/// echo requests of the same frame size, the cheapest one-frame-in, one-frame-out path. Allocated bytes and CPU are
/// per 100k frames (process CPU: both stacks' loops included); retained bytes are what stays on the heap after a full
/// collection. One unmeasured round of each warms the JIT; `PHOTON_BENCH_SYNFLOOD_ROUNDS` (3) measured rounds follow,
/// interleaved, and the medians are reported.
/// </summary>
public static class SynFloodBenchmark
{
    private const int Frames = 100_000;

    public static IEnumerable<BenchResult> Run()
    {
        // One round of each first, not counted: the JIT. Without it the SYN run, measured first, paid for compiling
        // (and tiering up) the whole receive and send path the echo run then found ready — most of its "cost" (branch
        // loss11: perf showed libclrjit and tier-0 code in most of the SYN run's samples).
        Measure(tcp: true).GetAwaiter().GetResult();
        Measure(tcp: false).GetAwaiter().GetResult();
        int rounds = int.TryParse(Environment.GetEnvironmentVariable("PHOTON_BENCH_SYNFLOOD_ROUNDS"), out var r) && r is > 0 and <= 20 ? r : 3;
        var syns = new List<(double Allocated, double Retained, double CpuMs)>();
        var echoes = new List<(double Allocated, double Retained, double CpuMs)>();
        for (int i = 0; i < rounds; i++) // interleaved, medians reported
        {
            syns.Add(Measure(tcp: true).GetAwaiter().GetResult());
            echoes.Add(Measure(tcp: false).GetAwaiter().GetResult());
            Console.Error.WriteLine($"synflood: round {i + 1}: CPU per 100k SYNs {syns[^1].CpuMs:F0} ms, echoes {echoes[^1].CpuMs:F0} ms; " +
                $"allocated {syns[^1].Allocated / 1048576.0:F1} / {echoes[^1].Allocated / 1048576.0:F1} MiB; load {File.ReadAllText("/proc/loadavg").Trim()}");
        }
        var syn = (Allocated: Median(syns.Select(x => x.Allocated)), Retained: syns.Max(x => x.Retained), CpuMs: Median(syns.Select(x => x.CpuMs)));
        var echo = (Allocated: Median(echoes.Select(x => x.Allocated)), Retained: echoes.Max(x => x.Retained), CpuMs: Median(echoes.Select(x => x.CpuMs)));
        string of = rounds > 1 ? $" (median of {rounds})" : "";
        return
        [
            new BenchResult($"SYN flood: allocated per 100k SYNs (cache full){of}", syn.Allocated / 1048576.0, "ICMP echo, same frames", echo.Allocated / 1048576.0, "MiB", true),
            new BenchResult("SYN flood: retained after 100k SYNs (most of any round)", syn.Retained / 1048576.0, "ICMP echo, same frames", echo.Retained / 1048576.0, "MiB", true),
            new BenchResult($"SYN flood: CPU per 100k SYNs{of}", syn.CpuMs, "ICMP echo, same frames", echo.CpuMs, "ms", true),
        ];
    }

    private static double Median(IEnumerable<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    private static async Task<(double Allocated, double Retained, double CpuMs)> Measure(bool tcp)
    {
        var timers = new HostTimers(new HostClock());
        var (a, b) = PairedDevice.Pair();
        await using var left = new NetworkStack(timers);
        await using var right = new NetworkStack(timers, new NetworkStackOptions { TcpMaxHalfOpen = 64 });
        left.AddInterface(a, Ipv4Cidr.Parse("10.9.0.1/24").Value).Unwrap();
        var nic = right.AddInterface(b, Ipv4Cidr.Parse("10.9.0.2/24").Value).Value;
        // The spoofed sources are off-link: every answer really leaves, through the gateway, as on a real network.
        right.Routes.AddDefault(Ipv4Address.Parse("10.9.0.1").Value, nic).Unwrap();
        left.Start();
        right.Start();
        await using var listener = right.Tcp.Listen(8080).Value;
        var mac = nic.Device.MacAddress.ToArray();
        var rng = new Random(11);
        var frames = new byte[Frames + 64][];
        for (int i = 0; i < frames.Length; i++)
        {
            // Spoofed sources, as hping3 --rand-source sends them.
            var src = new Ipv4Address((uint)(0x0A090100 | rng.Next(3, 250)));
            frames[i] = tcp ? SynFrame(mac, src, (ushort)rng.Next(1024, 65535), (uint)rng.Next()) : EchoFrame(mac, src, (ushort)i);
        }
        for (int i = 0; i < 64; i++) right.InjectFrame(nic, frames[i]); // fills the SYN cache
        long retainedBefore = GC.GetTotalMemory(forceFullCollection: true);
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        for (int i = 64; i < frames.Length; i++) right.InjectFrame(nic, frames[i]);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        Array.Clear(frames);
        long retained = Math.Max(0, GC.GetTotalMemory(forceFullCollection: true) - retainedBefore);
        return (allocated, retained, cpu.TotalMilliseconds);
    }

    private static byte[] Ipv4(byte[] dstMac, Ipv4Address src, Ipv4Address dst, byte protocol, ReadOnlySpan<byte> payload)
    {
        var f = new byte[34 + payload.Length];
        dstMac.CopyTo(f, 0);
        f[6] = 2; f[11] = 0x99; f[12] = 8; f[14] = 0x45; f[22] = 64; f[23] = protocol;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), (ushort)(20 + payload.Length));
        src.Write(f.AsSpan(26));
        dst.Write(f.AsSpan(30));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(24), InternetChecksum.Compute(f.AsSpan(14, 20)));
        payload.CopyTo(f.AsSpan(34));
        return f;
    }

    private static readonly Ipv4Address Target = Ipv4Address.Parse("10.9.0.2").Value;

    private static byte[] SynFrame(byte[] mac, Ipv4Address src, ushort sport, uint seq)
    {
        var t = new byte[20];
        BinaryPrimitives.WriteUInt16BigEndian(t, sport);
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(2), 8080);
        BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(4), seq);
        t[12] = 5 << 4;
        t[13] = 0x02;
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(14), 65535);
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(16), InternetChecksum.Transport(src, Target, 6, t));
        return Ipv4(mac, src, Target, 6, t);
    }

    private static byte[] EchoFrame(byte[] mac, Ipv4Address src, ushort seq)
    {
        var m = new byte[20]; // the SYN's TCP header size
        m[0] = 8;
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(6), seq);
        BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(2), InternetChecksum.Compute(m));
        return Ipv4(mac, src, Target, 1, m);
    }

    /// <summary>Two devices joined by an in-memory cable (unbounded queues, no loss).</summary>
    internal sealed class PairedDevice(string name, byte[] mac) : INetworkDevice
    {
        private readonly Channel<byte[]> _inbox = Channel.CreateUnbounded<byte[]>();
        private PairedDevice? _peer;

        public static (PairedDevice A, PairedDevice B) Pair()
        {
            var a = new PairedDevice("wire0", [2, 0, 0, 0, 0, 1]);
            var b = new PairedDevice("wire1", [2, 0, 0, 0, 0, 2]);
            a._peer = b;
            b._peer = a;
            return (a, b);
        }

        public string Name => name;
        public ReadOnlyMemory<byte> MacAddress => mac;
        public int Mtu => 1500;

        public ValueTask SendAsync(ReadOnlyMemory<byte> frame, CancellationToken ct = default)
        {
            _peer!._inbox.Writer.TryWrite(frame.ToArray());
            return ValueTask.CompletedTask;
        }

        public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            var f = await _inbox.Reader.ReadAsync(ct);
            int n = Math.Min(f.Length, buffer.Length);
            f.AsSpan(0, n).CopyTo(buffer.Span);
            return n;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
