using System.Text;
using Photon.Kernel.Boot;
using Photon.Kernel.Boot.Components;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal;
using Photon.Kernel.Hal.Host;
using Photon.Net.Services;
using Photon.Net.Syscalls;
using Photon.Net.Tcp;
using static Photon.Net.Tests.TwoStacks;

namespace Photon.Net.Tests;

/// <summary>
/// Issue #15 defect 3: the HTTP server held partial and idle connections forever, with no cap. Here it runs as a
/// process on a booted kernel (through socket syscalls) and a peer stack on the wire plays slowloris, silent and
/// non-reading clients while an ordinary client must still be served.
/// </summary>
public sealed partial class HttpServerTests
{
    private sealed class WireSource(WireEnd end) : INetworkDeviceSource
    {
        public Result<INetworkDevice> Open(string name, ReadOnlySpan<byte> mac, int queues) => end;
    }

    internal sealed class Fixture : IAsyncDisposable
    {
        public required PhotonKernel Kernel { get; init; }
        public required NetworkStack Peer { get; init; }
        public required HttpServer Server { get; init; }
        public required CancellationTokenSource Stop { get; init; }
        public required Task Running { get; init; }
        /// <summary>The client stack's end of the wire (its <c>Loss</c> silences the client).</summary>
        public required WireEnd PeerWire { get; init; }

        public async ValueTask DisposeAsync()
        {
            Stop.Cancel();
            await Kernel.DisposeAsync();
            await Peer.DisposeAsync();
        }
    }

    internal static readonly IpEndpoint Http = new(Ip("10.9.0.1"), 80);

    internal static Task<Fixture> StartAsync(HttpServerOptions options, Func<string, HttpResponse>? handler = null, int peerReceiveBuffer = 512 * 1024) =>
        StartAsync(options, (r, _) => ValueTask.FromResult((handler ?? (path => HttpResponse.Text(200, $"hello {path}\n")))(r.Target)), peerReceiveBuffer);

    private static async Task<Fixture> StartAsync(HttpServerOptions options, HttpServer.Handler handler, int peerReceiveBuffer = 512 * 1024)
    {
        var (a, b) = WireEnd.Pair();
        var peer = new NetworkStack(Timers, new NetworkStackOptions { TcpMinRto = TimeSpan.FromMilliseconds(50), TcpReceiveBuffer = peerReceiveBuffer });
        peer.AddInterface(b, Ipv4Cidr.Parse("10.9.0.2/24").Value).Unwrap();
        peer.Start();
        var k = (await PhotonKernel.BootAsync(new KernelConfig
        {
            Platform = LinuxPlatform.Create(processors: 2) with { Network = new WireSource(a) },
            EchoLog = false,
            Components = [new TenantComponent("web"), new NetworkComponent("wire0", Ipv4Cidr.Parse("10.9.0.1/24").Value, queues: 1)],
        })).Value;
        var sys = k.Sys;
        var tcp = sys.Namespaces.Open(k.Init, "/net/tcp", Rights.Delegate).Value;
        var grant = SocketSyscalls.GrantPorts(k.Init, tcp, 80, 80).Value;
        var webNs = sys.Namespaces.Open(k.Init, "/web", Rights.All).Value;
        sys.Namespaces.Bind(k.Init, webNs, "http", grant, Rights.Listen).Unwrap();
        var (_, httpd) = sys.Processes.Spawn(k.Init, webNs, "httpd").Value;
        var listener = SocketSyscalls.Listen(httpd, sys.Namespaces.Open(httpd, "http", Rights.Listen).Value, 80, backlog: 512).Value;
        var server = new HttpServer(httpd, listener, handler, options);
        var stop = new CancellationTokenSource();
        var running = sys.Processes.StartTask(httpd, ct => server.RunAsync(CancellationTokenSource.CreateLinkedTokenSource(ct, stop.Token).Token), "serve").Value;
        return new Fixture { Kernel = k, Peer = peer, Server = server, Stop = stop, Running = running, PeerWire = b };
    }

    private static async Task<string> GetAsync(NetworkStack peer, string path)
    {
        var c = (await peer.Tcp.ConnectAsync(Http)).Value;
        Assert.True((await c.SendAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: photon\r\n\r\n"))).IsOk);
        var all = await StackTests.ReadAll(c).WaitAsync(TimeSpan.FromSeconds(10));
        await c.CloseAsync();
        return Encoding.ASCII.GetString(all);
    }

    private static async Task<TcpConnection> OpenAsync(NetworkStack peer, string? partial)
    {
        var c = (await peer.Tcp.ConnectAsync(Http)).Value;
        if (partial is not null) Assert.True((await c.SendAsync(Encoding.ASCII.GetBytes(partial))).IsOk);
        return c;
    }

    [Fact]
    public async Task Slowloris_and_silent_connections_are_reset_at_the_header_deadline_while_others_are_served()
    {
        await using var f = await StartAsync(new HttpServerOptions { HeaderTimeout = TimeSpan.FromSeconds(3), MaxConnectionsPerSource = 1000 });
        var held = (await Task.WhenAll(Enumerable.Range(0, 150).Select(i => OpenAsync(f.Peer, i < 100 ? "GET / HTTP/1.1\r\nX-Slow: " : null)))).ToList();
        await StackTests.WaitUntil(() => f.Server.ActiveConnections + f.Server.TimedOut == 150);

        // While clients hold connections, an ordinary request is answered.
        Assert.True(f.Server.ActiveConnections > 0);
        Assert.StartsWith("HTTP/1.1 200 OK", await GetAsync(f.Peer, "/"));
        Assert.Equal(1, f.Server.RequestsServed);

        // Past the deadline every held connection is reset: nothing stays on either side.
        await StackTests.WaitUntil(() => f.Server.ActiveConnections == 0, ms: 10_000);
        Assert.Equal(150, f.Server.TimedOut);
        foreach (var c in held)
            Assert.Equal(ErrorCode.ConnectionReset, (await c.ReceiveAsync(new byte[16]).WaitAsync(TimeSpan.FromSeconds(5))).Code);
        await StackTests.WaitUntil(() => f.Peer.Tcp.Connections.Count == 0);
    }

    [Theory]
    [InlineData(10, 1000)] // per-source cap
    [InlineData(1000, 10)] // total cap
    public async Task Connections_beyond_a_cap_are_reset_on_accept(int perSource, int total)
    {
        await using var f = await StartAsync(new HttpServerOptions { MaxConnectionsPerSource = perSource, MaxConnections = total });
        var conns = new List<TcpConnection>();
        for (int i = 0; i < 30; i++) conns.Add(await OpenAsync(f.Peer, null));
        await StackTests.WaitUntil(() => f.Server.Refused == 20);
        Assert.Equal(10, f.Server.ActiveConnections);
        int reset = 0;
        foreach (var c in conns)
        {
            var r = await c.ReceiveAsync(new byte[16]).WaitAsync(TimeSpan.FromMilliseconds(300)).ContinueWith(t => t.IsCompletedSuccessfully ? t.Result.Code : ErrorCode.TimedOut);
            if (r == ErrorCode.ConnectionReset) reset++;
        }
        Assert.Equal(20, reset);
    }

    [Fact]
    public void The_per_source_cap_counts_an_ipv6_slash_64_as_one_source_and_an_ipv4_address_as_itself()
    {
        // One SLAAC host owns a whole /64: counting single IPv6 addresses would give it 2^64 budgets.
        IpAddress Key(string a) => HttpServer.SourceKey(IpAddress.Parse(a).Value);
        Assert.Equal(Key("2001:db8:1:2::1"), Key("2001:db8:1:2:ffff:ffff:ffff:fffe"));
        Assert.Equal(Key("2001:db8:1:2::1"), Key("2001:db8:1:2:a:b:c:d"));
        Assert.NotEqual(Key("2001:db8:1:2::1"), Key("2001:db8:1:3::1"));
        Assert.NotEqual(Key("10.9.0.2"), Key("10.9.0.3"));
        Assert.Equal(IpAddress.Parse("10.9.0.2").Value, Key("10.9.0.2"));
    }

    [Fact]
    public async Task A_client_that_does_not_read_is_reset_at_the_send_deadline()
    {
        var big = new byte[4 << 20];
        await using var f = await StartAsync(new HttpServerOptions { SendTimeout = TimeSpan.FromSeconds(1) },
            _ => new HttpResponse(200, "application/octet-stream", big), peerReceiveBuffer: 16 * 1024);
        var c = await OpenAsync(f.Peer, "GET /big HTTP/1.1\r\n\r\n"); // and never reads
        await StackTests.WaitUntil(() => f.Server.TimedOut == 1, ms: 10_000);
        await StackTests.WaitUntil(() => f.Server.ActiveConnections == 0);
        Assert.Equal(0, f.Server.RequestsServed);
        GC.KeepAlive(c);
    }

    [Fact]
    public async Task A_client_that_never_acknowledges_is_reset_at_the_send_deadline_too()
    {
        // review18: the response is lent to the send buffer; a cancelled lent send used to wait until the peer
        // acknowledged what it had sent, so a client that never did held the connection slot for ~11 minutes of
        // retransmissions (forever if it acknowledged a byte now and then) instead of the send deadline.
        var big = new byte[4 << 20];
        await using var f = await StartAsync(new HttpServerOptions { SendTimeout = TimeSpan.FromSeconds(1) },
            _ => new HttpResponse(200, "application/octet-stream", big));
        var c = await OpenAsync(f.Peer, "GET /big HTTP/1.1\r\n\r\n");
        f.PeerWire.Loss = 1.0; // from now on the client sends nothing: no ACK ever reaches the server
        await StackTests.WaitUntil(() => f.Server.TimedOut == 1, ms: 15_000);
        await StackTests.WaitUntil(() => f.Server.ActiveConnections == 0);
        Assert.Equal(0, f.Server.RequestsServed);
        GC.KeepAlive(c);
    }
}
