using System.Buffers.Binary;
using System.Text;
using Photon.Kernel.Hal.Pci;

namespace Photon.Kernel.Tests.Drivers.Nvme;

/// <summary>
/// A small in-process NVMe controller behind the PCI HAL, for driver unit tests (the acceptance test is QEMU's real
/// emulated controller, <c>VmTests</c>): registers (CAP/VS/CC/CSTS/AQA/ASQ/ACQ, doorbells), admin commands (Identify,
/// Set Features number of queues, create/delete I/O queues), Read/Write/Flush with PRP1/PRP2/PRP lists against a byte
/// array, completions with phase bits. Commands run when their SQ doorbell is written. Fault knobs: swallow commands of
/// one opcode (a hung command), or complete the next I/O command with a given status, or hold writes the way QEMU's
/// write throttle does (below); the hostile-device knobs of issue #17's attacker review (settable CAP, MDTS and LBA
/// formats, reads completed without DMA, duplicate completions, a stray flood, a device that never goes not-ready). MSI-X only when <see cref="Msix"/> is set (otherwise the driver polls): each CQ that
/// was created with interrupts enabled signals its vector after a completion, from a thread-pool thread (the line).
/// </summary>
internal sealed class NvmeDeviceModel : IPciFunction
{
    private const int Page = 4096;
    private readonly object _gate = new();
    private readonly byte[] _config = new byte[4096];
    private readonly List<Dma> _dma = [];
    private readonly Dictionary<int, (ulong Address, int Entries, int Cq)> _sqs = [];
    private readonly Dictionary<int, (ulong Address, int Entries)> _cqs = [];
    private readonly Dictionary<int, int> _sqHead = [], _cqTail = [];
    private readonly Dictionary<int, bool> _cqPhase = [];
    private ulong _nextAddress = 1UL << 32;
    private readonly Bar _bar;

    public NvmeDeviceModel(long blocks, int blockSize = 512, int maxQueues = 4)
    {
        Disk = new byte[blocks * blockSize];
        BlockSize = blockSize;
        MaxQueues = maxQueues;
        _bar = new Bar(this);
        Info = new PciFunctionInfo(new PciAddress(0, 0, 4, 0), 0x1b36, 0x0010, 0x010802, "model");
    }

    public byte[] Disk { get; }
    public int BlockSize { get; }
    public int MaxQueues { get; }

    // Hostile-device knobs (issue #17's attacker review): what Identify and CAP report, and misbehaving completions.
    /// <summary>CAP as the driver reads it: MQES 63 (64 entries), CQR, TO 2 (1 s), DSTRD 0, CSS NVM, MPSMIN 4 KiB.</summary>
    public ulong Cap { get; set; } = 63UL | (1UL << 16) | (2UL << 24) | (1UL << 37);
    /// <summary>Identify controller MDTS (byte 77): the largest transfer is 4 KiB &lt;&lt; MDTS; zero means no limit.</summary>
    public byte Mdts { get; set; } = 5;
    /// <summary>Identify namespace NLBAF (byte 25, formats less one), FLBAS (byte 26) and every format's metadata size.</summary>
    public byte Nlbaf { get; set; }
    public byte Flbas { get; set; }
    public ushort MetadataSize { get; set; }
    /// <summary>NSZE as Identify namespace reports it (default: the disk's size in blocks); change it to resize the
    /// namespace under the driver.</summary>
    public long? IdentifyBlocks { get; set; }
    /// <summary>Reads complete with success without writing a byte (QEMU under an IOMMU fault does this).</summary>
    public bool CompleteWithoutDma { get; set; }
    /// <summary>Reads complete with success but leave this page of their transfer unwritten (an IOMMU blocked one
    /// page of a multi-page DMA).</summary>
    public int? SkipDmaPage { get; set; }
    /// <summary>The next I/O completion is posted again when the next I/O command is submitted on its queue (the CID
    /// just reused), and that command is held (<see cref="ReleaseHeld"/>).</summary>
    public bool DuplicateCompletion { get; set; }
    private (int Cq, int Sq, ushort Cid, ushort Status)? _duplicate;
    /// <summary>Every time the driver reads an I/O completion queue's next entry, the device has just written a stray
    /// one there (CID 0xFFFF) with the expected phase: an endless flood.</summary>
    public bool StrayFlood { get; set; }
    /// <summary>Clearing CC.EN never brings CSTS.RDY to 0: the device keeps running (and may write its queues).</summary>
    public bool NeverNotReady { get; set; }
    /// <summary>DMA buffers the driver freed.</summary>
    public int FreedDma { get; private set; }
    /// <summary>Runs (under the device's lock) when the driver requests a normal shutdown (CC.SHN).</summary>
    public Action? OnShutdown { get; set; }
    public PciFunctionInfo Info { get; }
    public byte? HangOpcode { get; set; }
    public ushort? FailNextIoWithStatus { get; set; }
    /// <summary>A hostile device: I/O completions are written with the stale phase bit, so a driver never sees them.</summary>
    public bool StalePhase { get; set; }
    /// <summary>QEMU's throttled device (<c>-drive throttling.iops-write</c>): writes wait inside the device, uncompleted.
    /// A controller reset (CC.EN 1 → 0) drains them as QEMU's <c>nvme_ctrl_reset</c> → <c>blk_drain</c> does: they land
    /// on the disk, complete to no queue, and each is charged to <see cref="ThrottleDebt"/>.</summary>
    public bool ThrottleWrites { get; set; }
    /// <summary>Writes the throttle has yet to pay back: while above zero, every new write waits too (set it to zero
    /// for "the debt is paid").</summary>
    public int ThrottleDebt { get; set; }
    /// <summary>A slow device: I/O reads and writes wait inside it, uncompleted, until <see cref="ReleaseHeld"/> (a
    /// controller reset drops them, as a hung command). <see cref="Held"/> counts them, <see cref="MaxHeld"/> the most
    /// held at once — how many commands the driver had in flight at the device together.</summary>
    public bool HoldIo { get; set; }
    private readonly List<(int Sq, ushort Cid, byte Opcode, ulong Lba, int Blocks, ulong Prp1, ulong Prp2)> _heldIo = [];
    public int Held { get { lock (_gate) return _heldIo.Count; } }
    public int MaxHeld { get; private set; }

    /// <summary>Runs and completes every held command (in the order they arrived); returns how many.</summary>
    public int ReleaseHeld()
    {
        lock (_gate)
        {
            var held = _heldIo.ToList();
            _heldIo.Clear();
            foreach (var c in held)
            {
                if (!_sqs.TryGetValue(c.Sq, out var q)) continue;
                ushort status = Io(c.Opcode, c.Lba, c.Blocks, c.Prp1, c.Prp2);
                Complete(q.Cq, c.Sq, c.Cid, 0, status);
            }
            return held.Count;
        }
    }
    /// <summary>Held writes a controller reset drained onto the disk.</summary>
    public int DrainedWrites { get; private set; }
    /// <summary>The most held writes one controller reset drained: how many the driver had at the device together.</summary>
    public int MostDrainedByOneReset { get; private set; }
    private readonly List<(ulong Lba, int Blocks, ulong Prp1, ulong Prp2)> _heldWrites = [];
    /// <summary>SQ tail doorbell writes on the I/O queues (how many times the driver rang for new commands).</summary>
    public int IoDoorbells { get; private set; }
    public int Enables { get; private set; }
    public int Flushes { get; private set; }
    public int Commands { get; private set; }
    /// <summary>PRP1 of every I/O command, in submission order (which buffers the device was given), while
    /// <see cref="RecordDataAddresses"/>.</summary>
    public List<ulong> DataAddressesUsed { get; } = [];
    /// <summary>Off, the model allocates nothing per command (for tests that count the driver's allocations).</summary>
    public bool RecordDataAddresses { get; set; } = true;
    public bool ShutDown { get; private set; }
    public bool Disposed { get; private set; }
    /// <summary>How many times the function was disposed (a driver disposes it once, or never when it keeps it).</summary>
    public int Disposals { get; private set; }
    public ushort CommandRegister => BinaryPrimitives.ReadUInt16LittleEndian(_config.AsSpan(4));

    private uint _cc, _csts, _aqa;
    private ulong _asq, _acq;

    public uint ReadConfig32(int offset) => BinaryPrimitives.ReadUInt32LittleEndian(_config.AsSpan(offset));
    public ushort ReadConfig16(int offset) => BinaryPrimitives.ReadUInt16LittleEndian(_config.AsSpan(offset));
    public byte ReadConfig8(int offset) => _config[offset];
    public void WriteConfig32(int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(_config.AsSpan(offset), value);
    public void WriteConfig16(int offset, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(_config.AsSpan(offset), value);

    public Result<IMmioRegion> MapBar(int index) =>
        index == 0 ? Result<IMmioRegion>.Success(_bar) : Result<IMmioRegion>.Fail(ErrorCode.NotFound, $"BAR{index} absent");

    public Result<IDmaBuffer> AllocateDma(int bytes)
    {
        if (bytes <= 0) return Result<IDmaBuffer>.Fail(ErrorCode.OutOfRange, "size");
        lock (_gate)
        {
            int length = (bytes + Page - 1) / Page * Page;
            var d = new Dma(this, new byte[length], bytes, _nextAddress);
            _nextAddress += (ulong)length;
            _dma.Add(d);
            return Result<IDmaBuffer>.Success(d);
        }
    }

    /// <summary>Offer MSI-X (before the driver starts).</summary>
    public bool Msix { get; set; }
    /// <summary>The vectors the driver enabled (empty without <see cref="Msix"/>).</summary>
    public List<ModelInterrupt> Interrupts { get; } = [];
    private readonly Dictionary<int, int> _cqVector = [];

    public Result<IReadOnlyList<IDeviceInterrupt>> EnableMsix(int vectors)
    {
        if (!Msix) return Result<IReadOnlyList<IDeviceInterrupt>>.Fail(ErrorCode.NotSupported, "the model has no MSI-X");
        lock (_gate)
        {
            for (int v = 0; v < vectors; v++) Interrupts.Add(new ModelInterrupt(v));
            return Result<IReadOnlyList<IDeviceInterrupt>>.Success([.. Interrupts]);
        }
    }

    /// <summary>One MSI-X vector of the model: a signal runs the driver's line handler, if it gave one, on a
    /// thread-pool thread, else completes a pending <see cref="WaitAsync"/>.</summary>
    internal sealed class ModelInterrupt(int vector) : IDeviceInterrupt, IThreadPoolWorkItem
    {
        private readonly object _gate = new();
        private TaskCompletionSource<long>? _waiter;
        private long _pending;
        private volatile Action? _handler;
        public int Vector { get; } = vector;
        public int Signals, HandledOnLine, Waits;

        public bool TryHandleOnLine(Action handler) { _handler = handler; return true; }

        public ValueTask<long> WaitAsync(CancellationToken ct)
        {
            Interlocked.Increment(ref Waits);
            lock (_gate)
            {
                if (_pending > 0) { var n = _pending; _pending = 0; return new ValueTask<long>(n); }
                _waiter ??= new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
                return new ValueTask<long>(_waiter.Task.WaitAsync(ct));
            }
        }

        public void Signal()
        {
            Interlocked.Increment(ref Signals);
            // The line itself is the work item: a signal allocates nothing.
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }

        void IThreadPoolWorkItem.Execute()
        {
            if (_handler is { } h) { Interlocked.Increment(ref HandledOnLine); h(); return; }
            TaskCompletionSource<long>? w;
            lock (_gate) { _pending++; w = _waiter; _waiter = null; if (w is not null) _pending = 0; }
            w?.TrySetResult(1);
        }

        public void Dispose() { }
    }

    public Result Reset() => Result.Ok;

    public void Dispose()
    {
        lock (_gate) { Disposed = true; Disposals++; _dma.Clear(); }
    }

    /// <summary>The bytes at device address <paramref name="address"/> (an IOMMU would fault on anything unmapped).</summary>
    /// <summary>The bytes the device reaches at <paramref name="address"/> (what a DMA write of its lands in).</summary>
    public byte[] DeviceMemoryArray(ulong address, out int offset)
    {
        lock (_gate)
        {
            var d = _dma.First(d => address >= d.DeviceAddress && address < d.DeviceAddress + (ulong)d.Bytes.Length);
            offset = (int)(address - d.DeviceAddress);
            return d.Bytes;
        }
    }

    private Span<byte> At(ulong address, int length)
    {
        foreach (var d in _dma)
            if (address >= d.DeviceAddress && address + (ulong)length <= d.DeviceAddress + (ulong)d.Bytes.Length)
                return d.Bytes.AsSpan((int)(address - d.DeviceAddress), length);
        throw new InvalidOperationException($"DMA fault at 0x{address:x}");
    }

    private uint ReadRegister(long offset) => offset switch
    {
        0x08 => 0x00010400,
        0x14 => _cc,
        0x1C => _csts,
        0x24 => _aqa,
        _ => 0,
    };


    private void WriteRegister(long offset, ulong value)
    {
        lock (_gate)
        {
            switch (offset)
            {
                case 0x14:
                    uint cc = (uint)value;
                    if ((cc & 1) != 0 && (_cc & 1) == 0)
                    {
                        Enables++;
                        _sqs[0] = (_asq, (int)(_aqa & 0xFFF) + 1, 0);
                        _cqs[0] = (_acq, (int)((_aqa >> 16) & 0xFFF) + 1);
                        _sqHead[0] = 0; _cqTail[0] = 0; _cqPhase[0] = true;
                        _csts = 1;
                    }
                    else if ((cc & 1) == 0 && (_cc & 1) != 0 && NeverNotReady) { }
                    else if ((cc & 1) == 0 && (_cc & 1) != 0)
                    {
                        foreach (var w in _heldWrites) Io(0x01, w.Lba, w.Blocks, w.Prp1, w.Prp2);
                        DrainedWrites += _heldWrites.Count;
                        MostDrainedByOneReset = Math.Max(MostDrainedByOneReset, _heldWrites.Count);
                        ThrottleDebt += _heldWrites.Count;
                        _heldWrites.Clear();
                        _heldIo.Clear();
                        _sqs.Clear(); _cqs.Clear(); _sqHead.Clear(); _cqTail.Clear(); _cqPhase.Clear();
                        _csts = 0;
                    }
                    if (((cc >> 14) & 3) != 0) { ShutDown = true; _csts = (_csts & ~(3u << 2)) | (2u << 2); OnShutdown?.Invoke(); }
                    _cc = cc;
                    break;
                case 0x24: _aqa = (uint)value; break;
                case 0x28: _asq = value; break;
                case 0x30: _acq = value; break;
                case >= 0x1000:
                    int index = (int)((offset - 0x1000) / 4);
                    if (index % 2 == 0 && index > 0) IoDoorbells++;
                    if (index % 2 == 0) Run(index / 2, (int)value);
                    break;
            }
        }
    }

    /// <summary>Runs the submissions of queue <paramref name="sq"/> up to <paramref name="tail"/>.</summary>
    private void Run(int sq, int tail)
    {
        if (!_sqs.TryGetValue(sq, out var q)) return;
        Span<byte> entry = stackalloc byte[64];
        while (_sqHead[sq] != tail)
        {
            At(q.Address + (ulong)(_sqHead[sq] * 64), 64).CopyTo(entry);
            _sqHead[sq] = (_sqHead[sq] + 1) % q.Entries;
            Commands++;
            var dwords = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, uint>(entry);
            byte opcode = (byte)dwords[0];
            ushort cid = (ushort)(dwords[0] >> 16);
            ulong prp1 = dwords[6] | (ulong)dwords[7] << 32, prp2 = dwords[8] | (ulong)dwords[9] << 32;
            if (sq != 0 && opcode == HangOpcode) continue;
            if (sq != 0 && opcode == 0x01 && (ThrottleWrites || ThrottleDebt > 0))
            {
                _heldWrites.Add((dwords[10] | (ulong)dwords[11] << 32, (int)(dwords[12] & 0xFFFF) + 1, prp1, prp2));
                continue;
            }
            if (sq != 0 && _duplicate is { } dup && dup.Sq == sq && opcode is 0x01 or 0x02)
            {
                // The previous command's completion again, now that its CID names this one; this one waits.
                _duplicate = null;
                Complete(dup.Cq, dup.Sq, dup.Cid, 0, dup.Status);
                _heldIo.Add((sq, cid, opcode, dwords[10] | (ulong)dwords[11] << 32, (int)(dwords[12] & 0xFFFF) + 1, prp1, prp2));
                MaxHeld = Math.Max(MaxHeld, _heldIo.Count);
                continue;
            }
            if (sq != 0 && HoldIo && opcode is 0x01 or 0x02)
            {
                _heldIo.Add((sq, cid, opcode, dwords[10] | (ulong)dwords[11] << 32, (int)(dwords[12] & 0xFFFF) + 1, prp1, prp2));
                MaxHeld = Math.Max(MaxHeld, _heldIo.Count);
                continue;
            }
            uint dw0 = 0;
            if (sq != 0 && RecordDataAddresses) DataAddressesUsed.Add(prp1);
            ushort status = sq == 0 ? Admin(opcode, dwords[1], dwords[10], dwords[11], prp1, ref dw0) : Io(opcode, dwords[10] | (ulong)dwords[11] << 32, (int)(dwords[12] & 0xFFFF) + 1, prp1, prp2);
            Complete(q.Cq, sq, cid, dw0, status);
            if (sq != 0 && DuplicateCompletion) { DuplicateCompletion = false; _duplicate = (q.Cq, sq, cid, status); }
        }
    }

    private ushort Admin(byte opcode, uint nsid, uint cdw10, uint cdw11, ulong prp1, ref uint dw0)
    {
        switch (opcode)
        {
            case 0x06 when cdw10 == 1:
                var c = At(prp1, Page);
                c.Clear();
                Encoding.ASCII.GetBytes("MODEL0001".PadRight(20)).CopyTo(c[4..]);
                Encoding.ASCII.GetBytes("Photon NVMe Model".PadRight(40)).CopyTo(c[24..]);
                Encoding.ASCII.GetBytes("1.0".PadRight(8)).CopyTo(c[64..]);
                c[77] = Mdts;
                BinaryPrimitives.WriteUInt32LittleEndian(c[516..], 1);
                return 0;
            case 0x06 when cdw10 == 0 && nsid == 1:
                var n = At(prp1, Page);
                n.Clear();
                BinaryPrimitives.WriteInt64LittleEndian(n, IdentifyBlocks ?? Disk.Length / BlockSize);
                n[25] = Nlbaf;
                n[26] = Flbas;
                for (int f = 0; f < 16; f++)
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(n[(128 + 4 * f)..], MetadataSize);
                    n[128 + 4 * f + 2] = (byte)(BlockSize == 512 ? 9 : 12);
                }
                return 0;
            case 0x06: return 0x0B;
            case 0x09 when (cdw10 & 0xFF) == 7:
                uint granted = (uint)Math.Min(MaxQueues, (int)(cdw11 & 0xFFFF) + 1) - 1;
                dw0 = granted << 16 | granted;
                return 0;
            case 0x05:
                int cqid = (int)(cdw10 & 0xFFFF);
                if (cqid == 0 || cqid > MaxQueues || _cqs.ContainsKey(cqid)) return 0x101;
                _cqs[cqid] = (prp1, (int)(cdw10 >> 16) + 1); _cqTail[cqid] = 0; _cqPhase[cqid] = true;
                _cqVector[cqid] = (cdw11 & 2) != 0 ? (int)(cdw11 >> 16) : -1;
                return 0;
            case 0x01:
                int sqid = (int)(cdw10 & 0xFFFF);
                if (sqid == 0 || sqid > MaxQueues || _sqs.ContainsKey(sqid) || !_cqs.ContainsKey((int)(cdw11 >> 16))) return 0x101;
                _sqs[sqid] = (prp1, (int)(cdw10 >> 16) + 1, (int)(cdw11 >> 16)); _sqHead[sqid] = 0;
                return 0;
            default: return 0x01;
        }
    }

    private ushort Io(byte opcode, ulong lba, int blocks, ulong prp1, ulong prp2)
    {
        if (FailNextIoWithStatus is { } fail) { FailNextIoWithStatus = null; return fail; }
        if (opcode == 0x00) { Flushes++; return 0; }
        if (opcode is not (0x01 or 0x02)) return 0x01;
        long bytes = (long)blocks * BlockSize;
        if ((long)lba * BlockSize + bytes > Disk.Length) return 0x80;
        // PRP walk: the first page from PRP1, then PRP2 as the second page or as a list of page addresses.
        int count = (int)((bytes + Page - 1) / Page);
        long diskAt = (long)lba * BlockSize;
        for (int i = 0; i < count; i++)
        {
            int length = (int)Math.Min(Page, bytes - i * (long)Page);
            ulong page = i == 0 ? prp1 : count == 2 ? prp2 : BinaryPrimitives.ReadUInt64LittleEndian(At(prp2 + (ulong)((i - 1) * 8), 8));
            var mem = At(page, length);
            var disk = Disk.AsSpan((int)(diskAt + i * (long)Page), length);
            if (opcode == 0x02) { if (!CompleteWithoutDma && SkipDmaPage != i) disk.CopyTo(mem); }
            else mem.CopyTo(disk);
        }
        return 0;
    }

    /// <summary><see cref="StrayFlood"/>: the driver is about to read <paramref name="offset"/> of DMA buffer
    /// <paramref name="address"/>; if that is the DW3 of an I/O CQ's next entry, a stray completion lands there first.</summary>
    private void BeforeRead(ulong address, int offset)
    {
        if (!StrayFlood || offset % 16 != 12) return;
        lock (_gate)
        {
            foreach (var (cq, q) in _cqs)
            {
                if (cq == 0 || q.Address != address || offset / 16 != _cqTail[cq]) continue;
                int sq = _sqs.FirstOrDefault(s => s.Value.Cq == cq).Key;
                if (sq != 0) Complete(cq, sq, 0xFFFF, 0, 0, signal: false);
                return;
            }
        }
    }

    private void Complete(int cq, int sq, ushort cid, uint dw0, ushort status, bool signal = true)
    {
        var q = _cqs[cq];
        var e = At(q.Address + (ulong)(_cqTail[cq] * 16), 16);
        BinaryPrimitives.WriteUInt32LittleEndian(e, dw0);
        BinaryPrimitives.WriteUInt32LittleEndian(e[8..], (uint)_sqHead[sq] | (uint)sq << 16);
        // DW3 last, with the phase bit: the driver may be polling this entry.
        bool phase = _cqPhase[cq] ^ (StalePhase && sq != 0);
        uint dw3 = cid | (phase ? 1u << 16 : 0) | (uint)status << 17;
        Volatile.Write(ref System.Runtime.InteropServices.MemoryMarshal.Cast<byte, uint>(e)[3], dw3);
        if (++_cqTail[cq] == q.Entries) { _cqTail[cq] = 0; _cqPhase[cq] = !_cqPhase[cq]; }
        int vector = cq == 0 ? 0 : _cqVector.GetValueOrDefault(cq, -1);
        if (signal && vector >= 0 && vector < Interrupts.Count) Interrupts[vector].Signal();
    }

    private sealed class Bar(NvmeDeviceModel device) : IMmioRegion
    {
        public long Length => 0x2000;
        public uint Read32(long offset) { Check(offset, 4); lock (device._gate) return offset == 0 ? (uint)device.Cap : offset == 4 ? (uint)(device.Cap >> 32) : device.ReadRegister(offset); }
        public ulong Read64(long offset) { Check(offset, 8); return offset == 0 ? device.Cap : device.ReadRegister(offset) | (ulong)device.ReadRegister(offset + 4) << 32; }
        public void Write32(long offset, uint value) { Check(offset, 4); device.WriteRegister(offset, value); }
        public void Write64(long offset, ulong value) { Check(offset, 8); device.WriteRegister(offset, value); }
        // As the VFIO mapping (VfioMmioRegion): an access outside the BAR throws.
        private void Check(long offset, int width)
        {
            if (offset < 0 || offset > Length - width) throw new ArgumentOutOfRangeException(nameof(offset), offset, "outside BAR0");
        }
    }

    private sealed class Dma(NvmeDeviceModel device, byte[] bytes, int length, ulong address) : IDmaBuffer
    {
        public byte[] Bytes { get; } = bytes;
        public int Length { get; } = length;
        public ulong DeviceAddress { get; } = address;
        public Memory<byte> Memory => Bytes.AsMemory(0, Length);
        public uint ReadVolatile32(int offset)
        {
            device.BeforeRead(DeviceAddress, offset);
            return Volatile.Read(ref System.Runtime.InteropServices.MemoryMarshal.Cast<byte, uint>(Bytes.AsSpan(offset, 4))[0]);
        }
        public void WriteVolatile32(int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Bytes.AsSpan(offset), value);
        public ushort ReadVolatile16(int offset) => BinaryPrimitives.ReadUInt16LittleEndian(Bytes.AsSpan(offset));
        public void WriteVolatile16(int offset, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(Bytes.AsSpan(offset), value);
        public ulong ReadVolatile64(int offset) => BinaryPrimitives.ReadUInt64LittleEndian(Bytes.AsSpan(offset));
        public void WriteVolatile64(int offset, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(Bytes.AsSpan(offset), value);
        public void Dispose() { lock (device._gate) { device._dma.Remove(this); device.FreedDma++; } }
    }
}
