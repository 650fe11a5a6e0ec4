using Photon.Net.Wire;

namespace Photon.Net.Tcp;

/// <summary>
/// A listening port. Incoming SYNs create half-open connections held in a bounded SYN cache (oldest evicted under a
/// flood, counted as <see cref="DropReason.SynFlood"/>), so a flood costs bounded memory and real clients still get in;
/// established connections wait in an accept queue of <see cref="Backlog"/> entries (beyond it the handshake is reset).
/// </summary>
public sealed class TcpListener : IAsyncDisposable
{
    private readonly TcpLayer _layer;
    private readonly LinkedList<TcpConnection> _halfOpen = new();
    private readonly HandoffQueue<TcpConnection> _ready;
    private bool _closed;

    internal TcpListener(TcpLayer layer, ushort port, int backlog)
    {
        _layer = layer;
        Port = port;
        Backlog = backlog;
        _ready = new HandoffQueue<TcpConnection>(backlog);
    }

    public ushort Port { get; }
    public int Backlog { get; }
    public int HalfOpen { get { lock (_layer.Stack.Gate) return _halfOpen.Count; } }
    public int PendingAccept { get { lock (_layer.Stack.Gate) return _ready.Count; } }
    public bool IsClosed { get { lock (_layer.Stack.Gate) return _closed; } }

    internal void OnSyn(in TcpRepr syn, IpEndpoint local, IpEndpoint remote)
    {
        if (_closed) return;
        if (_halfOpen.Count >= _layer.Stack.Options.TcpMaxHalfOpen)
        {
            var oldest = _halfOpen.First!.Value;
            _halfOpen.RemoveFirst();
            oldest.Destroy();
            _layer.Stack.Count(DropReason.SynFlood);
        }
        var c = new TcpConnection(_layer, local, remote, this);
        _layer.Register(c);
        _halfOpen.AddLast(c);
        c.OpenPassive(syn);
        _layer.Stack.Count(Counter.TcpPassiveOpens);
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
        TaskCompletionSource<Result<TcpConnection>> w;
        lock (_layer.Stack.Gate)
        {
            while (_ready.TryTake(out var c))
                if (c.State is TcpState.Established or TcpState.CloseWait) return c; // skip ones reset while queued
            if (_closed) return Errors.Of(ErrorCode.Closed, $"listener on port {Port} is closed");
            w = _ready.Wait();
        }
        return await HandoffQueue<TcpConnection>.AwaitAsync(w, ct, "accept").ConfigureAwait(false);
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
