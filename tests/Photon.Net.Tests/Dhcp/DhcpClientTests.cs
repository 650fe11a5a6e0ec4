using System.Buffers.Binary;
using System.Collections.Concurrent;
using Photon.Net.Dhcp;
using Photon.Net.Dns;
using static Photon.Net.Tests.TwoStacks;

namespace Photon.Net.Tests.Dhcp;

/// <summary>The DHCP client on the in-memory wire against a scripted server: replies for another transaction or
/// hardware address and garbage are ignored, a NAK to the REQUEST starts over, the lease is applied to the stack and
/// the resolver, and a NAK to a renewal takes the address and routes away.</summary>
public sealed class DhcpClientTests : IAsyncLifetime
{
    private readonly WireEnd _a, _b;
    private readonly NetworkStack _client, _server;
    private readonly NetInterface _nic;
    private readonly Photon.Net.Udp.UdpSocket _socket;
    private readonly ConcurrentQueue<byte[]> _requests = new();
    private readonly CancellationTokenSource _stop = new();
    private Task _serve = Task.CompletedTask;

    public DhcpClientTests()
    {
        (_a, _b) = WireEnd.Pair();
        _client = new NetworkStack(Timers);
        _server = new NetworkStack(Timers);
        _nic = _client.AddUnconfiguredInterface(_a).Value;
        _server.AddInterface(_b, Ipv4Cidr.Parse("10.9.0.1/24").Value).Unwrap();
        _client.Start();
        _server.Start();
        _socket = _server.Udp.Bind(DhcpMessage.ServerPort).Value;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _stop.Cancel();
        await _socket.DisposeAsync();
        try { await _serve; } catch (OperationCanceledException) { }
        await _client.DisposeAsync();
        await _server.DisposeAsync();
        Assert.Equal(0, _client.Dropped(DropReason.InternalError));
    }

    private static byte[] Addr(string a) { var b = new byte[4]; Ip(a).Write(b); return b; }
    private static byte[] U32(uint v) { var b = new byte[4]; BinaryPrimitives.WriteUInt32BigEndian(b, v); return b; }

    private static byte[] Reply(byte[] request, byte type, string yours = "10.9.0.50", uint? xid = null, byte[]? mac = null)
    {
        var m = new byte[240];
        m[0] = 2; m[1] = 1; m[2] = 6;
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(4), xid ?? BinaryPrimitives.ReadUInt32BigEndian(request.AsSpan(4)));
        Addr(yours).CopyTo(m, 16);
        (mac ?? request[28..34]).CopyTo(m, 28);
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(236), 0x63825363);
        return [.. m, 53, 1, type, 54, 4, .. Addr("10.9.0.1"), 51, 4, .. U32(600), 1, 4, .. Addr("255.255.255.0"),
            3, 4, .. Addr("10.9.0.1"), 6, 4, .. Addr("10.9.0.1"), 255];
    }

    private static byte TypeOf(byte[] request) => request[242]; // option 53 comes first in the client's messages

    /// <summary>The server takes the client's messages off the wire itself: a Photon stack (rightly, as a host) drops
    /// datagrams from 0.0.0.0 as martian, where a Linux DHCP server reads them from a packet socket. It answers through
    /// its UDP port 67, broadcast.</summary>
    private void Serve(Func<byte[], int, IEnumerable<byte[]>> answer)
    {
        var inbox = System.Threading.Channels.Channel.CreateUnbounded<byte[]>();
        _a.Drop = frame =>
        {
            // Ethernet, IPv4 without options, UDP to port 67: the DHCP message follows the 42 bytes of headers.
            if (frame.Length > 42 && frame[12] == 8 && frame[13] == 0 && frame[23] == 17 && BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(36)) == DhcpMessage.ServerPort)
                inbox.Writer.TryWrite(frame[42..]);
            return false;
        };
        _serve = Task.Run(async () =>
        {
            for (int n = 0; !_stop.IsCancellationRequested; n++)
            {
                var request = await inbox.Reader.ReadAsync(_stop.Token);
                _requests.Enqueue(request);
                foreach (var reply in answer(request, n))
                    await _socket.SendToAsync(new IpEndpoint(Ipv4Address.Broadcast, DhcpMessage.ClientPort), reply);
            }
        });
    }

    [Fact]
    public async Task Foreign_and_malformed_replies_are_ignored_a_NAK_starts_over_and_the_lease_configures_the_stack()
    {
        bool nakked = false;
        Serve((request, _) => TypeOf(request) switch
        {
            1 => [Reply(request, 2, "10.9.0.66", xid: 7), Reply(request, 2, "10.9.0.67", mac: [2, 9, 9, 9, 9, 9]), [1, 2, 3], Reply(request, 2)],
            3 when !nakked && (nakked = true) => [Reply(request, 6, "0.0.0.0")],
            3 => [Reply(request, 5)],
            _ => [],
        });
        var resolver = DnsResolver.Create(_client, []).Value;
        var client = new DhcpClient(_client, _nic, resolver, new DhcpClientOptions { FirstWait = TimeSpan.FromSeconds(2) });

        var lease = await client.AcquireAsync();

        Assert.True(lease.IsOk, lease.ToString());
        Assert.Equal(new Ipv4Cidr(Ip("10.9.0.50"), 24), _nic.Cidr);
        Assert.Contains(_client.Routes.Routes, r => r.IsDefault && r.Gateway == Ip("10.9.0.1"));
        Assert.Equal([new IpEndpoint(Ip("10.9.0.1"), 53)], resolver.Servers);
        Assert.Equal(2, _requests.Count(r => TypeOf(r) == 1)); // the NAK sent the client back to DISCOVER
        Assert.True(client.Ignored >= 6, $"ignored {client.Ignored}"); // three foreign or malformed per DISCOVER
        Assert.True((await _client.PingAsync(Ip("10.9.0.1"), TimeSpan.FromSeconds(3))).IsOk);
    }

    [Fact]
    public async Task A_NAK_to_a_renewal_takes_the_address_and_routes_away()
    {
        Serve((request, _) => TypeOf(request) switch
        {
            1 => [Reply(request, 2)],
            // The renewing REQUEST has the leased address in ciaddr; it is refused.
            3 when request[12] != 0 => [Reply(request, 6, "0.0.0.0")],
            3 => [Reply(request, 5)],
            _ => [],
        });
        var client = new DhcpClient(_client, _nic);
        Assert.True((await client.AcquireAsync()).IsOk);

        var renewed = await client.RenewAsync();

        Assert.Equal(ErrorCode.AccessDenied, renewed.Code);
        Assert.Null(client.Lease);
        Assert.False(_nic.IsConfigured);
        Assert.DoesNotContain(_client.Routes.Routes, r => r.Interface == _nic);
    }

    [Fact]
    public async Task No_server_is_TimedOut_after_the_attempts_and_leaves_the_interface_unconfigured()
    {
        var client = new DhcpClient(_client, _nic, options: new DhcpClientOptions { FirstWait = TimeSpan.FromMilliseconds(50), MaxWait = TimeSpan.FromMilliseconds(100), Attempts = 3 });
        Serve((_, _) => []);

        var lease = await client.AcquireAsync();

        Assert.Equal(ErrorCode.TimedOut, lease.Code);
        Assert.Equal(3, _requests.Count);
        Assert.False(_nic.IsConfigured);
    }

    /// <summary>The value of option <paramref name="code"/> in one of the client's messages (options start at 240).</summary>
    private static byte[]? Option(byte[] m, byte code)
    {
        for (int at = 240; at + 1 < m.Length && m[at] != 255;)
        {
            if (m[at] == 0) { at++; continue; }
            if (m[at] == code) return m[(at + 2)..(at + 2 + m[at + 1])];
            at += 2 + m[at + 1];
        }
        return null;
    }

    [Fact]
    public async Task An_offered_address_another_host_answers_for_is_declined_and_a_different_one_is_taken()
    {
        // The first ACK hands out 10.9.0.1 — the server stack's own address, which it defends against the ARP probe.
        Serve((request, _) => TypeOf(request) switch
        {
            1 => [Reply(request, 2, _requests.Any(r => TypeOf(r) == 4) ? "10.9.0.50" : "10.9.0.1")],
            3 => [Reply(request, 5, _requests.Any(r => TypeOf(r) == 4) ? "10.9.0.50" : "10.9.0.1")],
            _ => [],
        });
        var client = new DhcpClient(_client, _nic, options: new DhcpClientOptions { AfterDecline = TimeSpan.FromMilliseconds(100) });

        var lease = await client.AcquireAsync();

        Assert.True(lease.IsOk, lease.ToString());
        Assert.Equal(Ip("10.9.0.50"), _nic.Address);
        Assert.Equal(1, client.Declines);
        var decline = Assert.Single(_requests, r => TypeOf(r) == 4);
        Assert.Equal(Addr("10.9.0.1"), Option(decline, 50)); // the declined address, to the server that offered it
        Assert.Equal(Addr("10.9.0.1"), Option(decline, 54));
        Assert.True((await _client.PingAsync(Ip("10.9.0.1"), TimeSpan.FromSeconds(3))).IsOk);
    }

    [Fact]
    public async Task An_address_nobody_answers_for_is_taken_after_the_probes_without_a_decline()
    {
        Serve((request, _) => TypeOf(request) switch { 1 => [Reply(request, 2)], 3 => [Reply(request, 5)], _ => [] });
        var client = new DhcpClient(_client, _nic);

        Assert.True((await client.AcquireAsync()).IsOk);

        Assert.Equal(0, client.Declines);
        Assert.DoesNotContain(_requests, r => TypeOf(r) == 4);
        Assert.Equal(Ip("10.9.0.50"), _nic.Address);
    }

    [Fact]
    public async Task Release_sends_the_leased_address_back_to_the_server_and_unconfigures_the_interface()
    {
        Serve((request, _) => TypeOf(request) switch { 1 => [Reply(request, 2)], 3 => [Reply(request, 5)], _ => [] });
        var client = new DhcpClient(_client, _nic);
        Assert.True((await client.AcquireAsync()).IsOk);

        Assert.True((await client.ReleaseAsync()).IsOk);

        await Until(() => _requests.Any(r => TypeOf(r) == 7));
        var release = _requests.Single(r => TypeOf(r) == 7);
        Assert.Equal(Addr("10.9.0.50"), release[12..16]); // ciaddr: the address given back
        Assert.Equal(Addr("10.9.0.1"), Option(release, 54));
        Assert.Null(client.Lease);
        Assert.False(_nic.IsConfigured);
    }

    private static async Task Until(Func<bool> condition)
    {
        for (int i = 0; i < 500 && !condition(); i++) await Task.Delay(10);
    }
}
