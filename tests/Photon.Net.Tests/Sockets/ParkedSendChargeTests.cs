using Photon.Kernel.Capabilities;
using Photon.Kernel.Processes;
using Photon.Kernel.Quotas;
using Photon.Net.Sockets;
using Photon.Net.Syscalls;
using static Photon.Net.Tests.TwoStacks;

namespace Photon.Net.Tests.Sockets;

/// <summary>
/// Issue #17 with issue #15's books: when the stack takes a tenant's parked send into the send buffer on its own (the
/// bytes copied on the ACK's thread, the storage grown by a work item), that buffer is still charged to the tenant that
/// owns the socket, never holds more than its capacity, agrees with the socket layer's books throughout, refuses growth
/// the quota has no room for (the send then waits at the size it has), and gives everything back when the socket closes.
/// </summary>
public sealed class ParkedSendChargeTests : IAsyncLifetime
{
    private const string A = "/tenant-a";
    private const int SendMax = 512 * 1024;
    private static readonly IpEndpoint Sink = new(Ip("10.9.0.1"), 9100);
    private readonly TenantSocketKernel _k = new(new NetworkStackOptions
    {
        TcpMinRto = TimeSpan.FromMilliseconds(50), TcpMsl = TimeSpan.FromMilliseconds(200), TcpOrphanTimeout = TimeSpan.FromSeconds(1),
        TcpSendBuffer = 32 * 1024, TcpSendBufferMax = SendMax,
    });

    public ParkedSendChargeTests()
    {
        _k.Ns.Bind(_k.TenantA, "net", _k.Sockets.GrantNetworkAccess(Principal.Kernel).Value, Rights.Connect).Unwrap();
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _k.DisposeAsync();

    private long Charged()
    {
        var (charged, books) = _k.Charges(A);
        Assert.Equal(books, charged);
        return charged;
    }

    private static async Task Until(Func<bool> condition, string what)
    {
        for (int i = 0; i < 2000 && !condition(); i++) await Task.Delay(10);
        Assert.True(condition(), what);
    }

    private async Task<(Process Owner, Handle Connection, Tcp.TcpConnection Peer)> ConnectAsync()
    {
        var a = _k.Pm.Spawn("sender", _k.TenantA).Value.Process;
        var listener = _k.Net.Left.Tcp.Listen(Sink.Port).Value;
        var accept = listener.AcceptAsync();
        var c = (await SocketSyscalls.ConnectAsync(a, a.Open("net", Rights.Connect).Value, Sink)).Value;
        return (a, c, (await accept.WaitAsync(TimeSpan.FromSeconds(20))).Value);
    }

    [Fact]
    public async Task What_the_stack_takes_from_a_parked_send_is_charged_to_the_owner_within_the_buffer_bound()
    {
        var (a, c, peer) = await ConnectAsync();
        var data = new byte[4 << 20];
        new Random(1).NextBytes(data);
        var send = SocketSyscalls.SendAsync(a, c, data);
        var got = new MemoryStream();
        var buf = new byte[64 * 1024];
        long most = 0;
        while (got.Length < data.Length)
        {
            var n = await peer.ReceiveAsync(buf).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(n.IsOk && n.Value > 0, n.ToString());
            got.Write(buf, 0, n.Value);
            most = Math.Max(most, Charged());
        }
        Assert.True((await send.WaitAsync(TimeSpan.FromSeconds(30))).IsOk);
        Assert.Equal(data, got.ToArray());
        Assert.True(most > 32 * 1024, "the tenant was never charged for the grown buffer");
        Assert.True(most <= SendMax + PendingCalls<bool>.Cost, $"charged {most} bytes, over the send buffer's bound");
        Assert.True(_k.Net.Right[Counter.TcpSendBytesTakenFromParkedWriter] > 0);
        Assert.True(SocketSyscalls.Close(a, c).IsOk);
        await peer.CloseAsync();
        await Until(() => _k.Quotas.Usage(A).MemoryBytes == 0 && _k.Sockets.Quota.UsageOf(A).BufferBytes == 0, "the tenant got its bytes back");
    }

    [Fact]
    public async Task Growth_the_quota_refuses_leaves_the_parked_send_at_the_size_it_has_and_it_still_finishes()
    {
        const long limit = 100 * 1024;
        _k.Quotas.SetLimits(A, new QuotaLimits(MemoryBytes: limit)).Unwrap();
        var (a, c, peer) = await ConnectAsync();
        var data = new byte[1 << 20];
        new Random(2).NextBytes(data);
        var send = SocketSyscalls.SendAsync(a, c, data);
        var got = new MemoryStream();
        var buf = new byte[16 * 1024];
        while (got.Length < data.Length)
        {
            var n = await peer.ReceiveAsync(buf).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(n.IsOk && n.Value > 0, n.ToString());
            got.Write(buf, 0, n.Value);
            Assert.True(Charged() <= limit, "charged past the quota");
        }
        Assert.True((await send.WaitAsync(TimeSpan.FromSeconds(30))).IsOk);
        Assert.Equal(data, got.ToArray());
        Assert.True(SocketSyscalls.Close(a, c).IsOk);
        await peer.CloseAsync();
        await Until(() => _k.Quotas.Usage(A).MemoryBytes == 0, "the tenant got its bytes back");
    }
}
