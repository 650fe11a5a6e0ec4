using System.Runtime.CompilerServices;
using System.Text;
using Photon.Kernel.Hal.Pci;
using Photon.Kernel.Io;
using Photon.Kernel.Scheduling;
using R = Photon.Kernel.Drivers.Nvme.NvmeRegisters;

namespace Photon.Kernel.Drivers.Nvme;

/// <summary>What the driver was asked for and how it behaves.</summary>
/// <param name="IoQueues">I/O queue pairs to create (the controller may grant fewer).</param>
/// <param name="QueueEntries">Entries per queue (capped by CAP.MQES).</param>
/// <param name="MaxTransferBytes">Largest single command (capped by MDTS); larger requests are split.</param>
/// <param name="Polling">Reap completions by polling instead of MSI-X interrupts.</param>
/// <param name="CommandTimeout">A command older than this is hung: the controller is reset and the commands in flight fail.</param>
/// <param name="WatchdogTick">How often the watchdog reaps every queue and looks for hung commands (default: a quarter
/// of the timeout, 10 to 250 ms).</param>
/// <param name="PollInline">With <paramref name="Polling"/>: the submitting thread polls the completion queue itself
/// until its command completes (SPDK's model: no sleep, no wake, no thread hop). Off, a reaper task polls and wakes the
/// submitter (the slower path, kept for the benchmark's comparison).</param>
/// <param name="HybridPoll">With MSI-X, when a command is alone on its queue: how long at most its submitter, and the
/// interrupt line after a reap, keep polling for completions before sleeping on the vector (Linux's hybrid io_poll; the
/// budget adapts to twice the queue's mean device time within this limit). Default 1 ms; zero turns it off.</param>
/// <param name="PollQueue">With MSI-X: one more I/O queue pair whose completion queue raises no interrupt, taken by a
/// single-command read or write issued while the controller has no other such command in flight (depth 1); the device
/// raises no MSI-X for it, so a depth-1 I/O costs no interrupt and no wake of the interrupt line (Linux's poll queues,
/// SPDK's polled queue pair). Its polling is bounded (Linux's hybrid io_poll): the submitter spins for at most
/// <paramref name="PollQueueSpin"/>; after that the queue's reaper sleeps on the kernel timers for about half the
/// expected device time, polls within that limit (on while a completion it delivers is replaced by the next depth-1
/// command), and sleeps again — so a slow device never
/// holds a submitter (or a burst behind it) for its whole time, and the next commands, finding one in flight, spread
/// over the interrupt queues. Needs one queue more than <paramref name="IoQueues"/> from the controller; without it the
/// driver runs as if off. On by default.</param>
/// <param name="PollQueueSpin">How long at most a poll-queue submitter spins before its command goes to the
/// sleep-poller (default 4 ms, at most 1 s; zero: one look at the CQ). Longer than <paramref name="HybridPoll"/>: the
/// sleep-poller's fallback is a kernel-timer sleep, which under QEMU's TCG costs 5–7 ms (VM bench), where the
/// interrupt queues fall back to an MSI-X; 4 ms covers QEMU's device time there (0.1–1.2 ms mean) and stays far below a
/// slow device's (a throttled disk's 125 ms), so a burst still reaches the device together.</param>
/// <param name="DeliveryDoorbellEvery">While an interrupt's completions are delivered (their continuations run on the
/// reaping thread and submit the next commands), the SQ doorbell is rung once this many new entries wait, not only at
/// the delivery's end: so the device starts on the first resubmissions while the rest of the batch is still being
/// delivered. Zero: once, at the end. Default 4: in the VM bench's paired runs the QD32 default path went 0.99x → 1.02x
/// and 0.76x → 1.06x Linux's against ringing once at the end (QEMU's device time 2.2 → 1.4 ms, 3.5 → 2.1 ms: the first
/// resubmissions no longer wait out the whole delivery), where a doorbell per entry (1) measured 0.93x.</param>
/// <param name="DepthPoll">With MSI-X: an interrupt that finds commands in flight turns its line into the controller's
/// one poller (NAPI's busy poll): it reaps every interrupt queue, ringing the doorbells of what the delivered
/// continuations resubmitted each pass, until the queues are empty or no completion came within the hybrid budget
/// (<paramref name="HybridPoll"/>), then sleeps on its vector again.</param>
public sealed record NvmeDriverOptions(int IoQueues = 2, int QueueEntries = 32, int MaxTransferBytes = 64 * 1024, bool Polling = false,
    TimeSpan? CommandTimeout = null, TimeSpan? WatchdogTick = null, bool PollInline = true, TimeSpan? HybridPoll = null, bool PollQueue = true,
    TimeSpan? PollQueueSpin = null, int DeliveryDoorbellEvery = 4, bool DepthPoll = false)
{
    public TimeSpan PollQueueSpinLimit => PollQueueSpin is { } p ? (p <= TimeSpan.Zero ? TimeSpan.Zero : TimeSpan.FromTicks(Math.Min(p.Ticks, TimeSpan.TicksPerSecond)))
        : TimeSpan.FromMilliseconds(4);
    public TimeSpan HybridPollLimit => HybridPoll is { } h && h > TimeSpan.Zero ? TimeSpan.FromTicks(Math.Min(h.Ticks, TimeSpan.TicksPerSecond))
        : HybridPoll is null ? TimeSpan.FromMilliseconds(1) : TimeSpan.Zero;
    public TimeSpan Timeout => CommandTimeout ?? TimeSpan.FromSeconds(30);
    public TimeSpan Tick => WatchdogTick is { } t && t >= TimeSpan.FromMilliseconds(1)
        ? t : TimeSpan.FromMilliseconds(Math.Clamp(Timeout.TotalMilliseconds / 4, 10, 250));
}

/// <summary>What Identify reported.</summary>
/// <param name="IoQueues">The I/O queues commands spread over (the poll queue not counted).</param>
/// <param name="PollQueue">A queue without interrupts serves depth-1 commands (<see cref="NvmeDriverOptions.PollQueue"/>).</param>
public sealed record NvmeIdentity(string Model, string Serial, string Firmware, string Version, uint Namespaces, long Blocks, int BlockSize,
    int MaxTransferBytes, int IoQueues, bool Interrupts, bool PollQueue = false);

/// <summary>
/// The controller state machine (SPDK's <c>nvme_ctrlr</c>) over one PCI function: enable memory and bus mastering,
/// reset (CC.EN=0, wait CSTS.RDY=0), admin queue (AQA/ASQ/ACQ), enable, Identify controller and namespace 1, Set
/// Features (number of queues), create the I/O completion and submission queues, with MSI-X vectors (vector 0 admin,
/// vector i queue i) or polling. A watchdog reaps every queue each tick (lost interrupts cost latency, never
/// completions) and resets the controller when a command outlives the timeout: the commands in flight fail with
/// <c>TimedOut</c> (never acknowledged, so nothing acknowledged is lost) and the queues are rebuilt. Shutdown uses
/// CC.SHN so the device flushes its cache.
/// </summary>
public sealed class NvmeController : IAsyncDisposable
{
    private const int AdminEntries = 32;
    private readonly IPciFunction _function;
    private readonly IMmioRegion _bar;
    private readonly IKernelTimers _timers;
    private readonly NvmeDriverOptions _options;
    private readonly ulong _cap;
    private readonly int _stride;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _reapers = [];
    private readonly Lock _resetGate = new();
    private NvmeQueuePair _admin = null!;
    // Every I/O queue: the interrupt queues first (round robin), then the depth-1 poll queue if there is one.
    private NvmeQueuePair[] _io = [];
    private int _spread;
    private NvmeQueuePair? _pollQueue;
    // Single-command async reads and writes in flight: the one that finds none else takes the poll queue.
    private int _asyncInFlight;
    private IReadOnlyList<IDeviceInterrupt> _interrupts = [];
    private Task _watchdog = Task.CompletedTask;
    private Task? _resetting;
    private int _next;
    private bool _closed;
    // Stray completions per queue at the watchdog's last tick.
    private long _adminStrays;
    private long[] _ioStrays = [];

    private NvmeController(IPciFunction function, IMmioRegion bar, IKernelTimers timers, NvmeDriverOptions options)
    {
        _function = function;
        _bar = bar;
        _timers = timers;
        _options = options;
        _cap = bar.Read64(R.Cap);
        _stride = R.DoorbellStride(_cap);
    }

    public NvmeIdentity Identity { get; private set; } = null!;
    public uint NamespaceId => 1;
    public long Resets { get; private set; }

    /// <summary>Brings the controller up on <paramref name="function"/>, which it owns from this call on, failure
    /// included: a failed start has disposed the function already — or, when the device never went not-ready, kept it
    /// open on purpose with its DMA memory (<see cref="LeakedOnClose"/>): the caller never disposes it either way (a
    /// second dispose would unmap the DMA memory under a device that may still write it).</summary>
    public static async Task<Result<NvmeController>> StartAsync(IPciFunction function, IKernelTimers timers, NvmeDriverOptions? options = null,
        CancellationToken ct = default)
    {
        var c = Refused(function, timers, options ??= new NvmeDriverOptions());
        if (!c.IsOk) { function.Dispose(); return c.Error; }
        var up = await c.Value.BringUpAsync(firstTime: true, ct).ConfigureAwait(false);
        if (!up.IsOk)
        {
            await c.Value.DisposeAsync().ConfigureAwait(false); // frees the function, or leaks it with the memory
            return up.Error;
        }
        c.Value._watchdog = c.Value.WatchdogAsync(c.Value._stop.Token);
        return c.Value;
    }

    /// <summary>The checks before the device is touched beyond config space and BAR0: a controller object, or why not.</summary>
    private static Result<NvmeController> Refused(IPciFunction function, IKernelTimers timers, NvmeDriverOptions options)
    {
        if (options.IoQueues is < 1 or > 64) return Errors.Of(ErrorCode.InvalidArgument, "1 to 64 I/O queues");
        if (options.QueueEntries is < 2 or > 4096) return Errors.Of(ErrorCode.InvalidArgument, "2 to 4096 queue entries");
        if (options.MaxTransferBytes < 4096 || options.MaxTransferBytes % 4096 != 0 || options.MaxTransferBytes > 2 << 20)
            return Errors.Of(ErrorCode.InvalidArgument, "maximum transfer must be whole 4 KiB pages, at most 2 MiB");
        if (function.Info.ClassCode != 0x010802) return Errors.Of(ErrorCode.NotSupported, $"{function.Info.Address} is not an NVMe controller (class {function.Info.ClassCode:x6})");
        // PCI command register: memory space + bus master (vfio-pci leaves bus mastering off).
        function.WriteConfig16(0x04, (ushort)(function.ReadConfig16(0x04) | 0x0006));
        var bar = function.MapBar(0);
        if (!bar.IsOk) return bar.Error;
        if (bar.Value.Length < 0x2000) return Errors.Of(ErrorCode.NotSupported, "BAR0 too small for NVMe registers");
        var c = new NvmeController(function, bar.Value, timers, options);
        if (!R.SupportsNvm(c._cap)) return Errors.Of(ErrorCode.NotSupported, "controller lacks the NVM command set");
        if (R.MinPageSize(c._cap) > 4096) return Errors.Of(ErrorCode.NotSupported, "controller's minimum page size exceeds 4 KiB");
        // CAP.MQES 0 would give one-entry rings: no usable slot, every I/O would wait for one forever.
        if (R.MaxQueueEntries(c._cap) < 2) return Errors.Of(ErrorCode.NotSupported, "controller's CAP.MQES allows queues of one entry");
        // CAP.DSTRD stretches the doorbells up to 128 KiB apart: the highest one the driver may ring must lie in BAR0.
        long highest = R.CompletionDoorbell(MaxQueueId(options), c._stride) + 4;
        if (highest > c._bar.Length)
            return Errors.Of(ErrorCode.NotSupported, $"doorbell stride {c._stride} B puts the doorbells beyond BAR0 ({highest} > {c._bar.Length} bytes)");
        return c;
    }

    /// <summary>The highest queue id the driver may create: the I/O queues and the poll queue.</summary>
    private static int MaxQueueId(NvmeDriverOptions options) => options.IoQueues + (options.PollQueue ? 1 : 0);

    /// <summary>MDTS (a power of two of the minimum page size; zero: no limit) as a transfer cap: anything at or above
    /// 2 MiB, the driver's own largest, means the driver's own cap (in long: 4096 &lt;&lt; 20 overflows an int to 0).</summary>
    internal static int MaxTransferFor(int mdts, int minPageSize, int driverCap)
    {
        if (mdts <= 0) return driverCap;
        long limit = mdts >= 20 ? long.MaxValue : (long)minPageSize << mdts;
        return (int)Math.Max(4096, Math.Min(driverCap, limit));
    }

    private async Task<Result> BringUpAsync(bool firstTime, CancellationToken ct)
    {
        var disabled = await DisableAsync(ct).ConfigureAwait(false);
        if (!disabled.IsOk) return disabled;
        int entries = Math.Min(_options.QueueEntries, R.MaxQueueEntries(_cap));
        if (firstTime)
        {
            var admin = NvmeQueuePair.Create(_function, _bar, _stride, 0, AdminEntries, 4096, _timers);
            if (!admin.IsOk) return admin.Error;
            _admin = admin.Value;
            if (!_options.Polling)
            {
                var msix = _function.EnableMsix(1 + _options.IoQueues);
                if (!msix.IsOk && msix.Code != ErrorCode.NotSupported) msix = _function.EnableMsix(1);
                if (msix.IsOk) _interrupts = msix.Value;
            }
            _admin.Interrupt = _interrupts.Count > 0 ? _interrupts[0] : null;
            _admin.InlinePolling = _admin.Interrupt is null && _options.PollInline;
            StartReaping(_admin);
        }
        _bar.Write32(R.Aqa, (uint)(AdminEntries - 1) << 16 | (AdminEntries - 1));
        _bar.Write64(R.Asq, _admin.SubmissionAddress);
        _bar.Write64(R.Acq, _admin.CompletionAddress);
        _bar.Write32(R.Cc, R.CcEntrySizes | R.CcEnable);
        var ready = await WaitStatusAsync(R.CstsReady, R.CstsReady, ct).ConfigureAwait(false);
        if (!ready.IsOk) return ready;

        var page = new byte[4096];
        var id = await AdminAsync(NvmeCommand.Identify(1), page, ct).ConfigureAwait(false);
        if (!id.IsOk) return id.AsResult();
        string Text(int from, int length) => Encoding.ASCII.GetString(page, from, length).Trim(' ', '\0');
        string model = Text(24, 40), serial = Text(4, 20), firmware = Text(64, 8);
        int mdts = page[77];
        uint nn = BitConverter.ToUInt32(page, 516);
        int maxTransfer = MaxTransferFor(mdts, R.MinPageSize(_cap), _options.MaxTransferBytes);
        if (nn < 1) return Errors.Of(ErrorCode.NotFound, "controller has no namespaces");
        Array.Clear(page);
        var ns = await AdminAsync(NvmeCommand.Identify(0, NamespaceId), page, ct).ConfigureAwait(false);
        if (!ns.IsOk) return ns.AsResult();
        long blocks = BitConverter.ToInt64(page, 0);
        int nlbaf = page[25], flbas = page[26], format = flbas & 0xF;
        // Metadata (interleaved, FLBAS bit 4, or in a separate buffer the driver never maps: MPTR 0) is not supported.
        if (format > nlbaf || (flbas & 0x10) != 0)
            return Errors.Of(ErrorCode.NotSupported, $"namespace 1: LBA format {format} of {nlbaf + 1}, FLBAS 0x{flbas:x2}");
        int metadata = BitConverter.ToUInt16(page, 128 + 4 * format);
        int lbads = page[128 + 4 * format + 2];
        if (blocks <= 0 || lbads is < 9 or > 12 || metadata != 0)
            return Errors.Of(ErrorCode.NotSupported, $"namespace 1: {blocks} blocks, LBADS {lbads}, {metadata} B metadata per block");
        // After a reset a mounted filesystem and the queues' buffers depend on the geometry: it must not change.
        if (!firstTime && (blocks != Identity.Blocks || 1 << lbads != Identity.BlockSize || maxTransfer != Identity.MaxTransferBytes))
            return Errors.Of(ErrorCode.IoError, $"namespace 1 changed across a reset ({Identity.Blocks} x {Identity.BlockSize} B, max {Identity.MaxTransferBytes} B" +
                $" → {blocks} x {1 << lbads} B, max {maxTransfer} B)");

        // The poll queue only beside interrupt queues (all polled already otherwise), and only as a queue beyond the rest.
        bool wantPollQueue = _options.PollQueue && _interrupts.Count > 1;
        int asked = _options.IoQueues + (wantPollQueue ? 1 : 0);
        var granted = await AdminAsync(NvmeCommand.SetQueueCount(asked, asked), default, ct).ConfigureAwait(false);
        if (!granted.IsOk) return granted.AsResult();
        int queues = Math.Min(asked, 1 + (int)Math.Min(granted.Value.Dw0 & 0xFFFF, granted.Value.Dw0 >> 16));
        if (firstTime)
        {
            bool pollQueue = wantPollQueue && queues == asked;
            int spread = pollQueue ? queues - 1 : queues;
            var io = new List<NvmeQueuePair>();
            for (int q = 1; q <= queues; q++)
            {
                var pair = NvmeQueuePair.Create(_function, _bar, _stride, (ushort)q, entries, maxTransfer, _timers);
                if (!pair.IsOk) { io.ForEach(p => p.Dispose()); return pair.Error; }
                bool polled = q > spread;
                pair.Value.Interrupt = !polled && q < _interrupts.Count ? _interrupts[q] : null;
                // The poll queue spins within PollQueueSpin and then sleep-polls (bounded); polled queues spin inline.
                pair.Value.SleepPolling = polled;
                pair.Value.InlinePolling = pair.Value.Interrupt is null && !polled && _options.PollInline;
                pair.Value.HybridPollLimit = polled ? _options.PollQueueSpinLimit : pair.Value.Interrupt is null ? TimeSpan.Zero : _options.HybridPollLimit;
                pair.Value.DeliveryDoorbellEvery = Math.Max(0, _options.DeliveryDoorbellEvery);
                io.Add(pair.Value);
            }
            _io = [.. io];
            _ioStrays = new long[_io.Length];
            _spread = spread;
            _pollQueue = pollQueue ? _io[^1] : null;
            if (_pollQueue is { } polledQueue)
            {
                // Depth-1 only: no spin for it while other commands are in flight; the interrupt lines reap it in passing.
                polledQueue.Crowded = () => Volatile.Read(ref _asyncInFlight) > 1;
                foreach (var pair in _io) if (pair.Interrupt is not null) pair.Aside = polledQueue;
            }
            if (_options.DepthPoll && _io.Where(p => p.Interrupt is not null).ToList() is { Count: > 0 } lines)
            {
                var group = new DepthPollGroup(lines);
                foreach (var pair in lines) pair.DepthPoll = group;
            }
        }
        foreach (var pair in _io)
        {
            int vector = pair.Interrupt?.Vector ?? 0;
            bool interrupts = pair.Interrupt is not null;
            var cq = await AdminAsync(NvmeCommand.CreateCompletionQueue(pair.Id, pair.Entries, pair.CompletionAddress, vector, interrupts), default, ct).ConfigureAwait(false);
            if (!cq.IsOk) return cq.AsResult();
            var sq = await AdminAsync(NvmeCommand.CreateSubmissionQueue(pair.Id, pair.Entries, pair.SubmissionAddress, pair.Id), default, ct).ConfigureAwait(false);
            if (!sq.IsOk) return sq.AsResult();
            if (firstTime) StartReaping(pair);
        }
        Identity = new NvmeIdentity(model, serial, firmware, R.Version(_bar.Read32(R.Vs)), nn, blocks, 1 << lbads, maxTransfer, _spread,
            _interrupts.Count > 0, _pollQueue is not null);
        return Result.Ok;
    }

    /// <summary>With MSI-X the interrupt line reaps the queue itself where the backend can (no task to wake in
    /// between, as an interrupt handler completes I/O); otherwise a reaper task waits on the vector or polls.</summary>
    private void StartReaping(NvmeQueuePair pair)
    {
        if (pair.Interrupt is { } irq && irq.TryHandleOnLine(pair.OnInterrupt)) return;
        _reapers.Add(pair.ReapAsync(pair.Interrupt is null, _stop.Token));
    }

    private async Task<Result> DisableAsync(CancellationToken ct)
    {
        uint cc = _bar.Read32(R.Cc);
        if ((cc & R.CcEnable) != 0) _bar.Write32(R.Cc, cc & ~R.CcEnable);
        return await WaitStatusAsync(R.CstsReady, 0, ct).ConfigureAwait(false);
    }

    private async Task<Result> WaitStatusAsync(uint mask, uint value, CancellationToken ct)
    {
        var deadline = _timers.Now + R.ReadyTimeout(_cap);
        while (true)
        {
            uint csts = _bar.Read32(R.Csts);
            if (csts == 0xFFFFFFFF) return Errors.Of(ErrorCode.IoError, "controller not responding (CSTS reads all ones)");
            if ((csts & mask) == value) return Result.Ok;
            if ((csts & R.CstsFatal) != 0 && value != 0) return Errors.Of(ErrorCode.IoError, "controller fatal status (CSTS.CFS)");
            if (_timers.Now > deadline) return Errors.Of(ErrorCode.TimedOut, $"CSTS did not reach 0x{value:x} within CAP.TO ({R.ReadyTimeout(_cap).TotalMilliseconds} ms)");
            try { await _timers.Delay(TimeSpan.FromMilliseconds(1), ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { return Errors.Of(ErrorCode.Cancelled, "cancelled waiting for the controller"); }
        }
    }

    private async Task<Result<NvmeCompletion>> AdminAsync(NvmeCommand command, Memory<byte> dataIn, CancellationToken ct)
    {
        var r = await _admin.ExecuteAsync(command, dataIn.Length, default, dataIn, ct).ConfigureAwait(false);
        if (!r.IsOk) return r.Error;
        return r.Value.IsSuccess ? r.Value : NvmeStatus.ToError(r.Value.Status, $"admin opcode 0x{command.Opcode:x2}");
    }

    public int BlockSize => Identity.BlockSize;
    public long BlockCount => Identity.Blocks;

    /// <summary>Commands the device holds on the I/O queues.</summary>
    public int InFlight => _io.Sum(q => q.InFlight);

    /// <summary>Doorbells, polls, wakes, hops and time per phase, summed over the I/O queues since start.</summary>
    public NvmeIoCounters Counters => _io.Aggregate(default(NvmeIoCounters), (sum, q) => sum + q.Counters);

    /// <summary>The poll queue's own counters (zero without one): its spins cut by depth, its completions reaped aside.</summary>
    public NvmeIoCounters PollQueueCounters => _pollQueue?.Counters ?? default;

    /// <summary>Produces the block address of the next read of <see cref="ReadPolled"/>; false ends it.</summary>
    public delegate bool NextRead(out long lba);

    /// <summary>
    /// SPDK-style polled reads on the calling thread, without sleeping or leaving it: up to <paramref name="depth"/>
    /// reads of <paramref name="bytes"/> each in flight on one I/O queue, one SQ doorbell per batch, completions reaped
    /// by phase bit, and each read's data handed to <paramref name="completed"/> with its block address (the span is
    /// valid only during the call). No allocation per read. A bad address or a failed read ends the run with that typed
    /// error once the reads in flight are back; a hung read ends with <c>TimedOut</c> when the watchdog resets the
    /// controller. Returns how many reads succeeded. The queue must have room for the depth (QueueEntries - 1).
    /// </summary>
    public Result<long> ReadPolled(int depth, int bytes, NextRead next, System.Buffers.ReadOnlySpanAction<byte, long> completed,
        CancellationToken ct = default)
    {
        if (bytes <= 0 || bytes % BlockSize != 0 || bytes > Identity.MaxTransferBytes)
            return Errors.Of(ErrorCode.InvalidArgument, $"a polled read is 1 to {Identity.MaxTransferBytes / BlockSize} whole {BlockSize}-byte blocks, not {bytes} bytes");
        int blocks = bytes / BlockSize;
        KernelError? bad = null;
        bool Next(out NvmeCommand command, out long tag)
        {
            command = default;
            if (!next(out tag)) return false;
            if (tag < 0 || tag > BlockCount - blocks) { bad = Errors.Of(ErrorCode.OutOfRange, $"blocks {tag}+{blocks} beyond {BlockCount}"); return false; }
            command = NvmeCommand.Read(NamespaceId, tag, blocks);
            return true;
        }
        // Another thread may be polling one queue: take the next one that is free.
        Result<long> r = Errors.Of(ErrorCode.Busy, "no I/O queue");
        for (int i = 0; i < _io.Length; i++)
        {
            r = Queue().RunPolledLoop(depth, bytes, Next, completed, ct);
            if (r.Code != ErrorCode.Busy) break;
        }
        return bad is { } e ? e : r;
    }

    /// <summary>Reads whole blocks at <paramref name="lba"/>, split into commands of at most the maximum transfer,
    /// spread over the I/O queues and run concurrently. One command (the common case) allocates nothing: a pooled
    /// completion source per queue slot and pooled state machines (<c>NvmeAllocationTests</c>).</summary>
    public ValueTask<Result> ReadAsync(long lba, Memory<byte> buffer, CancellationToken ct)
    {
        // One command: no closure, no list, straight to the queue.
        if (buffer.Length <= Identity.MaxTransferBytes && CheckRange(lba, buffer.Length) is { IsOk: false } bad) return new(bad);
        if (buffer.Length <= Identity.MaxTransferBytes)
        {
            var queue = SingleCommandQueue();
            return One(queue.ExecuteAsync(NvmeCommand.Read(NamespaceId, lba, buffer.Length / BlockSize), buffer.Length, default, buffer, ct), lba, this);
        }
        return new(ReadSplit(lba, buffer, ct));
    }

    // Apart from ReadAsync: a lambda there would allocate its closure on every call, taken or not.
    private Task<Result> ReadSplit(long lba, Memory<byte> buffer, CancellationToken ct) =>
        Transfer(lba, buffer.Length, (queue, at, offset, length) =>
            queue.ExecuteAsync(NvmeCommand.Read(NamespaceId, at, length / BlockSize), length, default, buffer.Slice(offset, length), ct).AsTask());

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<Result> One(ValueTask<Result<NvmeCompletion>> command, long lba, NvmeController counted)
    {
        Result<NvmeCompletion> r;
        // Counted out only once the command is back (its slot released), so the poll queue holds one at a time.
        try { r = await command.ConfigureAwait(false); }
        finally { Interlocked.Decrement(ref counted._asyncInFlight); }
        if (!r.IsOk) return r.Error;
        // The error text is built only for an error (an interpolated argument would be a string per I/O).
        return r.Value.IsSuccess ? Result.Ok : r.Value.AsResult($"lba {lba}");
    }

    // Zero bytes is refused (InvalidArgument) as by every block device (BlockRange): a command of zero blocks cannot
    // be expressed (NLB is blocks - 1), and -1 would ask the device for 65,536 blocks at PRP1 0.
    private Result CheckRange(long lba, int bytes) => BlockRange.Validate(lba, bytes, BlockSize, BlockCount);

    /// <summary>Reads whole blocks (one command, at most the maximum transfer) into a queue's DMA buffer and hands that
    /// buffer over instead of copying it: the zero-copy path behind <see cref="NvmeDisk.LendReadAsync"/>.</summary>
    internal async Task<Result<(IDmaBuffer Buffer, Action GiveBack)>> ReadLentAsync(long lba, int bytes, CancellationToken ct)
    {
        var valid = CheckLentRead(lba, bytes);
        if (!valid.IsOk) return valid.Error;
        return await Queue().ExecuteLentAsync(NvmeCommand.Read(NamespaceId, lba, bytes / BlockSize), bytes, ct).ConfigureAwait(false);
    }

    /// <summary>Whether a lent read of <paramref name="bytes"/> at <paramref name="lba"/> is well-formed (checked before
    /// anything is charged or submitted).</summary>
    internal Result CheckLentRead(long lba, int bytes)
    {
        if (bytes <= 0 || bytes % BlockSize != 0 || bytes > Identity.MaxTransferBytes)
            return Errors.Of(ErrorCode.InvalidArgument, $"a lent read is 1 to {Identity.MaxTransferBytes / BlockSize} whole {BlockSize}-byte blocks, not {bytes} bytes");
        if (lba < 0 || lba > BlockCount - bytes / BlockSize) return Errors.Of(ErrorCode.OutOfRange, $"blocks {lba}+{bytes / BlockSize} beyond {BlockCount}");
        return Result.Ok;
    }

    /// <summary>DMA buffers lent out over all I/O queues.</summary>
    public int LentBuffers => _io.Sum(q => q.Lent);

    public ValueTask<Result> WriteAsync(long lba, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        if (data.Length <= Identity.MaxTransferBytes && CheckRange(lba, data.Length) is { IsOk: false } bad) return new(bad);
        if (data.Length <= Identity.MaxTransferBytes)
        {
            var queue = SingleCommandQueue();
            return One(queue.ExecuteAsync(NvmeCommand.Write(NamespaceId, lba, data.Length / BlockSize), data.Length, data, default, ct), lba, this);
        }
        return new(WriteSplit(lba, data, ct));
    }

    private Task<Result> WriteSplit(long lba, ReadOnlyMemory<byte> data, CancellationToken ct) =>
        Transfer(lba, data.Length, (queue, at, offset, length) =>
            queue.ExecuteAsync(NvmeCommand.Write(NamespaceId, at, length / BlockSize), length, data.Slice(offset, length), default, ct).AsTask());

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<Result> FlushAsync(CancellationToken ct)
    {
        var r = await Queue().ExecuteAsync(NvmeCommand.Flush(NamespaceId), 0, default, default, ct).ConfigureAwait(false);
        return r.IsOk ? r.Value.AsResult("flush") : r.Error;
    }

    private async Task<Result> Transfer(long lba, int bytes, Func<NvmeQueuePair, long, int, int, Task<Result<NvmeCompletion>>> one)
    {
        var valid = CheckRange(lba, bytes);
        if (!valid.IsOk) return valid;
        int chunk = Identity.MaxTransferBytes;
        if (bytes <= chunk)
        {
            var r = await one(Queue(), lba, 0, bytes).ConfigureAwait(false);
            return r.IsOk ? r.Value.AsResult($"lba {lba}") : r.Error;
        }
        var parts = new List<Task<Result<NvmeCompletion>>>();
        for (int offset = 0; offset < bytes; offset += chunk)
            parts.Add(one(Queue(), lba + offset / BlockSize, offset, Math.Min(chunk, bytes - offset)));
        var results = await Task.WhenAll(parts).ConfigureAwait(false);
        foreach (var r in results)
        {
            if (!r.IsOk) return r.Error;
            if (!r.Value.IsSuccess) return r.Value.AsResult($"lba {lba}");
        }
        return Result.Ok;
    }

    /// <summary>The queue for one async command, counted in <see cref="_asyncInFlight"/> (<see cref="One"/> counts it
    /// out): the poll queue when no other is in flight (depth 1: its submitter polls, no interrupt), else
    /// <see cref="Queue"/>. Inside a delivery the command stays on the delivering queue (its doorbell batch).</summary>
    private NvmeQueuePair SingleCommandQueue()
    {
        bool alone = Interlocked.Increment(ref _asyncInFlight) == 1;
        // A delivery of an interrupt queue keeps its resubmissions (one doorbell); any other thread, a delivery of the
        // poll queue itself, or of a queue not used for I/O (the admin queue, whose line resumed a reset) does not.
        var here = NvmeQueuePair.DeliveringOnThisThread;
        return alone && _pollQueue is { } polled && (here is null || here == polled || Array.IndexOf(_io, here) < 0) ? polled : Queue();
    }

    /// <summary>The next interrupt queue, round robin; but a continuation running inside a completion's delivery stays on
    /// the delivering queue (SPDK's queue per thread: the reap and its resubmissions share a doorbell, no cross-queue
    /// wake) — unless that is the poll queue, which holds depth-1 commands only.</summary>
    private NvmeQueuePair Queue()
    {
        if (NvmeQueuePair.DeliveringOnThisThread is { } here && here != _pollQueue && Array.IndexOf(_io, here) >= 0) return here;
        return _io[(int)((uint)Interlocked.Increment(ref _next) % (uint)_spread)];
    }

    /// <summary>Stray-flood resets in a row (no quiet tick between them) before the watchdog gives the controller up:
    /// Linux marks a controller dead after failed resets rather than resetting it forever.</summary>
    internal const int MaxFloodResets = 5;

    /// <summary>Reaps every queue each tick and resets the controller when a command is older than the timeout, or when
    /// stray completions flood a queue — with a bound: after each flood reset the next waits twice as many ticks (1, 2,
    /// 4, ...), a quiet tick past that wait forgives them, and a flood that comes back after
    /// <see cref="MaxFloodResets"/> resets fails the controller for good (<see cref="Failure"/>).</summary>
    private async Task WatchdogAsync(CancellationToken stop)
    {
        var tick = _options.Tick;
        long ticks = 0, nextFloodReset = 0;
        int floodResets = 0;
        while (!stop.IsCancellationRequested)
        {
            try { await _timers.Delay(tick, stop).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
            ticks++;
            _admin.Poll();
            var now = _timers.Now;
            bool hung = _admin.OldestWait(now) > _options.Timeout, flooded = StrayFlood(_admin, ref _adminStrays);
            for (int i = 0; i < _io.Length; i++)
            {
                var q = _io[i];
                q.Poll();
                hung |= q.OldestWait(now) > _options.Timeout;
                flooded |= StrayFlood(q, ref _ioStrays[i]);
            }
            if (hung) await ResetAsync($"a command exceeded {_options.Timeout.TotalMilliseconds} ms").ConfigureAwait(false);
            else if (!flooded) { if (ticks >= nextFloodReset) floodResets = 0; }
            else if (ticks < nextFloodReset) { } // backing off: the reap stays bounded per call meanwhile
            else if (floodResets == MaxFloodResets)
            {
                await FailAsync($"stray completions flooded a completion queue again after {MaxFloodResets} controller resets").ConfigureAwait(false);
                break;
            }
            else
            {
                await ResetAsync("stray completions flood a completion queue").ConfigureAwait(false);
                nextFloodReset = ticks + (1L << ++floodResets);
            }
        }
    }

    /// <summary>Why the controller was given up (<see cref="FailAsync"/>), or null: every command since fails with it.</summary>
    public KernelError? Failure { get; private set; }

    /// <summary>Gives the controller up (Linux's dead controller): disables it, fails every command in flight and every
    /// later one with <c>IoError</c>, and refuses resets. Its memory is freed at close only if the disable worked.</summary>
    private async Task FailAsync(string reason)
    {
        Task? running;
        lock (_resetGate)
        {
            if (_closed || Failure is not null) return;
            Failure = Errors.Of(ErrorCode.IoError, $"NVMe controller failed: {reason}");
            running = _resetting;
        }
        if (running is not null) await running.ConfigureAwait(false);
        foreach (var q in _io) q.Pause();
        await DisableAsync(default).ConfigureAwait(false);
        var fail = new List<Action> { _admin.Abandon(Failure.Value, close: true) };
        foreach (var q in _io) fail.Add(q.Abandon(Failure.Value, close: true));
        foreach (var q in _io) q.Resume();
        foreach (var f in fail) f();
    }

    /// <summary>More stray completions on <paramref name="q"/> since the last tick than its ring holds: a device that
    /// rewrites CQ entries with the expected phase (a sane one posts strays only by mistake, one at a time).</summary>
    private static bool StrayFlood(NvmeQueuePair q, ref long seen)
    {
        long strays = q.StrayCompletions, last = seen;
        seen = strays;
        return strays - last > q.Entries;
    }

    /// <summary>Disables the controller (it drops every command), fails the commands in flight with <c>TimedOut</c>,
    /// and brings it up again on the same queues.</summary>
    public Task<Result> ResetAsync(string reason)
    {
        lock (_resetGate)
        {
            if (_closed) return Task.FromResult(Result.Fail(ErrorCode.Closed, "controller is shut down"));
            if (Failure is { } failed) return Task.FromResult(Result.Fail(failed));
            if (_resetting is { IsCompleted: false } running) return WaitFor(running);
            var t = Reset(reason);
            _resetting = t;
            return t;
        }
        static async Task<Result> WaitFor(Task t) { await t.ConfigureAwait(false); return Result.Ok; }
    }

    private async Task<Result> Reset(string reason)
    {
        Resets++;
        foreach (var q in _io) q.Pause();
        var disabled = await DisableAsync(default).ConfigureAwait(false);
        var fail = new List<Action>();
        if (!disabled.IsOk)
        {
            // Still running (CSTS.RDY stayed 1): it may yet write the rings and buffers, so they are neither reset for
            // reuse nor freed (DisposeAsync leaks them); every command fails and the queues refuse more.
            var stuck = Errors.Of(ErrorCode.IoError, $"controller reset ({reason}) failed: {disabled.Error.Message}");
            fail.Add(_admin.Abandon(stuck, close: true));
            foreach (var q in _io) fail.Add(q.Abandon(stuck, close: true));
            foreach (var q in _io) q.Resume();
            foreach (var f in fail) f();
            return disabled;
        }
        var error = Errors.Of(ErrorCode.TimedOut, $"controller reset: {reason}");
        fail.Add(_admin.Abandon(error, close: false));
        foreach (var q in _io) fail.Add(q.Abandon(error, close: false));
        var up = await BringUpAsync(firstTime: false, default).ConfigureAwait(false);
        // Strays from before the reset are the old rings' business: the watchdog counts afresh.
        _adminStrays = _admin.StrayCompletions;
        for (int i = 0; i < _io.Length; i++) _ioStrays[i] = _io[i].StrayCompletions;
        if (!up.IsOk)
        {
            // The controller did not come back: fail everything from now on rather than hang.
            var dead = Errors.Of(ErrorCode.IoError, $"controller failed to reset: {up.Error.Message}");
            foreach (var q in _io) fail.Add(q.Abandon(dead, close: true));
        }
        foreach (var q in _io) q.Resume();
        foreach (var f in fail) f();
        return up;
    }

    /// <summary>Normal shutdown (CC.SHN, wait CSTS.SHST complete: the device writes back its cache), then disables
    /// the controller, fails anything still in flight with <c>Closed</c> and releases the function.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_resetGate)
        {
            if (_closed) return;
            _closed = true;
        }
        if (_resetting is { } r) await r.ConfigureAwait(false);
        _stop.Cancel();
        bool quiet = _admin is null;
        try
        {
            if (_admin is not null)
            {
                uint cc = _bar.Read32(R.Cc);
                if ((cc & R.CcEnable) != 0)
                {
                    _bar.Write32(R.Cc, (cc & ~(3u << 14)) | R.CcShutdownNormal);
                    await WaitStatusAsync(R.CstsShutdownMask, R.CstsShutdownComplete, default).ConfigureAwait(false);
                }
                quiet = (await DisableAsync(default).ConfigureAwait(false)).IsOk;
            }
        }
        catch (KernelException) { }
        var closed = Errors.Of(ErrorCode.Closed, "NVMe controller shut down");
        _admin?.Abandon(closed, close: true)();
        foreach (var q in _io) q.Abandon(closed, close: true)();
        try { await Task.WhenAll(_reapers.Append(_watchdog)).ConfigureAwait(false); } catch (OperationCanceledException) { }
        if (!quiet)
        {
            // CSTS.RDY never went to 0: the device may still write its rings and buffers. Without an IOMMU (the uio
            // fallback) freed memory is reused at once, so leak it, and keep the function (its DMA mappings) open, as
            // virtio-net's LeakedOnClose does.
            LeakedOnClose = true;
            return;
        }
        foreach (var q in _io) q.Dispose();
        _admin?.Dispose();
        _function.Dispose();
    }

    /// <summary>True when the close found the device still enabled (CSTS.RDY stayed 1): its rings, buffers and
    /// function were left allocated rather than freed under a device that may still write them.</summary>
    public bool LeakedOnClose { get; private set; }
}
