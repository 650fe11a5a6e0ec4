using Photon.Kernel.Capabilities;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Quotas;
using Photon.Net.Sockets;
using Photon.Net.Syscalls;
using static Photon.Net.Tests.TwoStacks;

namespace Photon.Net.Tests.Sockets;

/// <summary>
/// Issue #15, a tenant parking calls: receives, accepts and sends that wait are bounded per socket
/// (<see cref="NetworkStackOptions.SocketMaxPendingCalls"/>, then <see cref="ErrorCode.Busy"/>), each beyond a socket's
/// first is charged to the tenant's memory quota while parked (and refused typed when the quota has no room), and
/// cancelling or closing gives
/// every charged byte back at once. Through the syscall layer, tenants on the right stack, peers on the left. Run alone:
/// the flood test measures the heap and this thread's allocation.
/// </summary>
[Collection(AllocationMeasurements.Name)]
public sealed class PendingCallTests : IAsyncLifetime
{
    private const string A = "/tenant-a", B = "/tenant-b";
    private const ushort TcpPort = 8080, UdpPort = 5000;
    private const int Limit = 64;
    private const long Cost = PendingCalls<bool>.Cost;
    private static readonly IpEndpoint RightTcp = new(Ip("10.9.0.2"), TcpPort);
    private readonly TenantSocketKernel _k = new(new NetworkStackOptions { SocketMaxPendingCalls = Limit });

    public PendingCallTests()
    {
        foreach (var tenant in new[] { _k.TenantA, _k.TenantB })
        {
            _k.Ns.Bind(tenant, "tcp", _k.Sockets.GrantPorts(TransportProtocol.Tcp, TcpPort, TcpPort, Principal.Kernel).Value, Rights.Listen).Unwrap();
            _k.Ns.Bind(tenant, "udp", _k.Sockets.GrantPorts(TransportProtocol.Udp, UdpPort, UdpPort, Principal.Kernel).Value, Rights.Bind).Unwrap();
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _k.DisposeAsync();
    }

    private Process Spawn(CapabilityToken tenant, string name) => _k.Pm.Spawn(name, tenant).Value.Process;

    /// <summary>The quota's books and the socket layer's, read together under the stack lock every charge runs under.</summary>
    private long Charged(string tenant)
    {
        var (charged, books) = _k.Charges(tenant);
        Assert.Equal(books, charged);
        return charged;
    }

    /// <summary>A connection accepted by a process of tenant A (its buffers are A's), and its kernel-owned client.</summary>
    private async Task<(Process Owner, Handle Listener, Handle Connection, Tcp.TcpConnection Client)> AcceptedAsync()
    {
        var a = Spawn(_k.TenantA, "server");
        var listener = SocketSyscalls.Listen(a, a.Open("tcp", Rights.Listen).Value, TcpPort).Value;
        var accept = SocketSyscalls.AcceptAsync(a, listener);
        var client = (await _k.Net.Left.Tcp.ConnectAsync(RightTcp)).Value;
        return (a, listener, (await accept.WaitAsync(TimeSpan.FromSeconds(20))).Value, client);
    }

    [Fact]
    public async Task Receives_parked_on_one_connection_stop_at_the_limit_with_Busy_are_charged_and_all_come_back_on_close()
    {
        var (a, _, conn, client) = await AcceptedAsync();
        Assert.True((await client.SendAsync(new byte[10])).IsOk); // the receive buffer's storage is charged from here on
        Assert.Equal(10, (await SocketSyscalls.ReceiveAsync(a, conn, new byte[64])).Value);
        long before = Charged(A);
        var parked = Enumerable.Range(0, Limit).Select(_ => SocketSyscalls.ReceiveAsync(a, conn, new byte[64])).ToList();
        Assert.Equal(before + (Limit - 1) * Cost, Charged(A)); // the first goes with the socket

        for (int i = 0; i < 1000; i++) // a flood beyond the limit is refused at once and holds nothing
        {
            var r = SocketSyscalls.ReceiveAsync(a, conn, new byte[64]);
            Assert.True(r.IsCompleted);
            Assert.Equal(ErrorCode.Busy, r.Result.Code);
        }
        Assert.Equal(before + (Limit - 1) * Cost, Charged(A));
        Assert.All(parked, p => Assert.False(p.IsCompleted));

        // Data wakes them; one reads it and the rest park again, within the limit and charged once each but the first.
        Assert.True((await client.SendAsync(new byte[10])).IsOk);
        var first = await Task.WhenAny(parked).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(10, first.Result.Value);
        await Until(() => Charged(A) == before + (Limit - 2) * Cost, () => $"{Charged(A) - before} bytes charged for {Limit - 1} parked receives");

        // Closing the handle ends every parked receive typed and refunds them all.
        Assert.True(SocketSyscalls.Close(a, conn).IsOk);
        foreach (var p in parked.Where(p => p != first))
            Assert.Equal(ErrorCode.Closed, (await p.WaitAsync(TimeSpan.FromSeconds(20))).Code);
        Assert.True(Charged(A) <= before, $"{Charged(A)} bytes charged after close, {before} before the receives");
    }

    [Fact]
    public async Task Cancelled_accepts_and_receives_leave_at_once_and_refund_their_charge()
    {
        var a = Spawn(_k.TenantA, "impatient");
        var listener = SocketSyscalls.Listen(a, a.Open("tcp", Rights.Listen).Value, TcpPort).Value;
        var udp = SocketSyscalls.BindUdp(a, a.Open("udp", Rights.Bind).Value, UdpPort).Value;
        var tcpListener = _k.Net.Right.Tcp.ListenerOn(TcpPort)!;
        var udpSocket = _k.Net.Right.Udp.Sockets.Single(s => s.Port == UdpPort);
        for (int round = 0; round < 200; round++)
        {
            using var cts = new CancellationTokenSource();
            var accepts = Enumerable.Range(0, Limit).Select(_ => SocketSyscalls.AcceptAsync(a, listener, cts.Token)).ToList();
            var receives = Enumerable.Range(0, Limit).Select(_ => SocketSyscalls.ReceiveFromAsync(a, udp, cts.Token)).ToList();
            Assert.Equal(ErrorCode.Busy, (await SocketSyscalls.AcceptAsync(a, listener)).Code);
            Assert.Equal(ErrorCode.Busy, (await SocketSyscalls.ReceiveFromAsync(a, udp)).Code);
            Assert.Equal(2 * (Limit - 1) * Cost, Charged(A));
            cts.Cancel();
            foreach (var t in accepts) Assert.Equal(ErrorCode.Cancelled, (await t).Code);
            foreach (var t in receives) Assert.Equal(ErrorCode.Cancelled, (await t).Code);
            Assert.Equal(0, Charged(A));
            Assert.Equal(0, tcpListener.ParkedAccepts);
            Assert.Equal(0, udpSocket.PendingReceives);
        }

        // The socket still works: a live accept gets the next connection.
        var live = SocketSyscalls.AcceptAsync(a, listener);
        await _k.Net.Left.Tcp.ConnectAsync(RightTcp);
        Assert.True((await live.WaitAsync(TimeSpan.FromSeconds(20))).IsOk);
    }

    [Fact]
    public async Task Parked_calls_count_against_the_tenant_quota_and_one_tenant_at_its_quota_does_not_stop_another()
    {
        const int room = 10;
        _k.Quotas.SetLimits(A, new QuotaLimits(MemoryBytes: room * Cost)).Unwrap();
        var a = Spawn(_k.TenantA, "hoarder");
        var udp = SocketSyscalls.BindUdp(a, a.Open("udp", Rights.Bind).Value, UdpPort).Value;
        var parked = Enumerable.Range(0, 1 + room).Select(_ => SocketSyscalls.ReceiveFromAsync(a, udp)).ToList(); // the first is free
        Assert.All(parked, p => Assert.False(p.IsCompleted));
        Assert.Equal(ErrorCode.QuotaExceeded, (await SocketSyscalls.ReceiveFromAsync(a, udp)).Code);
        Assert.Equal(room * Cost, Charged(A));

        // B, on its own quota, parks an accept and gets its connection.
        var b = Spawn(_k.TenantB, "neighbour");
        var listener = SocketSyscalls.Listen(b, b.Open("tcp", Rights.Listen).Value, TcpPort).Value;
        var accept = SocketSyscalls.AcceptAsync(b, listener);
        await _k.Net.Left.Tcp.ConnectAsync(RightTcp);
        Assert.True((await accept.WaitAsync(TimeSpan.FromSeconds(20))).IsOk);

        // Closing ends them all, typed, and refunds everything.
        Assert.True(SocketSyscalls.Close(a, udp).IsOk);
        foreach (var p in parked) Assert.Equal(ErrorCode.Closed, (await p.WaitAsync(TimeSpan.FromSeconds(20))).Code);
        Assert.Equal(0, Charged(A));
    }

    [Fact]
    public async Task Sends_waiting_for_room_are_bounded_and_a_send_refused_Busy_queues_nothing()
    {
        var (a, _, conn, client) = await AcceptedAsync();
        // The client never reads: once the server's send buffer and the client's window are full, sends wait.
        var first = SocketSyscalls.SendAsync(a, conn, new byte[16 * 1024 * 1024]);
        var waiting = Enumerable.Range(0, Limit - 1).Select(_ => SocketSyscalls.SendAsync(a, conn, new byte[1024 * 1024])).ToList();
        await Until(() => waiting.Count(w => !w.IsCompleted) == Limit - 1, () =>
            $"the sends wait; ended early: [{string.Join(", ", waiting.Where(w => w.IsCompleted).Select(w => w.Result.IsOk ? "Ok" : w.Result.Code.ToString()))}], " +
            $"first: {(first.IsCompleted ? first.Result.IsOk ? "Ok" : first.Result.Code.ToString() : "waiting")}");
        int Queued() => _k.Net.Right.Tcp.Connections.Single(c => c.Remote == client.Local).SendQueue;
        int queued = Queued();
        for (int i = 0; i < 100; i++) // the window is shut once nothing moves between two looks
        {
            await Task.Delay(100);
            if (Queued() == queued) break;
            queued = Queued();
        }
        Assert.Equal(ErrorCode.Busy, (await SocketSyscalls.SendAsync(a, conn, new byte[1024 * 1024])).Code);
        Assert.Equal(queued, Queued());
        Assert.True(SocketSyscalls.Close(a, conn).IsOk);
        foreach (var w in waiting.Append(first))
            Assert.Equal(ErrorCode.Closed, (await w.WaitAsync(TimeSpan.FromSeconds(20))).Code);
        await client.AbortAsync();
    }

    /// <summary>The charge is honest: what parking a syscall receive allocates (its state machines, completion,
    /// cancellation registration) is no more than <see cref="PendingCalls{T}.Cost"/>; and a flood of 100,000 receives at
    /// one socket grows the heap by what the limit allows, not by the flood.</summary>
    [Fact]
    public async Task A_parked_receive_allocates_no_more_than_its_charge_and_a_flood_of_them_does_not_grow_the_heap()
    {
        var a = Spawn(_k.TenantA, "flooder");
        var udp = SocketSyscalls.BindUdp(a, a.Open("udp", Rights.Bind).Value, UdpPort).Value;
        using var cts = new CancellationTokenSource();
        var warm = SocketSyscalls.ReceiveFromAsync(a, udp, cts.Token); // warm the path
        cts.Cancel();
        Assert.Equal(ErrorCode.Cancelled, (await warm).Code);

        using var cts2 = new CancellationTokenSource();
        long heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        var parked = new List<Task<Result<Udp.UdpDatagram>>>(Limit);
        for (int i = 0; i < Limit; i++) parked.Add(SocketSyscalls.ReceiveFromAsync(a, udp, cts2.Token));
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        Assert.True(allocated / Limit <= Cost, $"a parked receive allocates {allocated / Limit} bytes, charged {Cost}");

        var refused = 0;
        for (int i = 0; i < 100_000; i++)
            if (SocketSyscalls.ReceiveFromAsync(a, udp, cts2.Token) is { IsCompleted: true, Result.Code: ErrorCode.Busy }) refused++;
        Assert.Equal(100_000, refused);
        long heapAfter = GC.GetTotalMemory(forceFullCollection: true);
        Assert.True(heapAfter - heapBefore < 4 * Limit * Cost, $"heap grew {heapAfter - heapBefore:N0} bytes");
        GC.KeepAlive(parked);
        cts2.Cancel();
        await Task.WhenAll(parked);
        Assert.Equal(0, Charged(A));
    }

    private static async Task Until(Func<bool> condition, Func<string> what, int ms = 20_000)
    {
        for (int i = 0; i < ms / 10 && !condition(); i++) await Task.Delay(10);
        Assert.True(condition(), what());
    }
}
