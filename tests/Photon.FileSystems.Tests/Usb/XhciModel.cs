using System.Buffers.Binary;
using Photon.Kernel.Hal.Pci;
using Photon.Kernel.Tests.Support.Pci;

namespace Photon.FileSystems.Tests.Usb;

/// <summary>Ways the model misbehaves, for the hostile-device tests (the one-shot ones clear themselves once used).</summary>
public enum UsbFault
{
    None,
    CswBadSignatureOnce, CswWrongTagOnce, CswPhaseErrorOnce, StallDataInOnce, StallCswOnce,
    EventWrongCycle, TransferEventWrongSlot, AddressDeviceWrongSlot, ResidueTooLarge,
    /// <summary>Stop Endpoint completes with Context State Error (the controller will not take the TD off).</summary>
    StopEndpointFails,
    /// <summary>Stop Endpoint is never answered.</summary>
    StopEndpointNoAnswer,
    /// <summary>Bulk IN data is reported as transferred but never written (the bounce keeps what it held).</summary>
    CompleteWithoutDma,
    /// <summary>A short control data stage claims a residual beyond the request (more bytes "missing" than asked for).</summary>
    ControlResidualTooLarge,
    /// <summary>Every event comes after transfer events for another slot and port status changes for every port.</summary>
    StrayFlood,
}

/// <summary>
/// An in-process xHCI controller (xHCI 1.2) with one USB mass-storage stick (Bulk-Only Transport, SCSI direct-access)
/// on a root port, on a <see cref="FakePciFunction"/>. It walks the command ring and transfer rings through the test
/// IOMMU following cycle bits and Link TRBs, writes events to the ERST-described event ring with its producer cycle
/// state, fires MSI-X vector 0, resets ports, keeps endpoint state (running, halted, stopped) and answers control
/// requests; the stick runs the CBW → data → CSW state machine over a byte-array disk. One lock; all of it runs in the
/// MMIO write that rings a doorbell, like a device that reacts at once.
/// </summary>
public sealed class XhciModel
{
    private sealed class Endpoint
    {
        public ulong Dequeue;
        public bool Cycle = true, Halted;
    }

    private enum BotState { Cbw, DataIn, DataOut, Csw }

    private const long Op = 0x40, Rt = 0x1000, Db = 0x2000;
    private const int PortCount = 4, MaxSlots = 8;
    private readonly Lock _lock = new();
    private readonly uint[] _portsc = new uint[PortCount];
    private readonly Dictionary<(int Slot, int Dci), Endpoint> _endpoints = new();
    private uint _usbcmd, _usbsts = 1, _config, _iman, _erstsz;
    private ulong _crcr, _dcbaap, _erstba, _erdp;
    private ulong _cmdDequeue;
    private bool _cmdCycle;
    private ulong _eventBase;
    private int _eventSize, _eventEnqueue;
    private bool _eventCycle = true;
    private int _nextSlot = 1;
    private ulong _setup;
    // Bulk-Only state
    private BotState _bot = BotState.Cbw;
    private uint _tag;
    private byte[] _dataIn = [];
    private int _dataInAt;
    private byte[] _cdb = [];
    private List<byte> _dataOut = new();
    private int _dataOutExpected;
    private byte _status;
    private uint _residue;
    private (byte Key, byte Asc) _sense = (6, 0x29); // power-on UNIT ATTENTION until the first REQUEST SENSE
    private bool _unitAttention = true;

    /// <param name="speed">PORTSC speed of the stick: 3 high speed (QEMU's usb-storage), 1 full speed.</param>
    /// <param name="ep0MaxPacket">The stick's bMaxPacketSize0: a control data stage moves packets of this size; the
    /// controller's EP0 context must say the same (a full-speed device's is known only from its descriptor).</param>
    public XhciModel(byte[] disk, int devicePort = 2, int msixVectors = 4, int speed = 3, byte ep0MaxPacket = 64)
    {
        Disk = disk;
        DevicePort = devicePort;
        Speed = speed;
        DeviceEp0MaxPacket = ep0MaxPacket;
        Function = new FakePciFunction(new PciFunctionInfo(PciAddress.Parse("0000:00:06.0").Value, 0x1B36, 0x000D, 0x0C0330, null)) { MsixVectors = msixVectors };
        Function.Bars[0] = new FakeMmio(0x4000, Read, Write);
        Attach();
    }

    public byte[] Disk { get; }
    public int DevicePort { get; }
    public int Speed { get; }
    public byte DeviceEp0MaxPacket { get; }
    /// <summary>EP0's max packet size in the controller's context, per slot (Address Device, Evaluate Context).</summary>
    public Dictionary<int, int> Ep0ContextMaxPacket { get; } = new();
    public long Evaluates;
    public FakePciFunction Function { get; }
    public UsbFault Fault { get; set; }
    public int ScratchpadCount { get; set; } = 2;
    /// <summary>The PAGESIZE register: a mask, bit n meaning 2^(n+12)-byte pages are supported.</summary>
    public uint PageSizeRegister { get; set; } = 1;
    /// <summary>Clearing Run/Stop never halts the controller (a hung or hostile one).</summary>
    public bool IgnoresStop { get; set; }
    /// <summary>The stick stops answering bulk IN (NAKs for ever) while it stays connected.</summary>
    public bool Hangs { get; set; }
    /// <summary>The stick stops taking bulk OUT (NAKs for ever: the CBW never completes) while it stays connected.</summary>
    public bool HangsOut { get; set; }
    /// <summary>At most this many bytes of any control IN reply are sent (a short data stage).</summary>
    public int? ControlReplyLimit { get; set; }
    /// <summary>The configuration descriptor's wTotalLength, when the stick lies about it.</summary>
    public ushort? ConfigTotalLength { get; set; }
    /// <summary>READ CAPACITY(10) reply (last LBA, block length), when the stick lies about its medium.</summary>
    public (uint LastLba, uint BlockLength)? Capacity { get; set; }
    /// <summary>Data the stick writes for the transfers it hung on when they finally complete (<see cref="CompleteHungTransfers"/>).</summary>
    public long LateDmaFaults;
    /// <summary>Called (under the model's lock, inside the doorbell write) with each SCSI opcode a CBW carries.</summary>
    public Action<byte>? CommandReceived { get; set; }
    public long Commands, Transfers, BotResets, ClearHalts, DmaFaults;
    public List<byte> ScsiOpcodes { get; } = new();
    /// <summary>Whether the stick answers at all (false after <see cref="Unplug"/>).</summary>
    public bool Present { get; private set; } = true;
    public bool Halted { get { lock (_lock) return (_usbsts & 1) != 0; } }

    private void Attach()
    {
        for (int i = 0; i < PortCount; i++) _portsc[i] = 1 << 9; // powered
        _portsc[DevicePort - 1] |= 1 | ((uint)Speed << 10) | (1 << 17); // connected, its speed, connect change
    }

    /// <summary>The stick is pulled out (QEMU's <c>device_del</c>): the port loses its connection, a port status
    /// change event is posted, and the stick never answers again.</summary>
    public void Unplug()
    {
        lock (_lock)
        {
            Present = false;
            _portsc[DevicePort - 1] = (_portsc[DevicePort - 1] & ~3u) | (1 << 17);
            PostEvent(new byte[16], (uint)DevicePort << 24, 0, 34, 0, 0);
        }
    }

    private ulong Read(long offset, int size)
    {
        lock (_lock)
        {
            switch (offset)
            {
                case 0x00: return 0x0100_0000 | (ulong)Op; // HCIVERSION 1.0, CAPLENGTH
                case 0x04: return MaxSlots | 1 << 8 | (ulong)PortCount << 24;
                case 0x08: return (ulong)((ScratchpadCount & 0x1F) << 27 | (ScratchpadCount >> 5) << 21);
                case 0x10: return 1; // AC64, 32-byte contexts
                case 0x14: return (ulong)Db;
                case 0x18: return (ulong)Rt;
                case Op + 0x00: return _usbcmd;
                case Op + 0x04: return _usbsts;
                case Op + 0x08: return PageSizeRegister;
                case Op + 0x18: return _crcr & 0xFFFFFFFF & ~0xFUL | 0;
                case Op + 0x38: return _config;
                case Rt + 0x20: return _iman;
                case Rt + 0x28: return _erstsz;
                case Rt + 0x38: return _erdp & 0xFFFFFFFF;
                case Rt + 0x3C: return _erdp >> 32;
            }
            if (offset >= Op + 0x400 && offset < Op + 0x400 + 0x10 * PortCount && (offset - Op - 0x400) % 0x10 == 0)
                return _portsc[(offset - Op - 0x400) / 0x10];
            return 0;
        }
    }

    private void Write(long offset, int size, ulong value)
    {
        lock (_lock)
        {
            try { WriteLocked(offset, (uint)value); }
            catch (DmaFaultException) { Interlocked.Increment(ref DmaFaults); }
        }
    }

    private void WriteLocked(long offset, uint v)
    {
        switch (offset)
        {
            case Op + 0x00:
                if ((v & 2) != 0) { ResetLocked(); return; }
                _usbcmd = v;
                if ((v & 1) == 0 && IgnoresStop) return; // a broken controller that keeps running
                _usbsts = (v & 1) != 0 ? _usbsts & ~1u : _usbsts | 1;
                return;
            case Op + 0x04: _usbsts &= ~(v & (1 << 3 | 1 << 4)); return;
            case Op + 0x18: _crcr = (_crcr & ~0xFFFFFFFFUL) | v; return;
            case Op + 0x1C:
                _crcr = (_crcr & 0xFFFFFFFF) | (ulong)v << 32;
                _cmdDequeue = _crcr & ~0x3FUL;
                _cmdCycle = (_crcr & 1) != 0;
                return;
            case Op + 0x30: _dcbaap = (_dcbaap & ~0xFFFFFFFFUL) | v; return;
            case Op + 0x34: _dcbaap = (_dcbaap & 0xFFFFFFFF) | (ulong)v << 32; return;
            case Op + 0x38: _config = v; return;
            case Rt + 0x20: _iman = (v & 2) | (_iman & 1 & ~(v & 1)); return;
            case Rt + 0x28: _erstsz = v; return;
            case Rt + 0x30: _erstba = (_erstba & ~0xFFFFFFFFUL) | v; return;
            case Rt + 0x34:
                _erstba = (_erstba & 0xFFFFFFFF) | (ulong)v << 32;
                _eventBase = Dma.Read64(_erstba);
                _eventSize = (int)Dma.Read32(_erstba + 8);
                _eventEnqueue = 0;
                _eventCycle = true;
                return;
            case Rt + 0x38: _erdp = (_erdp & ~0xFFFFFFFFUL) | (v & ~8u); return;
            case Rt + 0x3C: _erdp = (_erdp & 0xFFFFFFFF) | (ulong)v << 32; return;
        }
        if (offset >= Op + 0x400 && offset < Op + 0x400 + 0x10 * PortCount && (offset - Op - 0x400) % 0x10 == 0)
        {
            int p = (int)((offset - Op - 0x400) / 0x10);
            uint sc = _portsc[p] & ~(v & 0x00FE0000); // RW1C change bits
            if ((v & 2) != 0) sc &= ~2u;              // PED is RW1C too
            if ((v & (1 << 4)) != 0 && (sc & 1) != 0) sc |= 2 | 1 << 21; // reset: enabled, reset change
            _portsc[p] = sc;
            return;
        }
        if (offset >= Db && offset < Db + 4 * (MaxSlots + 1))
        {
            int slot = (int)((offset - Db) / 4);
            if ((_usbsts & 1) != 0) return;
            if (slot == 0) RunCommands();
            else RunEndpoint(slot, (int)(v & 0xFF));
        }
    }

    /// <summary>The stick answers the bulk IN transfers it hung on, late: each pending TRB's buffer is filled with
    /// <paramref name="fill"/> (a DMA into memory the driver freed counts in <see cref="LateDmaFaults"/>) and a transfer
    /// event posted. Endpoints whose dequeue pointer the driver moved on have nothing pending.</summary>
    public int CompleteHungTransfers(byte fill)
    {
        lock (_lock)
        {
            Hangs = false;
            int done = 0;
            foreach (var ((slot, dci), ep) in _endpoints)
            {
                if (dci % 2 == 0 || dci == 1 || ep.Halted) continue;
                ulong deq = ep.Dequeue;
                bool cycle = ep.Cycle;
                try
                {
                    if (NextTrb(ref deq, ref cycle) is not { } t) continue;
                    int len = (int)(t.Status & 0x1FFFF);
                    var data = new byte[len];
                    data.AsSpan().Fill(fill);
                    try { Dma.WriteBytes(t.Param, data); }
                    catch (DmaFaultException) { Interlocked.Increment(ref LateDmaFaults); }
                    ep.Dequeue = deq;
                    ep.Cycle = cycle;
                    TransferEvent(slot, dci, t.At, 1, 0);
                    done++;
                }
                catch (DmaFaultException) { Interlocked.Increment(ref LateDmaFaults); } // the ring itself was freed
            }
            return done;
        }
    }

    private void ResetLocked()
    {
        _usbcmd = 0;
        _usbsts = 1;
        _endpoints.Clear();
        _iman = 0;
        _nextSlot = 1;
        _eventSize = 0;
        Attach();
        if (!Present) _portsc[DevicePort - 1] &= ~1u;
    }

    private FakeDmaSpace Dma => Function.Dma;

    private void PostEvent(byte[] _, uint control, ulong parameter, int type, byte cc, uint residual)
    {
        if (_eventSize == 0) return;
        if (Fault == UsbFault.StrayFlood)
        {
            Fault = UsbFault.None; // not re-entered for the strays themselves
            for (int i = 0; i < 4; i++) PostEvent([], (uint)(MaxSlots - i) << 24 | 3u << 16, 0xDEAD_0000UL + 16UL * (ulong)i, 32, 1, 0);
            for (int p = 1; p <= PortCount; p++) PostEvent([], (uint)p << 24, 0, 34, 1, 0);
            Fault = UsbFault.StrayFlood;
        }
        bool cycle = Fault == UsbFault.EventWrongCycle ? !_eventCycle : _eventCycle;
        ulong at = _eventBase + 16UL * (ulong)_eventEnqueue;
        Dma.Write64(at, parameter);
        Dma.Write32(at + 8, (uint)cc << 24 | (residual & 0xFFFFFF));
        Dma.Write32(at + 12, (control & ~0xFC01u) | (uint)type << 10 | (cycle ? 1u : 0));
        if (++_eventEnqueue == _eventSize) { _eventEnqueue = 0; _eventCycle = !_eventCycle; }
        _usbsts |= 1 << 3;
        _iman |= 1;
        if ((_iman & 2) != 0 && (_usbcmd & 4) != 0) Function.Interrupt(0)?.Fire();
    }

    /// <summary>Next TRB of a producer ring, following Link TRBs; null when the cycle bit says the ring is empty.</summary>
    private (ulong At, ulong Param, uint Status, uint Control)? NextTrb(ref ulong dequeue, ref bool cycle)
    {
        for (int hops = 0; hops < 4; hops++)
        {
            uint control = Dma.Read32(dequeue + 12);
            if (((control & 1) != 0) != cycle) return null;
            if (((control >> 10) & 0x3F) == 6)
            {
                if ((control & 2) != 0) cycle = !cycle;
                dequeue = Dma.Read64(dequeue) & ~0xFUL;
                continue;
            }
            var trb = (dequeue, Dma.Read64(dequeue), Dma.Read32(dequeue + 8), control);
            dequeue += 16;
            return trb;
        }
        return null;
    }

    private void RunCommands()
    {
        for (int n = 0; n < 256 && NextTrb(ref _cmdDequeue, ref _cmdCycle) is { } t; n++)
        {
            Interlocked.Increment(ref Commands);
            int type = (int)((t.Control >> 10) & 0x3F);
            int slot = (int)(t.Control >> 24);
            int dci = (int)((t.Control >> 16) & 0x1F);
            byte cc = 1;
            int replySlot = slot;
            switch (type)
            {
                case 9: // Enable Slot
                    replySlot = _nextSlot <= MaxSlots ? _nextSlot++ : 0;
                    if (replySlot == 0) cc = 9;
                    break;
                case 11: // Address Device
                    LoadEndpoint(slot, 1, t.Param);
                    Ep0ContextMaxPacket[slot] = (int)(Dma.Read32(t.Param + 32UL * 2 + 4) >> 16);
                    if (Fault == UsbFault.AddressDeviceWrongSlot) replySlot = slot + 3;
                    break;
                case 12: // Configure Endpoint
                {
                    uint add = Dma.Read32(t.Param + 4);
                    for (int d = 2; d < 32; d++) if ((add & (1u << d)) != 0) LoadEndpoint(slot, d, t.Param);
                    break;
                }
                case 14: // Reset Endpoint
                    if (_endpoints.TryGetValue((slot, dci), out var halted) && halted.Halted) halted.Halted = false;
                    else cc = 19;
                    break;
                case 16: // Set TR Dequeue Pointer
                    if (_endpoints.TryGetValue((slot, dci), out var ep) && !ep.Halted) { ep.Dequeue = t.Param & ~0xFUL; ep.Cycle = (t.Param & 1) != 0; }
                    else cc = 19;
                    break;
                case 15: // Stop Endpoint
                    if (Fault == UsbFault.StopEndpointNoAnswer) continue;
                    if (Fault == UsbFault.StopEndpointFails) cc = 19;
                    break;
                case 13: // Evaluate Context: EP0's max packet size when A1 is set
                    Interlocked.Increment(ref Evaluates);
                    if ((Dma.Read32(t.Param + 4) & 0b10) != 0) Ep0ContextMaxPacket[slot] = (int)(Dma.Read32(t.Param + 32UL * 2 + 4) >> 16);
                    break;
                case 10: case 23: break; // Disable Slot, No-op
                default: cc = 5; break;
            }
            PostEvent([], (uint)replySlot << 24, t.At, 33, cc, 0);
        }
    }

    private void LoadEndpoint(int slot, int dci, ulong input)
    {
        ulong ctx = input + 32UL * (ulong)(1 + dci);
        ulong deq = Dma.Read64(ctx + 8);
        _endpoints[(slot, dci)] = new Endpoint { Dequeue = deq & ~0xFUL, Cycle = (deq & 1) != 0 };
    }

    private void RunEndpoint(int slot, int dci)
    {
        if (!_endpoints.TryGetValue((slot, dci), out var ep) || ep.Halted) return;
        for (int n = 0; n < 256; n++)
        {
            ulong deq = ep.Dequeue;
            bool cycle = ep.Cycle;
            if (NextTrb(ref deq, ref cycle) is not { } t) return;
            if (!Present) return; // nobody answers: the TD stays pending
            int type = (int)((t.Control >> 10) & 0x3F);
            bool done = dci == 1 ? Control(slot, t, type) : Bulk(slot, dci, ep, t);
            if (!done) return; // an IN with nothing to send waits (NAK) at this TRB
            ep.Dequeue = deq;
            ep.Cycle = cycle;
            if (ep.Halted) return;
        }
    }

    private void TransferEvent(int slot, int dci, ulong trb, byte cc, uint residual)
    {
        Interlocked.Increment(ref Transfers);
        int s = Fault == UsbFault.TransferEventWrongSlot ? slot + 1 : slot;
        PostEvent([], (uint)s << 24 | (uint)dci << 16, trb, 32, cc, residual);
    }

    private bool Control(int slot, (ulong At, ulong Param, uint Status, uint Control) t, int type)
    {
        switch (type)
        {
            case 2: _setup = t.Param; return true;
            case 3:
            {
                byte reqType = (byte)_setup, req = (byte)(_setup >> 8);
                ushort value = (ushort)(_setup >> 16), index = (ushort)(_setup >> 32);
                int len = (int)(t.Status & 0x1FFFF);
                if ((reqType & 0x80) != 0)
                {
                    var reply = ControlIn(reqType, req, value);
                    int n = Math.Min(Math.Min(len, reply.Length), ControlReplyLimit ?? int.MaxValue);
                    int contextMps = Ep0ContextMaxPacket.GetValueOrDefault(slot, 64);
                    // The device sends packets of its own size: a context that expects bigger ones takes the first packet
                    // as a short one and ends the data stage there.
                    if (DeviceEp0MaxPacket < contextMps) n = Math.Min(n, DeviceEp0MaxPacket);
                    Dma.WriteBytes(t.Param, reply.AsSpan(0, n));
                    // A short data stage reports itself when the TRB asks (ISP or IOC), as QEMU's xhci_xfer_report does;
                    // the status stage then completes the TD.
                    if (n < len && (t.Control & (1 << 2 | 1 << 5)) != 0)
                        TransferEvent(slot, 1, t.At, 13, Fault == UsbFault.ControlResidualTooLarge ? (uint)len + 100 : (uint)(len - n));
                }
                _ = index;
                return true;
            }
            case 4:
            {
                byte reqType = (byte)_setup, req = (byte)(_setup >> 8);
                ushort value = (ushort)(_setup >> 16), index = (ushort)(_setup >> 32);
                if (reqType == 0x02 && req == 1 && value == 0) // CLEAR_FEATURE(ENDPOINT_HALT)
                {
                    Interlocked.Increment(ref ClearHalts);
                }
                else if (reqType == 0x21 && req == 0xFF) // Bulk-Only Mass Storage Reset
                {
                    Interlocked.Increment(ref BotResets);
                    _bot = BotState.Cbw;
                }
                if ((t.Control & (1 << 5)) != 0) TransferEvent(slot, 1, t.At, 1, 0);
                return true;
            }
            default:
                TransferEvent(slot, 1, t.At, 5, 0);
                return true;
        }
    }

    private byte[] ControlIn(byte reqType, byte req, ushort value)
    {
        if (reqType == 0x80 && req == 6 && value >> 8 == 1)
            return [18, 1, 0x00, 0x02, 0, 0, 0, DeviceEp0MaxPacket, 0x27, 0x06, 0x01, 0x00, 0x00, 0x01, 1, 2, 3, 1];
        if (reqType == 0x80 && req == 6 && value >> 8 == 2)
        {
            byte[] config = [9, 2, 32, 0, 1, 1, 0, 0xC0, 50,
                             9, 4, 0, 0, 2, 8, 6, 0x50, 0,
                             7, 5, 0x81, 2, 0x00, 0x02, 0,
                             7, 5, 0x02, 2, 0x00, 0x02, 0];
            if (ConfigTotalLength is { } total) BinaryPrimitives.WriteUInt16LittleEndian(config.AsSpan(2), total);
            return config;
        }
        if (reqType == 0xA1 && req == 0xFE) return [0];
        return [];
    }

    private bool Bulk(int slot, int dci, Endpoint ep, (ulong At, ulong Param, uint Status, uint Control) t)
    {
        int len = (int)(t.Status & 0x1FFFF);
        bool isIn = dci % 2 == 1;
        if ((isIn && Hangs) || (!isIn && HangsOut)) return false; // NAK: the TD stays pending
        if (!isIn)
        {
            var data = Dma.ReadBytes(t.Param, len);
            if (_bot == BotState.Cbw) OnCbw(data);
            else if (_bot == BotState.DataOut)
            {
                _dataOut.AddRange(data);
                if (_dataOut.Count >= _dataOutExpected) FinishWrite();
            }
            TransferEvent(slot, dci, t.At, 1, 0);
            return true;
        }
        switch (_bot)
        {
            case BotState.DataIn:
                if (Fault == UsbFault.StallDataInOnce)
                {
                    Fault = UsbFault.None;
                    ep.Halted = true;
                    _residue = (uint)(_dataIn.Length - _dataInAt);
                    _status = 1;
                    _sense = (3, 0x11); // MEDIUM ERROR, unrecovered read error
                    _bot = BotState.Csw;
                    TransferEvent(slot, dci, t.At, 6, (uint)len);
                    return true;
                }
                int n = Math.Min(len, _dataIn.Length - _dataInAt);
                if (Fault != UsbFault.CompleteWithoutDma) Dma.WriteBytes(t.Param, _dataIn.AsSpan(_dataInAt, n));
                _dataInAt += n;
                if (_dataInAt >= _dataIn.Length) _bot = BotState.Csw;
                TransferEvent(slot, dci, t.At, n < len ? (byte)13 : (byte)1, (uint)(len - n));
                return true;
            case BotState.Csw:
                if (Fault == UsbFault.StallCswOnce)
                {
                    Fault = UsbFault.None;
                    ep.Halted = true;
                    TransferEvent(slot, dci, t.At, 6, (uint)len);
                    return true;
                }
                var csw = new byte[13];
                BinaryPrimitives.WriteUInt32LittleEndian(csw, 0x53425355);
                BinaryPrimitives.WriteUInt32LittleEndian(csw.AsSpan(4), _tag);
                BinaryPrimitives.WriteUInt32LittleEndian(csw.AsSpan(8), _residue);
                csw[12] = _status;
                switch (Fault)
                {
                    case UsbFault.CswBadSignatureOnce: csw[0] ^= 0xFF; Fault = UsbFault.None; break;
                    case UsbFault.CswWrongTagOnce: csw[4] ^= 0x5A; Fault = UsbFault.None; break;
                    case UsbFault.CswPhaseErrorOnce: csw[12] = 2; Fault = UsbFault.None; break;
                }
                int m = Math.Min(len, 13);
                Dma.WriteBytes(t.Param, csw.AsSpan(0, m));
                _bot = BotState.Cbw;
                TransferEvent(slot, dci, t.At, m < len ? (byte)13 : (byte)1, (uint)(Fault == UsbFault.ResidueTooLarge ? len + 100 : len - m));
                return true;
            default:
                return false; // nothing to send: NAK until there is
        }
    }

    private void OnCbw(byte[] cbw)
    {
        if (cbw.Length != 31 || BinaryPrimitives.ReadUInt32LittleEndian(cbw) != 0x43425355) return;
        _tag = BinaryPrimitives.ReadUInt32LittleEndian(cbw.AsSpan(4));
        int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(cbw.AsSpan(8));
        bool isIn = (cbw[12] & 0x80) != 0;
        _cdb = cbw.AsSpan(15, cbw[14]).ToArray();
        ScsiOpcodes.Add(_cdb[0]);
        CommandReceived?.Invoke(_cdb[0]);
        _status = 0;
        _residue = 0;
        if (length > 0 && !isIn)
        {
            _dataOut.Clear();
            _dataOutExpected = length;
            _bot = BotState.DataOut;
            return;
        }
        var reply = Execute(length);
        if (length > 0)
        {
            _dataIn = reply.Length > length ? reply[..length] : reply;
            _residue = (uint)(length - _dataIn.Length);
            _dataInAt = 0;
            _bot = _dataIn.Length > 0 ? BotState.DataIn : BotState.Csw;
        }
        else _bot = BotState.Csw;
    }

    private void Fail(byte key, byte asc)
    {
        _status = 1;
        _sense = (key, asc);
    }

    private byte[] Execute(int length)
    {
        long lba = _cdb.Length >= 6 ? BinaryPrimitives.ReadUInt32BigEndian(_cdb.AsSpan(2)) : 0;
        int blocks = _cdb.Length >= 9 ? BinaryPrimitives.ReadUInt16BigEndian(_cdb.AsSpan(7)) : 0;
        switch (_cdb[0])
        {
            case 0x00: // TEST UNIT READY
                if (_unitAttention) Fail(6, 0x29);
                return [];
            case 0x03: // REQUEST SENSE
            {
                var s = new byte[18];
                s[0] = 0x70;
                s[2] = _sense.Key;
                s[7] = 10;
                s[12] = _sense.Asc;
                _sense = (0, 0);
                _unitAttention = false;
                return s;
            }
            case 0x12: // INQUIRY
            {
                var r = new byte[36];
                r[2] = 5;
                r[3] = 2;
                r[4] = 31;
                System.Text.Encoding.ASCII.GetBytes("QEMU    QEMU HARDDISK   2.5+").CopyTo(r, 8);
                return r;
            }
            case 0x25: // READ CAPACITY(10)
            {
                var r = new byte[8];
                var (last, size) = Capacity ?? ((uint)(Disk.Length / 512 - 1), 512u);
                BinaryPrimitives.WriteUInt32BigEndian(r, last);
                BinaryPrimitives.WriteUInt32BigEndian(r.AsSpan(4), size);
                return r;
            }
            case 0x28: // READ(10)
                if ((lba + blocks) * 512 > Disk.Length) { Fail(5, 0x21); return []; }
                return Disk.AsSpan((int)(lba * 512), blocks * 512).ToArray();
            case 0x35: return []; // SYNCHRONIZE CACHE
            default:
                Fail(5, 0x20); // ILLEGAL REQUEST, invalid command operation code
                return [];
        }
    }

    private void FinishWrite()
    {
        long lba = BinaryPrimitives.ReadUInt32BigEndian(_cdb.AsSpan(2));
        int blocks = BinaryPrimitives.ReadUInt16BigEndian(_cdb.AsSpan(7));
        if (_cdb[0] != 0x2A || (lba + blocks) * 512 > Disk.Length || blocks * 512 != _dataOut.Count) Fail(5, 0x24);
        else _dataOut.ToArray().CopyTo(Disk, lba * 512);
        _bot = BotState.Csw;
    }
}
