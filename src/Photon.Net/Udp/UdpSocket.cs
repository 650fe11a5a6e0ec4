using Photon.Net.Sockets;

namespace Photon.Net.Udp;

/// <summary>
/// A bound UDP port. Datagrams nobody is waiting for are queued, bounded per socket in count
/// (<see cref="NetworkStackOptions.UdpQueueDepth"/>) and bytes (<see cref="NetworkStackOptions.UdpQueueBytes"/>), and
/// charged to the owning tenant's memory quota while queued, as TCP's socket buffers are (issue #15: a flood at a socket
/// whose owner never reads must cost that owner, boundedly, and nobody else). A datagram over either bound or refused by
/// the quota is dropped and counted, as Linux drops on a full receive buffer; one handed straight to a waiting receive
/// is never held, so costs nothing. The charge of each queued datagram is refunded once: when it is read, or when the
/// socket closes.
/// </summary>
public sealed class UdpSocket : IAsyncDisposable
{
    /// <summary>What a queued datagram costs beside its payload: the datagram object, its endpoints, the array header and
    /// the queue slot (Linux likewise charges a buffer's truesize, not its payload), so a flood of empty datagrams is
    /// not free.</summary>
    public const int DatagramOverhead = 128;

    private readonly UdpLayer _layer;
    private readonly NetworkStack _stack;
    private readonly HandoffQueue<UdpDatagram> _queue;
    private readonly SocketAccount? _account;
    private long _queuedBytes, _dropped;
    private bool _closed;

    internal UdpSocket(UdpLayer layer, NetworkStack stack, ushort port, SocketAccount? account)
    {
        _layer = layer;
        _stack = stack;
        Port = port;
        _account = account;
        _queue = new HandoffQueue<UdpDatagram>(stack.Options.UdpQueueDepth, stack.Options.SocketMaxPendingCalls, "receive", stack.Gate)
        {
            Account = account,
        };
    }

    public ushort Port { get; }
    public int Queued { get { lock (_stack.Gate) return _queue.Count; } }

    /// <summary>Bytes the queued datagrams cost now (payloads plus <see cref="DatagramOverhead"/> each): what is charged
    /// to the owner's tenant.</summary>
    public long QueuedBytes { get { lock (_stack.Gate) return _queuedBytes; } }

    /// <summary>Datagrams dropped because the queue was full or the tenant's quota refused them.</summary>
    public long Dropped { get { lock (_stack.Gate) return _dropped; } }

    /// <summary>Receives waiting now.</summary>
    internal int PendingReceives { get { lock (_stack.Gate) return _queue.Waiters; } }

    private static int CostOf(UdpDatagram d) => d.Data.Length + DatagramOverhead;

    /// <summary>Called under the stack lock for each datagram arriving at the port. The payload is copied only once the
    /// datagram is taken (handed to a receive, or queued): a flood at a full queue drops without allocating.</summary>
    internal void Deliver(IpEndpoint from, IpEndpoint to, ReadOnlySpan<byte> payload)
    {
        if (_closed) return;
        UdpDatagram? d = null;
        if (_queue.Waiters > 0)
        {
            d = new UdpDatagram(from, to, payload.ToArray());
            if (_queue.TryHandOff(d)) return; // every waiter had been cancelled: queue it as any other
        }
        int cost = payload.Length + DatagramOverhead;
        if (_queue.Count >= _stack.Options.UdpQueueDepth || _queuedBytes + cost > _stack.Options.UdpQueueBytes)
        {
            Drop(DropReason.UdpQueueFull);
            return;
        }
        if (_account?.Charge(cost) is { IsOk: false }) { Drop(DropReason.UdpOverQuota); return; }
        _queue.TryEnqueue(d ?? new UdpDatagram(from, to, payload.ToArray())); // cannot fail: the count was checked above
        _queuedBytes += cost;
    }

    private void Drop(DropReason why)
    {
        _dropped++;
        _stack.Count(why);
    }

    private bool TryTake(out UdpDatagram d)
    {
        if (!_queue.TryTake(out d)) return false;
        int cost = CostOf(d);
        _queuedBytes -= cost;
        _account?.Refund(cost);
        return true;
    }

    public async Task<Result> SendToAsync(IpEndpoint to, ReadOnlyMemory<byte> data)
    {
        Result r;
        lock (_stack.Gate) r = _closed ? Errors.Of(ErrorCode.Closed, "socket closed") : _layer.Send(Port, to, data.Span);
        await _stack.FlushAsync().ConfigureAwait(false);
        return r;
    }

    /// <summary>The next datagram; a receive pending when the socket closes ends with <see cref="ErrorCode.Closed"/>, one
    /// beyond <see cref="NetworkStackOptions.SocketMaxPendingCalls"/> parked fails with <see cref="ErrorCode.Busy"/>.</summary>
    public async Task<Result<UdpDatagram>> ReceiveAsync(CancellationToken ct = default)
    {
        Result<PendingCalls<Result<UdpDatagram>>.Call> w;
        lock (_stack.Gate)
        {
            if (_closed) return Errors.Of(ErrorCode.Closed, "socket closed");
            if (TryTake(out var d)) return d;
            w = _queue.Wait();
        }
        return w.IsOk ? await _queue.AwaitAsync(w.Value, ct).ConfigureAwait(false) : w.Error;
    }

    /// <summary>Unbinds the port, drops what is queued (refunding its charge) and ends pending receives. Idempotent.</summary>
    public ValueTask DisposeAsync()
    {
        _layer.Unbind(this);
        lock (_stack.Gate)
        {
            _closed = true;
            while (TryTake(out _)) { }
            _queue.FailWaiters(Errors.Of(ErrorCode.Closed, "socket closed"));
        }
        return ValueTask.CompletedTask;
    }
}
