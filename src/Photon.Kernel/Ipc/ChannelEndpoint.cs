using Photon.Kernel.Capabilities;

namespace Photon.Kernel.Ipc;

/// <summary>
/// One end of a channel, like a Zircon channel dispatcher: it owns its lock, its inbox (bounded: the depth is the
/// back-pressure point) and its waiters, and does no rights checks — the syscall layer has done those before calling
/// it. Reached only through capabilities: Write on an endpoint sends to its peer, Read receives from it.
/// </summary>
public sealed class ChannelEndpoint : KernelObject
{
    public override ObjectKind Kind => ObjectKind.Channel;

    private readonly Lock _gate = new();
    private readonly Queue<IpcEnvelope> _inbox = new();
    private readonly WaiterSet _readable = new();
    private readonly WaiterSet _writable = new();
    // Kernel tasks parked by ReceiveAsync, oldest first (usually one): a byte-only send hands its message to the first.
    private readonly List<PendingReceive> _receivers = new(1);
    private PendingReceive? _spareReceiver;
    private int _reserved;

    internal ChannelEndpoint(string label, int depth, CapabilityToken via) : base(label)
    {
        Depth = depth;
        Via = via;
    }

    public int Depth { get; }
    internal ChannelEndpoint? Peer { get; set; }
    /// <summary>Read without the lock: an endpoint holding its own lock reads its peer's (deadlock otherwise, when
    /// both ends are used at once). The flag only ever goes from false to true.</summary>
    public bool IsClosed => _closed;
    public int Pending { get { lock (_gate) return _inbox.Count; } }

    /// <summary>Parked receivers and senders (tests check that cancelled waits leave none behind).</summary>
    public int Waiters { get { lock (_gate) return _readable.Count + _writable.Count + _receivers.Count; } }

    private volatile bool _closed;

    /// <summary>The namespace binding this connection was opened through (None for direct channels). When it is
    /// revoked — the bridge between tenants is taken down — the connection closes.</summary>
    internal CapabilityToken Via { get; }

    private volatile bool _droppedFromBacklog;

    /// <summary>Set on both ends of a connection that was still in a listener's backlog when the listener closed: it
    /// was never accepted, so its client sees Closed (not Revoked, although the binding died with the listener).</summary>
    internal bool DroppedFromBacklog { get => _droppedFromBacklog; set => _droppedFromBacklog = value; }

    /// <summary>Set by the IPC manager so the last revocation closes the channel (peers see Closed).</summary>
    internal Action<ChannelEndpoint>? OnDestroyed { get; set; }

    protected override void OnLastCapabilityRevoked() => OnDestroyed?.Invoke(this);

    /// <summary>Reserves room for one message in this endpoint's inbox (a sender does this before it takes any handle
    /// out of its table, so a full or closed inbox changes nothing).</summary>
    internal Result Reserve()
    {
        lock (_gate)
        {
            if (_closed) return Result.Fail(ErrorCode.Closed, "peer endpoint is closed");
            if (_inbox.Count + _reserved >= Depth) return Result.Fail(ErrorCode.WouldBlock, $"peer inbox is full ({Depth})");
            _reserved++;
            return Result.Ok;
        }
    }

    /// <summary>Reserves room for up to <paramref name="max"/> messages at once (a batched send); returns how many
    /// places it got (0 when full: <see cref="ErrorCode.WouldBlock"/>).</summary>
    internal Result<int> ReserveMany(int max)
    {
        lock (_gate)
        {
            if (_closed) return Errors.Of(ErrorCode.Closed, "peer endpoint is closed");
            int room = Depth - _inbox.Count - _reserved;
            if (room <= 0) return Errors.Of(ErrorCode.WouldBlock, $"peer inbox is full ({Depth})");
            int n = Math.Min(room, max);
            _reserved += n;
            return n;
        }
    }

    internal void CancelReservation() => CancelReservations(1);

    internal void CancelReservations(int count)
    {
        lock (_gate)
        {
            _reserved -= count;
            _writable.WakeAll();
        }
    }

    /// <summary>Queues a message into a reserved place; false if the endpoint closed meanwhile (the caller drops it).</summary>
    internal bool CommitReserved(IpcEnvelope envelope)
    {
        lock (_gate)
        {
            _reserved--;
            if (_closed) return false;
            _inbox.Enqueue(envelope);
            WakeReadable();
            return true;
        }
    }

    /// <summary>Queues reserved messages under one lock and one wake-up; false if the endpoint closed meanwhile (the
    /// caller drops them all).</summary>
    internal bool CommitReservedMany(ReadOnlySpan<IpcEnvelope> envelopes)
    {
        lock (_gate)
        {
            _reserved -= envelopes.Length;
            if (_closed) return false;
            foreach (var e in envelopes) _inbox.Enqueue(e);
            WakeReadable();
            return true;
        }
    }

    /// <summary>Takes up to <paramref name="max"/> messages under one lock (a batched receive): WouldBlock when empty,
    /// Closed when empty and closed.</summary>
    internal Result<int> DequeueMany(int max, List<IpcEnvelope> into)
    {
        lock (_gate)
        {
            if (_inbox.Count == 0)
                return _closed || Peer is null or { IsClosed: true }
                    ? Errors.Of(ErrorCode.Closed, "channel is closed")
                    : Errors.Of(ErrorCode.WouldBlock, "no message");
            int n = Math.Min(max, _inbox.Count);
            for (int i = 0; i < n; i++) into.Add(_inbox.Dequeue());
            _writable.WakeAll();
            return n;
        }
    }

    /// <summary>Takes the next message: WouldBlock when empty, Closed when empty and closed (or the peer is).</summary>
    internal Result<IpcEnvelope> Dequeue() => Dequeue(bytesOnly: false, out _);

    /// <summary>As <see cref="Dequeue()"/>; with <paramref name="bytesOnly"/>, a message that carries capabilities is
    /// left at the head and <paramref name="carriesCapabilities"/> is set (the caller retakes it under the IPC
    /// manager's transit lock).</summary>
    internal Result<IpcEnvelope> Dequeue(bool bytesOnly, out bool carriesCapabilities)
    {
        carriesCapabilities = false;
        lock (_gate)
        {
            if (_inbox.Count == 0)
                return _closed || Peer is null or { IsClosed: true }
                    ? Errors.Of(ErrorCode.Closed, "channel is closed")
                    : Errors.Of(ErrorCode.WouldBlock, "no message");
            if (bytesOnly && _inbox.Peek().Objects.Length != 0)
            {
                carriesCapabilities = true;
                return Errors.Of(ErrorCode.WouldBlock, "message carries capabilities");
            }
            var env = _inbox.Dequeue();
            _writable.WakeAll();
            return env;
        }
    }

    /// <summary>True when a receive would not block (a message waits, or the channel is closed).</summary>
    internal bool IsReadable
    {
        get { lock (_gate) return _inbox.Count > 0 || _closed || Peer is { IsClosed: true }; }
    }

    /// <summary>Waits until a receive would not block. False if cancelled (the waiter is unregistered).</summary>
    internal Task<bool> WaitReadableAsync(CancellationToken ct)
    {
        TaskCompletionSource<bool> tcs;
        lock (_gate)
        {
            if (_inbox.Count > 0 || _closed || Peer is { IsClosed: true }) return Task.FromResult(true);
            tcs = _readable.Add();
        }
        return _readable.WaitAsync(_gate, tcs, ct);
    }

    /// <summary>Waits until this inbox has room (or closes). False if cancelled.</summary>
    internal Task<bool> WaitWritableAsync(CancellationToken ct)
    {
        TaskCompletionSource<bool> tcs;
        lock (_gate)
        {
            if (_inbox.Count + _reserved < Depth || _closed) return Task.FromResult(true);
            tcs = _writable.Add();
        }
        return _writable.WaitAsync(_gate, tcs, ct);
    }

    /// <summary>Registers a readability waiter without awaiting it (for waiting on several endpoints at once).</summary>
    internal TaskCompletionSource<bool>? RegisterReadable()
    {
        lock (_gate)
        {
            if (_inbox.Count > 0 || _closed || Peer is { IsClosed: true }) return null;
            return _readable.Add();
        }
    }

    internal void UnregisterReadable(TaskCompletionSource<bool> tcs) => _readable.Remove(_gate, tcs);

    /// <summary>Wakes readability waiters, and has parked receivers re-run their receive on their own CPUs. Call
    /// under the lock.</summary>
    private void WakeReadable()
    {
        _readable.WakeAll();
        if (_receivers.Count == 0) return;
        foreach (var r in _receivers) r.Wake();
        _receivers.Clear();
    }

    /// <summary>A receive waiter for this endpoint: the cached one when free (the common single-receiver case
    /// allocates nothing per wait), else a new one.</summary>
    internal PendingReceive RentReceiver() => Interlocked.Exchange(ref _spareReceiver, null) ?? new PendingReceive(this);

    internal void ReturnReceiver(PendingReceive r) => Interlocked.CompareExchange(ref _spareReceiver, r, null);

    /// <summary>Parks <paramref name="r"/> unless a receive would not block now (a message, a close) or its wait was
    /// cancelled: false then, and the caller receives (or reports the cancellation) itself.</summary>
    internal bool TryPark(PendingReceive r)
    {
        lock (_gate)
        {
            if (_inbox.Count > 0 || _closed || Peer is { IsClosed: true } || r.CancellationRequested) return false;
            _receivers.Add(r);
            return true;
        }
    }

    /// <summary>Takes <paramref name="r"/> off the parked list; false if someone else took it first (and so owns its
    /// completion).</summary>
    internal bool Unpark(PendingReceive r)
    {
        lock (_gate) return _receivers.Remove(r);
    }

    /// <summary>For a direct hand-off: the oldest parked receiver, taken off the list, if a message sent now would be
    /// the next one received — the inbox is empty, no other send holds a reservation, the endpoint is open. The
    /// caller then owns it: it completes it or wakes it.</summary>
    internal PendingReceive? TakeParkedReceiver()
    {
        lock (_gate)
        {
            if (_receivers.Count == 0 || _inbox.Count > 0 || _reserved > 0 || _closed) return null;
            var r = _receivers[0];
            _receivers.RemoveAt(0);
            return r;
        }
    }

    /// <summary>Closes this end, wakes everyone, and hands back what was queued (the caller drops it).</summary>
    internal IpcEnvelope[] CloseAndDrain()
    {
        lock (_gate)
        {
            _closed = true;
            var undelivered = _inbox.ToArray();
            _inbox.Clear();
            WakeReadable();
            _writable.WakeAll();
            return undelivered;
        }
    }

    /// <summary>Wakes waiters because the peer closed (they will now see Closed).</summary>
    internal void PeerClosed()
    {
        lock (_gate)
        {
            WakeReadable();
            _writable.WakeAll();
        }
    }

    /// <summary>What is queued now (for the unreachable-cycle collector).</summary>
    internal IpcEnvelope[] SnapshotInbox()
    {
        lock (_gate) return _inbox.ToArray();
    }

    /// <summary>Empties the inbox without closing (the collector drops messages nobody can ever receive).</summary>
    internal IpcEnvelope[] DrainInbox()
    {
        lock (_gate)
        {
            var all = _inbox.ToArray();
            _inbox.Clear();
            _writable.WakeAll();
            return all;
        }
    }
}
