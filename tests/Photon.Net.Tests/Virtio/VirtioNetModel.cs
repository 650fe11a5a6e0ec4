using System.Buffers.Binary;
using Photon.Kernel.Drivers.Net;
using Photon.Kernel.Hal.Pci;
using Photon.Kernel.Tests.Support.Pci;

namespace Photon.Net.Tests.Virtio;

/// <summary>Ways the model can misbehave, for the hostile-device tests.</summary>
public enum VirtioFault { None, UsedIndexJump, UsedIdOutOfRange, UsedLengthTooLong, UsedIdNotInFlight }

/// <summary>
/// An in-process virtio-net device (virtio 1.2 §4.1, §5.1) on a <see cref="FakePciFunction"/>: the PCI capabilities,
/// the common configuration, the notify area and the device configuration in BAR4, and split virtqueues processed
/// through the test IOMMU exactly as QEMU's device walks them — chains followed through the descriptor table, the
/// used ring written then its index, an MSI-X message unless the driver set VIRTQ_AVAIL_F_NO_INTERRUPT — or, with
/// EVENT_IDX, only when the used index passes the driver's used_event, and avail_event written after each pass over a
/// ring so the driver can skip kicks. Transmit offloads are carried out (<see cref="VirtioNetOffloadModel"/>). Transmitted
/// frames go to <see cref="Transmitted"/>; <see cref="Inject"/> is the wire side. With <see cref="TransmittedSegment"/>
/// set, a TSO frame leaves whole with its header instead (a host that passes 64 KiB segments on, as Linux's tap and GRO
/// do), and <see cref="InjectSegment"/> hands such a segment to the driver whole when it negotiated GUEST_TSO4, cut
/// into MSS-sized frames otherwise. Everything under one lock; the wire callback runs outside it, so two models can be
/// cabled together.
/// </summary>
public sealed class VirtioNetModel
{
    private sealed class Queue
    {
        public ushort Size = 256, Vector = 0xFFFF, Enable;
        public ulong Desc, Driver, Device;
        public ushort LastAvail, UsedIdx;
    }

    private const long Common = 0x0, Isr = 0x1000, DeviceCfg = 0x2000, Notify = 0x3000;
    private const int NotifyMultiplier = 4, HeaderSize = 12;
    private readonly Lock _lock = new();
    private readonly Queue[] _queues;
    private readonly Queue<(byte[]? Header, byte[] Frame)>[] _backlog;
    private readonly List<(byte[] Header, byte[] Frame)> _segmentsOut = new();
    private readonly byte[] _mac;
    private uint _dfSelect, _gfSelect;
    private ulong _driverFeatures;
    private byte _status;
    private ushort _queueSelect, _configVector = 0xFFFF;
    private int _activePairs = 1;

    public VirtioNetModel(byte[] mac, int pairs = 1, string address = "0000:00:04.0", int msixVectors = 8)
    {
        _mac = mac;
        Pairs = pairs;
        if (pairs > 1) OfferedFeatures |= (1UL << 22) | (1UL << 17); // MQ, CTRL_VQ
        _queues = Enumerable.Range(0, 2 * pairs + 1).Select(_ => new Queue()).ToArray();
        _backlog = Enumerable.Range(0, pairs).Select(_ => new Queue<(byte[]?, byte[])>()).ToArray();
        Function = new FakePciFunction(new PciFunctionInfo(PciAddress.Parse(address).Value, 0x1AF4, 0x1041, 0x020000, null)) { MsixVectors = msixVectors };
        static byte[] Cap(byte type, uint offset, uint length, uint? multiplier = null)
        {
            var b = new byte[multiplier is null ? 14 : 18];
            b[0] = (byte)(b.Length + 2);
            b[1] = type;
            b[2] = 4;
            BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(6), offset);
            BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(10), length);
            if (multiplier is { } m) BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(14), m);
            return b;
        }
        Function.SetCapabilities(
            (0x11, new byte[10]), // MSI-X
            (0x09, Cap(1, (uint)Common, 0x38)),
            (0x09, Cap(2, (uint)Notify, 0x1000, NotifyMultiplier)),
            (0x09, Cap(3, (uint)Isr, 4)),
            (0x09, Cap(4, (uint)DeviceCfg, 12)));
        Function.Bars[4] = new FakeMmio(0x4000, Read, Write);
    }

    public FakePciFunction Function { get; }
    public int Pairs { get; }
    /// <summary>VERSION_1, MAC, STATUS, CSUM, GUEST_CSUM, HOST_TSO4 and EVENT_IDX, as QEMU's virtio-net on a tap offers.</summary>
    public ulong OfferedFeatures { get; set; } = (1UL << 32) | (1UL << 5) | (1UL << 16) | (1UL << 0) | (1UL << 1) | (1UL << 11) | (1UL << 29);
    public ulong DriverFeatures { get { lock (_lock) return _driverFeatures; } }
    public byte DeviceStatus { get { lock (_lock) return _status; } }
    public int ActivePairs { get { lock (_lock) return _activePairs; } }
    public bool LinkUp { get; set; } = true;
    /// <summary>What the device configuration's <c>max_virtqueue_pairs</c> claims (null: the pairs it has).</summary>
    public ushort? ClaimedPairs { get; set; }
    public ushort QueueVector(int index) { lock (_lock) return _queues[index].Vector; }
    public VirtioFault Fault { get; set; }
    /// <summary>Used entries written before <see cref="Fault"/> applies (0: from the first): a fault mid-batch.</summary>
    public int FaultAfter { get; set; }
    private int _pushed;
    /// <summary>The virtio_net_hdr written before each received frame (default: zeroed): a test plays a host that
    /// offloads checksums (GUEST_CSUM: DATA_VALID, NEEDS_CSUM), or a hostile device. It may change the frame in place.</summary>
    public Func<byte[], byte[]?>? ReceiveHeader { get; set; }
    public long Notifications;
    /// <summary>DMA faults the model hit (a driver that gave it a bad address).</summary>
    public long DmaFaults;
    public Action<byte[]>? Transmitted { get; set; }
    /// <summary>Where a TSO frame goes whole, with a copy of its virtio_net_hdr (null: it is cut into wire frames).</summary>
    public Action<byte[], byte[]>? TransmittedSegment { get; set; }
    /// <summary>Large segments handed to the driver whole (GUEST_TSO4), and the frames cut from ones it could not take.</summary>
    public long SegmentsDeliveredWhole, SegmentsCut;
    public const ulong GuestTso4 = 1UL << 7, GuestTso6 = 1UL << 8, HostTso6 = 1UL << 12, MrgRxbuf = 1UL << 15;
    /// <summary>With MRG_RXBUF: the num_buffers written for a frame, given the frame and how many buffers it really filled
    /// (default: that many) — a hostile device claims 0, too many, or more than it completed.</summary>
    public Func<byte[], int, int>? MergedBuffers { get; set; }
    /// <summary>Frames delivered across more than one buffer (MRG_RXBUF).</summary>
    public long MergedFrames;
    /// <summary>Transmit kicks only wake the device; it walks the TX ring when the test calls <see cref="RunTransmit"/>
    /// (a device still busy with earlier buffers, as QEMU's TX bottom half is).</summary>
    public bool DeferTransmit { get; set; }

    /// <summary>A wedged device: a write of 0 to the status is ignored (the reset never completes).</summary>
    public bool ResetHangs { get; set; }
    /// <summary>Offloads carried out: checksums filled, TSO frames cut, and the wire frames that came out of them.</summary>
    public long ChecksumsFilled, TsoFrames, WireFrames, LargestWireFrame;
    /// <summary>Offload requests that broke the rules (not negotiated, offsets outside the frame, a wrong partial sum); the
    /// last reason in <see cref="LastViolation"/>.</summary>
    public long OffloadViolations;
    public string? LastViolation;

    private bool EventIdx => (_driverFeatures & (1UL << 29)) != 0;

    /// <summary>Walks every transmit ring now (see <see cref="DeferTransmit"/>).</summary>
    public void RunTransmit()
    {
        var sent = new List<byte[]>();
        lock (_lock)
            for (int i = 1; i < 2 * Pairs; i += 2)
                if (Live && _queues[i].Enable != 0)
                    try { TransmitLocked(_queues[i], sent); }
                    catch (DmaFaultException) { Interlocked.Increment(ref DmaFaults); }
        Emit(sent);
    }

    /// <summary>Puts what a pass transmitted on the wire (outside the lock).</summary>
    private void Emit(List<byte[]> sent)
    {
        (byte[] Header, byte[] Frame)[] segments;
        lock (_lock) { segments = [.. _segmentsOut]; _segmentsOut.Clear(); }
        if (Transmitted is { } wire)
            foreach (var f in sent) wire(f);
        if (TransmittedSegment is { } whole)
            foreach (var (h, f) in segments) whole(h, f);
    }

    private ulong Read(long offset, int size)
    {
        lock (_lock)
        {
            if (offset >= DeviceCfg && offset < DeviceCfg + 12)
            {
                var cfg = new byte[16];
                _mac.CopyTo(cfg, 0);
                BinaryPrimitives.WriteUInt16LittleEndian(cfg.AsSpan(6), (ushort)(LinkUp ? 1 : 0));
                BinaryPrimitives.WriteUInt16LittleEndian(cfg.AsSpan(8), ClaimedPairs ?? (ushort)Pairs);
                BinaryPrimitives.WriteUInt16LittleEndian(cfg.AsSpan(10), 1500);
                int o = (int)(offset - DeviceCfg);
                return size switch { 1 => cfg[o], 2 => BinaryPrimitives.ReadUInt16LittleEndian(cfg.AsSpan(o)), _ => BinaryPrimitives.ReadUInt32LittleEndian(cfg.AsSpan(o)) };
            }
            var q = _queueSelect < _queues.Length ? _queues[_queueSelect] : null;
            return offset switch
            {
                0x04 => (uint)(_dfSelect == 0 ? OfferedFeatures : _dfSelect == 1 ? OfferedFeatures >> 32 : 0),
                0x10 => _configVector,
                0x12 => (ulong)_queues.Length,
                0x14 => _status,
                0x15 => 0,
                0x16 => _queueSelect,
                0x18 => q?.Size ?? 0,
                0x1A => q?.Vector ?? 0xFFFF,
                0x1C => q?.Enable ?? 0,
                0x1E => _queueSelect,
                _ => 0,
            };
        }
    }

    private void Write(long offset, int size, ulong value)
    {
        List<byte[]>? sent = null;
        lock (_lock)
        {
            var q = _queueSelect < _queues.Length ? _queues[_queueSelect] : null;
            switch (offset)
            {
                case 0x00: _dfSelect = (uint)value; break;
                case 0x08: _gfSelect = (uint)value; break;
                case 0x0C:
                    if (_gfSelect < 2) _driverFeatures = (_driverFeatures & ~(0xFFFFFFFFUL << (int)(32 * _gfSelect))) | value << (int)(32 * _gfSelect);
                    break;
                case 0x10: _configVector = (ushort)value; break;
                case 0x14:
                    if (value == 0 && ResetHangs) break; // a wedged device: the reset never completes, status stays
                    _status = (byte)value;
                    if (_status == 0) ResetLocked();
                    else if ((_status & 8) != 0 && (_driverFeatures & ~OfferedFeatures) != 0) _status &= unchecked((byte)~8);
                    break;
                case 0x16: _queueSelect = (ushort)value; break;
                case 0x18: if (q is not null) q.Size = (ushort)value; break;
                case 0x1A: if (q is not null) q.Vector = value < (ulong)Function.MsixVectors ? (ushort)value : (ushort)0xFFFF; break;
                case 0x1C: if (q is not null) q.Enable = (ushort)value; break;
                case 0x20: if (q is not null) q.Desc = (q.Desc & ~0xFFFFFFFFUL) | value; break;
                case 0x24: if (q is not null) q.Desc = (q.Desc & 0xFFFFFFFF) | value << 32; break;
                case 0x28: if (q is not null) q.Driver = (q.Driver & ~0xFFFFFFFFUL) | value; break;
                case 0x2C: if (q is not null) q.Driver = (q.Driver & 0xFFFFFFFF) | value << 32; break;
                case 0x30: if (q is not null) q.Device = (q.Device & ~0xFFFFFFFFUL) | value; break;
                case 0x34: if (q is not null) q.Device = (q.Device & 0xFFFFFFFF) | value << 32; break;
                default:
                    if (offset >= Notify && offset < Notify + 0x1000)
                    {
                        Interlocked.Increment(ref Notifications);
                        sent = new List<byte[]>();
                        if (!(DeferTransmit && value % 2 == 1 && (int)value < 2 * Pairs)) ProcessLocked((int)value, sent);
                    }
                    break;
            }
        }
        if (sent is not null) Emit(sent);
    }

    private void ResetLocked()
    {
        foreach (var q in _queues) { q.Enable = 0; q.LastAvail = 0; q.UsedIdx = 0; q.Vector = 0xFFFF; q.Size = 256; }
        foreach (var b in _backlog) b.Clear();
        _driverFeatures = 0;
        _activePairs = 1;
    }

    private bool Live => (_status & 4) != 0;

    /// <summary>A frame arrives from the wire, steered to a receive queue by the flow hash (RSS).</summary>
    public void Inject(byte[] frame)
    {
        lock (_lock)
        {
            if (!Live) return;
            int pair = (int)(Photon.Kernel.Drivers.Net.FlowHash.Of(frame) % (uint)_activePairs);
            _backlog[pair].Enqueue((null, frame));
            if (_backlog[pair].Count > 4096) _backlog[pair].Dequeue();
            DeliverLocked(pair);
        }
    }

    /// <summary>A TCP segment of up to 64 KiB arrives with its virtio_net_hdr (NEEDS_CSUM, gso_type TCPV4): whole to a
    /// driver that negotiated GUEST_TSO4, otherwise cut into wire frames first, as QEMU's tap does for such a guest.</summary>
    public void InjectSegment(byte[] header, byte[] frame)
    {
        List<byte[]>? cut = null;
        lock (_lock)
        {
            if (!Live) return;
            if ((_driverFeatures & GuestTso4) == 0)
            {
                cut = VirtioNetOffloadModel.Apply(header, frame, VirtioNetOffloadModel.Csum | VirtioNetOffloadModel.HostTso4, out _) ?? [];
                SegmentsCut += cut.Count;
            }
            else
            {
                int pair = (int)(Photon.Kernel.Drivers.Net.FlowHash.Of(frame) % (uint)_activePairs);
                _backlog[pair].Enqueue(((byte[])header.Clone(), frame));
                if (_backlog[pair].Count > 4096) _backlog[pair].Dequeue();
                DeliverLocked(pair);
            }
        }
        if (cut is not null) foreach (var f in cut) Inject(f);
    }

    private void ProcessLocked(int index, List<byte[]> sent)
    {
        if (!Live || index >= _queues.Length || _queues[index].Enable == 0) return;
        try
        {
            if (index == _queues.Length - 1) ControlLocked(_queues[index]);
            else if (index % 2 == 1) TransmitLocked(_queues[index], sent);
            else DeliverLocked(index / 2);
        }
        catch (DmaFaultException) { Interlocked.Increment(ref DmaFaults); }
    }

    private FakeDmaSpace Dma => Function.Dma;

    /// <summary>Pops the next available chain: (head, segments).</summary>
    private (ushort Head, List<(ulong Addr, uint Len, bool Write)> Segs)? PopLocked(Queue q)
    {
        ushort availIdx = Dma.Read16(q.Driver + 2);
        if (availIdx == q.LastAvail) return null;
        ushort head = Dma.Read16(q.Driver + 4 + 2UL * (ulong)(q.LastAvail % q.Size));
        q.LastAvail++;
        var segs = new List<(ulong, uint, bool)>();
        ushort d = head;
        for (int n = 0; n < q.Size; n++)
        {
            if (d >= q.Size) throw new DmaFaultException(q.Desc, d);
            ulong at = q.Desc + 16UL * d;
            ushort flags = Dma.Read16(at + 12);
            segs.Add((Dma.Read64(at), Dma.Read32(at + 8), (flags & 2) != 0));
            if ((flags & 1) == 0) break;
            d = Dma.Read16(at + 14);
        }
        return (head, segs);
    }

    private void PushLocked(Queue q, ushort head, uint len)
    {
        uint id = head;
        ushort step = 1;
        switch (_pushed++ >= FaultAfter ? Fault : VirtioFault.None)
        {
            case VirtioFault.UsedIdOutOfRange: id = (uint)q.Size + 7; break;
            case VirtioFault.UsedIdNotInFlight: // the same buffer completed twice: the second time it is not in flight
                Dma.Write32(q.Device + 4 + 8UL * (ulong)(q.UsedIdx % q.Size), id);
                Dma.Write32(q.Device + 8 + 8UL * (ulong)(q.UsedIdx % q.Size), len);
                q.UsedIdx++;
                break;
            case VirtioFault.UsedLengthTooLong: len = 1 << 20; break;
            case VirtioFault.UsedIndexJump: step = (ushort)(q.Size * 3 + 5); break;
        }
        ulong entry = q.Device + 4 + 8UL * (ulong)(q.UsedIdx % q.Size);
        Dma.Write32(entry, id);
        Dma.Write32(entry + 4, len);
        q.UsedIdx += step;
        Dma.Write16(q.Device + 2, q.UsedIdx);
    }

    /// <summary>After a pass that moved the used index from <paramref name="before"/>: with EVENT_IDX, tells the driver
    /// which avail index to kick at (the next one) and interrupts only if the pass crossed used_event (vring_need_event).</summary>
    private void InterruptLocked(Queue q, ushort before)
    {
        if (EventIdx)
        {
            Dma.Write16(q.Device + 4 + 8UL * q.Size, q.LastAvail);
            ushort ev = Dma.Read16(q.Driver + 4 + 2UL * q.Size);
            if ((ushort)(q.UsedIdx - ev - 1) >= (ushort)(q.UsedIdx - before)) return;
        }
        else if ((Dma.Read16(q.Driver) & 1) != 0) return; // VIRTQ_AVAIL_F_NO_INTERRUPT
        Function.Interrupt(q.Vector)?.Fire();
    }

    private void TransmitLocked(Queue q, List<byte[]> sent)
    {
        bool any = false;
        ushort before = q.UsedIdx;
        while (PopLocked(q) is { } chain)
        {
            var bytes = new List<byte>();
            foreach (var (addr, len, write) in chain.Segs)
                if (!write) bytes.AddRange(Dma.ReadBytes(addr, (int)len));
            if (bytes.Count > HeaderSize && TransmittedSegment is not null && bytes[1] != 0 && (_driverFeatures & VirtioNetOffloadModel.HostTso4) != 0)
            {
                var all = bytes.ToArray();
                TsoFrames++;
                _segmentsOut.Add((all[..HeaderSize], all[HeaderSize..]));
            }
            else if (bytes.Count > HeaderSize)
            {
                var all = bytes.ToArray();
                var header = all.AsSpan(0, HeaderSize);
                var wire = VirtioNetOffloadModel.Apply(header, all[HeaderSize..], _driverFeatures, out var violation);
                if (wire is null) { OffloadViolations++; LastViolation = violation; }
                else
                {
                    if ((header[0] & 1) != 0) ChecksumsFilled++;
                    if (header[1] != 0) TsoFrames++;
                    foreach (var f in wire)
                    {
                        WireFrames++;
                        LargestWireFrame = Math.Max(LargestWireFrame, f.Length);
                        sent.Add(f);
                    }
                }
            }
            PushLocked(q, chain.Head, 0);
            any = true;
        }
        if (any) InterruptLocked(q, before);
    }

    private void DeliverLocked(int pair)
    {
        var q = _queues[2 * pair];
        if (q.Enable == 0) return;
        bool any = false;
        ushort before = q.UsedIdx;
        try
        {
            while (_backlog[pair].Count > 0 && (_driverFeatures & MrgRxbuf) != 0)
            {
                // MRG_RXBUF: the frame fills as many posted buffers as it needs, published together (QEMU's
                // virtio_net_receive: fill each, one flush); it waits in the backlog until the ring has enough.
                var (mergedHeader, mergedFrame) = _backlog[pair].Peek();
                if (!DeliverMergedLocked(q, mergedHeader, mergedFrame)) break;
                _backlog[pair].Dequeue();
                any = true;
            }
            while (_backlog[pair].Count > 0 && (_driverFeatures & MrgRxbuf) == 0 && PopLocked(q) is { } chain)
            {
                var (segmentHeader, frame) = _backlog[pair].Dequeue();
                var (addr, len, write) = chain.Segs[0];
                if (!write || len < HeaderSize + frame.Length) { PushLocked(q, chain.Head, 0); any = true; continue; }
                var hdr = segmentHeader ?? ReceiveHeader?.Invoke(frame) ?? new byte[HeaderSize];
                if (segmentHeader is not null) SegmentsDeliveredWhole++;
                hdr[10] = 1; // num_buffers
                Dma.WriteBytes(addr, hdr);
                Dma.WriteBytes(addr + HeaderSize, frame);
                PushLocked(q, chain.Head, (uint)(HeaderSize + frame.Length));
                any = true;
            }
        }
        catch (DmaFaultException) { Interlocked.Increment(ref DmaFaults); }
        if (any) InterruptLocked(q, before);
    }

    private bool DeliverMergedLocked(Queue q, byte[]? segmentHeader, byte[] frame)
    {
        var data = new byte[HeaderSize + frame.Length];
        (segmentHeader ?? ReceiveHeader?.Invoke(frame) ?? new byte[HeaderSize]).AsSpan(0, HeaderSize).CopyTo(data);
        frame.CopyTo(data, HeaderSize);
        ushort start = q.LastAvail;
        var used = new List<(ushort Head, ulong Addr, int Length)>();
        for (int at = 0; at < data.Length;)
        {
            if (PopLocked(q) is not { } chain) { q.LastAvail = start; return false; }
            var (addr, len, write) = chain.Segs[0];
            if (!write || len == 0) throw new DmaFaultException(addr, 0);
            int n = Math.Min((int)len, data.Length - at);
            used.Add((chain.Head, addr, n));
            at += n;
        }
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(10), (ushort)(MergedBuffers?.Invoke(frame, used.Count) ?? used.Count));
        int offset = 0;
        foreach (var (head, addr, length) in used)
        {
            Dma.WriteBytes(addr, data.AsSpan(offset, length));
            offset += length;
            ulong entry = q.Device + 4 + 8UL * (ulong)(q.UsedIdx % q.Size);
            Dma.Write32(entry, head);
            Dma.Write32(entry + 4, (uint)length);
            q.UsedIdx++;
        }
        Dma.Write16(q.Device + 2, q.UsedIdx);
        if (segmentHeader is not null) SegmentsDeliveredWhole++;
        if (used.Count > 1) MergedFrames++;
        return true;
    }

    private void ControlLocked(Queue q)
    {
        while (PopLocked(q) is { } chain)
        {
            var cmd = Dma.ReadBytes(chain.Segs[0].Addr, 2);
            byte ack = 1;
            if (cmd[0] == 4 && cmd[1] == 0 && chain.Segs.Count == 3)
            {
                int pairs = Dma.Read16(chain.Segs[1].Addr);
                if (pairs >= 1 && pairs <= Pairs) { _activePairs = pairs; ack = 0; }
            }
            Dma.WriteBytes(chain.Segs[^1].Addr, [ack]);
            PushLocked(q, chain.Head, 1);
        }
    }
}
