using System.Buffers;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal.Pci;

namespace Photon.Kernel.Drivers.Dma;

/// <summary>
/// A DMA buffer a device wrote, lent read-only to one consumer instead of copied out of (the zero-copy read). The
/// consumer reaches it only through its capability (<see cref="Syscalls.DmaSyscalls"/>) and sees the bytes in place.
/// While lent, the driver keeps the buffer out of its pool, so the device is never given it again. The loan ends when
/// its last capability dies — the consumer closes its handle (returns it), the consumer exits, or the lender revokes
/// it — and the buffer goes back to the driver then, or, if a read is running at that moment, when that read ends (so
/// the device never overwrites bytes someone is reading).
/// </summary>
public sealed class DmaLoan : KernelObject
{
    public override ObjectKind Kind => ObjectKind.DmaLoan;

    private readonly IDmaBuffer _buffer;
    private readonly Action _giveBack;
    private readonly Lock _gate = new();
    private int _readers;
    private bool _ended, _givenBack;

    internal DmaLoan(string label, IDmaBuffer buffer, int length, Action giveBack) : base(label)
    {
        if ((uint)length > (uint)buffer.Length) throw new ArgumentOutOfRangeException(nameof(length), "a loan cannot exceed its buffer");
        _buffer = buffer;
        Length = length;
        _giveBack = giveBack;
    }

    /// <summary>Bytes the device wrote (the readable part of the buffer).</summary>
    public int Length { get; }

    /// <summary>True once the buffer went back to the driver.</summary>
    public bool IsGivenBack { get { lock (_gate) return _givenBack; } }

    /// <summary>The device address the buffer was written at (tests compare it with the device's view).</summary>
    internal ulong DeviceAddress => _buffer.DeviceAddress;

    /// <summary>
    /// Runs <paramref name="reader"/> on the device-written bytes in place — no copy. Answers Revoked if the loan has
    /// ended, and also if it ended while <paramref name="reader"/> ran (the consumer learns its loan is gone; the
    /// buffer was held until the reader returned).
    /// </summary>
    public Result View<TState>(int offset, int length, TState state, ReadOnlySpanAction<byte, TState> reader)
    {
        if (offset < 0 || length < 0 || offset > Length - length) return Errors.Of(ErrorCode.OutOfRange, $"bytes {offset}+{length} of a {Length}-byte loan");
        lock (_gate)
        {
            if (_ended) return Ended();
            _readers++;
        }
        bool endedDuring;
        try { reader(_buffer.Memory.Span.Slice(offset, length), state); }
        finally
        {
            bool giveBack;
            lock (_gate)
            {
                endedDuring = _ended;
                giveBack = --_readers == 0 && _ended && !_givenBack;
                if (giveBack) _givenBack = true;
            }
            if (giveBack) _giveBack();
        }
        return endedDuring ? Ended() : Result.Ok;
    }

    /// <summary>The bytes without holding the buffer for the read (empty once the loan ended): for a holder that
    /// itself keeps the loan alive while it reads, as the stack's receive burst does.</summary>
    internal ReadOnlySpan<byte> PeekUnheld()
    {
        lock (_gate) if (_ended) return default;
        return _buffer.Memory.Span[..Length];
    }

    private static KernelError Ended() => Errors.Of(ErrorCode.Revoked, "the DMA loan was returned or revoked");

    /// <summary>Ends the loan; the buffer goes back now, or when the last running read finishes.</summary>
    internal void End()
    {
        bool giveBack;
        lock (_gate)
        {
            if (_ended) return;
            _ended = true;
            giveBack = _readers == 0;
            if (giveBack) _givenBack = true;
        }
        if (giveBack) _giveBack();
    }

    protected override void OnLastCapabilityRevoked() => End();
}
