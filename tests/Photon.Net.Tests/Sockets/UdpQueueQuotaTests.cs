using Photon.Kernel.Capabilities;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Quotas;
using Photon.Net.Sockets;
using Photon.Net.Syscalls;
using Photon.Net.Udp;
using static Photon.Net.Tests.TwoStacks;

namespace Photon.Net.Tests.Sockets;

/// <summary>
/// Issue #15, UDP under a hostile sender, through the syscall layer: a socket's queued datagrams are bounded in count and
/// bytes and charged to the owning tenant's memory quota; a flood at a socket nobody reads is dropped and counted, not
/// held; another tenant's socket keeps receiving; closing or killing gives every charged byte back; and a receive
/// pending when its socket goes away ends typed. Tenants live on the right stack, the flood comes from the left one.
/// Run alone: the flood test measures the process's heap.
/// </summary>
[Collection(AllocationMeasurements.Name)]
public sealed class UdpQueueQuotaTests : IAsyncLifetime
{
    private const string A = "/tenant-a", B = "/tenant-b";
    private const ushort PortA = 5000, PortB = 5001;
    private readonly TenantSocketKernel _k = new();
    private UdpSocket? _flooder;

    public UdpQueueQuotaTests()
    {
        var outbound = _k.Sockets.GrantNetworkAccess(Principal.Kernel).Value;
        foreach (var (tenant, port) in new[] { (_k.TenantA, PortA), (_k.TenantB, PortB) })
        {
            _k.Ns.Bind(tenant, "udp", _k.Sockets.GrantPorts(TransportProtocol.Udp, port, port, Principal.Kernel).Value, Rights.Bind).Unwrap();
            _k.Ns.Bind(tenant, "net", outbound, Rights.Connect).Unwrap();
        }
    }

    /// <summary>Resolves the right stack's address first: datagrams sent while ARP is pending wait in a small queue
    /// and the excess is dropped at the sender, so a flood sent cold never all arrives.</summary>
    public async Task InitializeAsync()
    {
        _flooder = _k.Net.Left.Udp.Bind(0).Value;
        await _flooder.SendToAsync(To(9), new byte[1]);
        await Until(() => _k.Net.Right[Counter.UdpDatagramsIn] >= 1, "ARP resolved");
    }

    public async Task DisposeAsync()
    {
        if (_flooder is not null) await _flooder.DisposeAsync();
        await _k.DisposeAsync();
    }

    private static IpEndpoint To(ushort port) => new(Ip("10.9.0.2"), port);

    private (Process Process, CapabilityToken Control) Spawn(CapabilityToken tenant, string name) => _k.Pm.Spawn(name, tenant).Value;

    private static async Task Until(Func<bool> condition, string what, int ms = 20_000)
    {
        for (int i = 0; i < ms / 10 && !condition(); i++) await Task.Delay(10);
        Assert.True(condition(), what);
    }

    /// <summary>The quota's and the socket layer's books, read together under the stack lock every charge runs under.</summary>
    private long Charged(string tenant)
    {
        var (charged, books) = _k.Charges(tenant);
        Assert.Equal(books, charged);
        return charged;
    }

    /// <summary>Sends <paramref name="count"/> datagrams and waits until the right stack has processed all of them.</summary>
    private async Task FloodAsync(ushort port, int count, int size)
    {
        long before = _k.Net.Right[Counter.UdpDatagramsIn];
        var payload = new byte[size];
        for (int i = 0; i < count; i++) Assert.True((await _flooder!.SendToAsync(To(port), payload)).IsOk);
        await Until(() => _k.Net.Right[Counter.UdpDatagramsIn] >= before + count, "the flood arrived: "
            + string.Join(", ", _k.Net.Left.Statistics.Select(kv => $"left {kv.Key}={kv.Value}").Concat(_k.Net.Right.Statistics.Select(kv => $"right {kv.Key}={kv.Value}"))));
    }

    private UdpSocket SocketOn(ushort port) => _k.Net.Right.Udp.Sockets.Single(s => s.Port == port);

    [Fact]
    public async Task A_datagram_flood_at_a_socket_nobody_reads_stays_bounded_and_is_dropped_and_counted()
    {
        var (a, _) = Spawn(_k.TenantA, "deaf");
        var udp = SocketSyscalls.BindUdp(a, a.Open("udp", Rights.Bind).Value, PortA).Value;
        var socket = SocketOn(PortA);
        long heapBefore = GC.GetTotalMemory(forceFullCollection: true);

        const int count = 6000, size = 1200; // 7 MB at a socket that holds 256 KiB
        await FloodAsync(PortA, count, size);
        long heapAfter = GC.GetTotalMemory(forceFullCollection: true);

        var limits = _k.Net.Right.Options;
        Assert.True(socket.QueuedBytes <= limits.UdpQueueBytes, $"{socket.QueuedBytes} bytes queued");
        Assert.Equal(socket.Queued * (long)(size + UdpSocket.DatagramOverhead), socket.QueuedBytes);
        Assert.Equal(count, socket.Queued + socket.Dropped); // every datagram is either held or counted as dropped
        Assert.True(socket.Dropped >= count - limits.UdpQueueBytes / size, $"only {socket.Dropped} dropped");
        Assert.True(_k.Net.Right.Dropped(DropReason.UdpQueueFull) >= socket.Dropped);
        Assert.Equal(socket.QueuedBytes, Charged(A)); // what is held is the tenant's
        // The heap keeps what the queue holds (256 KiB), not the flood: under a seventh of the 7 MB sent.
        Assert.True(heapAfter - heapBefore < 1024 * 1024, $"heap grew {heapAfter - heapBefore:N0} bytes");

        // Reading gives the charge back datagram by datagram; the queue then takes new ones again.
        var first = await SocketSyscalls.ReceiveFromAsync(a, udp);
        Assert.Equal(size, first.Value.Data.Length);
        Assert.Equal(socket.QueuedBytes, Charged(A));
        Assert.True(SocketSyscalls.Close(a, udp).IsOk);
        Assert.Equal(0, Charged(A));
    }

    [Fact]
    public async Task A_tenant_flooded_to_its_quota_does_not_stop_another_tenant_receiving()
    {
        const long limit = 64 * 1024; // under one socket's 256 KiB: the quota, not the socket, is what stops A's flood
        _k.Quotas.SetLimits(A, new QuotaLimits(MemoryBytes: limit)).Unwrap();
        var (a, _) = Spawn(_k.TenantA, "victim-of-flood");
        var (b, _) = Spawn(_k.TenantB, "neighbour");
        SocketSyscalls.BindUdp(a, a.Open("udp", Rights.Bind).Value, PortA).Unwrap();
        var udpB = SocketSyscalls.BindUdp(b, b.Open("udp", Rights.Bind).Value, PortB).Value;

        var flood = FloodAsync(PortA, 3000, 1000);
        var sent = new List<byte[]>();
        for (int i = 0; i < 100; i++)
        {
            var d = new byte[200 + i];
            new Random(i).NextBytes(d);
            sent.Add(d);
            Assert.True((await _flooder!.SendToAsync(To(PortB), d)).IsOk);
        }
        await flood;
        for (int i = 0; i < 100; i++)
        {
            var got = await SocketSyscalls.ReceiveFromAsync(b, udpB).WaitAsync(TimeSpan.FromSeconds(20));
            Assert.True(got.IsOk, got.ToString());
            Assert.Equal(sent[i], got.Value.Data);
        }
        Assert.True(Charged(A) <= limit, $"A holds {Charged(A)} bytes over its quota of {limit}");
        Assert.True(Charged(A) > limit / 2, "A's queue filled its quota");
        Assert.True(_k.Net.Right.Dropped(DropReason.UdpOverQuota) > 0, "A's quota, not its socket, stopped the flood");
        Assert.Equal(0, Charged(B)); // B read everything
    }

    [Fact]
    public async Task Closing_or_killing_with_datagrams_queued_returns_every_charged_byte_and_port()
    {
        var (a, control) = Spawn(_k.TenantA, "holder");
        var byGrant = SocketSyscalls.BindUdp(a, a.Open("udp", Rights.Bind).Value, PortA).Value;
        SocketSyscalls.BindUdp(a, a.Open("net", Rights.Connect).Value, 0).Unwrap(); // an ephemeral port
        var ephemeral = _k.Net.Right.Udp.Sockets.Single(s => s.Port != PortA).Port;
        Assert.Equal(1, _k.Sockets.Quota.UsageOf(A).EphemeralPorts);

        const int size = 500, each = 40;
        await FloodAsync(PortA, each, size);
        await FloodAsync(ephemeral, each, size);
        const long perSocket = each * (size + UdpSocket.DatagramOverhead);
        Assert.Equal(2 * perSocket, Charged(A));

        Assert.True(SocketSyscalls.Close(a, byGrant).IsOk);
        Assert.Equal(perSocket, Charged(A));
        Assert.True((await _k.Pm.DestroyAsync(control)).IsOk);
        Assert.Equal(0, Charged(A));
        Assert.Equal(0, _k.Sockets.Quota.UsageOf(A).EphemeralPorts);
        Assert.Empty(_k.Net.Right.Udp.Sockets);
        Assert.Equal(0, _k.Quotas.Usage(A).MemoryBytes);
    }

    [Fact]
    public async Task A_receive_pending_when_its_socket_is_closed_or_its_process_killed_ends_typed()
    {
        var (a, control) = Spawn(_k.TenantA, "waiting");
        var udp = SocketSyscalls.BindUdp(a, a.Open("udp", Rights.Bind).Value, PortA).Value;
        var pending = SocketSyscalls.ReceiveFromAsync(a, udp);
        Assert.True(SocketSyscalls.Close(a, udp).IsOk);
        Assert.Equal(ErrorCode.Closed, (await pending.WaitAsync(TimeSpan.FromSeconds(20))).Code);
        Assert.Equal(ErrorCode.InvalidHandle, (await SocketSyscalls.ReceiveFromAsync(a, udp)).Code);

        var again = SocketSyscalls.BindUdp(a, a.Open("udp", Rights.Bind).Value, PortA).Value;
        var receives = Enumerable.Range(0, 8).Select(_ => SocketSyscalls.ReceiveFromAsync(a, again)).ToList();
        Assert.True((await _k.Pm.DestroyAsync(control)).IsOk);
        foreach (var r in receives) Assert.Equal(ErrorCode.Closed, (await r.WaitAsync(TimeSpan.FromSeconds(20))).Code);
    }

    [Fact]
    public async Task Cancelled_receives_on_a_silent_socket_do_not_pile_up()
    {
        var (a, _) = Spawn(_k.TenantA, "impatient");
        var udp = SocketSyscalls.BindUdp(a, a.Open("udp", Rights.Bind).Value, PortA).Value;
        var socket = SocketOn(PortA);
        for (int i = 0; i < 5000; i++)
        {
            using var cts = new CancellationTokenSource();
            var r = SocketSyscalls.ReceiveFromAsync(a, udp, cts.Token);
            cts.Cancel();
            Assert.Equal(ErrorCode.Cancelled, (await r).Code);
        }
        Assert.True(socket.PendingReceives <= 64, $"{socket.PendingReceives} cancelled receives still queued");
        // A live receive still gets the next datagram (a cancelled one is never handed it).
        var live = SocketSyscalls.ReceiveFromAsync(a, udp);
        await FloodAsync(PortA, 1, 10);
        Assert.True((await live.WaitAsync(TimeSpan.FromSeconds(20))).IsOk);
    }

    [Fact]
    public async Task Closing_while_a_flood_arrives_and_receives_are_pending_always_returns_every_charged_byte()
    {
        var rng = new Random(15);
        for (int round = 0; round < 20; round++)
        {
            var (a, control) = Spawn(_k.TenantA, $"racer{round}");
            var udp = SocketSyscalls.BindUdp(a, a.Open("udp", Rights.Bind).Value, PortA).Value;
            var sizes = new Random(round);
            var flood = Task.Run(async () =>
            {
                for (int i = 0; i < 200; i++) await _flooder!.SendToAsync(To(PortA), new byte[sizes.Next(0, 1400)]);
            });
            var receives = Enumerable.Range(0, 4).Select(_ => SocketSyscalls.ReceiveFromAsync(a, udp)).ToList();
            await Task.Delay(rng.Next(0, 10));
            if (round % 2 == 0) Assert.True(SocketSyscalls.Close(a, udp).IsOk);
            Assert.True((await _k.Pm.DestroyAsync(control)).IsOk);
            await flood;
            foreach (var r in receives)
            {
                var got = await r.WaitAsync(TimeSpan.FromSeconds(20));
                Assert.True(got.IsOk || got.Code == ErrorCode.Closed, got.ToString());
            }
            Assert.Equal(0, Charged(A));
        }
        Assert.Empty(_k.Net.Right.Udp.Sockets);
    }
}
