using System.Buffers;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Dma;
using Photon.Kernel.Hal;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Drivers.Net;

/// <summary>
/// One RX queue of the driver's <see cref="INetworkBatches"/> face on a device that lends its receive buffers
/// (virtio-net): each frame of a burst is a capability-checked <see cref="DmaLoan"/> of the DMA buffer the device wrote,
/// held by the stack's principal, and the stack reads it there (<see cref="View"/>) — the payload's only copy is the
/// one into the socket buffer. <see cref="Release"/> ends every loan of the burst, and the buffers go back to the ring
/// in one publish. A burst takes at most <see cref="NicOptions.Batch"/> frames and never more than the queue may lend
/// (half its ring: the device always keeps buffers to receive into), and the stack releases each burst before it asks
/// for the next, so a slow socket — whose bytes were already copied out — cannot hold the ring. A loan revoked under
/// the stack (the NIC stopping) makes <see cref="View"/> answer <see cref="ErrorCode.Revoked"/>: the frame is dropped.
/// </summary>
internal sealed class NicLoanBatch : IRxBatch
{
    private readonly NicFrameLoans _loans;
    private readonly IFrameLending _device;
    private readonly int _queue;
    private readonly CapabilityManager _caps;
    private readonly DmaLender _lender;
    private readonly Principal _actor;
    private readonly int _charge;
    private readonly string _label;
    private readonly IKernelTimers? _timers;
    private readonly CapabilityToken[] _tokens;
    private readonly DmaLoan?[] _held;
    private readonly bool[] _checksumVerified;
    private readonly Action<LentFrame> _onTaken;
    private bool _takenVerified; // the device's word on the frame being lent now (set by _onTaken, read by Hold)
    private int _count;
    private bool _lending;
    private long _lentTotal;
    private int _peak;

    public NicLoanBatch(NicFrameLoans loans, IFrameLending device, int queue, CapabilityManager caps, Principal actor, int batch, int charge, string label,
        IKernelTimers? timers = null)
    {
        _timers = timers;
        _loans = loans;
        _device = device;
        _queue = queue;
        _caps = caps;
        _actor = actor;
        _charge = charge;
        _label = label;
        _lender = new DmaLender(caps, memoryQuota: null); // the kernel's own stack: bounded by the ring, not a tenant quota
        _tokens = new CapabilityToken[batch];
        _held = new DmaLoan?[batch];
        _checksumVerified = new bool[batch];
        _onTaken = f => _takenVerified = f.ChecksumVerified;
    }

    public int Count => _count;

    /// <summary>Frames lent to the stack so far, and the most held at once (one burst).</summary>
    public long LentTotal => Interlocked.Read(ref _lentTotal);
    public int PeakHeld => Volatile.Read(ref _peak);

    /// <summary>The frame's bytes in place, without holding the loan for the read (prefer <see cref="View"/>); empty
    /// once its loan ended.</summary>
    public ReadOnlySpan<byte> this[int index]
    {
        get
        {
            if ((uint)index >= (uint)_count) throw new ArgumentOutOfRangeException(nameof(index));
            return _held[index] is { } loan ? loan.PeekUnheld() : default;
        }
    }

    /// <summary>Whether the device vouched for frame <paramref name="index"/>'s transport checksum (GUEST_CSUM).</summary>
    public bool ChecksumVerified(int index) => (uint)index < (uint)_count && _checksumVerified[index];

    /// <summary>Runs <paramref name="reader"/> on frame <paramref name="index"/> in the device's buffer, through its loan's
    /// capability: Revoked when the loan ended before or during the read (the buffer is held until the reader returns).</summary>
    public Result View<TState>(int index, TState state, ReadOnlySpanAction<byte, TState> reader)
    {
        if ((uint)index >= (uint)_count) return Errors.Of(ErrorCode.OutOfRange, $"frame {index} of a {_count}-frame burst");
        var loan = _caps.Check(_tokens[index], Rights.Read, _actor);
        if (!loan.IsOk) return loan.Error.Code is ErrorCode.StaleCapability or ErrorCode.Revoked ? Errors.Of(ErrorCode.Revoked, "the frame's DMA loan was revoked") : loan.Error;
        if (loan.Value is not DmaLoan l) return Errors.Of(ErrorCode.WrongObjectType, "not a DMA loan");
        return l.View(0, l.Length, state, reader);
    }

    /// <summary>Waits for the first frame, then takes what else is already received, each as a loan.</summary>
    public async ValueTask<Result<IRxBatch>> ReceiveAsync(CancellationToken ct)
    {
        if (_lending) return Errors.Of(ErrorCode.InvalidArgument, "the previous batch of this queue was not released");
        Result<CapabilityToken> first;
        while (true)
        {
            _takenVerified = false;
            first = await _loans.LendAsync(_device, _queue, _charge, _label, _lender, _actor, ct, _onTaken).ConfigureAwait(false);
            // Busy: another consumer holds the queue's lending limit (the DMA syscalls on the same queue); its returns
            // re-post buffers, so try again shortly rather than end the stack's receive loop.
            if (first.IsOk || first.Code != ErrorCode.Busy) break;
            // The back-off sleeps on the kernel's timers (never the host's: LayeringTests) — the driver's, else the calling
            // kernel task's scheduler; with neither (a test driving the face directly) it yields.
            try
            {
                if ((_timers ?? KernelTask.Current?.Scheduler) is { } timers) await timers.Delay(TimeSpan.FromMilliseconds(1), ct).ConfigureAwait(false);
                else await Task.Yield();
                ct.ThrowIfCancellationRequested();
            }
            catch (OperationCanceledException) { return Errors.Of(ErrorCode.Cancelled, "receive cancelled"); }
        }
        if (!first.IsOk) return first.Code == ErrorCode.Cancelled ? Errors.Of(ErrorCode.Cancelled, "receive cancelled") : first.Error;
        _count = 0;
        Hold(first.Value);
        while (_count < _tokens.Length)
        {
            _takenVerified = false;
            var next = _loans.TryLend(_device, _queue, _charge, _label, _lender, _actor, _onTaken);
            if (!next.IsOk) break; // WouldBlock (nothing more yet), Busy (the lending limit) or Closed (seen next call)
            Hold(next.Value);
        }
        _lending = true;
        Interlocked.Add(ref _lentTotal, _count);
        if (_count > _peak) Volatile.Write(ref _peak, _count);
        return this;
    }

    private void Hold(CapabilityToken token)
    {
        _tokens[_count] = token;
        _held[_count] = _caps.Check(token, Rights.Read, _actor) is { IsOk: true, Value: DmaLoan l } ? l : null;
        _checksumVerified[_count] = _takenVerified;
        _count++;
    }

    /// <summary>Ends the burst's loans; their buffers return to the ring in one publish.</summary>
    public void Release()
    {
        if (!_lending) return;
        _device.HoldRefill(_queue, true);
        try
        {
            for (int i = 0; i < _count; i++)
            {
                _lender.Revoke(_tokens[i]);
                _tokens[i] = default;
                _held[i] = null;
            }
        }
        finally { _device.HoldRefill(_queue, false); }
        _count = 0;
        _lending = false;
    }
}
