using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Photon.Net.Tcp;

public sealed record TcpConnectionInfo(IpEndpoint Local, IpEndpoint Remote, TcpState State, int SendQueue, int ReceiveQueue,
    int CongestionWindow, TimeSpan SmoothedRtt, long Retransmits, TimeSpan RetransmitTimeout);

/// <summary>
/// TCP's demultiplexer: connections keyed by their four-tuple, listeners by port, ephemeral port allocation, resets for
/// segments nobody owns, and the timer tick. Everything runs under the stack's lock.
/// </summary>
public sealed class TcpLayer
{
    internal const byte Protocol = 6;
    private readonly NetworkStack _stack;
    private readonly Dictionary<(IpEndpoint Local, IpEndpoint Remote), TcpConnection> _connections = new();
    private readonly Dictionary<ushort, TcpListener> _listeners = new();
    private int _nextEphemeral = Random.Shared.Next(0, 16384);

    internal TcpLayer(NetworkStack stack) => _stack = stack;

    internal NetworkStack Stack => _stack;

    public IReadOnlyList<TcpConnectionInfo> Connections
    {
        get { lock (_stack.Gate) return _connections.Values.Select(c => c.Info).OrderBy(c => c.Local.Port).ThenBy(c => c.Remote.Port).ToList(); }
    }

    public IReadOnlyList<IpEndpoint> Listeners
    {
        get { lock (_stack.Gate) return _listeners.Values.Select(l => new IpEndpoint(Ipv4Address.Any, l.Port)).ToList(); }
    }

    /// <summary>Listens on <paramref name="port"/> on every address. The socket layer checks the port capability first.</summary>
    public Result<TcpListener> Listen(ushort port, int backlog = 128)
    {
        if (port == 0) return Errors.Of(ErrorCode.InvalidArgument, "cannot listen on port 0");
        if (backlog is < 1 or > 65535) return Errors.Of(ErrorCode.InvalidArgument, "backlog must be 1..65535");
        lock (_stack.Gate)
        {
            if (_listeners.ContainsKey(port)) return Errors.Of(ErrorCode.AddressInUse, $"TCP port {port} is listening");
            var l = new TcpListener(this, port, backlog);
            _listeners[port] = l;
            return l;
        }
    }

    internal void RemoveListener(TcpListener l)
    {
        if (_listeners.TryGetValue(l.Port, out var x) && x == l) _listeners.Remove(l.Port);
    }

    /// <summary>Opens a connection (active open) and completes when it is established, refused, or timed out.</summary>
    public async Task<Result<TcpConnection>> ConnectAsync(IpEndpoint remote, CancellationToken ct = default)
    {
        if (remote.Port == 0 || remote.Address == Ipv4Address.Any || remote.Address == Ipv4Address.Broadcast)
            return Errors.Of(ErrorCode.InvalidArgument, $"cannot connect to {remote}");
        TcpConnection c;
        lock (_stack.Gate)
        {
            if (_stack.SourceFor(remote.Address) is not { } source) return Errors.Of(ErrorCode.Unreachable, $"no route to {remote.Address}");
            ushort port = 0;
            for (int i = 0; i < 16384 && port == 0; i++)
            {
                var candidate = (ushort)(49152 + (_nextEphemeral++ & 16383));
                if (!_listeners.ContainsKey(candidate) && !_connections.ContainsKey((new IpEndpoint(source, candidate), remote))) port = candidate;
            }
            if (port == 0) return Errors.Of(ErrorCode.AddressInUse, "no free ephemeral TCP port");
            c = new TcpConnection(this, new IpEndpoint(source, port), remote, null);
            _connections[(c.Local, c.Remote)] = c;
            c.OpenActive();
            _stack.Count(Counter.TcpActiveOpens);
        }
        await _stack.FlushAsync().ConfigureAwait(false);
        using var reg = ct.Register(() =>
        {
            lock (_stack.Gate) c.Fail(Errors.Of(ErrorCode.Cancelled, "connect cancelled"), sendReset: true);
            _ = _stack.FlushAsync(); // the RST goes out now, not with the next frame
        });
        var r = await c.Established.ConfigureAwait(false);
        await _stack.FlushAsync().ConfigureAwait(false);
        return r.IsOk ? c : r.Error;
    }

    internal void Remove(TcpConnection c)
    {
        if (_connections.TryGetValue((c.Local, c.Remote), out var x) && x == c) _connections.Remove((c.Local, c.Remote));
    }

    internal static uint NewIss() => BinaryPrimitives.ReadUInt32LittleEndian(RandomNumberGenerator.GetBytes(4));

    internal void Handle(Ipv4Address src, Ipv4Address dst, ReadOnlySpan<byte> t)
    {
        if (!TcpSegment.TryParse(src, dst, t, out var seg, out var why)) { _stack.Count(why); return; }
        _stack.Count(Counter.TcpSegmentsIn);
        var local = new IpEndpoint(dst, seg.DestinationPort);
        var remote = new IpEndpoint(src, seg.SourcePort);
        if (_connections.TryGetValue((local, remote), out var c))
        {
            // A new SYN for a four-tuple in TIME_WAIT may reopen it (RFC 9293 §3.10.7.4 permits it when the sequence moves on).
            if (c.State == TcpState.TimeWait && seg.Has(TcpFlags.Syn) && !seg.Has(TcpFlags.Ack) && Seq.Gt(seg.Seq, c.ReceiveNext)
                && _listeners.TryGetValue(local.Port, out var reopen))
            {
                c.Destroy();
                reopen.OnSyn(seg, local, remote);
                return;
            }
            c.OnSegment(seg);
            return;
        }
        if (_listeners.TryGetValue(local.Port, out var listener))
        {
            if (seg.Has(TcpFlags.Rst)) return;
            if (seg.Has(TcpFlags.Ack)) { SendReset(seg); return; } // an ACK for a connection we do not have
            if (seg.Has(TcpFlags.Syn)) listener.OnSyn(seg, local, remote);
            return;
        }
        _stack.Count(DropReason.NoSocket);
        SendReset(seg);
    }

    internal void Register(TcpConnection c) => _connections[(c.Local, c.Remote)] = c;

    /// <summary>RFC 9293 reset generation for a segment no connection accepts.</summary>
    internal void SendReset(in TcpSegment seg)
    {
        if (seg.Has(TcpFlags.Rst)) return;
        if (seg.Has(TcpFlags.Ack))
            SendSegment(new IpEndpoint(seg.Destination, seg.DestinationPort), new IpEndpoint(seg.Source, seg.SourcePort), seg.Ack, 0, TcpFlags.Rst, 0, -1, 0, default);
        else
            SendSegment(new IpEndpoint(seg.Destination, seg.DestinationPort), new IpEndpoint(seg.Source, seg.SourcePort), 0,
                seg.Seq + (uint)seg.Length, TcpFlags.Rst | TcpFlags.Ack, 0, -1, 0, default);
        _stack.Count(Counter.TcpResetsSent);
    }

    /// <summary>Builds and sends one segment. <paramref name="mss"/> 0 and <paramref name="windowScale"/> -1 omit those
    /// options; <paramref name="sackPermitted"/> goes on SYNs, <paramref name="sack"/> blocks (at most 3) on ACKs.</summary>
    internal void SendSegment(IpEndpoint local, IpEndpoint remote, uint seq, uint ack, TcpFlags flags, ushort window, int windowScale,
        ushort mss, ReadOnlySpan<byte> payload, bool sackPermitted = false, IReadOnlyList<(uint Left, uint Right)>? sack = null,
        ByteRing? from = null, int fromOffset = 0, int fromLength = 0, (uint Val, uint Ecr)? timestamp = null)
    {
        // Data from a socket buffer is copied once, straight into the frame (`from`), instead of via a payload array.
        int payloadLength = from is null ? payload.Length : fromLength;
        int blocks = Math.Min(sack?.Count ?? 0, 3);
        int optionLength = (mss != 0 ? 4 : 0) + (windowScale >= 0 ? 4 : 0) + (sackPermitted ? 4 : 0) + (blocks > 0 ? 4 + 8 * blocks : 0)
            + (timestamp is null ? 0 : 12);
        int headerLength = 20 + optionLength;
        var frame = NetworkStack.NewFrame(headerLength + payloadLength);
        var t = frame.AsSpan(34);
        BinaryPrimitives.WriteUInt16BigEndian(t, local.Port);
        BinaryPrimitives.WriteUInt16BigEndian(t[2..], remote.Port);
        BinaryPrimitives.WriteUInt32BigEndian(t[4..], seq);
        BinaryPrimitives.WriteUInt32BigEndian(t[8..], ack);
        t[12] = (byte)(headerLength / 4 << 4);
        t[13] = (byte)flags;
        BinaryPrimitives.WriteUInt16BigEndian(t[14..], window);
        int o = 20;
        if (mss != 0) { t[o] = 2; t[o + 1] = 4; BinaryPrimitives.WriteUInt16BigEndian(t[(o + 2)..], mss); o += 4; }
        if (windowScale >= 0) { t[o] = 1; t[o + 1] = 3; t[o + 2] = 3; t[o + 3] = (byte)windowScale; o += 4; }
        if (sackPermitted) { t[o] = 1; t[o + 1] = 1; t[o + 2] = 4; t[o + 3] = 2; o += 4; }
        if (timestamp is { } ts)
        {
            t[o] = 1; t[o + 1] = 1; t[o + 2] = 8; t[o + 3] = 10;
            BinaryPrimitives.WriteUInt32BigEndian(t[(o + 4)..], ts.Val);
            BinaryPrimitives.WriteUInt32BigEndian(t[(o + 8)..], ts.Ecr);
            o += 12;
        }
        if (blocks > 0)
        {
            t[o] = 1; t[o + 1] = 1; t[o + 2] = 5; t[o + 3] = (byte)(2 + 8 * blocks);
            o += 4;
            for (int b = 0; b < blocks; b++, o += 8)
            {
                BinaryPrimitives.WriteUInt32BigEndian(t[o..], sack![b].Left);
                BinaryPrimitives.WriteUInt32BigEndian(t[(o + 4)..], sack[b].Right);
            }
        }
        if (from is null) payload.CopyTo(t[headerLength..]);
        else from.Peek(fromOffset, t.Slice(headerLength, fromLength));
        BinaryPrimitives.WriteUInt16BigEndian(t[16..],
            InternetChecksum.Transport(local.Address, remote.Address, Protocol, t));
        if (_stack.SendIpv4(local.Address, remote.Address, Protocol, frame, dontFragment: true)) _stack.Count(Counter.TcpSegmentsOut);
    }

    /// <summary>ICMP destination unreachable quoting one of our segments: a hard error for a connection still opening.</summary>
    internal void HandleUnreachable(ReadOnlySpan<byte> quoted)
    {
        int ihl = (quoted[0] & 0xF) * 4;
        if (quoted[9] != Protocol || quoted.Length < ihl + 8) return;
        var local = new IpEndpoint(Ipv4Address.Read(quoted[12..]), BinaryPrimitives.ReadUInt16BigEndian(quoted[ihl..]));
        var remote = new IpEndpoint(Ipv4Address.Read(quoted[16..]), BinaryPrimitives.ReadUInt16BigEndian(quoted[(ihl + 2)..]));
        if (_connections.TryGetValue((local, remote), out var c) && c.State == TcpState.SynSent)
            c.Fail(Errors.Of(ErrorCode.Unreachable, $"{remote} is unreachable (ICMP)"), sendReset: false);
    }

    internal void Tick(TimeSpan now)
    {
        if (_connections.Count == 0) return;
        foreach (var c in _connections.Values.ToList()) c.Tick(now);
    }

    internal void AbortAll()
    {
        foreach (var c in _connections.Values.ToList()) c.Fail(Errors.Of(ErrorCode.Closed, "stack shut down"), sendReset: true);
        foreach (var l in _listeners.Values.ToList()) l.CloseLocked();
    }
}
