using Photon.Kernel.Diagnostics.Tracing;
using Photon.Net.Sockets;
using Photon.Net.Wire;

namespace Photon.Net.Tcp;

public enum TcpState { Closed, Listen, SynSent, SynReceived, Established, FinWait1, FinWait2, CloseWait, Closing, LastAck, TimeWait }

/// <summary>
/// One TCP connection (RFC 9293) as one state machine, <see cref="OnSegment"/>, in the manner of smoltcp's socket: the
/// three-way handshake, a sliding window with window scaling (RFC 7323) and receiver/sender silly-window avoidance,
/// out-of-order reassembly, retransmission on an RFC 6298 timer (<see cref="RttEstimator"/>), congestion control
/// through <see cref="ICongestionController"/> (<see cref="NewReno"/>), fast retransmit and recovery with SACK
/// (<see cref="SackScoreboard"/>) or RFC 6582's partial ACKs, zero-window probing, FIN/RST handling with RFC 5961
/// challenge ACKs, and TIME_WAIT. Sequence numbers are <see cref="SeqNumber"/>s, buffers <see cref="ByteRing"/>s.
/// Protocol methods run under the stack lock; the public async methods are the socket API.
/// </summary>
public sealed partial class TcpConnection : IAsyncDisposable
{
    private const int OurWindowScale = 7;
    private const int MaxOutOfOrderSegments = 1024;
    private const int ChallengeAcksPerSecond = 10;
    private readonly TcpLayer _layer;
    private readonly NetworkStack _stack;
    private readonly TcpListener? _listener;
    private readonly ByteRing _send, _receive;
    private readonly List<(SeqNumber Seq, byte[] Data, bool Fin)> _outOfOrder = new();
    private readonly TaskCompletionSource<Result> _established = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly PendingCalls<bool> _readers, _writers; // bounded per connection, charged to the tenant
    private readonly RttEstimator _rtt;
    private readonly ICongestionController _cc;
    private readonly SackScoreboard _scoreboard = new();
    private readonly BufferAutotune _autotune;
    private readonly ReceiveRttEstimator _rcvRtt = new();
    private readonly AckPolicy _ackPolicy = new();

    // Send sequence space (RFC 9293 names).
    private SeqNumber _iss, _sndUna, _sndNxt, _sndMax, _sndWl1, _sndWl2;
    private uint _sndWnd, _maxSndWnd;
    private int _sndWscale, _rcvWscale;
    // Receive sequence space.
    private SeqNumber _irs, _rcvNxt, _rcvAdvEdge;
    private int _mss = 536;
    private bool _released; // the last handle is gone (ReleaseAsync)
    private bool _synAcked, _closeRequested, _finSent, _finAcked, _finReceived, _offeredScale;
    // Loss recovery: duplicate ACKs, RFC 3042 limited transmit (the first two duplicates each let one new segment out),
    // RFC 6582's recovery point, and the next sequence to consider for a SACK hole retransmission.
    private int _dupAcks;
    private long _limitedTransmit;
    private SeqNumber _recover, _rexmitNext;
    // SACK (RFC 2018) negotiated; what the blocks we send report is in TcpConnection.SackBlocks.cs.
    private bool _sackOk;
    // Timestamps (RFC 7323): negotiated flag and TS.Recent, the peer's clock to echo.
    private bool _tsOk;
    private uint _tsRecent;
    // Timers.
    private TimeSpan? _rtoDeadline, _persistDeadline, _timeWaitDeadline, _finWait2Deadline;
    // Tail loss probe (RFC 8985 §7): armed while data is outstanding outside recovery; one probe per flight, until an
    // ACK moves SND.UNA. A probe answered by a SACK above a hole starts SACK recovery at once (RACK's inference).
    private TimeSpan? _tlpDeadline;
    private bool _tlpSent;
    private TimeSpan _persistBackoff;
    private int _retries, _ackPending;
    private bool _burstAckOwed;
    private SeqNumber _rcvAcked;  // RCV.NXT as of the last segment we sent (every segment carries the ACK)
    private TimeSpan _lastDataIn;
    private long _retransmits;
    private long _outOfOrderBytes; // bounded by the receive buffer: overlapping segments cannot multiply memory
    private TimeSpan _challengeWindow;
    private int _challengesInWindow;
    private KernelError? _error;

    internal TcpConnection(TcpLayer layer, IpEndpoint local, IpEndpoint remote, TcpListener? listener)
    {
        _layer = layer;
        _stack = layer.Stack;
        _listener = listener;
        Local = local;
        Remote = remote;
        var o = _stack.Options;
        _send = new ByteRing(o.TcpSendBuffer, ByteRing.LargeStorage);
        _receive = new ByteRing(o.TcpReceiveBuffer);
        _readers = new PendingCalls<bool>(o.SocketMaxPendingCalls, "receive");
        _writers = new PendingCalls<bool>(o.SocketMaxPendingCalls, "send");
        _rtt = new RttEstimator(o.TcpInitialRto, o.TcpMinRto, o.TcpMaxRto, o.TickInterval);
        _cc = o.TcpCongestionControllerFactory?.Invoke() ?? (o.TcpCongestionControl == TcpCongestionControl.NewReno ? new NewReno() : new Cubic());
        _autotune = new BufferAutotune(Math.Max(o.TcpSendBuffer, o.TcpSendBufferMax), Math.Max(o.TcpReceiveBuffer, o.TcpReceiveBufferMax));
        if (listener?.Account is { } account) ChargeTo(account, ephemeralPort: false); // the listening tenant pays
    }

    public IpEndpoint Local { get; }
    public IpEndpoint Remote { get; }
    public TcpState State { get; private set; }
    internal SeqNumber ReceiveNext => _rcvNxt;
    internal SeqNumber SendUnacknowledged => _sndUna;
    /// <summary>The payload bytes one segment carries to the peer (after options and path MTU).</summary>
    internal int SendMss => _mss;
    internal Task<Result> Established => _established.Task;

    /// <summary>Completes when the connection is fully closed (or reset); TIME_WAIT counts as closed for the user.</summary>
    public Task Closed => _closed.Task;

    public TcpConnectionInfo Info => new(Local, Remote, State, _send.Count, _receive.Count, (int)Math.Min(_cc.Window, int.MaxValue), _rtt.Srtt,
        _retransmits, _rtt.Rto);

    public long Retransmits { get { lock (_stack.Gate) return _retransmits; } }

    private int OurMss => _layer.RouteMss(Remote);

    /// <summary>The path MTU towards the peer went down: send smaller segments from now on (never larger than agreed).</summary>
    internal void OnPathMtuLowered() => _mss = Math.Max(64, Math.Min(_mss, OurMss - (_tsOk ? TcpRepr.TimestampOptionLength : 0)));

    /// <summary>The send and receive buffers' capacities now (they grow by autotuning, <see cref="BufferAutotune"/>).</summary>
    internal (int Send, int Receive) BufferCapacities { get { lock (_stack.Gate) return (_send.Capacity, _receive.Capacity); } }

    // ---- opening ----

    internal void OpenActive()
    {
        _iss = TcpLayer.NewIss();
        _sndUna = _recover = _iss;
        _sndNxt = _sndMax = _iss + 1;
        State = TcpState.SynSent;
        _offeredScale = true;
        SendSyn();
        _rtt.StartTiming(_iss, _stack.Now);
        ArmRto();
    }

    internal void OpenPassive(in TcpRepr syn)
    {
        _irs = syn.Seq;
        _rcvNxt = _irs + 1;
        _rcvAdvEdge = _rcvNxt + Math.Min(_receive.Free, 65535);
        _offeredScale = syn.WindowScale is not null;
        ApplyPeerOptions(syn);
        _iss = TcpLayer.NewIss();
        _sndUna = _recover = _iss;
        _sndNxt = _sndMax = _iss + 1;
        _sndWnd = syn.Window; // windows in SYN segments are never scaled
        _sndWl1 = syn.Seq;
        State = TcpState.SynReceived;
        SendSyn();
        _rtt.StartTiming(_iss, _stack.Now);
        ArmRto();
    }

    /// <summary>The state a SYN-cookie handshake left nowhere: our ISN was the cookie, the MSS came from it, and the
    /// options a cookie cannot carry (window scale, SACK, timestamps) are off. <see cref="OnSegment"/> then takes the
    /// completing ACK as it would after an ordinary SYN-ACK.</summary>
    internal void RestoreFromCookie(in TcpRepr ack, SeqNumber iss, ushort mss)
    {
        _irs = ack.Seq - 1;
        _rcvNxt = _rcvAcked = ack.Seq;
        _rcvAdvEdge = _rcvNxt + Math.Min(_receive.Free, 65535);
        _offeredScale = false;
        _sndWscale = _rcvWscale = 0;
        _sackOk = _tsOk = false;
        _mss = Math.Max(64, Math.Min((int)mss, OurMss));
        _cc.Start(_mss, _sackOk);
        _iss = iss;
        _sndUna = _recover = iss;
        _sndNxt = _sndMax = iss + 1;
        _sndWnd = ack.Window;
        _sndWl1 = _irs;
        State = TcpState.SynReceived;
    }

    private void ApplyPeerOptions(in TcpRepr syn)
    {
        _mss = Math.Max(64, Math.Min(syn.Mss != 0 ? syn.Mss : 536, OurMss));
        _sackOk = _stack.Options.TcpSack && syn.SackPermitted;
        _tsOk = _stack.Options.TcpTimestamps && syn.HasTimestamp;
        if (_tsOk) { _tsRecent = syn.TsVal; _mss -= TcpRepr.TimestampOptionLength; } // the option rides on every segment
        if (syn.WindowScale is { } shift && _offeredScale) { _sndWscale = shift; _rcvWscale = OurWindowScale; }
        else { _sndWscale = 0; _rcvWscale = 0; }
        _cc.Start(_mss, _sackOk);
    }

    private void SendSyn()
    {
        bool synAck = State == TcpState.SynReceived;
        var syn = Header(_iss, synAck ? TcpFlags.Syn | TcpFlags.Ack : TcpFlags.Syn, (ushort)Math.Min(_receive.Free, 65535), sack: false);
        if (!synAck) syn.Ack = default;
        syn.WindowScale = _offeredScale ? OurWindowScale : null;
        syn.Mss = (ushort)OurMss;
        syn.SackPermitted = State == TcpState.SynSent ? _stack.Options.TcpSack : _sackOk;
        if (State == TcpState.SynSent)
        {
            syn.HasTimestamp = _stack.Options.TcpTimestamps;
            syn.TsVal = TsNow;
            syn.TsEcr = 0;
        }
        _layer.Send(Local, Remote, syn);
    }

    // ---- segment arrival ----

    internal void OnSegment(in TcpRepr seg)
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
        var seq = seg.Seq;
        bool acceptable = len == 0
            ? (wnd == 0 ? seq == _rcvNxt : seq.InRange(_rcvNxt, _rcvNxt + wnd))
            : wnd > 0 && (seq.InRange(_rcvNxt, _rcvNxt + wnd) || (seq + len - 1).InRange(_rcvNxt, _rcvNxt + wnd));
        bool dropPayload = false;
        if (!acceptable && wnd == 0 && seq == _rcvNxt) { acceptable = true; dropPayload = true; } // still take its ACK
        if (!acceptable)
        {
            _stack.Count(DropReason.OutOfWindow);
            if (seg.Payload.Length > 0 && seq + seg.Payload.Length <= _rcvNxt) NoteDuplicate(seq, seq + seg.Payload.Length);
            if (!seg.Has(TcpFlags.Rst)) SendAck();
            if (State == TcpState.TimeWait && seg.Has(TcpFlags.Fin)) _timeWaitDeadline = now + 2 * _stack.Options.TcpMsl;
            return;
        }

        if (_tsOk && seg.HasTimestamp && !seg.Has(TcpFlags.Rst))
        {
            if (new SeqNumber(seg.TsVal) < new SeqNumber(_tsRecent)) // RFC 7323 §5
            {
                _stack.Count(DropReason.Paws);
                if (seg.Payload.Length > 0 && seq + seg.Payload.Length <= _rcvNxt) NoteDuplicate(seq, seq + seg.Payload.Length); // an old copy, as Linux reports it
                SendAck();
                return;
            }
            if (seq <= _rcvNxt) _tsRecent = seg.TsVal;
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
        var payload = seg.Payload;
        bool fin = seg.Has(TcpFlags.Fin);
        var dataSeq = seq;
        // A closed window drops the data, but a bare FIN needs no buffer space and is taken (as Linux does): dropping it
        // would leave the sender retransmitting it into the closed window until it gives up and resets the connection.
        if (dropPayload) { payload = default; fin = fin && seg.Payload.Length == 0; }
        if (dataSeq < _rcvNxt)
        {
            if (!payload.IsEmpty) NoteDuplicate(dataSeq, SeqNumber.Min(_rcvNxt, dataSeq + payload.Length));
            uint skip = (uint)(_rcvNxt - dataSeq);
            if (skip > (uint)payload.Length) { payload = default; fin = false; }
            else payload = payload[(int)skip..];
            dataSeq = _rcvNxt;
        }
        long room = (_rcvNxt + wnd) - dataSeq;
        if (payload.Length > room) { payload = payload[..(int)Math.Max(0, room)]; fin = false; }

        var ack = seg.Ack;
        if (State == TcpState.SynReceived)
        {
            if (!(ack > _sndUna) || !(ack <= _sndMax)) { _layer.SendReset(seg); return; }
            State = TcpState.Established;
            _sndWnd = (uint)seg.Window << _sndWscale;
            _sndWl1 = seq;
            _sndWl2 = ack;
            _established.TrySetResult(Result.Ok);
            _listener?.OnEstablished(this);
        }
        if (ack > _sndMax) { SendAck(); return; } // acknowledges data never sent
        // RFC 5961 §5: an ACK older than SND.UNA minus the largest window the peer ever offered cannot come from the
        // peer; without this check a blind attacker could inject data with any old acknowledgement number.
        if (ack < _sndUna - Math.Max(_maxSndWnd, 65535u)) { ChallengeAck(); return; }

        bool sackedNewData = false;
        long undeliveredBefore = Undelivered;
        if (_sackOk && seg.SackCount > 0)
        {
            var blocks = ((ReadOnlySpan<(SeqNumber, SeqNumber)>)seg.Sack)[..seg.SackCount];
            CountDuplicateSack(seg.Ack, blocks);
            long sackedBefore = _scoreboard.SackedBytes();
            _scoreboard.Add(blocks, _sndUna, _sndMax);
            sackedNewData = _scoreboard.SackedBytes() > sackedBefore;
        }
        if (_persistDeadline is not null) _retries = 0; // the peer answers our probes: it is alive, just not reading
        uint advertised = (uint)seg.Window << _sndWscale;
        if (ack > _sndUna) OnNewAck(ack, now, _tsOk && seg.HasTimestamp ? seg.TsEcr : 0);
        // A duplicate ACK (RFC 5681) is a pure ACK that moves nothing while data is outstanding. The window-unchanged test
        // is left out: a receiver that grows its buffer while holding a hole (Linux autotuning does) would otherwise hide
        // every duplicate and leave recovery to the retransmission timer. With SACK it must SACK new data (RFC 6675 §2,
        // "DupAck") or, carrying no blocks at all, leave the window as it was (RFC 5681): a receiver whose reader drains a
        // full buffer sends window updates that repeat the ACK, and counting those started recovery with nothing lost —
        // on a window-limited transfer to Linux every segment went out twice (netloss: 21,928 retransmits, no drop, all
        // D-SACKed). Linux does not count them either (FLAG_WIN_UPDATE).
        else if (ack == _sndUna && payload.IsEmpty && !fin && _sndMax != _sndUna
                 && (!_sackOk || sackedNewData || (seg.SackCount == 0 && advertised == _sndWnd))) OnDuplicateAck();
        UpdatePrr(undeliveredBefore - Undelivered, now);
        if (_sndWl1 < seq || (_sndWl1 == seq && _sndWl2 <= ack))
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
        // FIN_WAIT_2 times out only for an orphan (see Tick) and only when the peer goes quiet.
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
                // The one copy: from the device's buffer into a parked reader's (when the socket buffer is empty), else
                // into the socket's.
                int direct = DeliverToParkedReader(payload, now);
                int n = direct + _receive.Write(payload[direct..]);
                if (n > direct) _stack.Count(Counter.TcpPayloadBytesBuffered, n - direct);
                _rcvNxt += n;
                if (n > 0)
                {
                    if (_tsOk && seg.HasTimestamp) _rcvRtt.OnTimestampEcho(seg.TsEcr, TsNow, n, _mss, _rtt.MaxRto, dataQueued: _receive.Count > n - direct);
                    _rcvRtt.OnInOrderData(_rcvNxt, _rcvAdvEdge, now);
                }
                bool hadGap = _outOfOrder.Count > 0;
                if (fin && n == payload.Length) ReceiveFin(now);
                DrainOutOfOrder(now);
                _ackPending++;
                if (hadGap || now - _lastDataIn > _rtt.Rto) _ackPolicy.EnterQuickAck();
                _lastDataIn = now;
                var timing = _ackPolicy.OnInOrderData(_ackPending, _rcvNxt - _rcvAcked, _mss);
                if (hadGap || _finReceived || _receive.Free < _mss || timing == AckTiming.Now) SendAck();
                else if (timing == AckTiming.BurstEnd && !_burstAckOwed)
                {
                    _burstAckOwed = true; // one ACK for the whole burst, once the stack has processed it
                    _layer.AckAtBurstEnd(this);
                }
                WakeReaders();
            }
            else
            {
                StoreOutOfOrder(dataSeq, payload, fin);
                SendAck(); // an immediate duplicate ACK drives the sender's fast retransmit
            }
        }
        else if (dropPayload && seg.Payload.Length > 0) SendAck(); // a data-bearing zero-window probe: answer with our window
        RepairLostSegments(now);
        Output();
    }

    private void OnSegmentSynSent(in TcpRepr seg, TimeSpan now)
    {
        if (seg.Has(TcpFlags.Ack) && (seg.Ack <= _iss || seg.Ack > _sndMax))
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
        _rcvAdvEdge = _rcvNxt + Math.Min(_receive.Free, 65535);
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

    private void OnNewAck(SeqNumber ack, TimeSpan now, uint tsEcr = 0)
    {
        long acked = ack - _sndUna;
        if (!_synAcked) { _synAcked = true; acked--; }
        int dataAcked = (int)Math.Min(acked, _send.Count);
        NetPathTimeline.Mark(NetPathEvent.TcpAckIn, dataAcked);
        _send.Discard(dataAcked);
        if (_scoreboard.Count > 0) _scoreboard.Prune(ack);
        if (acked > dataAcked && _finSent) _finAcked = true;
        _sndUna = ack;
        if (_sndNxt < _sndUna) _sndNxt = _sndUna; // ACK for data sent before a go-back-N retransmission
        _retries = 0;
        // With timestamps every ACK is a sample, retransmitted or not; without, only the timed segment's.
        if (tsEcr != 0 && new SeqNumber(tsEcr) <= new SeqNumber(TsNow) && TsNow - tsEcr <= (uint)_rtt.MaxRto.TotalMilliseconds)
            _rtt.Sample(TimeSpan.FromMilliseconds(TsNow - tsEcr));
        else _rtt.OnAck(ack, now);

        if (_cc.InRecovery)
        {
            if (ack >= _recover) { _cc.OnRecoveryEnd(); TryUndo(); }
            else
            {
                if (_sackOk) RetransmitNextHole(); // SACK recovery: the pipe, not an inflated window, paces it
                else RetransmitFirst();            // RFC 6582 partial ACK: the next hole is lost too
                _cc.OnPartialAck(acked);
            }
        }
        else _cc.OnAck(acked, now, _rtt.Srtt);
        _autotune.OnAck(_send, _cc.Window, _maxSndWnd);
        _dupAcks = 0;
        _limitedTransmit = 0;
        if (_sndUna == _sndMax) _rtoDeadline = null;
        else _rtoDeadline = now + _rtt.Rto;
        _tlpSent = false;
        ArmTailLossProbe(now);
        TakeFromParkedWriters();
    }

    private void OnDuplicateAck()
    {
        _dupAcks++;
        bool probeRevealedLoss = _tlpSent && _sackOk && _scoreboard.Count > 0;
        if (!_cc.InRecovery && (_dupAcks == 3 || probeRevealedLoss) && MayStartRecovery)
        {
            _recover = _sndMax;
            _rexmitNext = _sndUna;
            StartPrr(_cc.Window);
            _cc.OnFastRetransmit(_sndMax - _sndUna);
            ArmUndo();
            if (_sackOk) RetransmitNextHole();
            else RetransmitFirst();
            _stack.Count(Counter.TcpFastRetransmits);
        }
        else if (_cc.InRecovery)
        {
            if (_sackOk) RetransmitNextHole();
            _cc.OnDuplicateAckInRecovery(); // without SACK: a segment left the network
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
        WakeReaders();
    }

    private void StoreOutOfOrder(SeqNumber seq, ReadOnlySpan<byte> data, bool fin)
    {
        // Bounded like Linux's out-of-order queue: a peer cannot make us keep (and rescan) a segment per byte of window.
        if (_outOfOrder.Count >= MaxOutOfOrderSegments || _outOfOrderBytes + data.Length > _receive.Capacity)
        { _stack.Count(DropReason.OutOfOrderLimit); return; }
        foreach (var (s, d, f) in _outOfOrder)
            if (s == seq && d.Length >= data.Length && (f || !fin))
            {
                NoteDuplicate(seq, seq + data.Length); // already have it: a D-SACK says so
                NoteOutOfOrderArrival(seq);
                return;
            }
        if (!ChargeOutOfOrder(data.Length)) { _stack.Count(DropReason.OutOfOrderLimit); return; }
        _outOfOrder.Add((seq, data.ToArray(), fin));
        _outOfOrderBytes += data.Length;
        NoteOutOfOrderArrival(seq);
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
                if (s > _rcvNxt) continue;
                _outOfOrder.RemoveAt(i);
                _outOfOrderBytes -= d.Length;
                RefundOutOfOrder(d.Length);
                uint skip = (uint)(_rcvNxt - s);
                if (skip <= (uint)d.Length && !_finReceived)
                {
                    int n = _receive.Write(d.AsSpan((int)skip));
                    _stack.Count(Counter.TcpPayloadBytesBuffered, n);
                    _rcvNxt += n;
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
        long current = _rcvAdvEdge < _rcvNxt ? 0 : _rcvAdvEdge - _rcvNxt;
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

    /// <summary>A segment from us: ACK of RCV.NXT, our window, our timestamp and (when <paramref name="sack"/>) the SACK
    /// blocks for what we hold beyond RCV.NXT (<see cref="FillSackBlocks"/>), led by a pending D-SACK when
    /// <paramref name="duplicate"/> (pure ACKs only: a full-size data segment has no room for blocks).</summary>
    private TcpRepr Header(SeqNumber seq, TcpFlags flags, ushort window, bool sack = true, bool duplicate = false)
    {
        var h = new TcpRepr { Seq = seq, Ack = _rcvNxt, Flags = flags, Window = window };
        _rcvAcked = _rcvNxt; // what follows this header acknowledges everything so far
        if (_tsOk) { h.HasTimestamp = true; h.TsVal = TsNow; h.TsEcr = _tsRecent; }
        if (sack) FillSackBlocks(ref h, duplicate);
        return h;
    }

    /// <summary>The end of a receive burst that brought this connection in-order data: ACK it all (unless something
    /// sent since — data or an ACK — carried the acknowledgement already).</summary>
    internal void SendBurstAck()
    {
        _burstAckOwed = false;
        if (_ackPending > 0 && State is not (TcpState.Closed or TcpState.TimeWait)) SendAck();
    }

    private void SendAck(int why = 0)
    {
        NetPathTimeline.Mark(NetPathEvent.TcpAckOut, why);
        _ackPending = 0;
        // Pure ACKs carry the highest sequence sent, not the go-back-N retransmit point: a sequence number behind the
        // peer's RCV.NXT would make the peer discard the ACK as out of window, and two retransmitting ends would livelock.
        _layer.Send(Local, Remote, Header(_sndMax, TcpFlags.Ack, AdvertisedWindow(), duplicate: true));
        _duplicateSack = null; // reported once, as RFC 2883 asks
    }

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

    private void SendData(SeqNumber seq, int offset, int length, bool push)
    {
        _ackPending = 0;
        var h = Header(seq, TcpFlags.Ack | (push ? TcpFlags.Psh : 0), AdvertisedWindow());
        // SACK blocks ride along only as far as they fit beside the payload within the MSS: a full-size segment carries
        // none, the pure duplicate ACKs carry them.
        int fit = (_mss - length - TcpRepr.SackOptionHeader) / TcpRepr.SackBlockLength;
        h.SackCount = Math.Clamp(fit, 0, h.SackCount);
        _layer.Send(Local, Remote, h, _send, offset, length, segmentSize: length > _mss ? _mss : 0);
        _rack.OnSent(seq, length, _stack.Now);
        CountPrrSend(length);
    }

    private void SendFin(SeqNumber seq)
    {
        _ackPending = 0;
        _layer.Send(Local, Remote, Header(seq, TcpFlags.Fin | TcpFlags.Ack, AdvertisedWindow()));
    }

    /// <summary>Sends whatever the congestion and receive windows allow, then the FIN once all data has gone.</summary>
    internal void Output()
    {
        if (State is not (TcpState.Established or TcpState.CloseWait or TcpState.FinWait1 or TcpState.Closing or TcpState.LastAck)) return;
        var now = _stack.Now;
        while (true)
        {
            if (_sndNxt < _sndMax && _scoreboard.Count > 0)
            {
                var next = SeqNumber.Min(_scoreboard.SkipSacked(_sndNxt), _sndMax); // a go-back-N resend skips SACKed data
                if (next != _sndNxt) { _sndNxt = next; continue; }
            }
            long inFlight = _sndNxt - _sndUna;
            long unsent = _send.Count - inFlight;
            long cwnd = _cc.Window + _limitedTransmit;
            long window = Math.Min(cwnd, _sndWnd);
            if (unsent > 0)
            {
                // With SACK, bytes the peer already holds are not in the network (RFC 6675's pipe) — that frees
                // congestion window, but the receiver's window still ends at SND.UNA + SND.WND.
                long pipe = _sackOk && (_cc.InRecovery || _sndNxt < _sndMax) ? inFlight - _scoreboard.SackedBytesBelow(_sndNxt) : inFlight;
                long room = PrrPaces ? Math.Min(PrrBudget, _sndWnd - inFlight) // RFC 6937 paces recovery
                    : Math.Min(Math.Min(cwnd, window) - pipe, _sndWnd - inFlight);
                // Never more in flight than the send buffer holds (as Linux counts zero-copy bytes against SO_SNDBUF): lent
                // bytes may exceed it, and a cut lent send's unacknowledged bytes must fit the buffer's own storage.
                room = Math.Min(room, _send.Capacity - inFlight);
                if (room <= 0)
                {
                    if (NetPathTimeline.Enabled) NetPathTimeline.Mark(NetPathEvent.TcpOutputStop, _sndWnd - inFlight <= 0 ? 2 : 1);
                    if (_sndWnd == 0 && inFlight == 0 && _persistDeadline is null)
                    {
                        _persistBackoff = _rtt.Rto;
                        _persistDeadline = now + _persistBackoff;
                    }
                    return;
                }
                // With TSO one send carries several segments' worth (whole segments only, unless it is the tail).
                int n = (int)Math.Min(Math.Min(_layer.MaxSendPayload(Remote, _mss), unsent), room);
                if (n < _mss && n < unsent && inFlight > 0) // sender-side silly window avoidance
                {
                    NetPathTimeline.Mark(NetPathEvent.TcpOutputStop, _sndWnd - inFlight < _mss ? 2 : 1);
                    return;
                }
                if (n > _mss && n < unsent) n -= n % _mss;
                SendData(_sndNxt, (int)inFlight, n, push: n == unsent);
                if (_sndNxt >= _sndMax) { if (!_rtt.IsTiming) _rtt.StartTiming(_sndNxt, now); }
                else _retransmits++;
                _sndNxt += n;
                if (_sndNxt > _sndMax) _sndMax = _sndNxt;
                _rtoDeadline ??= now + _rtt.Rto;
                ArmTailLossProbe(now);
                continue;
            }
            if (inFlight > 0) NetPathTimeline.Mark(NetPathEvent.TcpOutputStop, 0);
            if (_closeRequested && !_finAcked && inFlight == _send.Count)
            {
                SendFin(_sndNxt);
                _sndNxt++;
                if (_sndNxt > _sndMax) _sndMax = _sndNxt;
                if (!_finSent)
                {
                    _finSent = true;
                    State = State == TcpState.CloseWait ? TcpState.LastAck : TcpState.FinWait1;
                }
                _rtoDeadline ??= now + _rtt.Rto;
            }
            return;
        }
    }

    /// <summary>SACK loss recovery: retransmits the next segment of the next hole below the highest SACKed byte that
    /// this recovery has not retransmitted yet — several holes per round trip, where NewReno repairs one.</summary>
    private void RetransmitNextHole()
    {
        if (_scoreboard.Count == 0)
        {
            if (_rexmitNext <= _sndUna) { RetransmitFirst(); _rexmitNext = _sndUna + Math.Min(_mss, Math.Max(1, _send.Count)); }
            return;
        }
        // RFC 6675 HighRxt: each hole once per recovery. RACK resends holes out of this order (a retransmission it
        // deems lost, or one its timer found first), so holes it already resent are skipped too — they used to go
        // out twice. A resent segment that is lost again is RACK's to find, by time.
        var from = SeqNumber.Max(_rexmitNext, _sndUna);
        SeqNumber start, holeEnd;
        int n = 0;
        for (int hole = 0; ; hole++)
        {
            if (hole > SackScoreboard.MaxRanges || !_scoreboard.TryNextHole(from, out start, out holeEnd)) { TryRescueRetransmission(_stack.Now); return; }
            n = (int)Math.Min(Math.Min(_mss, holeEnd - start), _send.Count - (start - _sndUna));
            if (n <= 0) return;
            if (!_rack.IsRetransmitted(start)) break;
            from = start + n;
            _rexmitNext = from;
        }
        int offset = start - _sndUna;
        SendData(start, offset, n, push: false);
        _rexmitNext = start + n;
        _rtt.OnRetransmit(start, n);
        NoteRecoveryRetransmit(start, n);
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
        _rtt.OnRetransmit(_sndUna, Math.Max(1, Math.Min(_mss, sent)));
        NoteRecoveryRetransmit(_sndUna, Math.Min(_mss, sent));
        if (sent > 0) SendData(_sndUna, 0, Math.Min(_mss, sent), push: false);
        else if (_finSent && !_finAcked) SendFin(_sndUna);
    }

    // ---- timers ----

    private uint TsNow => (uint)(long)_stack.Now.TotalMilliseconds;

    private void ArmRto() => _rtoDeadline = _stack.Now + _rtt.Rto;

    internal void Tick(TimeSpan now)
    {
        if (State == TcpState.TimeWait) { if (now >= _timeWaitDeadline) Destroy(); return; }
        // Only an orphan (no handle left: nobody will read) is dropped after a quiet FIN_WAIT_2, as Linux's tcp_fin_timeout
        // applies only to orphans. A half-closed connection its owner still holds goes on receiving however long the
        // peer pauses (an RTO backoff or a loaded peer can be silent for seconds): dropping it lost the rest of the
        // peer's stream. Its buffers are charged to its owner's quota, and the owner can close or abort it.
        if (State == TcpState.FinWait2 && _released && now >= _finWait2Deadline) { Destroy(); return; }
        if (OrphanExpired(now)) return;
        if (_ackPending > 0) SendAck(why: 1);
        if (_scoreboard.Count > 0)
        {
            RepairLostSegments(now); // RACK's reordering timer, at the tick's resolution
            TryRescueRetransmission(now);
        }
        if (_rtoDeadline is { } due && now >= due) OnRetransmitTimeout(now);
        else if (_tlpDeadline is { } probeDue && now >= probeDue) SendTailLossProbe(now);
        if (_persistDeadline is { } probe && now >= probe && State != TcpState.Closed)
        {
            // Zero-window probe: an already-acknowledged sequence number makes the peer answer with its window.
            _layer.Send(Local, Remote, Header(_sndUna - 1, TcpFlags.Ack, AdvertisedWindow(), sack: false));
            _persistBackoff = _rtt.Clamp(_persistBackoff * 2);
            _persistDeadline = now + _persistBackoff;
        }
    }

    /// <summary>PTO = 2·SRTT, plus a delayed-ACK allowance when one segment is in flight (RFC 8985 §7.2), at least one
    /// tick; not armed before the first RTT sample, when the retransmission timer would fire first, during recovery, or
    /// without SACK (nothing could use the probe). An SRTT of zero is a real measurement (a sub-millisecond path), not
    /// "no sample": treating it as one left a lost tail to the retransmission timer.</summary>
    private void ArmTailLossProbe(TimeSpan now)
    {
        _tlpDeadline = null;
        if (!_stack.Options.TcpTailLossProbe || !_sackOk || _tlpSent || _cc.InRecovery || _sndMax == _sndUna || !_rtt.HasSample) return;
        if (State is not (TcpState.Established or TcpState.CloseWait)) return;
        var pto = 2 * _rtt.Srtt;
        if (_sndMax - _sndUna <= _mss) pto += TimeSpan.FromMilliseconds(200);
        pto = TimeSpan.FromTicks(Math.Max(pto.Ticks, _stack.Options.TickInterval.Ticks));
        if (_rtoDeadline is { } rto && now + pto >= rto) return;
        _tlpDeadline = now + pto;
    }

    /// <summary>Sends one segment to elicit an ACK — new data if the peer's window allows, else the last segment sent
    /// again — so a lost tail shows up as a SACK hole instead of waiting for the retransmission timer.</summary>
    private void SendTailLossProbe(TimeSpan now)
    {
        _tlpDeadline = null;
        if (_tlpSent || _cc.InRecovery || _sndMax == _sndUna) return;
        _tlpSent = true;
        _stack.Count(Counter.TcpTailLossProbes);
        long inFlight = _sndNxt - _sndUna;
        long unsent = _send.Count - inFlight;
        int fresh = (int)Math.Min(Math.Min(_mss, unsent), Math.Min(_sndWnd, _send.Capacity) - inFlight); // as Output bounds it
        if (_sndNxt == _sndMax && fresh > 0)
        {
            SendData(_sndNxt, (int)inFlight, fresh, push: fresh == unsent);
            _sndNxt += fresh;
            _sndMax = _sndNxt;
        }
        else
        {
            int sent = (int)Math.Min(_send.Count, _sndMax - _sndUna);
            if (sent > 0)
            {
                int n = Math.Min(_mss, sent);
                var start = _sndUna + (sent - n);
                SendData(start, sent - n, n, push: true);
                _rtt.OnRetransmit(start, n);
            }
            else if (_finSent && !_finAcked) SendFin(_sndMax - 1);
            _retransmits++;
            _stack.Count(Counter.TcpRetransmits);
        }
        _rtoDeadline = now + _rtt.Rto;
    }

    private void OnRetransmitTimeout(TimeSpan now)
    {
        _tlpDeadline = null;
        _stack.Count(Counter.TcpTimeouts);
        _retries++;
        _rtt.StopTiming();
        _rtt.Backoff();
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
            _rtoDeadline = now + _rtt.Rto;
            return;
        }
        if (_retries > _stack.Options.TcpMaxRetransmits)
        {
            Fail(Errors.Of(ErrorCode.TimedOut, $"{Remote} stopped acknowledging"), sendReset: true);
            return;
        }
        _cc.OnTimeout(_sndMax - _sndUna);
        DisarmUndo(); // the timeout's cut stands
        _dupAcks = 0;
        _limitedTransmit = 0;
        _recover = _sndMax;
        _sndNxt = _sndUna;   // go back N: resend from the first unacknowledged byte, skipping what the peer SACKed
        // (RFC 6675 §5.1 allows keeping the scoreboard, and Linux does): forgetting it resent every SACKed segment of the
        // flight — 1,662 duplicates after one timeout in a netloss run. A receiver may renege on SACKed data (RFC 2018
        // §8), though; if it did, the resend stalls below the data it dropped and the next timeout starts from a clean
        // scoreboard.
        if (_retries > 1) _scoreboard.Clear();
        _rtoDeadline = null;
        _stack.Count(Counter.TcpRetransmits);
        Output();
        // Nothing could go out because the peer's window is closed: the persist timer probes from here, and the
        // retransmission timer (whose expiries count towards giving up) waits until data is in flight again.
        if (_sndNxt == _sndUna && _persistDeadline is not null) _rtoDeadline = null;
        else _rtoDeadline ??= now + _rtt.Rto;
    }

    private void EnterTimeWait(TimeSpan now)
    {
        State = TcpState.TimeWait;
        _rtoDeadline = _persistDeadline = null;
        _timeWaitDeadline = now + 2 * _stack.Options.TcpMsl;
        _closed.TrySetResult();
        WakeReaders();
        Wake(_writers);
    }

    private void Finish()
    {
        State = TcpState.Closed;
        ReleaseResources();
        _layer.Remove(this);
        _closed.TrySetResult();
        WakeReaders();
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
            _layer.Send(Local, Remote, new TcpRepr { Seq = _sndMax, Ack = _rcvNxt, Flags = TcpFlags.Rst | TcpFlags.Ack });
            _stack.Count(Counter.TcpResetsSent);
        }
        _error ??= error;
        if (State == TcpState.SynReceived) _listener?.OnHalfOpenFailed(this);
        _established.TrySetResult(error);
        Finish();
    }

    private static void Wake(PendingCalls<bool> calls) => calls.WakeAll(true);

    /// <summary>Wakes parked receives (under the lock). Inline ones are resumed by the receive burst under way, after
    /// the lock, on its thread (<see cref="NetworkStack.BurstResumes"/>).</summary>
    private void WakeReaders() => _readers.WakeAll(true, _stack.BurstResumes);

    /// <summary>
    /// In-order data for an empty socket buffer goes straight into the oldest parked receive's buffer (under the lock;
    /// that call is then woken with the rest by <see cref="WakeReaders"/>): the bytes are copied once, from the device's
    /// frame to the application, instead of into the socket buffer and out again — as IPC's receive-into does. Only a
    /// call still parked is written to (a cancelled one left the list under the lock first), and only once. Returns the
    /// bytes delivered.
    /// </summary>
    private int DeliverToParkedReader(ReadOnlySpan<byte> payload, TimeSpan now)
    {
        if (payload.IsEmpty || _receive.Count != 0 || _readers.Oldest is not { Parked: true, Filled: 0, Into.IsEmpty: false } call
            || call.IsCompleted) return 0;
        int k = Math.Min(payload.Length, call.Into.Length);
        payload[..k].CopyTo(call.Into.Span);
        call.Filled = k;
        NetPathTimeline.Mark(NetPathEvent.AppReceive, k);
        _autotune.OnRead(_receive, k, now, ReceiveEpoch, _mss);
        _stack.Count(Counter.TcpPayloadBytesToParkedReader, k);
        return k;
    }

    /// <summary>How long receive-buffer autotuning's epoch lasts: the receiver's own round-trip estimate once it has one
    /// (<see cref="ReceiveRttEstimator"/>), before that the sender's (the handshake's), else the RTO.</summary>
    private TimeSpan ReceiveEpoch => _rcvRtt.HasSample ? _rcvRtt.Rtt : _rtt.HasSample ? _rtt.Srtt : _rtt.Rto;

    /// <summary>Sent ranges RACK still tracks (delivered ones are forgotten on every ACK).</summary>
    internal int RackTracked { get { lock (_stack.Gate) return _rack.Tracked; } }

    /// <summary>The receiving side's round-trip estimate (zero before its first sample) and how many samples it took.</summary>
    internal (TimeSpan Rtt, long Samples) ReceiveRtt { get { lock (_stack.Gate) return (_rcvRtt.Rtt, _rcvRtt.Samples); } }

    /// <summary>Resume this connection's parked receives on the thread that handled the arriving data (the stack's
    /// receive thread), with no hop to the thread pool: the request/response round trip's remaining wake (issue #11).
    /// For the kernel's own short socket loops only — what the continuation does until its next await runs on the
    /// receive thread, delaying other sockets' frames by as much — so it is not reachable through the socket syscalls;
    /// and a burst resumes at most <see cref="NetworkStack.InlineResumesPerBurst"/> receives inline, the rest as usual.</summary>
    internal bool ResumeReceivesInline { get; set; }

    // ---- socket API ----

    /// <summary>Reads received bytes; 0 means the peer closed its side (end of stream).</summary>
    public Task<Result<int>> ReceiveAsync(Memory<byte> buffer, CancellationToken ct = default) => ReceiveValueAsync(buffer, ct).AsTask();

    /// <summary>As <see cref="ReceiveAsync"/>, as a <see cref="ValueTask{T}"/> whose state machine box is pooled: a receive
    /// that parks (once per request on a request/response connection) allocated a fresh 177 B box each time as a
    /// <c>Task</c> (tcp13's round-trip heap count). Await it once, as any <see cref="ValueTask{T}"/>.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<Result<int>> ReceiveValueAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        if (buffer.IsEmpty) return Errors.Of(ErrorCode.InvalidArgument, "empty receive buffer");
        while (true)
        {
            Result<PendingCalls<bool>.Call> wait;
            bool update = false;
            int n = 0;
            lock (_stack.Gate)
            {
                if (_released) return Errors.Of(ErrorCode.Closed, "connection handle closed");
                if (_receive.Count > 0)
                {
                    n = _receive.Read(buffer.Span);
                    NetPathTimeline.Mark(NetPathEvent.AppReceive, n);
                    _autotune.OnRead(_receive, n, _stack.Now, ReceiveEpoch, _mss);
                    // Receiver-side SWS avoidance: announce a bigger window only once it grew by a segment or half the buffer.
                    if (State is TcpState.Established or TcpState.FinWait1 or TcpState.FinWait2
                        && _receive.Free - (_rcvAdvEdge < _rcvNxt ? 0 : _rcvAdvEdge - _rcvNxt) >= Math.Min(_receive.Capacity / 2, _mss))
                    { SendAck(why: 2); update = true; }
                }
                else if (_finReceived) return 0;
                else if (_error is { } e) return e;
                else if (State == TcpState.Closed) return 0;
                if (n > 0 && !update) return n;
                if (update) wait = default;
                else if (!(wait = _readers.Park(ResumeReceivesInline)).IsOk) return wait.Error;
                else wait.Value.Into = buffer; // arriving data may be copied straight here (DeliverToParkedReader)
            }
            if (update) { await _stack.FlushAsync().ConfigureAwait(false); return n; }
            var call = wait.Value;
            bool woken = await _readers.AwaitAsync(call, ct, false, _stack.Gate).ConfigureAwait(false);
            // Bytes delivered into the buffer are the call's result even if it was cancelled meanwhile (they left the
            // stream for it). Filled is written under the lock while the call is parked; a woken call read it after its
            // wake, and a cancelled one left the list under the lock in AwaitAsync, so reading it under the lock is final.
            int filled;
            if (woken) filled = call.Filled;
            else lock (_stack.Gate) filled = call.Filled;
            _readers.Return(call); // the next receive parks it again: no completion source per round trip
            if (filled > 0) return filled;
            if (!woken) return Errors.Of(ErrorCode.Cancelled, "receive cancelled");
        }
    }

    /// <summary>Receives and sends waiting now.</summary>
    internal int PendingCalls { get { lock (_stack.Gate) return _readers.Count + _writers.Count; } }

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
                WakeWritersNotLent(); // a parked send can no longer be queued: it ends with Closed (what it queued stays)
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
            _releasedAt = _stack.Now;
            ReleaseReceiveBuffer(); // nobody is left to read it
            if (!_closeRequested && State is TcpState.Established or TcpState.CloseWait or TcpState.SynReceived)
            {
                _closeRequested = true;
                Output();
            }
            WakeReaders();
            // Nobody is left to wait for a lent send's ACK: its unsent bytes go, those sent become the buffer's own, and
            // it ends Closed at once — its memory is not read after that.
            CutLentSends(null, ErrorCode.Closed);
            ReleaseCutLentSends();
            WakeWritersNotLent();
        }
        await _stack.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>Resets the connection (RST) and discards queued data.</summary>
    public async Task AbortAsync()
    {
        lock (_stack.Gate) Fail(Errors.Of(ErrorCode.ConnectionReset, "aborted locally"), sendReset: true);
        await _stack.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>Done with the connection: closes the sending side and releases it (an orphan from now on: its receive
    /// buffer goes, and the orphan and FIN_WAIT_2 timeouts bound how long it may linger).</summary>
    public async ValueTask DisposeAsync()
    {
        await CloseAsync().ConfigureAwait(false);
        await ReleaseAsync().ConfigureAwait(false);
    }

    public override string ToString() => $"tcp {Local} -> {Remote} {State}";
}
