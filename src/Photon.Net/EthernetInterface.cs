using System.Buffers.Binary;
using System.Collections.Concurrent;
using Photon.Kernel.Hal;
using Photon.Kernel.Scheduling;

namespace Photon.Net;

/// <summary>Why a received frame was dropped. Every drop is counted; none throws or stalls the interface.</summary>
public enum DropReason { Truncated, BadLength, BadChecksum, BadVersion, NotForUs, UnsupportedEtherType, UnsupportedProtocol, Fragment, BadArp }

public sealed record ArpEntry(Ipv4Address Address, string Mac, TimeSpan Age);

/// <summary>
/// One Ethernet interface with an IPv4 address: ARP (cache with ageing, request/reply, pending resolutions), IPv4
/// (header validation and checksum), and ICMP echo (answers pings, and <see cref="PingAsync"/> sends them). It is the
/// first layer of Photon's network stack; UDP, TCP, routing and sockets build on it.
/// Parsing is safe code over spans: malformed frames are dropped and counted by reason.
/// </summary>
public sealed class EthernetInterface : IAsyncDisposable
{
    private const ushort EtherArp = 0x0806, EtherIpv4 = 0x0800;
    private readonly INetworkDevice _device;
    private readonly IKernelTimers _timers;
    private readonly byte[] _mac;
    private readonly ConcurrentDictionary<Ipv4Address, (byte[] Mac, TimeSpan Seen)> _arp = new();
    private readonly ConcurrentDictionary<Ipv4Address, TaskCompletionSource<byte[]>> _pendingArp = new();
    private readonly ConcurrentDictionary<(ushort Id, ushort Seq), TaskCompletionSource<TimeSpan>> _pendingPings = new();
    private readonly long[] _drops = new long[Enum.GetValues<DropReason>().Length];
    private readonly CancellationTokenSource _stop = new();
    private Task _rx = Task.CompletedTask;
    private int _nextSeq;
    private long _received, _sent, _echoReplies;

    public EthernetInterface(INetworkDevice device, Ipv4Address address, int prefixLength, IKernelTimers timers)
    {
        if (prefixLength is < 0 or > 32) throw new Kernel.KernelException(ErrorCode.InvalidArgument, "prefix length must be 0..32");
        _device = device;
        _timers = timers;
        _mac = device.MacAddress.ToArray();
        Address = address;
        PrefixLength = prefixLength;
    }

    public Ipv4Address Address { get; }
    public int PrefixLength { get; }
    public string Name => _device.Name;
    public string MacAddress => Mac.Format(_mac);
    public TimeSpan ArpTimeout { get; init; } = TimeSpan.FromMinutes(1);
    public long FramesReceived => Interlocked.Read(ref _received);
    public long FramesSent => Interlocked.Read(ref _sent);
    public long EchoRepliesSent => Interlocked.Read(ref _echoReplies);
    public long Dropped(DropReason reason) => Interlocked.Read(ref _drops[(int)reason]);
    public long DroppedTotal => _drops.Sum();

    public IReadOnlyList<ArpEntry> ArpCache =>
        _arp.Select(kv => new ArpEntry(kv.Key, Mac.Format(kv.Value.Mac), _timers.Now - kv.Value.Seen)).OrderBy(e => e.Address.Value).ToList();

    /// <summary>Starts the receive loop (a kernel task when called on the scheduler).</summary>
    public void Start() => _rx = ReceiveLoop(_stop.Token);

    private async Task ReceiveLoop(CancellationToken stop)
    {
        var buffer = new byte[2048];
        while (!stop.IsCancellationRequested)
        {
            int n;
            try { n = await _device.ReceiveAsync(buffer, stop).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            catch (KernelException) { return; }
            await HandleFrameAsync(buffer.AsMemory(0, n)).ConfigureAwait(false);
        }
    }

    /// <summary>Processes one received frame (public so tests and fuzzers can feed frames directly).</summary>
    public async ValueTask HandleFrameAsync(ReadOnlyMemory<byte> frame)
    {
        Interlocked.Increment(ref _received);
        var f = frame.Span;
        if (f.Length < 14) { Drop(DropReason.Truncated); return; }
        var dst = f[..6];
        if (!dst.SequenceEqual(_mac) && !dst.SequenceEqual(Mac.Broadcast)) { Drop(DropReason.NotForUs); return; }
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(f[12..]);
        switch (type)
        {
            case EtherArp: await HandleArpAsync(frame[14..]).ConfigureAwait(false); break;
            case EtherIpv4: await HandleIpv4Async(frame[14..]).ConfigureAwait(false); break;
            default: Drop(DropReason.UnsupportedEtherType); break;
        }
    }

    private async ValueTask HandleArpAsync(ReadOnlyMemory<byte> packet)
    {
        if (packet.Length < 28) { Drop(DropReason.Truncated); return; }
        var (op, senderMac, senderIp, targetIp) = ParseArp(packet.Span, out bool ok);
        if (!ok) { Drop(DropReason.BadArp); return; }
        if (senderIp != Ipv4Address.Any) _arp[senderIp] = (senderMac, _timers.Now);
        if (_pendingArp.TryRemove(senderIp, out var waiter)) waiter.TrySetResult(senderMac);
        if (op == 1 && targetIp == Address) await SendArpAsync(2, senderMac, senderIp).ConfigureAwait(false);
    }

    private static (ushort Op, byte[] SenderMac, Ipv4Address SenderIp, Ipv4Address TargetIp) ParseArp(ReadOnlySpan<byte> p, out bool ok)
    {
        ok = BinaryPrimitives.ReadUInt16BigEndian(p) == 1 && BinaryPrimitives.ReadUInt16BigEndian(p[2..]) == EtherIpv4 && p[4] == 6 && p[5] == 4;
        ushort op = BinaryPrimitives.ReadUInt16BigEndian(p[6..]);
        ok &= op is 1 or 2;
        return (op, p[8..14].ToArray(), Ipv4Address.Read(p[14..]), Ipv4Address.Read(p[24..]));
    }

    private async ValueTask HandleIpv4Async(ReadOnlyMemory<byte> packet)
    {
        var p = packet.Span;
        if (p.Length < 20) { Drop(DropReason.Truncated); return; }
        if (p[0] >> 4 != 4) { Drop(DropReason.BadVersion); return; }
        int ihl = (p[0] & 0xF) * 4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(p[2..]);
        if (ihl < 20 || total < ihl || total > p.Length) { Drop(DropReason.BadLength); return; }
        if (InternetChecksum.Compute(p[..ihl]) != 0) { Drop(DropReason.BadChecksum); return; }
        ushort flagsFrag = BinaryPrimitives.ReadUInt16BigEndian(p[6..]);
        if ((flagsFrag & 0x2000) != 0 || (flagsFrag & 0x1FFF) != 0) { Drop(DropReason.Fragment); return; }
        var src = Ipv4Address.Read(p[12..]);
        var dst = Ipv4Address.Read(p[16..]);
        if (dst != Address) { Drop(DropReason.NotForUs); return; }
        if (p[9] != 1) { Drop(DropReason.UnsupportedProtocol); return; }
        var icmp = packet.Slice(ihl, total - ihl);
        await HandleIcmpAsync(src, icmp).ConfigureAwait(false);
    }

    private async ValueTask HandleIcmpAsync(Ipv4Address src, ReadOnlyMemory<byte> icmp)
    {
        var m = icmp.Span;
        if (m.Length < 8) { Drop(DropReason.Truncated); return; }
        if (InternetChecksum.Compute(m) != 0) { Drop(DropReason.BadChecksum); return; }
        byte type = m[0];
        if (type == 8)
        {
            var reply = m.ToArray();
            reply[0] = 0;
            reply[2] = reply[3] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(reply.AsSpan(2), InternetChecksum.Compute(reply));
            // Never wait for ARP on the receive path: the reply goes out when (if) the peer resolves.
            _ = ReplyAsync(src, reply);
        }
        else if (type == 0)
        {
            var key = (BinaryPrimitives.ReadUInt16BigEndian(m[4..]), BinaryPrimitives.ReadUInt16BigEndian(m[6..]));
            if (_pendingPings.TryRemove(key, out var t)) t.TrySetResult(_timers.Now);
        }
        else Drop(DropReason.UnsupportedProtocol);
    }

    private async Task ReplyAsync(Ipv4Address dst, byte[] reply)
    {
        if (await SendIpv4Async(dst, 1, reply).ConfigureAwait(false)) Interlocked.Increment(ref _echoReplies);
    }

    /// <summary>Sends an ICMP echo request and waits for the reply; returns the round-trip time.</summary>
    public async Task<Result<TimeSpan>> PingAsync(Ipv4Address target, TimeSpan timeout, CancellationToken ct = default)
    {
        ushort id = 0x5048, seq = (ushort)Interlocked.Increment(ref _nextSeq);
        var echo = new byte[8 + 32];
        echo[0] = 8;
        BinaryPrimitives.WriteUInt16BigEndian(echo.AsSpan(4), id);
        BinaryPrimitives.WriteUInt16BigEndian(echo.AsSpan(6), seq);
        for (int i = 8; i < echo.Length; i++) echo[i] = (byte)i;
        BinaryPrimitives.WriteUInt16BigEndian(echo.AsSpan(2), InternetChecksum.Compute(echo));
        var reply = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pendingPings[(id, seq)] = reply;
        var start = _timers.Now;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var timer = _timers.Delay(timeout, deadline.Token);
        try
        {
            var sent = SendIpv4Async(target, 1, echo, timeout).AsTask();
            if (await Task.WhenAny(sent, timer).ConfigureAwait(false) == timer || !await sent.ConfigureAwait(false))
                return Errors.Of(ErrorCode.Unreachable, $"{target} did not answer ARP");
            var done = await Task.WhenAny(reply.Task, timer).ConfigureAwait(false);
            if (done != reply.Task) return Errors.Of(ErrorCode.TimedOut, $"no echo reply from {target} within {timeout.TotalMilliseconds} ms");
            return await reply.Task.ConfigureAwait(false) - start;
        }
        finally
        {
            deadline.Cancel();
            _pendingPings.TryRemove((id, seq), out _);
        }
    }

    private async ValueTask<bool> SendIpv4Async(Ipv4Address dst, byte protocol, byte[] payload, TimeSpan? arpTimeout = null)
    {
        var mac = await ResolveAsync(dst, arpTimeout ?? TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        if (mac is null) return false;
        var frame = new byte[14 + 20 + payload.Length];
        mac.CopyTo(frame, 0);
        _mac.CopyTo(frame, 6);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), EtherIpv4);
        var ip = frame.AsSpan(14, 20);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + payload.Length));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)Interlocked.Increment(ref _nextSeq));
        ip[8] = 64;
        ip[9] = protocol;
        Address.Write(ip[12..]);
        dst.Write(ip[16..]);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum.Compute(ip));
        payload.CopyTo(frame, 34);
        await _device.SendAsync(frame).ConfigureAwait(false);
        Interlocked.Increment(ref _sent);
        return true;
    }

    private async ValueTask<byte[]?> ResolveAsync(Ipv4Address ip, TimeSpan timeout)
    {
        if (_arp.TryGetValue(ip, out var e) && _timers.Now - e.Seen < ArpTimeout) return e.Mac;
        var waiter = _pendingArp.GetOrAdd(ip, _ => new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously));
        using var cts = new CancellationTokenSource();
        for (int attempt = 0; attempt < 3 && !waiter.Task.IsCompleted; attempt++)
        {
            await SendArpAsync(1, Mac.Broadcast, ip).ConfigureAwait(false);
            var slice = _timers.Delay(timeout / 3, cts.Token);
            await Task.WhenAny(waiter.Task, slice).ConfigureAwait(false);
        }
        cts.Cancel();
        if (waiter.Task.IsCompleted) return await waiter.Task.ConfigureAwait(false);
        _pendingArp.TryRemove(ip, out _);
        return null;
    }

    private async ValueTask SendArpAsync(ushort op, byte[] targetMac, Ipv4Address targetIp)
    {
        var frame = new byte[42];
        (op == 1 ? Mac.Broadcast : targetMac).CopyTo(frame, 0);
        _mac.CopyTo(frame, 6);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), EtherArp);
        var a = frame.AsSpan(14);
        BinaryPrimitives.WriteUInt16BigEndian(a, 1);
        BinaryPrimitives.WriteUInt16BigEndian(a[2..], EtherIpv4);
        a[4] = 6;
        a[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(a[6..], op);
        _mac.CopyTo(a[8..]);
        Address.Write(a[14..]);
        if (op == 2) targetMac.CopyTo(a[18..]);
        targetIp.Write(a[24..]);
        await _device.SendAsync(frame).ConfigureAwait(false);
        Interlocked.Increment(ref _sent);
    }

    private void Drop(DropReason reason) => Interlocked.Increment(ref _drops[(int)reason]);

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try { await _rx.ConfigureAwait(false); } catch (OperationCanceledException) { }
    }
}
