namespace Photon.Net.Tcp;

public enum TcpState { Closed, Listen, SynSent, SynReceived, Established, FinWait1, FinWait2, CloseWait, Closing, LastAck, TimeWait }

/// <summary>
/// One TCP connection (RFC 9293): the three-way handshake, a sliding window with window scaling (RFC 7323) and
/// receiver/sender silly-window avoidance, out-of-order reassembly, retransmission on an RFC 6298 timer with Karn's rule
/// and exponential backoff, NewReno congestion control (RFC 5681 slow start/avoidance, RFC 6582 fast retransmit and
/// recovery), zero-window probing, FIN/RST handling with RFC 5961 challenge ACKs, and TIME_WAIT.
/// Protocol methods run under the stack lock; the public async methods are the socket API.
/// </summary>
public sealed class TcpConnection : IAsyncDisposable
{
    private const int OurWindowScale = 7;
    private readonly TcpLayer _layer;
    private readonly NetworkStack _stack;
    private readonly TcpListener? _listener;
    private readonly ByteRing _send, _receive;
    private readonly List<(uint Seq, byte[] Data, bool Fin)> _outOfOrder = new();
    private readonly TaskCompletionSource<Result> _established = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<TaskCompletionSource> _readers = new(), _writers = new();

    // Send sequence space (RFC 9293 names).
    private uint _iss, _sndUna, _sndNxt, _sndMax, _sndWnd, _sndWl1, _sndWl2, _maxSndWnd;
    private int _sndWscale, _rcvWscale;
    // Receive sequence space.
    private uint _irs, _rcvNxt;
    private int _mss = 536;
    private uint _rcvAdvEdge;
    private bool _released; // the last handle is gone (ReleaseAsync)
    private bool _synAcked, _closeRequested, _finSent, _finAcked, _finReceived, _offeredScale;
    // Congestion control (bytes).
    private long _cwnd, _ssthresh = long.MaxValue / 4;
    private int _dupAcks;
    private long _limitedTransmit;
    // SACK (RFC 2018): negotiated flag, the scoreboard of peer-held ranges above SND.UNA (sorted, merged), the next
    // sequence to consider for a hole retransmission, and the latest out-of-order arrival (reported first).
    private bool _sackOk;
    // Timestamps (RFC 7323): negotiated flag and TS.Recent, the peer's clock to echo.
    private bool _tsOk;
    private uint _tsRecent;
    private readonly List<(uint Left, uint Right)> _sacked = new();
    private uint _rexmitNext, _lastOutOfOrder; // RFC 3042: the first two duplicate ACKs each let one new segment out
    private uint _recover;
    private bool _inRecovery;
    // RTT estimation and timers.
    private TimeSpan _srtt, _rttvar, _rto;
    private bool _timing, _haveRtt;
    private uint _rttSeq;
    private TimeSpan _rttStart;
    private TimeSpan? _rtoDeadline, _persistDeadline, _timeWaitDeadline, _finWait2Deadline;
    private TimeSpan _persistBackoff;
    private int _retries, _ackPending;
    private long _retransmits;
    private KernelError? _error;

    internal TcpConnection(TcpLayer layer, IpEndpoint local, IpEndpoint remote, TcpListener? listener)
    {
        _layer = layer;
        _stack = layer.Stack;
        _listener = listener;
        Local = local;
        Remote = remote;
        _send = new ByteRing(_stack.Options.TcpSendBuffer);
        _receive = new ByteRing(_stack.Options.TcpReceiveBuffer);
        _rto = _stack.Options.TcpInitialRto;
    }

    public IpEndpoint Local { get; }
    public IpEndpoint Remote { get; }
    public TcpState State { get; private set; }
    internal uint ReceiveNext => _rcvNxt;
    internal uint SendUnacknowledged => _sndUna;
    internal Task<Result> Established => _established.Task;

    /// <summary>Completes when the connection is fully closed (or reset); TIME_WAIT counts as closed for the user.</summary>
    public Task Closed => _closed.Task;

    public TcpConnectionInfo Info => new(Local, Remote, State, _send.Count, _receive.Count, (int)Math.Min(_cwnd, int.MaxValue), _srtt, _retransmits, _rto);

    public long Retransmits { get { lock (_stack.Gate) return _retransmits; } }

    private int OurMss => (_stack.RouteTo(Remote.Address)?.Nic.Mtu ?? 1500) - 40;

    // ---- opening ----

    internal void OpenActive()
    {
        _iss = TcpLayer.NewIss();
        _sndUna = _recover = _iss;
        _sndNxt = _sndMax = _iss + 1;
        State = TcpState.SynSent;
        _offeredScale = true;
        SendSyn();
        StartTiming(_iss);
        ArmRto();
    }

    internal void OpenPassive(in TcpSegment syn)
    {
        _irs = syn.Seq;
        _rcvNxt = _irs + 1;
        _rcvAdvEdge = _rcvNxt + (uint)Math.Min(_receive.Free, 65535);
        _offeredScale = syn.WindowScale >= 0;
        ApplyPeerOptions(syn);
        _iss = TcpLayer.NewIss();
        _sndUna = _recover = _iss;
        _sndNxt = _sndMax = _iss + 1;
        _sndWnd = syn.Window; // windows in SYN segments are never scaled
        _sndWl1 = syn.Seq;
        State = TcpState.SynReceived;
        SendSyn();
        StartTiming(_iss);
        ArmRto();
    }

    private void ApplyPeerOptions(in TcpSegment syn)
    {
        _mss = Math.Max(64, Math.Min(syn.Mss != 0 ? syn.Mss : 536, OurMss));
        _sackOk = _stack.Options.TcpSack && syn.SackPermitted;
        _tsOk = _stack.Options.TcpTimestamps && syn.HasTimestamp;
        if (_tsOk) { _tsRecent = syn.TsVal; _mss -= 12; } // the option rides on every segment: less room for data
        if (syn.WindowScale >= 0 && _offeredScale) { _sndWscale = syn.WindowScale; _rcvWscale = OurWindowScale; }
        else { _sndWscale = 0; _rcvWscale = 0; }
        _cwnd = 10L * _mss; // RFC 6928 initial window
    }

    private void SendSyn()
    {
        bool synAck = State == TcpState.SynReceived;
        _layer.SendSegment(Local, Remote, _iss, synAck ? _rcvNxt : 0, synAck ? TcpFlags.Syn | TcpFlags.Ack : TcpFlags.Syn,
            (ushort)Math.Min(_receive.Free, 65535), _offeredScale ? OurWindowScale : -1, (ushort)OurMss, default,
            sackPermitted: State == TcpState.SynSent ? _stack.Options.TcpSack : _sackOk,
            timestamp: State == TcpState.SynSent ? (_stack.Options.TcpTimestamps ? (TsNow, 0u) : null) : Ts());
    }

    // ---- segment arrival ----

    internal void OnSegment(in TcpSegment seg)
    {
        var now = _stack.Now;
        if (State == TcpState.SynSent) { OnSegmentSynSent(seg, now); return; }
        if (State == TcpState.Closed) return;

        if (State == TcpState.SynReceived && seg.Has(TcpFlags.Syn) && !seg.Has(TcpFlags.Ack) && seg.Seq == _irs)
        {
            SendSyn(); // the peer did not get our SYN-ACK
            return;
        }

        uint wnd = (uint)_receive.Free;
        int len = seg.Length;
        uint seq = seg.Seq;
        bool acceptable = len == 0
            ? (wnd == 0 ? seq == _rcvNxt : Seq.InRange(seq, _rcvNxt, _rcvNxt + wnd))
            : wnd > 0 && (Seq.InRange(seq, _rcvNxt, _rcvNxt + wnd) || Seq.InRange(seq + (uint)len - 1, _rcvNxt, _rcvNxt + wnd));
        bool dropPayload = false;
        if (!acceptable && wnd == 0 && seq == _rcvNxt) { acceptable = true; dropPayload = true; } // still take its ACK
        if (!acceptable)
        {
            _stack.Count(DropReason.OutOfWindow);
            if (!seg.Has(TcpFlags.Rst)) SendAck();
            if (State == TcpState.TimeWait && seg.Has(TcpFlags.Fin)) _timeWaitDeadline = now + 2 * _stack.Options.TcpMsl;
            return;
        }

        if (_tsOk && seg.HasTimestamp && !seg.Has(TcpFlags.Rst))
        {
            if (Seq.Lt(seg.TsVal, _tsRecent)) { _stack.Count(DropReason.Paws); SendAck(); return; } // RFC 7323 §5
            if (Seq.Le(seq, _rcvNxt)) _tsRecent = seg.TsVal;
        }

        if (seg.Has(TcpFlags.Rst))
        {
            if (seq == _rcvNxt)
            {
                if (State == TcpState.SynReceived && _listener is not null) Destroy();
                else Fail(Errors.Of(ErrorCode.ConnectionReset, $"connection reset by {Remote}"), sendReset: false);
            }
            else ChallengeAck(); // RFC 5961 §3: an in-window but inexact RST may be blind injection
            return;
        }
        if (seg.Has(TcpFlags.Syn)) { ChallengeAck(); return; } // RFC 5961 §4
        if (!seg.Has(TcpFlags.Ack)) return;

        // Trim the payload to what is new and fits the window.
        var payload = seg.Payload.AsMemory();
        bool fin = seg.Has(TcpFlags.Fin);
        uint dataSeq = seq;
        // A closed window drops the data, but a bare FIN needs no buffer space and is taken (as Linux does): dropping it
        // would leave the sender retransmitting it into the closed window until it gives up and resets the connection.
        if (dropPayload) { payload = default; fin = fin && seg.Payload.Length == 0; }
        if (Seq.Lt(dataSeq, _rcvNxt))
        {
            uint skip = _rcvNxt - dataSeq;
            if (skip > (uint)payload.Length) { payload = default; fin = false; }
            else payload = payload[(int)skip..];
            dataSeq = _rcvNxt;
        }
        long room = (long)(_rcvNxt + wnd - dataSeq);
        if (payload.Length > room) { payload = payload[..(int)Math.Max(0, room)]; fin = false; }

        uint ack = seg.Ack;
        if (State == TcpState.SynReceived)
        {
            if (!Seq.Gt(ack, _sndUna) || !Seq.Le(ack, _sndMax)) { _layer.SendReset(seg); return; }
            State = TcpState.Established;
            _sndWnd = (uint)seg.Window << _sndWscale;
            _sndWl1 = seq;
            _sndWl2 = ack;
            _established.TrySetResult(Result.Ok);
            _listener?.OnEstablished(this);
        }
        if (Seq.Gt(ack, _sndMax)) { SendAck(); return; } // acknowledges data never sent
        // RFC 5961 §5: an ACK older than SND.UNA minus the largest window the peer ever offered cannot come from the
        // peer; without this check a blind attacker could inject data with any old acknowledgement number.
        if (Seq.Lt(ack, _sndUna - Math.Max(_maxSndWnd, 65535u))) { ChallengeAck(); return; }

        if (_sackOk && seg.Sack is { } blocks) UpdateScoreboard(blocks);
        if (_persistDeadline is not null) _retries = 0; // the peer answers our probes: it is alive, just not reading
        uint advertised = (uint)seg.Window << _sndWscale;
        if (Seq.Gt(ack, _sndUna)) OnNewAck(ack, now, _tsOk && seg.HasTimestamp ? seg.TsEcr : 0);
        // A duplicate ACK (RFC 5681) is a pure ACK that moves nothing while data is outstanding. The window-unchanged test
        // is left out: a receiver that grows its buffer while holding a hole (Linux autotuning does) would otherwise hide
        // every duplicate and leave recovery to the retransmission timer.
        else if (ack == _sndUna && payload.IsEmpty && !fin && _sndMax != _sndUna) OnDuplicateAck();
        if (Seq.Lt(_sndWl1, seq) || (_sndWl1 == seq && Seq.Le(_sndWl2, ack)))
        {
            _sndWnd = advertised;
            if (advertised > _maxSndWnd) _maxSndWnd = advertised;
            _sndWl1 = seq;
            _sndWl2 = ack;
            if (_sndWnd > 0) _persistDeadline = null;
        }

        if (_finAcked)
        {
            switch (State)
            {
                case TcpState.FinWait1: State = TcpState.FinWait2; break;
                case TcpState.Closing: EnterTimeWait(now); return;
                case TcpState.LastAck: Finish(); return;
            }
        }
        // FIN_WAIT_2 times out only when the peer goes quiet: a half-closed connection may go on receiving for long.
        if (State == TcpState.FinWait2) _finWait2Deadline = now + 2 * _stack.Options.TcpMsl;
        if (State == TcpState.TimeWait)
        {
            if (fin) { SendAck(); _timeWaitDeadline = now + 2 * _stack.Options.TcpMsl; }
            return;
        }

        if ((!payload.IsEmpty || fin) && State is TcpState.Established or TcpState.FinWait1 or TcpState.FinWait2)
        {
            if (dataSeq == _rcvNxt)
            {
                int n = _receive.Write(payload.Span);
                _rcvNxt += (uint)n;
                bool hadGap = _outOfOrder.Count > 0;
                if (fin && n == payload.Length) ReceiveFin(now);
                DrainOutOfOrder(now);
                _ackPending++;
                if (_ackPending >= 2 || hadGap || _finReceived || _receive.Free < _mss) SendAck();
                Wake(_readers);
            }
            else
            {
                StoreOutOfOrder(dataSeq, payload, fin);
                SendAck(); // an immediate duplicate ACK drives the sender's fast retransmit
            }
        }
        else if (dropPayload && seg.Payload.Length > 0) SendAck(); // a data-bearing zero-window probe: answer with our window
        Output();
    }

    private void OnSegmentSynSent(in TcpSegment seg, TimeSpan now)
    {
        if (seg.Has(TcpFlags.Ack) && (Seq.Le(seg.Ack, _iss) || Seq.Gt(seg.Ack, _sndMax)))
        {
            if (!seg.Has(TcpFlags.Rst)) _layer.SendReset(seg);
            return;
        }
        if (seg.Has(TcpFlags.Rst))
        {
            if (seg.Has(TcpFlags.Ack)) Fail(Errors.Of(ErrorCode.ConnectionRefused, $"{Remote} refused the connection"), sendReset: false);
            return;
        }
        if (!seg.Has(TcpFlags.Syn)) return;
        _irs = seg.Seq;
        _rcvNxt = _irs + 1;
        _rcvAdvEdge = _rcvNxt + (uint)Math.Min(_receive.Free, 65535);
        ApplyPeerOptions(seg);
        if (seg.Has(TcpFlags.Ack))
        {
            OnNewAck(seg.Ack, now, _tsOk && seg.HasTimestamp ? seg.TsEcr : 0);
            _sndWnd = seg.Window;
            _sndWl1 = seg.Seq;
            _sndWl2 = seg.Ack;
            State = TcpState.Established;
            SendAck();
            _established.TrySetResult(Result.Ok);
            Output();
        }
        else
        {
            State = TcpState.SynReceived; // simultaneous open
            SendSyn();
        }
    }

    private void OnNewAck(uint ack, TimeSpan now, uint tsEcr = 0)
    {
        uint acked = ack - _sndUna;
        if (!_synAcked) { _synAcked = true; acked--; }
        int dataAcked = (int)Math.Min(acked, (uint)_send.Count);
        _send.Discard(dataAcked);
        if (_sacked.Count > 0) PruneScoreboard(ack);
        if (acked > (uint)dataAcked && _finSent) _finAcked = true;
        _sndUna = ack;
        if (Seq.Lt(_sndNxt, _sndUna)) _sndNxt = _sndUna; // ACK for data sent before a go-back-N retransmission
        _retries = 0;
        if (tsEcr != 0 && Seq.Le(tsEcr, TsNow) && TsNow - tsEcr <= (uint)_stack.Options.TcpMaxRto.TotalMilliseconds) SampleRtt(TimeSpan.FromMilliseconds(TsNow - tsEcr)); // every ACK, retransmitted or not
        else if (_timing && Seq.Gt(ack, _rttSeq)) { SampleRtt(now - _rttStart); _timing = false; }

        if (_inRecovery)
        {
            if (Seq.Ge(ack, _recover)) { _inRecovery = false; _cwnd = Math.Max(_ssthresh, _mss); }
            else
            {
                if (_sackOk) RetransmitNextHole(); // SACK recovery: the pipe, not an inflated window, paces it
                else
                {
                    RetransmitFirst(); // RFC 6582 partial ACK: the next hole is lost too
                    _cwnd = Math.Max(_cwnd - acked + _mss, _mss);
                }
            }
        }
        else if (_cwnd < _ssthresh) _cwnd += Math.Min(acked, (uint)_mss);
        else _cwnd += Math.Max(1, (long)_mss * _mss / _cwnd);
        _cwnd = Math.Min(_cwnd, 64L << 20);
        _dupAcks = 0;
        _limitedTransmit = 0;
        if (_sndUna == _sndMax) _rtoDeadline = null;
        else _rtoDeadline = now + _rto;
        Wake(_writers);
    }

    private void OnDuplicateAck()
    {
        _dupAcks++;
        if (!_inRecovery && _dupAcks == 3 && Seq.Gt(_sndUna, _recover))
        {
            long flight = _sndMax - _sndUna;
            _ssthresh = Math.Max(flight / 2, 2L * _mss);
            _recover = _sndMax;
            _inRecovery = true;
            _rexmitNext = _sndUna;
            if (_sackOk) { RetransmitNextHole(); _cwnd = _ssthresh; }
            else { RetransmitFirst(); _cwnd = _ssthresh + 3L * _mss; }
            _stack.Count(Counter.TcpFastRetransmits);
        }
        else if (_inRecovery)
        {
            if (_sackOk) RetransmitNextHole();
            else _cwnd += _mss; // each duplicate ACK means a segment left the network
            Output();
        }
        else if (_dupAcks <= 2)
        {
            _limitedTransmit = (long)_dupAcks * _mss;
            Output();
        }
    }

    private void ReceiveFin(TimeSpan now)
    {
        _rcvNxt++;
        _finReceived = true;
        switch (State)
        {
            case TcpState.Established: State = TcpState.CloseWait; break;
            case TcpState.FinWait1: if (_finAcked) EnterTimeWait(now); else State = TcpState.Closing; break;
            case TcpState.FinWait2: EnterTimeWait(now); break;
        }
        Wake(_readers);
    }

    private const int MaxOutOfOrderSegments = 1024, MaxScoreboardRanges = 64;
    private long _outOfOrderBytes; // bounded by the receive buffer: overlapping segments cannot multiply memory

    private void StoreOutOfOrder(uint seq, ReadOnlyMemory<byte> data, bool fin)
    {
        // Bounded like Linux's out-of-order queue: a peer cannot make us keep (and rescan) a segment per byte of window.
        if (_outOfOrder.Count >= MaxOutOfOrderSegments || _outOfOrderBytes + data.Length > _receive.Capacity)
        { _stack.Count(DropReason.OutOfOrderLimit); return; }
        foreach (var (s, d, f) in _outOfOrder)
            if (s == seq && d.Length >= data.Length && (f || !fin)) return; // already have it
        _outOfOrder.Add((seq, data.ToArray(), fin));
        _outOfOrderBytes += data.Length;
        _lastOutOfOrder = seq;
    }

    private void DrainOutOfOrder(TimeSpan now)
    {
        bool progress = true;
        while (progress && _outOfOrder.Count > 0)
        {
            progress = false;
            for (int i = 0; i < _outOfOrder.Count; i++)
            {
                var (s, d, fin) = _outOfOrder[i];
                if (Seq.Gt(s, _rcvNxt)) continue;
                _outOfOrder.RemoveAt(i);
                _outOfOrderBytes -= d.Length;
                uint skip = _rcvNxt - s;
                if (skip <= (uint)d.Length && !_finReceived)
                {
                    int n = _receive.Write(d.AsSpan((int)skip));
                    _rcvNxt += (uint)n;
                    if (fin && n == d.Length - (int)skip) ReceiveFin(now);
                }
                progress = true;
                break;
            }
        }
    }

    // ---- output ----

    /// <summary>
    /// The window to advertise. Its right edge only moves forward in steps of at least a segment (receiver-side silly
    /// window avoidance), and while a hole is open only once the window has shrunk to a quarter of the buffer: a
    /// duplicate ACK whose window changed is a window update to the sender (Linux counts it so), and fast retransmit
    /// would never trigger.
    /// </summary>
    private ushort AdvertisedWindow()
    {
        long current = Seq.Lt(_rcvAdvEdge, _rcvNxt) ? 0 : _rcvAdvEdge - _rcvNxt;
        long free = _receive.Free;
        long wnd = current;
        bool grew = free - current >= Math.Min(_receive.Capacity / 2, _mss);
        // Hold the edge while a hole is open, but never let that close the window: the hole's own retransmission
        // must still fit, or both ends wait forever.
        if (grew && (_outOfOrder.Count == 0 || current < Math.Max(_receive.Capacity / 4, 4L * _mss))) wnd = free;
        wnd = Math.Min(Math.Min(wnd, free), 65535L << _rcvWscale);
        wnd = wnd >> _rcvWscale << _rcvWscale;
        _rcvAdvEdge = _rcvNxt + (uint)wnd;
        return (ushort)(wnd >> _rcvWscale);
    }

    private void SendAck()
    {
        _ackPending = 0;
        // Pure ACKs carry the highest sequence sent, not the go-back-N retransmit point: a sequence number behind the
        // peer's RCV.NXT would make the peer discard the ACK as out of window, and two retransmitting ends would livelock.
        _layer.SendSegment(Local, Remote, _sndMax, _rcvNxt, TcpFlags.Ack, AdvertisedWindow(), -1, 0, default, sack: SackBlocks(), timestamp: Ts());
    }

    private const int ChallengeAcksPerSecond = 10;
    private TimeSpan _challengeWindow;
    private int _challengesInWindow;

    /// <summary>RFC 5961 challenge ACK, at most <see cref="ChallengeAcksPerSecond"/> a second per connection (§7): a
    /// blind attacker cannot turn us into an ACK amplifier, and a per-connection budget leaks nothing across connections.</summary>
    private void ChallengeAck()
    {
        var now = _stack.Now;
        if (now - _challengeWindow >= TimeSpan.FromSeconds(1)) { _challengeWindow = now; _challengesInWindow = 0; }
        if (++_challengesInWindow > ChallengeAcksPerSecond) return;
        _stack.Count(Counter.TcpChallengeAcks);
        SendAck();
    }

    private void SendData(uint seq, int offset, int length, bool push)
    {
        _ackPending = 0;
        // SACK blocks ride along only as far as they fit beside the payload within the MSS (4 bytes of option header,
        // 8 a block): a full-size segment carries none, the pure duplicate ACKs carry them.
        var sack = SackBlocks();
        int fit = (_mss - length - 4) / 8;
        if (sack is not null && fit < sack.Count) sack = fit > 0 ? sack.GetRange(0, fit) : null;
        _layer.SendSegment(Local, Remote, seq, _rcvNxt, TcpFlags.Ack | (push ? TcpFlags.Psh : 0), AdvertisedWindow(), -1, 0, default,
            sack: sack, from: _send, fromOffset: offset, fromLength: length, timestamp: Ts());
    }

    private void SendFin(uint seq)
    {
        _ackPending = 0;
        _layer.SendSegment(Local, Remote, seq, _rcvNxt, TcpFlags.Fin | TcpFlags.Ack, AdvertisedWindow(), -1, 0, default, sack: SackBlocks(), timestamp: Ts());
    }

    /// <summary>Sends whatever the congestion and receive windows allow, then the FIN once all data has gone.</summary>
    internal void Output()
    {
        if (State is not (TcpState.Established or TcpState.CloseWait or TcpState.FinWait1 or TcpState.Closing or TcpState.LastAck)) return;
        var now = _stack.Now;
        while (true)
        {
            long inFlight = _sndNxt - _sndUna;
            long unsent = _send.Count - inFlight;
            long window = Math.Min(_cwnd + _limitedTransmit, _sndWnd);
            if (unsent > 0)
            {
                // With SACK, bytes the peer already holds are not in the network (RFC 6675's pipe) — that frees
                // congestion window, but the receiver's window still ends at SND.UNA + SND.WND.
                long pipe = _sackOk && _inRecovery ? inFlight - SackedBytes() : inFlight;
                long room = Math.Min(Math.Min(_cwnd + _limitedTransmit, window) - pipe, _sndWnd - inFlight);
                if (room <= 0)
                {
                    if (_sndWnd == 0 && inFlight == 0 && _persistDeadline is null)
                    {
                        _persistBackoff = _rto;
                        _persistDeadline = now + _persistBackoff;
                    }
                    return;
                }
                int n = (int)Math.Min(Math.Min(_mss, unsent), room);
                if (n < _mss && n < unsent && inFlight > 0) return; // sender-side silly window avoidance
                SendData(_sndNxt, (int)inFlight, n, push: n == unsent);
                if (Seq.Gt(_sndNxt, _sndMax) || _sndNxt == _sndMax) { if (!_timing) StartTiming(_sndNxt); }
                else _retransmits++;
                _sndNxt += (uint)n;
                if (Seq.Gt(_sndNxt, _sndMax)) _sndMax = _sndNxt;
                _rtoDeadline ??= now + _rto;
                continue;
            }
            if (_closeRequested && !_finAcked && inFlight == _send.Count)
            {
                SendFin(_sndNxt);
                _sndNxt++;
                if (Seq.Gt(_sndNxt, _sndMax)) _sndMax = _sndNxt;
                if (!_finSent)
                {
                    _finSent = true;
                    State = State == TcpState.CloseWait ? TcpState.LastAck : TcpState.FinWait1;
                }
                _rtoDeadline ??= now + _rto;
            }
            return;
        }
    }

    /// <summary>Up to three SACK blocks for what we hold beyond RCV.NXT, the block with the latest arrival first.</summary>
    private List<(uint Left, uint Right)>? SackBlocks()
    {
        if (!_sackOk || _outOfOrder.Count == 0) return null;
        var ranges = new List<(uint Left, uint Right)>();
        foreach (var (seq, data, _) in _outOfOrder.OrderBy(x => x.Seq - _rcvNxt))
        {
            if (data.Length == 0 || Seq.Le(seq + (uint)data.Length, _rcvNxt)) continue;
            uint left = Seq.Lt(seq, _rcvNxt) ? _rcvNxt : seq, right = seq + (uint)data.Length;
            if (ranges.Count > 0 && Seq.Le(left, ranges[^1].Right)) ranges[^1] = (ranges[^1].Left, Seq.Gt(right, ranges[^1].Right) ? right : ranges[^1].Right);
            else ranges.Add((left, right));
        }
        int latest = ranges.FindIndex(r => Seq.Le(r.Left, _lastOutOfOrder) && Seq.Lt(_lastOutOfOrder, r.Right));
        if (latest > 0) { var r = ranges[latest]; ranges.RemoveAt(latest); ranges.Insert(0, r); }
        return ranges.Count == 0 ? null : ranges;
    }

    /// <summary>Merges the peer's SACK blocks into the scoreboard, ignoring any outside (SND.UNA, SND.MAX].</summary>
    private void UpdateScoreboard((uint Left, uint Right)[] blocks)
    {
        foreach (var (left, right) in blocks)
        {
            if (!Seq.Lt(left, right) || !Seq.Gt(right, _sndUna) || Seq.Gt(right, _sndMax)) continue;
            var l = Seq.Lt(left, _sndUna) ? _sndUna : left;
            _sacked.Add((l, right));
        }
        _sacked.Sort((a, b) => (int)(a.Left - b.Left) < 0 ? -1 : a.Left == b.Left ? 0 : 1);
        for (int i = 1; i < _sacked.Count; i++)
            if (Seq.Le(_sacked[i].Left, _sacked[i - 1].Right))
            {
                _sacked[i - 1] = (_sacked[i - 1].Left, Seq.Gt(_sacked[i].Right, _sacked[i - 1].Right) ? _sacked[i].Right : _sacked[i - 1].Right);
                _sacked.RemoveAt(i--);
            }
        if (_sacked.Count > MaxScoreboardRanges) _sacked.RemoveRange(MaxScoreboardRanges, _sacked.Count - MaxScoreboardRanges);
    }

    private void PruneScoreboard(uint ack)
    {
        _sacked.RemoveAll(r => Seq.Le(r.Right, ack));
        if (_sacked.Count > 0 && Seq.Lt(_sacked[0].Left, ack)) _sacked[0] = (ack, _sacked[0].Right);
    }

    private long SackedBytes()
    {
        long n = 0;
        foreach (var (l, r) in _sacked) n += r - l;
        return n;
    }

    /// <summary>SACK loss recovery: retransmits the next segment of the next hole below the highest SACKed byte that
    /// this recovery has not retransmitted yet — several holes per round trip, where NewReno repairs one.</summary>
    private void RetransmitNextHole()
    {
        if (_sacked.Count == 0)
        {
            if (Seq.Le(_rexmitNext, _sndUna)) { RetransmitFirst(); _rexmitNext = _sndUna + (uint)Math.Min(_mss, Math.Max(1, _send.Count)); }
            return;
        }
        uint start = Seq.Gt(_rexmitNext, _sndUna) ? _rexmitNext : _sndUna;
        uint holeEnd = _sacked[^1].Right;
        foreach (var (l, r) in _sacked)
        {
            if (Seq.Le(l, start) && Seq.Lt(start, r)) start = r;
            else if (Seq.Gt(l, start)) { holeEnd = l; break; }
        }
        if (!Seq.Lt(start, _sacked[^1].Right)) return; // nothing un-SACKed below the highest SACKed byte
        int offset = (int)(start - _sndUna);
        int n = (int)Math.Min(Math.Min(_mss, holeEnd - start), _send.Count - offset);
        if (n <= 0) return;
        SendData(start, offset, n, push: false);
        _rexmitNext = start + (uint)n;
        if (_timing && Seq.Le(start, _rttSeq) && Seq.Lt(_rttSeq, start + (uint)n)) _timing = false; // Karn: only the timed segment
        _retransmits++;
        _stack.Count(Counter.TcpRetransmits);
        _stack.Count(Counter.TcpSackRetransmits);
    }

    private void RetransmitFirst()
    {
        _retransmits++;
        _stack.Count(Counter.TcpRetransmits);
        // Only bytes sent before (below SND.MAX): queued bytes past it would go out without SND.MAX moving.
        int sent = (int)Math.Min(_send.Count, _sndMax - _sndUna);
        int n = Math.Max(1, Math.Min(_mss, sent));
        if (_timing && Seq.Le(_sndUna, _rttSeq) && Seq.Lt(_rttSeq, _sndUna + (uint)n)) _timing = false; // Karn's rule
        if (sent > 0) SendData(_sndUna, 0, Math.Min(_mss, sent), push: false);
        else if (_finSent && !_finAcked) SendFin(_sndUna);
    }

    // ---- timers ----

    private uint TsNow => (uint)(long)_stack.Now.TotalMilliseconds;

    private (uint, uint)? Ts() => _tsOk ? (TsNow, _tsRecent) : null;

    private void StartTiming(uint seq)
    {
        _timing = true;
        _rttSeq = seq;
        _rttStart = _stack.Now;
    }

    private void SampleRtt(TimeSpan r)
    {
        if (!_haveRtt) { _srtt = r; _rttvar = r / 2; _haveRtt = true; }
        else
        {
            var delta = _srtt > r ? _srtt - r : r - _srtt;
            _rttvar = (_rttvar * 3 + delta) / 4;
            _srtt = (_srtt * 7 + r) / 8;
        }
        var rto = _srtt + Max(_stack.Options.TickInterval, _rttvar * 4);
        _rto = Clamp(rto, _stack.Options.TcpMinRto, _stack.Options.TcpMaxRto);
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
    private static TimeSpan Clamp(TimeSpan v, TimeSpan lo, TimeSpan hi) => v < lo ? lo : v > hi ? hi : v;

    private void ArmRto() => _rtoDeadline = _stack.Now + _rto;

    internal void Tick(TimeSpan now)
    {
        if (State == TcpState.TimeWait) { if (now >= _timeWaitDeadline) Destroy(); return; }
        if (State == TcpState.FinWait2 && now >= _finWait2Deadline) { Destroy(); return; }
        if (_ackPending > 0) SendAck();
        if (_rtoDeadline is { } due && now >= due) OnRetransmitTimeout(now);
        if (_persistDeadline is { } probe && now >= probe && State != TcpState.Closed)
        {
            // Zero-window probe: an already-acknowledged sequence number makes the peer answer with its window.
            _layer.SendSegment(Local, Remote, _sndUna - 1, _rcvNxt, TcpFlags.Ack, AdvertisedWindow(), -1, 0, default, timestamp: Ts());
            _persistBackoff = Clamp(_persistBackoff * 2, _stack.Options.TcpMinRto, _stack.Options.TcpMaxRto);
            _persistDeadline = now + _persistBackoff;
        }
    }

    private void OnRetransmitTimeout(TimeSpan now)
    {
        _stack.Count(Counter.TcpTimeouts);
        _retries++;
        _timing = false;
        _rto = Clamp(_rto * 2, _stack.Options.TcpMinRto, _stack.Options.TcpMaxRto);
        if (State is TcpState.SynSent or TcpState.SynReceived)
        {
            if (_retries > _stack.Options.TcpSynRetries)
            {
                if (_listener is not null) Destroy();
                else Fail(Errors.Of(ErrorCode.TimedOut, $"no answer from {Remote}"), sendReset: false);
                return;
            }
            _retransmits++;
            SendSyn();
            _rtoDeadline = now + _rto;
            return;
        }
        if (_retries > _stack.Options.TcpMaxRetransmits)
        {
            Fail(Errors.Of(ErrorCode.TimedOut, $"{Remote} stopped acknowledging"), sendReset: true);
            return;
        }
        long flight = _sndMax - _sndUna;
        _ssthresh = Math.Max(flight / 2, 2L * _mss);
        _cwnd = _mss;
        _inRecovery = false;
        _dupAcks = 0;
        _limitedTransmit = 0;
        _recover = _sndMax;
        _sndNxt = _sndUna; // go back N: resend from the first unacknowledged byte
        _sacked.Clear();   // and forget SACK state, as a receiver may renege (RFC 2018 §8)
        _rtoDeadline = null;
        _stack.Count(Counter.TcpRetransmits);
        Output();
        // Nothing could go out because the peer's window is closed: the persist timer probes from here, and the
        // retransmission timer (whose expiries count towards giving up) waits until data is in flight again.
        if (_sndNxt == _sndUna && _persistDeadline is not null) _rtoDeadline = null;
        else _rtoDeadline ??= now + _rto;
    }

    private void EnterTimeWait(TimeSpan now)
    {
        State = TcpState.TimeWait;
        _rtoDeadline = _persistDeadline = null;
        _timeWaitDeadline = now + 2 * _stack.Options.TcpMsl;
        _closed.TrySetResult();
        Wake(_readers);
        Wake(_writers);
    }

    private void Finish()
    {
        State = TcpState.Closed;
        _layer.Remove(this);
        _closed.TrySetResult();
        Wake(_readers);
        Wake(_writers);
    }

    /// <summary>Drops the connection without telling the peer (SYN-cache eviction, TIME_WAIT expiry).</summary>
    internal void Destroy()
    {
        if (State is not (TcpState.TimeWait or TcpState.Closed)) _error ??= Errors.Of(ErrorCode.Closed, "connection dropped");
        if (State == TcpState.SynReceived) _listener?.OnHalfOpenFailed(this);
        _established.TrySetResult(_error is { } e ? e : Result.Ok);
        Finish();
    }

    /// <summary>Ends the connection with an error, optionally resetting the peer.</summary>
    internal void Fail(KernelError error, bool sendReset)
    {
        if (State == TcpState.Closed) return;
        if (sendReset && State is not (TcpState.SynSent or TcpState.TimeWait))
        {
            _layer.SendSegment(Local, Remote, _sndMax, _rcvNxt, TcpFlags.Rst | TcpFlags.Ack, 0, -1, 0, default);
            _stack.Count(Counter.TcpResetsSent);
        }
        _error ??= error;
        if (State == TcpState.SynReceived) _listener?.OnHalfOpenFailed(this);
        _established.TrySetResult(error);
        Finish();
    }

    private static void Wake(List<TaskCompletionSource> waiters)
    {
        foreach (var w in waiters) w.TrySetResult();
        waiters.Clear();
    }

    // ---- socket API ----

    /// <summary>Queues all of <paramref name="data"/> for sending, waiting for buffer space as the peer acknowledges.</summary>
    public async Task<Result> SendAsync(ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        while (true)
        {
            TaskCompletionSource? wait = null;
            lock (_stack.Gate)
            {
                if (_released) return Errors.Of(ErrorCode.Closed, "connection handle closed");
                if (_error is { } e) return e;
                if (_closeRequested || State is not (TcpState.Established or TcpState.CloseWait))
                    return Errors.Of(ErrorCode.Closed, "connection is closed for sending");
                int n = _send.Write(data.Span);
                data = data[n..];
                Output();
                if (!data.IsEmpty)
                {
                    wait = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    _writers.Add(wait);
                }
            }
            await _stack.FlushAsync().ConfigureAwait(false);
            if (wait is null) return Result.Ok;
            if (ct.IsCancellationRequested) return Errors.Of(ErrorCode.Cancelled, "send cancelled");
            using (ct.Register(() => wait.TrySetResult())) await wait.Task.ConfigureAwait(false);
        }
    }

    /// <summary>Reads received bytes; 0 means the peer closed its side (end of stream).</summary>
    public async Task<Result<int>> ReceiveAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        if (buffer.IsEmpty) return Errors.Of(ErrorCode.InvalidArgument, "empty receive buffer");
        while (true)
        {
            TaskCompletionSource wait;
            bool update = false;
            int n = 0;
            lock (_stack.Gate)
            {
                if (_released) return Errors.Of(ErrorCode.Closed, "connection handle closed");
                if (_receive.Count > 0)
                {
                    n = _receive.Read(buffer.Span);
                    // Receiver-side SWS avoidance: announce a bigger window only once it grew by a segment or half the buffer.
                    if (State is TcpState.Established or TcpState.FinWait1 or TcpState.FinWait2
                        && _receive.Free - (Seq.Lt(_rcvAdvEdge, _rcvNxt) ? 0 : _rcvAdvEdge - _rcvNxt) >= Math.Min(_receive.Capacity / 2, _mss))
                    { SendAck(); update = true; }
                }
                else if (_finReceived) return 0;
                else if (_error is { } e) return e;
                else if (State == TcpState.Closed) return 0;
                if (n > 0 && !update) return n;
                wait = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                if (n == 0) _readers.Add(wait);
            }
            if (update) { await _stack.FlushAsync().ConfigureAwait(false); return n; }
            if (ct.IsCancellationRequested) return Errors.Of(ErrorCode.Cancelled, "receive cancelled");
            using (ct.Register(() => wait.TrySetResult())) await wait.Task.ConfigureAwait(false);
            if (ct.IsCancellationRequested) return Errors.Of(ErrorCode.Cancelled, "receive cancelled");
        }
    }

    /// <summary>Graceful close of the sending side: the FIN follows the queued data. Reading may continue.</summary>
    public async Task<Result> CloseAsync()
    {
        lock (_stack.Gate)
        {
            if (_error is { } e) return e;
            if (!_closeRequested && State is TcpState.Established or TcpState.CloseWait or TcpState.SynReceived)
            {
                _closeRequested = true;
                Output();
            }
        }
        await _stack.FlushAsync().ConfigureAwait(false);
        return Result.Ok;
    }

    /// <summary>The last handle to the connection is gone: close the sending side gracefully (the FIN follows queued
    /// data) and end pending and later calls with <see cref="ErrorCode.Closed"/>, as nobody is left to make them.</summary>
    internal async Task ReleaseAsync()
    {
        lock (_stack.Gate)
        {
            _released = true;
            if (!_closeRequested && State is TcpState.Established or TcpState.CloseWait or TcpState.SynReceived)
            {
                _closeRequested = true;
                Output();
            }
            Wake(_readers);
            Wake(_writers);
        }
        await _stack.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>Resets the connection (RST) and discards queued data.</summary>
    public async Task AbortAsync()
    {
        lock (_stack.Gate) Fail(Errors.Of(ErrorCode.ConnectionReset, "aborted locally"), sendReset: true);
        await _stack.FlushAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync() => await CloseAsync().ConfigureAwait(false);

    public override string ToString() => $"tcp {Local} -> {Remote} {State}";
}
