using System.Buffers.Binary;
using Photon.Kernel.Hal.Pci;
using Photon.Kernel.Memory;

namespace Photon.Kernel.Drivers.Usb;

/// <summary>The outcome of a bulk transfer that reached the device: bytes moved, or a STALL (the endpoint is halted
/// and must be cleared before it moves data again).</summary>
public readonly record struct BulkResult(int Transferred, bool Stalled);

/// <summary>
/// One USB device on a root port, behind an xHCI device slot (xHCI 1.2 §4.3): Enable Slot, Address Device with its
/// default control endpoint, descriptors and SET_CONFIGURATION over control transfers, Configure Endpoint for the bulk
/// pair, and bulk transfers through a 64 KiB bounce window that never crosses a 64 KiB boundary (so one Normal TRB
/// covers it, §6.1). A stalled endpoint is reset on the controller side (Reset Endpoint, Set TR Dequeue Pointer past
/// the failed TD) and with CLEAR_FEATURE(ENDPOINT_HALT) on the device side.
/// </summary>
public sealed class XhciDevice : IAsyncDisposable
{
    public const int MaxTransfer = 64 * 1024;
    private readonly XhciController _hc;
    private readonly IDmaBuffer _input, _output, _bounce;
    private readonly int _bounceOffset;
    private readonly Dictionary<int, XhciRing> _rings = new();
    private readonly int _csz;

    private XhciDevice(XhciController hc, int port, int slot, int speed, IDmaBuffer input, IDmaBuffer output, IDmaBuffer bounce, XhciRing ep0)
    {
        _hc = hc;
        Port = port;
        Slot = slot;
        Speed = speed;
        _input = input;
        _output = output;
        _bounce = bounce;
        ulong next64k = (bounce.DeviceAddress + 0xFFFF) & ~0xFFFFUL;
        _bounceOffset = (int)(next64k - bounce.DeviceAddress);
        _rings[1] = ep0;
        _csz = hc.ContextSize;
    }

    public int Port { get; }
    public int Slot { get; }
    public int Speed { get; }
    public XhciController Controller => _hc;
    private ulong BounceAddress => _bounce.DeviceAddress + (ulong)_bounceOffset;
    /// <summary>Why the device takes no more transfers: a transfer the controller would not take off an endpoint may still
    /// complete into the one bounce buffer, so it must not carry another (review18b). Set under the controller's gate.</summary>
    private KernelError? _broken;

    private Span<byte> Bounce => _bounce.Memory.Span.Slice(_bounceOffset, MaxTransfer);

    /// <summary>Why no transfer may start: this device is retired, or its controller stopped answering commands (then no
    /// TD could be taken off an endpoint again).</summary>
    private KernelError? Refused() => _broken ?? _hc.Dead;

    /// <summary>Resets the port, enables a slot and addresses the device on it.</summary>
    public static async Task<Result<XhciDevice>> AttachAsync(XhciController hc, int port, CancellationToken ct)
    {
        using var gate = await hc.EnterAsync(ct).ConfigureAwait(false);
        if (gate is null) return XhciController.NotEntered(ct);
        var reset = await hc.ResetPortAsync(port, ct).ConfigureAwait(false);
        if (!reset.IsOk) return reset.Error;
        int speed = hc.PortSpeed(port);
        if (speed is < 1 or > 7) return Errors.Of(ErrorCode.Corrupted, $"port {port} reports speed {speed}");
        var enabled = await hc.CommandAsync(new Trb(0, 0, Trb.TypeBits(TrbType.EnableSlot)), ct).ConfigureAwait(false);
        if (!enabled.IsOk) return enabled.Error;
        int slot = enabled.Value.SlotId;
        if (slot < 1 || slot > hc.Slots) return Errors.Of(ErrorCode.Corrupted, $"Enable Slot returned slot {slot} (1..{hc.Slots} enabled)");

        var f = hc.Function;
        var allocs = new List<IDisposable>();
        Result<XhciDevice> Undo(KernelError e) { foreach (var a in allocs) a.Dispose(); return e; }
        var input = f.AllocateDma(4096);
        if (!input.TryGet(out var inputBuf)) return input.Error;
        allocs.Add(inputBuf);
        var output = f.AllocateDma(4096);
        if (!output.TryGet(out var outputBuf)) return Undo(output.Error);
        allocs.Add(outputBuf);
        var bounce = f.AllocateDma(2 * MaxTransfer);
        if (!bounce.TryGet(out var bounceBuf)) return Undo(bounce.Error);
        allocs.Add(bounceBuf);
        var ep0 = XhciRing.Create(f, hc.Options.RingEntries);
        if (!ep0.TryGet(out var ep0Ring)) return Undo(ep0.Error);
        allocs.Add(ep0Ring);
        var dev = new XhciDevice(hc, port, slot, speed, inputBuf, outputBuf, bounceBuf, ep0Ring);
        hc.SetDeviceContext(slot, outputBuf.DeviceAddress);

        // Input context: add the slot and EP0 (§4.3.3).
        int mps0 = speed switch { 2 => 8, 1 or 3 => 64, _ => 512 };
        dev.ClearInput();
        dev.InputControl(add: 0b11);
        dev.SlotContext(speed, contextEntries: 1);
        dev.EndpointContext(1, type: 4, mps0, burst: 0, ep0Ring);
        dev.Ep0MaxPacket = mps0;
        var addressed = await hc.CommandAsync(new Trb(inputBuf.DeviceAddress, 0, Trb.TypeBits(TrbType.AddressDevice) | (uint)slot << 24), ct).ConfigureAwait(false);
        if (!addressed.IsOk) return Undo(addressed.Error);
        if (addressed.Value.SlotId != slot) return Undo(new KernelError(ErrorCode.Corrupted, $"Address Device completed for slot {addressed.Value.SlotId}, not {slot}"));
        if (speed == 1)
        {
            var fixedUp = await dev.MatchEp0MaxPacketLockedAsync(mps0, ct).ConfigureAwait(false);
            if (!fixedUp.IsOk) return Undo(fixedUp.Error);
        }
        return dev;
    }

    /// <summary>A full-speed device's EP0 takes 8, 16, 32 or 64 bytes per packet, which only its device descriptor says
    /// (low speed is always 8, high speed 64, SuperSpeed 512). EP0 was addressed with 64; read the descriptor's first 8
    /// bytes (one packet of any size holds them), and if bMaxPacketSize0 differs, tell the controller with Evaluate
    /// Context (xHCI §4.6.7; Linux's xhci_check_maxpacket) before any longer control transfer.</summary>
    private async Task<Result> MatchEp0MaxPacketLockedAsync(int assumed, CancellationToken ct)
    {
        var head = await ControlLockedAsync(0x80, 6, UsbDescriptors.Device << 8, 0, default, 8, ct).ConfigureAwait(false);
        if (!head.IsOk) return head.Error;
        if (head.Value.Length < 8) return Errors.Of(ErrorCode.Corrupted, $"the device descriptor's first 8 bytes came back as {head.Value.Length}");
        int mps0 = head.Value[7];
        if (mps0 is not (8 or 16 or 32 or 64)) return Errors.Of(ErrorCode.Corrupted, $"full-speed bMaxPacketSize0 {mps0} (8, 16, 32 or 64)");
        if (mps0 == assumed) return Result.Ok;
        ClearInput();
        InputControl(add: 0b10); // EP0's context only (A1)
        EndpointContext(1, type: 4, mps0, burst: 0, _rings[1]);
        var evaluated = await _hc.CommandAsync(new Trb(_input.DeviceAddress, 0, Trb.TypeBits(TrbType.EvaluateContext) | (uint)Slot << 24), ct).ConfigureAwait(false);
        if (!evaluated.IsOk) return evaluated.Error;
        Ep0MaxPacket = mps0;
        return Result.Ok;
    }

    /// <summary>EP0's max packet size as the controller has it (the device's bMaxPacketSize0 once enumerated).</summary>
    public int Ep0MaxPacket { get; private set; }

    private Span<byte> InputContext(int index) => _input.Memory.Span.Slice(index * _csz, _csz);

    private void ClearInput() => _input.Memory.Span.Clear();

    private void InputControl(uint add) => BinaryPrimitives.WriteUInt32LittleEndian(InputContext(0)[4..], add);

    private void SlotContext(int speed, int contextEntries)
    {
        var s = InputContext(1);
        BinaryPrimitives.WriteUInt32LittleEndian(s, (uint)speed << 20 | (uint)contextEntries << 27);
        BinaryPrimitives.WriteUInt32LittleEndian(s[4..], (uint)Port << 16);
    }

    private void EndpointContext(int dci, int type, int maxPacket, int burst, XhciRing ring)
    {
        var e = InputContext(1 + dci);
        e.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(e[4..], 3u << 1 | (uint)type << 3 | (uint)burst << 8 | (uint)maxPacket << 16);
        BinaryPrimitives.WriteUInt64LittleEndian(e[8..], ring.Base | (ring.CycleState ? 1UL : 0));
        BinaryPrimitives.WriteUInt32LittleEndian(e[16..], type == 4 ? 8u : 1024u);
    }

    /// <summary>A control transfer on EP0 (USB 2.0 §9.3): setup, optional data stage through the bounce window,
    /// status. Returns the data-stage bytes for IN requests. A STALL is cleared and reported as <c>NotSupported</c>
    /// (the device refused the request).</summary>
    public async Task<Result<byte[]>> ControlAsync(byte requestType, byte request, ushort value, ushort index, ReadOnlyMemory<byte> outData,
        int inLength, CancellationToken ct)
    {
        using var gate = await _hc.EnterAsync(ct).ConfigureAwait(false);
        if (gate is null) return XhciController.NotEntered(ct);
        return await ControlLockedAsync(requestType, request, value, index, outData, inLength, ct).ConfigureAwait(false);
    }

    private async Task<Result<byte[]>> ControlLockedAsync(byte requestType, byte request, ushort value, ushort index, ReadOnlyMemory<byte> outData,
        int inLength, CancellationToken ct)
    {
        bool isIn = (requestType & 0x80) != 0;
        int length = isIn ? inLength : outData.Length;
        if (length < 0 || length > 4096) return Errors.Of(ErrorCode.InvalidArgument, $"control transfer of {length} bytes");
        if (Refused() is { } refused) return refused;
        var ring = _rings[1];
        ulong setup = requestType | (ulong)request << 8 | (ulong)value << 16 | (ulong)index << 32 | (ulong)length << 48;
        uint trt = length == 0 ? 0u : isIn ? 3u : 2u;
        var first = ring.Enqueue(new Trb(setup, 8, Trb.TypeBits(TrbType.Setup) | Trb.ImmediateData | trt << 16));
        ulong data = 0;
        if (length > 0)
        {
            if (!isIn) PieceCopy.Copy(outData.Span, Bounce);
            else Bounce[..length].Clear(); // a short answer leaves zeros, not the last transfer's bytes (review18b)
            // Interrupt on Short Packet: without it a short data stage raises no event and the status stage's Success
            // cannot say how many bytes came (QEMU's xhci_xfer_report; usb19).
            data = ring.Enqueue(new Trb(BounceAddress, (uint)length, Trb.TypeBits(TrbType.Data) | Trb.InterruptOnShort | (isIn ? Trb.DirectionIn : 0)));
        }
        bool statusIn = length == 0 || !isIn;
        var last = ring.Enqueue(new Trb(0, 0, Trb.TypeBits(TrbType.Status) | Trb.InterruptOnCompletion | (statusIn ? Trb.DirectionIn : 0)));
        _hc.RingDoorbell(Slot, 1);
        // A short data stage reports itself first, then the controller runs the status stage, whose event ends the TD
        // (xHCI 1.2 §4.10.1.1): the residual comes from the first event, the outcome from the last. An error on any
        // stage ends the TD at once. The whole TD shares one deadline, so events naming its early TRBs cannot extend it.
        int residual = 0;
        var deadline = _hc.Timers.Now + _hc.Options.Transfer;
        Trb end;
        while (true)
        {
            var left = deadline - _hc.Timers.Now;
            var ev = await WaitTransferAsync(1, ring, first, last, left > TimeSpan.Zero ? left : TimeSpan.Zero, ct).ConfigureAwait(false);
            if (!ev.IsOk) return ev.Error;
            end = ev.Value;
            if (end.Parameter == last || end.Completion is not (TrbCompletion.Success or TrbCompletion.ShortPacket)) break;
            if (end.Parameter == data && end.Completion == TrbCompletion.ShortPacket) residual = end.TransferResidual;
        }
        var cc = end.Completion;
        if (cc == TrbCompletion.Stall)
        {
            var cleared = await ResetEndpointLockedAsync(1, ct).ConfigureAwait(false);
            if (!cleared.IsOk) return cleared.Error;
            return Errors.Of(ErrorCode.NotSupported, $"device stalled request 0x{request:x2}");
        }
        if (cc is not (TrbCompletion.Success or TrbCompletion.ShortPacket))
            return Errors.Of(ErrorCode.IoError, $"control request 0x{request:x2}: {cc}");
        if (!isIn) return Array.Empty<byte>();
        // The data stage's residual says how much did not come: return only what did. One beyond the request is a lie
        // (it used to return the whole window, cleared bytes and all).
        if (residual > length) return Errors.Of(ErrorCode.Corrupted, $"control request 0x{request:x2}: residual {residual} of a {length}-byte data stage");
        return Bounce[..(length - residual)].ToArray();
    }

    /// <summary>Waits for the transfer event of a TD (first..last TRB on <paramref name="ring"/>), checking it names this
    /// slot and endpoint. On timeout the endpoint is stopped and its dequeue pointer moved past the TD.</summary>
    private async Task<Result<Trb>> WaitTransferAsync(int dci, XhciRing ring, ulong first, ulong last, TimeSpan timeout, CancellationToken ct)
    {
        bool InTd(ulong p) => first <= last ? p >= first && p <= last : p >= first || p <= last;
        var ev = await _hc.WaitEventAsync(e => e.Type == TrbType.TransferEvent && ring.Contains(e.Parameter) && InTd(e.Parameter), timeout, ct).ConfigureAwait(false);
        if (!ev.IsOk)
        {
            if (ev.Code is ErrorCode.TimedOut or ErrorCode.Cancelled)
            {
                // The TD must be off the endpoint before the bounce buffer carries the next transfer: a late IN would
                // otherwise land on the next WRITE's data. If the controller will not stop it, the device is done.
                var stop = await _hc.CommandAsync(new Trb(0, 0, Trb.TypeBits(TrbType.StopEndpoint) | (uint)dci << 16 | (uint)Slot << 24), default).ConfigureAwait(false);
                var moved = stop.IsOk ? await SetDequeueLockedAsync(dci, default).ConfigureAwait(false) : stop;
                if (!moved.IsOk) _broken ??= Errors.Of(ErrorCode.IoError, $"endpoint {dci} could not be stopped after a timeout: {moved.Error}");
            }
            return ev.Error;
        }
        if (ev.Value.SlotId != Slot || ev.Value.EndpointId != dci)
        {
            _broken ??= Errors.Of(ErrorCode.Corrupted, $"transfer event for slot {ev.Value.SlotId} endpoint {ev.Value.EndpointId}, expected {Slot}/{dci}");
            return _broken.Value;
        }
        return ev.Value;
    }

    private Task<Result<Trb>> SetDequeueLockedAsync(int dci, CancellationToken ct)
    {
        var ring = _rings[dci];
        return _hc.CommandAsync(new Trb(ring.EnqueuePointer | (ring.CycleState ? 1UL : 0), 0,
            Trb.TypeBits(TrbType.SetTrDequeue) | (uint)dci << 16 | (uint)Slot << 24), ct);
    }

    /// <summary>Controller side of clearing a halt: Reset Endpoint, then Set TR Dequeue Pointer past whatever the
    /// halted endpoint had queued. A Context State error (the endpoint was not halted) is fine.</summary>
    private async Task<Result> ResetEndpointLockedAsync(int dci, CancellationToken ct)
    {
        var reset = await _hc.CommandAsync(new Trb(0, 0, Trb.TypeBits(TrbType.ResetEndpoint) | (uint)dci << 16 | (uint)Slot << 24), ct).ConfigureAwait(false);
        if (!reset.IsOk && reset.Code != ErrorCode.IoError) return reset.Error;
        var moved = await SetDequeueLockedAsync(dci, ct).ConfigureAwait(false);
        if (!moved.IsOk && moved.Code != ErrorCode.IoError) return moved.Error;
        return Result.Ok;
    }

    /// <summary>Clears a halted bulk endpoint on both sides (controller, then CLEAR_FEATURE(ENDPOINT_HALT)).</summary>
    public async Task<Result> ClearHaltAsync(UsbEndpoint ep, CancellationToken ct)
    {
        using var gate = await _hc.EnterAsync(ct).ConfigureAwait(false);
        if (gate is null) return XhciController.NotEntered(ct);
        var r = await ResetEndpointLockedAsync(ep.ContextIndex, ct).ConfigureAwait(false);
        if (!r.IsOk) return r;
        var clear = await ControlLockedAsync(0x02, 1, 0, ep.Address, default, 0, ct).ConfigureAwait(false);
        return clear.IsOk ? Result.Ok : clear.Error;
    }

    /// <summary>SET_CONFIGURATION, then Configure Endpoint for the bulk pair (§4.6.6).</summary>
    public async Task<Result> ConfigureAsync(byte configurationValue, UsbEndpoint bulkIn, UsbEndpoint bulkOut, CancellationToken ct)
    {
        using var gate = await _hc.EnterAsync(ct).ConfigureAwait(false);
        if (gate is null) return XhciController.NotEntered(ct);
        var f = _hc.Function;
        foreach (var ep in new[] { bulkIn, bulkOut })
        {
            if (_rings.ContainsKey(ep.ContextIndex)) continue;
            var ring = XhciRing.Create(f, _hc.Options.RingEntries);
            if (!ring.TryGet(out var r)) return ring.Error;
            _rings[ep.ContextIndex] = r;
        }
        ClearInput();
        int maxDci = Math.Max(bulkIn.ContextIndex, bulkOut.ContextIndex);
        InputControl(add: 1u | 1u << bulkIn.ContextIndex | 1u << bulkOut.ContextIndex);
        SlotContext(Speed, maxDci);
        EndpointContext(bulkIn.ContextIndex, type: 6, bulkIn.MaxPacketSize, bulkIn.MaxBurst, _rings[bulkIn.ContextIndex]);
        EndpointContext(bulkOut.ContextIndex, type: 2, bulkOut.MaxPacketSize, bulkOut.MaxBurst, _rings[bulkOut.ContextIndex]);
        var configured = await _hc.CommandAsync(new Trb(_input.DeviceAddress, 0, Trb.TypeBits(TrbType.ConfigureEndpoint) | (uint)Slot << 24), ct).ConfigureAwait(false);
        if (!configured.IsOk) return configured.Error;
        var set = await ControlLockedAsync(0x00, 9, configurationValue, 0, default, 0, ct).ConfigureAwait(false);
        return set.IsOk ? Result.Ok : set.Error;
    }

    /// <summary>One bulk transfer of up to 64 KiB: OUT sends <paramref name="outData"/>; IN receives up to
    /// <paramref name="inLength"/> bytes into <paramref name="into"/>. A residual larger than the request is
    /// <c>Corrupted</c>; transaction errors are <c>IoError</c>; a STALL is reported (not cleared) so the caller's
    /// protocol decides the recovery.</summary>
    public async Task<Result<BulkResult>> BulkAsync(UsbEndpoint ep, ReadOnlyMemory<byte> outData, Memory<byte> into, CancellationToken ct)
    {
        int length = ep.IsIn ? into.Length : outData.Length;
        if (length <= 0 || length > MaxTransfer) return Errors.Of(ErrorCode.InvalidArgument, $"bulk transfer of {length} bytes");
        using var gate = await _hc.EnterAsync(ct).ConfigureAwait(false);
        if (gate is null) return XhciController.NotEntered(ct);
        if (!_rings.TryGetValue(ep.ContextIndex, out var ring)) return Errors.Of(ErrorCode.InvalidArgument, $"endpoint 0x{ep.Address:x2} not configured");
        if (Refused() is { } refused) return refused;
        if (!ep.IsIn) PieceCopy.Copy(outData.Span, Bounce);
        else Bounce[..length].Clear(); // a device that reports bytes it never wrote hands back zeros, not the last transfer's data (usb19)
        var trb = ring.Enqueue(new Trb(BounceAddress, (uint)length, Trb.TypeBits(TrbType.Normal) | Trb.InterruptOnCompletion | Trb.InterruptOnShort));
        _hc.RingDoorbell(Slot, (uint)ep.ContextIndex);
        var ev = await WaitTransferAsync(ep.ContextIndex, ring, trb, trb, _hc.Options.Transfer, ct).ConfigureAwait(false);
        if (!ev.IsOk) return ev.Error;
        var cc = ev.Value.Completion;
        if (cc == TrbCompletion.Stall) return new BulkResult(0, Stalled: true);
        if (cc is not (TrbCompletion.Success or TrbCompletion.ShortPacket))
            return Errors.Of(cc == TrbCompletion.UsbTransaction ? ErrorCode.IoError : ErrorCode.IoError, $"bulk 0x{ep.Address:x2}: {cc}");
        int residual = ev.Value.TransferResidual;
        if (residual > length) return Errors.Of(ErrorCode.Corrupted, $"bulk 0x{ep.Address:x2}: residual {residual} of a {length}-byte transfer");
        int moved = length - residual;
        if (ep.IsIn) PieceCopy.Copy(Bounce[..moved], into.Span);
        return new BulkResult(moved, Stalled: false);
    }

    /// <summary>Whether the device is still attached to its port.</summary>
    public bool Attached
    {
        get
        {
            try { return (_hc.PortStatus(Port) & XhciRegisters.PortConnected) != 0; }
            catch (KernelException) { return false; }
        }
    }

    /// <summary>True when the device's DMA memory was left allocated on close because the controller may still use it.</summary>
    public bool LeakedOnClose { get; private set; }

    public async ValueTask DisposeAsync()
    {
        bool stopped;
        using (var gate = await _hc.EnterAsync(default).ConfigureAwait(false))
        {
            if (gate is not null)
            {
                var disabled = await _hc.CommandAsync(new Trb(0, 0, Trb.TypeBits(TrbType.DisableSlot) | (uint)Slot << 24), default).ConfigureAwait(false);
                stopped = disabled.IsOk;
                _hc.SetDeviceContext(Slot, 0);
            }
            else stopped = !_hc.LeakedOnClose; // the controller closed: halted, unless it never stopped
        }
        // A slot the controller did not disable may still have its rings and bounce buffer in use: leak them rather
        // than free memory a running controller writes (without an IOMMU it is reused at once; review18b). A retired
        // device too: its controller refused to take a TD off an endpoint, or completed a TD for another slot, and a
        // Disable Slot answered by that controller is no proof the late DMA will not come (usb19).
        if (!stopped || _broken is not null)
        {
            LeakedOnClose = true;
            return;
        }
        foreach (var r in _rings.Values) r.Dispose();
        _input.Dispose();
        _output.Dispose();
        _bounce.Dispose();
    }
}
