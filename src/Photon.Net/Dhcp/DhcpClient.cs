using System.Security.Cryptography;
using Photon.Kernel.Scheduling;
using Photon.Net.Dns;
using Photon.Net.Udp;

namespace Photon.Net.Dhcp;

/// <summary>How patiently the client asks: the first wait for an answer, doubled on every retransmission up to
/// <see cref="MaxWait"/> (RFC 2131 §4.1 suggests 4 s doubling to 64 s; shorter here, a kernel boot waits on it), and how
/// many DISCOVERs before giving up with <c>TimedOut</c>.</summary>
public sealed record DhcpClientOptions
{
    public TimeSpan FirstWait { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan MaxWait { get; init; } = TimeSpan.FromSeconds(8);
    public int Attempts { get; init; } = 5;

    /// <summary>ARP probes of an acknowledged address before it is used (RFC 5227: 3; 0 skips the check).</summary>
    public int Probes { get; init; } = 2;
    /// <summary>Between probes (RFC 5227: 1–2 s at random).</summary>
    public TimeSpan ProbeInterval { get; init; } = TimeSpan.FromMilliseconds(300);
    /// <summary>Listening after the last probe (RFC 5227's ANNOUNCE_WAIT: 2 s).</summary>
    public TimeSpan ProbeWait { get; init; } = TimeSpan.FromMilliseconds(700);
    /// <summary>Wait after declining an address before asking again (RFC 2131 §3.1.5: at least 10 s).</summary>
    public TimeSpan AfterDecline { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>How long a RELEASE may wait for the server's hardware address before the stack goes down.</summary>
    public TimeSpan ReleaseWait { get; init; } = TimeSpan.FromSeconds(2);
}

/// <summary>
/// A DHCPv4 client for one interface (RFC 2131 §4.4): DISCOVER → first OFFER → REQUEST → ACK (a NAK starts over),
/// then the lease is applied to the stack (<see cref="NetworkStack.Configure"/>: address, prefix, default route via the
/// router) and its DNS servers given to the resolver. <see cref="MaintainAsync"/> keeps it: at T1 a unicast REQUEST to
/// the leasing server, at T2 a broadcast one to any server, at expiry the address is taken away and the client starts
/// over. Replies count only for the current transaction ID (random per exchange) and our hardware address; malformed
/// ones are counted and ignored. An acknowledged address is probed with ARP before use (<see cref="AddressConflictProbe"/>);
/// if another host has it, the client sends DECLINE, waits <see cref="DhcpClientOptions.AfterDecline"/> and starts over
/// (RFC 2131 §3.1.5). <see cref="ReleaseAsync"/> gives the lease back (RELEASE, unicast to the server) and unconfigures the
/// interface: what the network component does when it stops. Runs in the kernel on port 68 of the stack; one interface
/// per stack (the broadcast goes out on the first interface).
/// </summary>
public sealed class DhcpClient
{
    private readonly NetworkStack _stack;
    private readonly NetInterface _nic;
    private readonly DnsResolver? _resolver;
    private readonly IKernelTimers _timers;
    private readonly byte[] _mac;
    private long _ignored, _declines;

    public DhcpClient(NetworkStack stack, NetInterface nic, DnsResolver? resolver = null, DhcpClientOptions? options = null)
    {
        _stack = stack;
        _nic = nic;
        _resolver = resolver;
        _timers = stack.Timers;
        _mac = nic.Device.MacAddress.ToArray();
        Options = options ?? new DhcpClientOptions();
    }

    public DhcpClientOptions Options { get; }
    public DhcpLease? Lease { get; private set; }
    /// <summary>Datagrams on port 68 that were not an answer to the current exchange (other xid or MAC, malformed).</summary>
    public long Ignored => Interlocked.Read(ref _ignored);
    /// <summary>Addresses declined because another host answered the ARP probe.</summary>
    public long Declines => Interlocked.Read(ref _declines);

    private static readonly IpEndpoint Servers = new(Ipv4Address.Broadcast, DhcpMessage.ServerPort);

    /// <summary>Obtains a lease and applies it.</summary>
    public async Task<Result<DhcpLease>> AcquireAsync(CancellationToken ct = default)
    {
        var bound = _stack.Udp.Bind(DhcpMessage.ClientPort);
        if (!bound.IsOk) return bound.Error;
        await using var socket = bound.Value;
        KernelError last = Errors.Of(ErrorCode.TimedOut, $"{_nic.Name}: no DHCP server answered");
        var wait = Options.FirstWait;
        for (int attempt = 0; attempt < Options.Attempts; attempt++, wait = Min(wait * 2, Options.MaxWait))
        {
            uint xid = (uint)RandomNumberGenerator.GetInt32(int.MinValue, int.MaxValue);
            var offer = await ExchangeAsync(socket, DhcpMessage.Discover(xid, _mac), Servers, xid, wait, DhcpMessageType.Offer, ct).ConfigureAwait(false);
            if (!offer.IsOk)
            {
                if (offer.Code == ErrorCode.Cancelled) return offer.Error;
                last = offer.Error;
                continue;
            }
            var ack = await ExchangeAsync(socket, DhcpMessage.RequestSelecting(xid, _mac, offer.Value.YourAddress, offer.Value.ServerId), Servers, xid, wait, null, ct).ConfigureAwait(false);
            if (!ack.IsOk) { last = ack.Error; if (ack.Code == ErrorCode.Cancelled) return ack.Error; continue; }
            if (ack.Value.Type == DhcpMessageType.Nak) { last = Errors.Of(ErrorCode.AccessDenied, $"{ack.Value.ServerId} refused the lease (NAK)"); continue; }
            bool conflict;
            try { conflict = await AddressConflictProbe.ConflictsAsync(_stack, _nic, ack.Value.YourAddress, Options, _timers, ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { return Errors.Of(ErrorCode.Cancelled, "cancelled"); }
            if (conflict)
            {
                Interlocked.Increment(ref _declines);
                last = Errors.Of(ErrorCode.AlreadyExists, $"{ack.Value.YourAddress} is in use by another host (declined)");
                var declined = DhcpMessage.Decline(xid, _mac, ack.Value.YourAddress, ack.Value.ServerId);
                if (declined.IsOk) await socket.SendToAsync(Servers, declined.Value).ConfigureAwait(false);
                await DelayAsync(Options.AfterDecline, ct).ConfigureAwait(false);
                if (ct.IsCancellationRequested) return Errors.Of(ErrorCode.Cancelled, "cancelled");
                continue;
            }
            return Apply(ack.Value);
        }
        return last;
    }

    /// <summary>Gives the lease back: a RELEASE unicast to the leasing server (RFC 2131 §4.4.6), waiting up to
    /// <see cref="DhcpClientOptions.ReleaseWait"/> for the server's hardware address so the message leaves before the
    /// stack stops, then the address and routes are taken away. Without a lease it does nothing.</summary>
    public async Task<Result> ReleaseAsync(CancellationToken ct = default)
    {
        if (Lease is not { } lease) return Result.Ok;
        var bound = _stack.Udp.Bind(DhcpMessage.ClientPort);
        if (!bound.IsOk) return bound.Error;
        await using (var socket = bound.Value)
        {
            uint xid = (uint)RandomNumberGenerator.GetInt32(int.MinValue, int.MaxValue);
            var release = DhcpMessage.Release(xid, _mac, lease.Ack.YourAddress, lease.Ack.ServerId);
            if (!release.IsOk) return release.Error;
            var server = lease.Ack.ServerId;
            var sent = await socket.SendToAsync(new IpEndpoint(server, DhcpMessage.ServerPort), release.Value).ConfigureAwait(false);
            if (!sent.IsOk) return sent.Error;
            // The datagram may be parked until ARP finds the server (or its router): give it that long to leave.
            var deadline = _timers.Now + Options.ReleaseWait;
            while (!ct.IsCancellationRequested && _timers.Now < deadline && Resolving(server))
                await DelayAsync(TimeSpan.FromMilliseconds(20), ct).ConfigureAwait(false);
        }
        Drop();
        return Result.Ok;
    }

    private bool Resolving(Ipv4Address server)
    {
        lock (_stack.Gate) return _nic.IsResolving(_stack.Routes.Lookup(server)?.NextHop ?? server);
    }

    /// <summary>Renews the lease now: unicast to the leasing server (<paramref name="rebind"/>: broadcast to any server).
    /// A NAK takes the address away (the client must start over).</summary>
    public async Task<Result<DhcpLease>> RenewAsync(bool rebind = false, CancellationToken ct = default)
    {
        if (Lease is not { } lease) return Errors.Of(ErrorCode.NotFound, "no lease to renew");
        var bound = _stack.Udp.Bind(DhcpMessage.ClientPort);
        if (!bound.IsOk) return bound.Error;
        await using var socket = bound.Value;
        uint xid = (uint)RandomNumberGenerator.GetInt32(int.MinValue, int.MaxValue);
        var to = rebind ? Servers : new IpEndpoint(lease.Ack.ServerId, DhcpMessage.ServerPort);
        var ack = await ExchangeAsync(socket, DhcpMessage.RequestRenewing(xid, _mac, lease.Ack.YourAddress), to, xid, Options.MaxWait, null, ct).ConfigureAwait(false);
        if (!ack.IsOk) return ack.Error;
        if (ack.Value.Type == DhcpMessageType.Nak)
        {
            Drop();
            return Errors.Of(ErrorCode.AccessDenied, $"{ack.Value.ServerId} refused the renewal (NAK)");
        }
        return Apply(ack.Value);
    }

    /// <summary>Keeps the lease until cancelled: renews at T1, rebinds at T2, and at expiry drops the address and
    /// acquires a new lease.</summary>
    public async Task MaintainAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            if (Lease is not { } lease)
            {
                var got = await AcquireAsync(ct).ConfigureAwait(false);
                if (!got.IsOk && !ct.IsCancellationRequested) await DelayAsync(Options.MaxWait, ct).ConfigureAwait(false);
                continue;
            }
            if (lease.PhaseAt(_timers.Now) == DhcpLeasePhase.Expired) { Drop(); continue; }
            // An infinite lease has no next event: look again in a day (the timers take no infinite wait).
            if (lease.NextEventAt(_timers.Now) is not { } next) { await DelayAsync(TimeSpan.FromDays(1), ct).ConfigureAwait(false); continue; }
            await DelayAsync(next - _timers.Now, ct).ConfigureAwait(false);
            if (ct.IsCancellationRequested) return;
            switch (lease.PhaseAt(_timers.Now))
            {
                case DhcpLeasePhase.Renewing: await RenewAsync(rebind: false, ct).ConfigureAwait(false); break;
                case DhcpLeasePhase.Rebinding: await RenewAsync(rebind: true, ct).ConfigureAwait(false); break;
                case DhcpLeasePhase.Expired: Drop(); break;
            }
        }
    }

    private Result<DhcpLease> Apply(DhcpReply ack)
    {
        var configured = _stack.Configure(_nic, new Ipv4Cidr(ack.YourAddress, ack.PrefixLength), ack.Router);
        if (!configured.IsOk) return configured.Error;
        if (_resolver is not null && ack.DnsServers.Count > 0)
            _resolver.SetServers(ack.DnsServers.Select(d => new IpEndpoint(d, 53)).ToList());
        Lease = new DhcpLease(ack, _timers.Now);
        return Lease;
    }

    private void Drop()
    {
        Lease = null;
        _stack.Unconfigure(_nic);
    }

    /// <summary>Sends <paramref name="message"/> and waits up to <paramref name="wait"/> for a reply to
    /// <paramref name="xid"/> (of type <paramref name="want"/>, or ACK/NAK when null); anything else is ignored.</summary>
    private async Task<Result<DhcpReply>> ExchangeAsync(UdpSocket socket, Result<byte[]> message, IpEndpoint to, uint xid, TimeSpan wait, DhcpMessageType? want, CancellationToken ct)
    {
        if (!message.IsOk) return message.Error;
        var sent = await socket.SendToAsync(to, message.Value).ConfigureAwait(false);
        if (!sent.IsOk) return sent.Error;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var expiry = _timers.Delay(wait, stop.Token);
        while (true)
        {
            var receive = socket.ReceiveAsync(stop.Token);
            if (await Task.WhenAny(receive, expiry).ConfigureAwait(false) == expiry)
            {
                stop.Cancel();
                try { await receive.ConfigureAwait(false); } catch (OperationCanceledException) { }
                return ct.IsCancellationRequested ? Errors.Of(ErrorCode.Cancelled, "cancelled") : Errors.Of(ErrorCode.TimedOut, $"{_nic.Name}: no DHCP answer within {wait.TotalSeconds:0.#} s");
            }
            var d = await receive.ConfigureAwait(false);
            if (!d.IsOk) { stop.Cancel(); return d.Error; }
            var reply = DhcpMessage.ParseReply(d.Value.Data, xid, _mac);
            if (reply.IsOk && (want is { } w ? reply.Value.Type == w : reply.Value.Type is DhcpMessageType.Ack or DhcpMessageType.Nak))
            {
                stop.Cancel();
                return reply;
            }
            Interlocked.Increment(ref _ignored);
        }
    }

    private async Task DelayAsync(TimeSpan due, CancellationToken ct)
    {
        try { await _timers.Delay(due, ct).ConfigureAwait(false); }
        catch (OperationCanceledException) { }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
