using Photon.Kernel.Capabilities;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Quotas;
using Photon.Net.Sockets;
using Photon.Net.Syscalls;
using Photon.Net.Tcp;
using static Photon.Net.Tests.TwoStacks;

namespace Photon.Net.Tests.Sockets;

/// <summary>
/// Issue #15, sockets under a hostile tenant, through the syscall layer: socket buffers are charged to the owning
/// tenant's memory quota and never grow past it, ephemeral ports are capped per tenant, and every byte and port comes
/// back when sockets close, processes die or the kernel resets a connection. Tenants live on the right stack; the left
/// stack is the outside world (kernel-owned clients and servers).
/// </summary>
public sealed class SocketQuotaTests : IAsyncLifetime
{
    private const string A = "/tenant-a", B = "/tenant-b";
    private static readonly IpEndpoint RightHttpA = new(Ip("10.9.0.2"), 8080), RightHttpB = new(Ip("10.9.0.2"), 8081);
    private readonly TenantSocketKernel _k = new(new NetworkStackOptions
    {
        TcpMinRto = TimeSpan.FromMilliseconds(50), TcpMsl = TimeSpan.FromMilliseconds(200), TcpOrphanTimeout = TimeSpan.FromSeconds(1),
    }, new SocketQuotaOptions { EphemeralPortsPerTenant = 8 });

    public SocketQuotaTests()
    {
        var outbound = _k.Sockets.GrantNetworkAccess(Principal.Kernel).Value;
        foreach (var (tenant, port) in new[] { (_k.TenantA, (ushort)8080), (_k.TenantB, (ushort)8081) })
        {
            _k.Ns.Bind(tenant, "http", _k.Sockets.GrantPorts(TransportProtocol.Tcp, port, port, Principal.Kernel).Value, Rights.Listen).Unwrap();
            _k.Ns.Bind(tenant, "net", outbound, Rights.Connect).Unwrap();
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _k.DisposeAsync();
    }

    private (Process Process, CapabilityToken Control) Spawn(CapabilityToken tenant, string name) => _k.Pm.Spawn(name, tenant).Value;

    private static async Task Until(Func<bool> condition, string what, int ms = 10_000)
    {
        for (int i = 0; i < ms / 10 && !condition(); i++) await Task.Delay(10);
        Assert.True(condition(), what);
    }

    /// <summary>The quota's books and the socket layer's agree, and the tenant is inside its limit. Both are read under
    /// the stack's lock, which every charge and refund runs under: read apart, a refund between the two reads made them
    /// differ (one run in six of the close/kill/RST race).</summary>
    private void AssertCharged(string tenant, long? limit = null)
    {
        var (charged, books) = _k.Charges(tenant);
        Assert.Equal(books, charged);
        if (limit is { } max) Assert.True(charged <= max, $"{tenant} holds {charged} bytes over its quota of {max}");
    }

    private async Task AssertAllReturned(string tenant) =>
        await Until(() => _k.Quotas.Usage(tenant).MemoryBytes == 0 && _k.Sockets.Quota.UsageOf(tenant) is { BufferBytes: 0, EphemeralPorts: 0 },
            $"{tenant} got everything back: quota {_k.Quotas.Usage(tenant).MemoryBytes} bytes, sockets {_k.Sockets.Quota.UsageOf(tenant)}");

    [Fact]
    public async Task A_tenant_flooding_unread_data_and_huge_writes_stays_inside_its_quota_while_another_tenant_transfers()
    {
        const long limit = 256 * 1024;
        _k.Quotas.SetLimits(A, new QuotaLimits(MemoryBytes: limit)).Unwrap();
        var (a, controlA) = Spawn(_k.TenantA, "attacker");
        var (b, _) = Spawn(_k.TenantB, "victim");

        // A accepts eight connections whose peers each push 512 KiB it never reads...
        var listenA = SocketSyscalls.Listen(a, a.Open("http", Rights.Listen).Value, 8080).Value;
        var pushers = new List<Task>();
        for (int i = 0; i < 8; i++)
        {
            var accept = SocketSyscalls.AcceptAsync(a, listenA);
            var c = (await _k.Net.Left.Tcp.ConnectAsync(RightHttpA)).Value;
            Assert.True((await accept).IsOk);
            pushers.Add(c.SendAsync(new byte[512 * 1024]));
        }
        // ...and writes 2 MiB each into four connections to a server that never reads.
        var sink = _k.Net.Left.Tcp.Listen(9000).Value;
        var netA = a.Open("net", Rights.Connect).Value;
        var writes = new List<Task<Result>>();
        for (int i = 0; i < 4; i++)
        {
            var c = (await SocketSyscalls.ConnectAsync(a, netA, new IpEndpoint(Ip("10.9.0.1"), 9000))).Value;
            Assert.True((await sink.AcceptAsync()).IsOk);
            writes.Add(SocketSyscalls.SendAsync(a, c, new byte[2 * 1024 * 1024]));
        }
        await Until(() => _k.Quotas.Usage(A).MemoryBytes > limit / 2, "A's buffers grew into its quota");
        for (int i = 0; i < 20; i++) { AssertCharged(A, limit); await Task.Delay(20); }
        // Each write waits at the size its buffer got, or — when the quota left it no buffer at all — is refused typed.
        Assert.All(writes, w => Assert.True(!w.IsCompleted || w.Result.Code == ErrorCode.QuotaExceeded, w.IsCompleted ? w.Result.ToString() : ""));

        // B is not starved: it accepts and receives 1 MiB byte-exact, charged to B alone.
        var listenB = SocketSyscalls.Listen(b, b.Open("http", Rights.Listen).Value, 8081).Value;
        var acceptB = SocketSyscalls.AcceptAsync(b, listenB);
        var client = (await _k.Net.Left.Tcp.ConnectAsync(RightHttpB)).Value;
        var served = (await acceptB).Value;
        var payload = new byte[1024 * 1024];
        new Random(5).NextBytes(payload);
        var sent = client.SendAsync(payload);
        var got = new MemoryStream();
        var buf = new byte[16 * 1024];
        while (got.Length < payload.Length)
        {
            var n = await SocketSyscalls.ReceiveAsync(b, served, buf);
            Assert.True(n.IsOk && n.Value > 0, n.ToString());
            got.Write(buf, 0, n.Value);
            AssertCharged(B);
        }
        Assert.True((await sent).IsOk);
        Assert.Equal(payload, got.ToArray());
        AssertCharged(A, limit);

        // Killing A gives back every byte and port: unread buffers at once, the orphaned writers once reset.
        Assert.True((await _k.Pm.DestroyAsync(controlA)).IsOk);
        await AssertAllReturned(A);
        await Task.WhenAll(pushers.Select(p => p.WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { })));
    }

    [Fact]
    public async Task A_tenant_without_room_for_a_send_buffer_is_refused_typed_and_its_peer_sees_a_closed_window()
    {
        _k.Quotas.SetLimits(A, new QuotaLimits(MemoryBytes: 1024)).Unwrap(); // less than the smallest buffer (4 KiB)
        var (a, _) = Spawn(_k.TenantA, "starved");
        var server = _k.Net.Left.Tcp.Listen(9001).Value;
        var c = (await SocketSyscalls.ConnectAsync(a, a.Open("net", Rights.Connect).Value, new IpEndpoint(Ip("10.9.0.1"), 9001))).Value;
        var peer = (await server.AcceptAsync()).Value;

        Assert.Equal(ErrorCode.QuotaExceeded, (await SocketSyscalls.SendAsync(a, c, new byte[100])).Code);
        // Receiving: nothing can be stored, so the window is zero and the peer's data waits in its own buffer.
        var push = peer.SendAsync(new byte[10_000]);
        await Task.Delay(300);
        Assert.Equal(10_000, peer.Info.SendQueue);
        Assert.Equal(0, _k.Quotas.Usage(A).MemoryBytes);

        // Once the quota allows it, the window reopens on the peer's next probe and the data arrives.
        _k.Quotas.SetLimits(A, new QuotaLimits(MemoryBytes: 1024 * 1024)).Unwrap();
        var read = 0;
        var buf = new byte[4096];
        var waitForRefund = Task.Run(async () =>
        {
            // The refused ring retries after a refund by the tenant's sockets: another socket of A opening and closing gives one.
            var other = (await SocketSyscalls.ConnectAsync(a, a.Open("net", Rights.Connect).Value, new IpEndpoint(Ip("10.9.0.1"), 9001))).Value;
            var otherPeer = (await server.AcceptAsync()).Value;
            Assert.True((await SocketSyscalls.SendAsync(a, other, new byte[10])).IsOk);
            Assert.True(SocketSyscalls.Close(a, other).IsOk);
            await otherPeer.CloseAsync();
        });
        await waitForRefund;
        while (read < 10_000)
        {
            var n = await SocketSyscalls.ReceiveAsync(a, c, buf).WaitAsync(TimeSpan.FromSeconds(20));
            Assert.True(n.IsOk && n.Value > 0, n.ToString());
            read += n.Value;
        }
        Assert.True((await push).IsOk);
        AssertCharged(A, 1024 * 1024);
        Assert.True(SocketSyscalls.Close(a, c).IsOk);
        await peer.CloseAsync();
        await AssertAllReturned(A);
    }

    [Fact]
    public async Task One_tenant_cannot_take_more_than_its_share_of_ephemeral_ports()
    {
        var (a, _) = Spawn(_k.TenantA, "port-hog");
        var (b, _) = Spawn(_k.TenantB, "neighbour");
        var server = _k.Net.Left.Tcp.Listen(9002, backlog: 64).Value;
        var remote = new IpEndpoint(Ip("10.9.0.1"), 9002);
        var netA = a.Open("net", Rights.Connect).Value;
        var held = new List<Handle>();
        for (int i = 0; i < 8; i++)
        {
            var c = await SocketSyscalls.ConnectAsync(a, netA, remote);
            Assert.True(c.IsOk, c.ToString());
            held.Add(c.Value);
        }
        Assert.Equal(ErrorCode.QuotaExceeded, (await SocketSyscalls.ConnectAsync(a, netA, remote)).Code);
        Assert.Equal(ErrorCode.QuotaExceeded, SocketSyscalls.BindUdp(a, netA, 0).Code); // UDP port 0 is an ephemeral port too
        Assert.Equal(8, _k.Sockets.Quota.UsageOf(A).EphemeralPorts);

        // B still gets ports of its own.
        var netB = b.Open("net", Rights.Connect).Value;
        var cb = await SocketSyscalls.ConnectAsync(b, netB, remote);
        Assert.True(cb.IsOk, cb.ToString());
        Assert.True(SocketSyscalls.BindUdp(b, netB, 0).IsOk);

        // A port comes back once its connection is gone (after TIME_WAIT), and A may connect again.
        Assert.True(SocketSyscalls.Close(a, held[0]).IsOk);
        for (int i = 0; i < 9; i++) _ = server.AcceptAsync().ContinueWith(t => { if (t.Result.IsOk) _ = t.Result.Value.CloseAsync(); });
        await Until(() => _k.Sockets.Quota.UsageOf(A).EphemeralPorts == 7, "the closed connection's port was returned");
        Assert.True((await SocketSyscalls.ConnectAsync(a, netA, remote)).IsOk);
    }

    // The accept is started only once the connect succeeded: an accept started before a connect that the tenant's port
    // cap refuses stays queued at the listener and takes the next round's connection, so that round's own accept waited
    // forever (the hang this test had; the stack did what a pending accept should).
    [Fact]
    public async Task Closing_and_killing_while_buffers_grow_always_returns_every_charged_byte()
    {
        _k.Quotas.SetLimits(A, new QuotaLimits(MemoryBytes: 384 * 1024)).Unwrap();
        var server = _k.Net.Left.Tcp.Listen(9003, backlog: 64).Value;
        var remote = new IpEndpoint(Ip("10.9.0.1"), 9003);
        var rng = new Random(15);
        var peers = new List<TcpConnection>();
        var pendingSends = new List<Task<Result>>();
        int connected = 0;
        for (int round = 0; round < 12; round++)
        {
            var (a, control) = Spawn(_k.TenantA, $"racer{round}");
            var netA = a.Open("net", Rights.Connect).Value;
            var handles = new List<Handle>();
            for (int i = 0; i < 3; i++)
            {
                var c = await SocketSyscalls.ConnectAsync(a, netA, remote);
                if (!c.IsOk) { Assert.Equal(ErrorCode.QuotaExceeded, c.Code); continue; } // the port cap, while earlier rounds' ports drain
                connected++;
                handles.Add(c.Value);
                var peer = (await server.AcceptAsync()).Value;
                peers.Add(peer);
                _ = peer.SendAsync(new byte[256 * 1024]);                                   // grows A's receive buffer
                pendingSends.Add(SocketSyscalls.SendAsync(a, c.Value, new byte[256 * 1024])); // and its send buffer
                _ = DrainAsync(peer);
            }
            await Task.Delay(rng.Next(0, 30));
            switch (round % 3)
            {
                case 0: foreach (var h in handles) SocketSyscalls.Close(a, h); break;
                case 1: Assert.True((await _k.Pm.DestroyAsync(control)).IsOk); break;
                default: foreach (var p in peers) await p.AbortAsync(); break; // the kernel sees RSTs
            }
            AssertCharged(A, 384 * 1024);
            if (round % 3 != 1) Assert.True((await _k.Pm.DestroyAsync(control)).IsOk);
        }
        Assert.True(connected >= 12, $"only {connected} connections were made: the race was hardly run");
        await AssertAllReturned(A); // no ephemeral port held means every one of A's connections is gone
        // Every send that was waiting for buffer space ended: sent, or typed when its socket went away under it.
        await Until(() => pendingSends.All(t => t.IsCompleted), "every pending send completed");
        Assert.All(pendingSends, t => Assert.True(t.Result.IsOk || t.Result.Code is ErrorCode.Closed or ErrorCode.ConnectionReset
            or ErrorCode.QuotaExceeded or ErrorCode.Revoked or ErrorCode.InvalidHandle, t.Result.ToString()));
    }

    [Fact]
    public async Task Cancelled_receives_and_sends_on_a_stalled_connection_do_not_pile_up()
    {
        var (client, server, _) = await _k.Net.ConnectAsync(9004);
        for (int i = 0; i < 2000; i++)
        {
            using var cts = new CancellationTokenSource();
            var r = server.ReceiveAsync(new byte[16], cts.Token);
            cts.Cancel();
            Assert.Equal(ErrorCode.Cancelled, (await r).Code);
        }
        Assert.Equal(0, server.PendingCalls);

        // The server never reads, so the client's buffer fills and every further send waits until cancelled.
        var stuck = client.SendAsync(new byte[8 * 1024 * 1024]);
        for (int i = 0; i < 2000; i++)
        {
            using var cts = new CancellationTokenSource();
            var w = client.SendAsync(new byte[1], cts.Token);
            cts.Cancel();
            var r = await w;
            Assert.True(r.IsOk || r.Code == ErrorCode.Cancelled, r.ToString());
        }
        Assert.False(stuck.IsCompleted);
        Assert.True(client.PendingCalls <= 1, $"{client.PendingCalls} waiters left"); // the one big send

        // A live receive still gets data, and the stuck send ends typed when the connection is reset.
        var buf = new byte[16];
        var live = client.ReceiveAsync(buf);
        Assert.True((await server.SendAsync(new byte[10])).IsOk);
        Assert.Equal(10, (await live.WaitAsync(TimeSpan.FromSeconds(20))).Value);
        await server.AbortAsync();
        Assert.Equal(ErrorCode.ConnectionReset, (await stuck.WaitAsync(TimeSpan.FromSeconds(20))).Code);
    }

    private static async Task DrainAsync(TcpConnection c)
    {
        var buf = new byte[64 * 1024];
        while (true)
        {
            var n = await c.ReceiveAsync(buf);
            if (!n.IsOk || n.Value == 0) return;
        }
    }
}
