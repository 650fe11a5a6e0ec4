using Photon.Net.Wire;

namespace Photon.Net.Tcp;

/// <summary>
/// A listening port. Incoming SYNs create half-open connections held in a bounded SYN cache; when it is full, SYNs are
/// answered with SYN cookies (<see cref="SynCookies"/>) and nothing is stored until a valid ACK comes back — so a flood
/// costs no memory beyond the full cache and real clients still get in (issue #15: a flood used to churn a connection
/// object per SYN). Established connections wait in an accept queue of <see cref="Backlog"/> entries (beyond it the
/// handshake is reset).
/// </summary>
public sealed class TcpListener : IAsyncDisposable
{
    private readonly TcpLayer _layer;
    private readonly LinkedList<TcpConnection> _halfOpen = new();
    private readonly HandoffQueue<TcpConnection> _ready;
    private bool _closed;
    private TimeSpan? _lastCookieSent; // cookies are only honoured shortly after the cache overflowed (as Linux does)

    internal TcpListener(TcpLayer layer, ushort port, int backlog)
    {
        _layer = layer;
        Port = port;
        Backlog = backlog;
        _ready = new HandoffQueue<TcpConnection>(backlog, layer.Stack.Options.SocketMaxPendingCalls, "accept", layer.Stack.Gate);
    }

    public ushort Port { get; }

    /// <summary>The listening tenant's account: connections it receives are charged to it (null: the kernel's).</summary>
    internal Sockets.SocketAccount? Account
    {
        get => _ready.Account;
        set => _ready.Account = value; // parked accepts are charged to it too
    }
    public int Backlog { get; }
    public int HalfOpen { get { lock (_layer.Stack.Gate) return _halfOpen.Count; } }
    public int PendingAccept { get { lock (_layer.Stack.Gate) return _ready.Count; } }
    /// <summary>Accept calls parked now, waiting for a connection.</summary>
    internal int ParkedAccepts { get { lock (_layer.Stack.Gate) return _ready.Waiters; } }
    public bool IsClosed { get { lock (_layer.Stack.Gate) return _closed; } }

    internal void OnSyn(in TcpRepr syn, IpEndpoint local, IpEndpoint remote)
    {
        if (_closed) return;
        if (_halfOpen.Count >= _layer.Stack.Options.TcpMaxHalfOpen)
        {
            SendCookieSynAck(syn, local, remote);
            return;
        }
        var c = new TcpConnection(_layer, local, remote, this);
        _layer.Register(c);
        _halfOpen.AddLast(c);
        c.OpenPassive(syn);
        _layer.Stack.Count(Counter.TcpPassiveOpens);
    }

    private void SendCookieSynAck(in TcpRepr syn, IpEndpoint local, IpEndpoint remote)
    {
        var stack = _layer.Stack;
        var now = stack.Now;
        int routeMss = _layer.RouteMss(remote);
        var (iss, mss) = _layer.Cookies.Make(local, remote, syn.Seq, Math.Min(syn.Mss != 0 ? syn.Mss : 536, routeMss), now);
        _lastCookieSent = now;
        _layer.Send(local, remote, new TcpRepr
        {
            Seq = iss, Ack = syn.Seq + 1, Flags = TcpFlags.Syn | TcpFlags.Ack,
            Window = (ushort)Math.Min(stack.Options.TcpReceiveBuffer, 65535), Mss = mss,
        });
        stack.Count(Counter.TcpSynCookiesSent);
    }

    /// <summary>Completes a handshake whose SYN-ACK was a cookie: a valid, fresh cookie in <c>ACK − 1</c> creates the
    /// connection (then the segment, which may carry data, is processed by it as usual).</summary>
    internal bool TryCompleteCookieHandshake(in TcpRepr ack, IpEndpoint local, IpEndpoint remote)
    {
        var stack = _layer.Stack;
        var now = stack.Now;
        if (_closed || _lastCookieSent is not { } sent || now - sent > TimeSpan.FromMinutes(2)) return false;
        var iss = ack.Ack - 1;
        if (_layer.Cookies.Check(local, remote, ack.Seq - 1, iss, now) is not { } mss)
        {
            stack.Count(DropReason.BadSynCookie);
            return false;
        }
        var c = new TcpConnection(_layer, local, remote, this);
        _layer.Register(c);
        _halfOpen.AddLast(c);
        c.RestoreFromCookie(ack, iss, mss);
        stack.Count(Counter.TcpSynCookiesAccepted);
        stack.Count(Counter.TcpPassiveOpens);
        c.OnSegment(ack);
        return true;
    }

    /// <summary>Called when a half-open connection completes its handshake (or dies).</summary>
    internal void OnEstablished(TcpConnection c)
    {
        if (!_halfOpen.Remove(c)) return;
        if (_closed || !_ready.TryDeliver(c))
        {
            _layer.Stack.Count(DropReason.AcceptQueueFull);
            c.Fail(Errors.Of(ErrorCode.ConnectionReset, "accept queue full"), sendReset: true);
        }
    }

    internal void OnHalfOpenFailed(TcpConnection c) => _halfOpen.Remove(c);

    public async Task<Result<TcpConnection>> AcceptAsync(CancellationToken ct = default)
    {
        Result<Sockets.PendingCalls<Result<TcpConnection>>.Call> w;
        lock (_layer.Stack.Gate)
        {
            while (_ready.TryTake(out var c))
                if (c.State is TcpState.Established or TcpState.CloseWait) return c; // skip ones reset while queued
            if (_closed) return Errors.Of(ErrorCode.Closed, $"listener on port {Port} is closed");
            w = _ready.Wait();
        }
        return w.IsOk ? await _ready.AwaitAsync(w.Value, ct).ConfigureAwait(false) : w.Error;
    }

    internal void CloseLocked()
    {
        if (_closed) return;
        _closed = true;
        _layer.RemoveListener(this);
        _ready.FailWaiters(Errors.Of(ErrorCode.Closed, $"listener on port {Port} is closed"));
        foreach (var c in _halfOpen.ToList()) c.Fail(Errors.Of(ErrorCode.Closed, "listener closed"), sendReset: true);
        while (_ready.TryTake(out var c)) c.Fail(Errors.Of(ErrorCode.Closed, "listener closed"), sendReset: true);
    }

    /// <summary>Stops listening; queued and half-open connections are reset.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_layer.Stack.Gate) CloseLocked();
        await _layer.Stack.FlushAsync().ConfigureAwait(false);
    }
}
