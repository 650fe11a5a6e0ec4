using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using Photon.Kernel.Hal.Pci;
using Photon.Kernel.Memory;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Drivers.Nvme;

/// <summary>
/// The fast path (SPDK's <c>nvme_qpair</c>): one submission ring and its completion ring in DMA memory, a slot per
/// command identifier with its own DMA data buffer and PRP-list page, the SQ tail and CQ head doorbells, and
/// completion reaping by phase bit. A command enters the ring only with a free slot; its data is copied into the
/// slot's buffer (writes) or out of it after completion (reads). A completion whose CID names no command in flight
/// (stray, duplicate, or one abandoned by a reset) is counted and ignored.
/// <para>Polled queues (SPDK's model): at most one thread at a time is the queue's poller. A submitter that can become
/// it polls the CQ itself until its own command completes (<see cref="InlinePolling"/>: no sleep, no reaper wake, no
/// thread hop); while a poller is active other submitters only write their entries and the poller rings the SQ tail
/// doorbell once per pass for all of them. <see cref="RunPolledLoop"/> is the same on one thread at any depth, with
/// no allocation per command.</para>
/// <para>Completions run their waiter's continuation on the thread that reaped them (the interrupt line, the poller or
/// the watchdog), as an interrupt handler completes a bio: no thread-pool hop per I/O. A continuation that submits again
/// while its completion is being delivered leaves the SQ doorbell to the end of the delivery (one doorbell per batch)
/// and does not poll itself (no nesting). Queues with interrupts, at depth 1, poll briefly after a submission and after
/// an interrupt (<see cref="HybridPollLimit"/>: Linux's hybrid io_poll) before they sleep on the vector again.</para>
/// <para>No heap allocation per command on the async path either: each slot is its own resettable completion source
/// (<see cref="Slot"/>, an <see cref="IValueTaskSource{TResult}"/>), the async methods use pooled state-machine boxes,
/// a reap collects completed slots on the stack, and each slot's PRP-list page is allocated with it.</para>
/// </summary>
internal sealed class NvmeQueuePair : IDisposable
{
    private const int Page = 4096;
    // A CID is the slot index (at most 4094: queues of at most 4096 entries) and a 4-bit generation above it.
    private const int CidSlotBits = 12, CidSlotMask = (1 << CidSlotBits) - 1, GenerationMask = 0xF;
    private readonly IMmioRegion _bar;
    private readonly IDmaBuffer _sq, _cq;
    private readonly long _sqDoorbell, _cqDoorbell;
    private readonly Slot[] _slots;
    // Above this many slots a reap collects its completions in a rented array instead of on the stack.
    private const int StackReap = 256;
    private readonly Stack<int> _free = new();
    private readonly Queue<TaskCompletionSource<int>> _slotWaiters = new();
    private readonly Lock _gate = new();
    private readonly Waker _kick = new();
    private readonly IKernelTimers _timers;
    private readonly NvmeIoCounterSet _counters = new();
    // Marks the sectors of a read's range before submission (UnwrittenSectorGuard): secret, so no data can be made
    // to look unwritten on purpose.
    private readonly ulong _canary = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(
        System.Security.Cryptography.RandomNumberGenerator.GetBytes(sizeof(ulong)));
    private long _unwrittenSectors;
    private int _sqTail, _cqHead, _inFlight, _lent;
    // Entries written since the last SQ doorbell.
    private int _sqWaiting;
    private bool _phase = true;
    private bool _pollerActive, _sqDirty, _disposed;
    private int _pollerThread;
    // Mean doorbell-to-completion time, an exponentially weighted average in Stopwatch ticks: the hybrid poll's budget.
    private long _deviceTicksAverage;
    // The queue whose completions this thread is delivering right now (continuations run inline on the reaping thread).
    [ThreadStatic] private static NvmeQueuePair? t_delivering;
    private KernelError? _failed;
    private TaskCompletionSource? _paused;

    /// <summary>A command identifier's slot: its DMA buffer (with the PRP-list page after the data) and the completion
    /// source its async submitter awaits, reset for every command, so a command allocates nothing. The source is
    /// signalled once per arming (by the reap, a reset's abandon, or the submitter's cancellation, whichever takes the
    /// slot's in-flight state under the queue lock), and the slot goes back to the pool only after its submitter read
    /// the result, so a stale awaiter can never see the next command's outcome.</summary>
    private sealed class Slot(IDmaBuffer data) : IValueTaskSource<Result<NvmeCompletion>>
    {
        public readonly IDmaBuffer Data = data;
        // No RunContinuationsAsynchronously: whoever signals runs the continuation (no thread-pool hop).
        private ManualResetValueTaskSourceCore<Result<NvmeCompletion>> _source;
        public NvmeQueuePair Owner = null!;
        public TimeSpan Submitted;
        public bool InFlight;
        // The submitter stopped waiting (cancelled) while the device held the command; the slot returns to the pool
        // when both the device (completion or reset) and the submitter (after reading Cancelled) are done with it.
        public bool Abandoned, SubmitterGone;
        // A command of RunPolledLoop: completion lands in Outcome/Done instead of the source.
        public bool Loop, Done;
        public Result<NvmeCompletion> Outcome;
        public long Tag, QueuedAt, ReapedAt;
        public int SubmitThread, ReapThread;
        // The command's generation, in the CID's top bits (Linux's genctr): a late or duplicate completion of the
        // slot's previous command does not match the command it holds now.
        public int Generation;
        private int _signalled;
        // The awaiter registered a continuation (it really waited): the thread-hop counter's test, exact where a
        // check before the await would race with the reap.
        public bool Suspended;

        /// <summary>Resets the source for a new command (under the queue lock, before the entry is written).</summary>
        public ValueTask<Result<NvmeCompletion>> Arm()
        {
            _source.Reset();
            Suspended = false;
            Volatile.Write(ref _signalled, 0);
            return new ValueTask<Result<NvmeCompletion>>(this, _source.Version);
        }

        public bool Signalled => Volatile.Read(ref _signalled) != 0;

        /// <summary>Completes the armed command; its awaiter's continuation runs here, on the signalling thread.</summary>
        public void Signal(Result<NvmeCompletion> outcome)
        {
            Volatile.Write(ref _signalled, 1);
            _source.SetResult(outcome);
        }

        public Result<NvmeCompletion> GetResult(short token) => _source.GetResult(token);
        public ValueTaskSourceStatus GetStatus(short token) => _source.GetStatus(token);
        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        {
            Suspended = true;
            _source.OnCompleted(continuation, state, token, flags);
        }
    }

    private NvmeQueuePair(ushort id, int entries, int maxTransfer, IMmioRegion bar, int stride, IDmaBuffer sq, IDmaBuffer cq,
        IDmaBuffer[] data, IKernelTimers timers)
    {
        Id = id;
        Entries = entries;
        MaxTransfer = maxTransfer;
        _bar = bar;
        _sq = sq;
        _cq = cq;
        _timers = timers;
        _sqDoorbell = NvmeRegisters.SubmissionDoorbell(id, stride);
        _cqDoorbell = NvmeRegisters.CompletionDoorbell(id, stride);
        _slots = data.Select(d => new Slot(d) { Owner = this }).ToArray();
        for (int i = _slots.Length - 1; i >= 0; i--) _free.Push(i);
    }

    public ushort Id { get; }
    public int Entries { get; }
    public int MaxTransfer { get; }
    public ulong SubmissionAddress => _sq.DeviceAddress;
    public ulong CompletionAddress => _cq.DeviceAddress;
    public int InFlight { get { lock (_gate) return _inFlight; } }
    /// <summary>Completions that named no command in flight (a bad CID, a stale generation): counted and ignored.</summary>
    public long StrayCompletions { get { lock (_gate) return _strays; } }
    private long _strays;
    public IDeviceInterrupt? Interrupt { get; set; }

    /// <summary>Submitters poll the CQ themselves (polled queues only; see the class remarks).</summary>
    public bool InlinePolling { get; set; }

    /// <summary>The depth-1 poll queue (no interrupt): Linux's hybrid io_poll, bounded. A submitter polls inline for at
    /// most <see cref="HybridPollLimit"/> (the driver's <c>PollQueueSpin</c>; zero: one look at the CQ); once that is spent the queue's reaper takes the
    /// command over — it sleeps on the kernel timers for about half the expected device time, then polls within the same
    /// limit (<see cref="PollBounded"/>), and sleeps again. So a submitter never holds its caller (or the callers queued
    /// behind it) for a slow device's whole time, and the CPU spent spinning on a command is bounded per sleep.</summary>
    public bool SleepPolling { get; set; }

    /// <summary>Queues with an interrupt: how long at most a submitter, or the interrupt line after reaping, keeps polling
    /// for completions before it sleeps on the vector (zero: never poll). The budget adapts to the queue's mean device
    /// time (twice it, within this limit), so a slow device is not spun on for nothing.</summary>
    public TimeSpan HybridPollLimit { get; set; }

    /// <summary>Inside a delivery of this queue's completions, ring the SQ doorbell once this many entries wait
    /// (<see cref="NvmeDriverOptions.DeliveryDoorbellEvery"/>; zero: at the delivery's end only).</summary>
    public int DeliveryDoorbellEvery { get; set; }

    /// <summary>The controller's interrupt queues that busy-poll at depth (<see cref="NvmeDriverOptions.DepthPoll"/>);
    /// null: an interrupt reaps once (or hybrid-polls at depth 1).</summary>
    public DepthPollGroup? DepthPoll { get; set; }

    /// <summary>The poll queue: true while the controller has other commands in flight than this queue's one. Then
    /// neither its submitter nor its sleep-poller spins (the interrupt queues take the depth): in the VM benchmark at
    /// QD32 a vCPU spinning for the poll queue beside a device full of commands slowed QEMU's emulation of that device
    /// 3–8x, and the spin bought nothing — the command's completion is reaped by the next interrupt's line in passing
    /// (<see cref="Aside"/>) or by the sleep-poller.</summary>
    public Func<bool>? Crowded { get; set; }

    /// <summary>An interrupt queue's companion without interrupts (the poll queue): after each reap on this queue's
    /// line, <see cref="PollAside"/> also reaps the companion's completions, so a poll-queue command whose submitter
    /// stopped spinning at depth does not wait for the sleep-poller's timer (5–7 ms under TCG).</summary>
    public NvmeQueuePair? Aside { get; set; }

    /// <summary>The queue whose completions the calling thread is delivering (its continuation runs inside the reap),
    /// or null: a submitter there stays on that queue, so the reap and the next submissions share one doorbell.</summary>
    internal static NvmeQueuePair? DeliveringOnThisThread => t_delivering;

    public NvmeIoCounters Counters => _counters.Snapshot();

    /// <summary>Allocates the rings and one data buffer (plus a PRP-list page) per usable slot: a ring of N entries
    /// holds at most N-1 commands.</summary>
    public static Result<NvmeQueuePair> Create(IPciFunction function, IMmioRegion bar, int stride, ushort id, int entries, int maxTransfer,
        IKernelTimers timers)
    {
        var owned = new List<IDisposable>();
        Result<IDmaBuffer> Allocate(int bytes)
        {
            var b = function.AllocateDma(bytes);
            if (b.IsOk) owned.Add(b.Value);
            return b;
        }
        var sq = Allocate(entries * NvmeCommand.Size);
        var cq = sq.IsOk ? Allocate(entries * 16) : sq;
        if (!cq.IsOk) { owned.ForEach(o => o.Dispose()); return cq.Error; }
        var data = new IDmaBuffer[entries - 1];
        for (int i = 0; i < data.Length; i++)
        {
            var d = Allocate(maxTransfer + Page);
            if (!d.IsOk) { owned.ForEach(o => o.Dispose()); return d.Error; }
            data[i] = d.Value;
        }
        return new NvmeQueuePair(id, entries, maxTransfer, bar, stride, sq.Value, cq.Value, data, timers);
    }

    /// <summary>Runs one command: waits for a slot, copies <paramref name="dataOut"/> in, points PRP1/PRP2 (or a PRP
    /// list) at the slot's buffer for <paramref name="transferBytes"/>, rings the doorbell, waits for the completion
    /// and copies <paramref name="dataIn"/> out. Cancelling gives up waiting; the slot stays reserved until the device
    /// completes (or a reset abandons) the command, so the device never writes into a reused buffer.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<Result<NvmeCompletion>> ExecuteAsync(NvmeCommand command, int transferBytes, ReadOnlyMemory<byte> dataOut,
        Memory<byte> dataIn, CancellationToken ct)
    {
        var r = await RunAsync(command, transferBytes, dataOut, ct).ConfigureAwait(false);
        if (!r.IsOk) return r.Error;
        var (completion, cid) = r.Value;
        if (!dataIn.IsEmpty)
        {
            var data = _slots[cid].Data.Memory.Span;
            ScrubUnwritten(data[..transferBytes]);
            // In 2 KiB pieces: a 4 KiB CopyTo goes to libc's rep movsb, byte-slow under TCG (PieceCopy).
            PieceCopy.Copy(data[..dataIn.Length], dataIn.Span);
        }
        lock (_gate) ReleaseLocked(cid);
        return completion;
    }

    /// <summary>Runs one read into a slot's buffer and lends that buffer instead of copying out of it: the slot stays
    /// out of the pool (the device is never given the buffer again) until the returned action gives it back. At most
    /// half the slots are lent at once, so lending can never starve ordinary I/O on the queue.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<Result<(IDmaBuffer Buffer, Action GiveBack)>> ExecuteLentAsync(NvmeCommand command, int transferBytes, CancellationToken ct)
    {
        lock (_gate)
        {
            if (_lent >= Math.Max(1, Entries / 2)) return Errors.Of(ErrorCode.Busy, $"queue {Id}: {_lent} of its {Entries} buffers are lent out");
            _lent++;
        }
        var r = await RunAsync(command, transferBytes, default, ct).ConfigureAwait(false);
        if (!r.IsOk) { lock (_gate) _lent--; return r.Error; }
        var (completion, cid) = r.Value;
        if (!completion.IsSuccess)
        {
            lock (_gate) { _lent--; ReleaseLocked(cid); }
            return completion.AsResult($"lent read on queue {Id}").Error;
        }
        ScrubUnwritten(_slots[cid].Data.Memory.Span[..transferBytes]);
        int given = 0;
        return (_slots[cid].Data, () =>
        {
            if (Interlocked.Exchange(ref given, 1) != 0) return;
            lock (_gate) { _lent--; ReleaseLocked(cid); }
        });
    }

    /// <summary>Zeroes the sectors of a completed read's range that the device did not write (see
    /// <see cref="UnwrittenSectorGuard"/>), counted in <see cref="UnwrittenSectors"/>.</summary>
    private void ScrubUnwritten(Span<byte> range)
    {
        int n = UnwrittenSectorGuard.Scrub(range, _canary);
        if (n > 0) Interlocked.Add(ref _unwrittenSectors, n);
    }

    /// <summary>512-byte sectors of reads the device completed without writing them (zeroed, not handed back stale).</summary>
    public long UnwrittenSectors => Interlocked.Read(ref _unwrittenSectors);

    /// <summary>Buffers of this queue lent out and not yet given back.</summary>
    public int Lent { get { lock (_gate) return _lent; } }

    /// <summary>Submits and waits. On success the slot is still the caller's (to copy out of or lend) and must be
    /// released; on failure it has been released (or stays reserved until the device completes an abandoned command).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<Result<(NvmeCompletion Completion, int Cid)>> RunAsync(NvmeCommand command, int transferBytes, ReadOnlyMemory<byte> dataOut,
        CancellationToken ct)
    {
        if (transferBytes < 0 || transferBytes > MaxTransfer) return Errors.Of(ErrorCode.OutOfRange, $"transfer of {transferBytes} bytes (max {MaxTransfer})");
        long entered = Stopwatch.GetTimestamp();
        var got = await AcquireSlotAsync(ct).ConfigureAwait(false);
        if (!got.IsOk) return got.Error;
        int cid = got.Value;
        var slot = _slots[cid];
        var data = slot.Data;
        if (!dataOut.IsEmpty) PieceCopy.Copy(dataOut.Span, data.Memory.Span);
        // A read's sectors are marked: one the device completes without writing (QEMU under an IOMMU fault does) is
        // zeroed after the completion, never handed back with the previous command's bytes, perhaps another tenant's.
        else if (transferBytes > 0) UnwrittenSectorGuard.Mark(data.Memory.Span[..transferBytes], _canary);
        ValueTask<Result<NvmeCompletion>> completion = default;
        bool delivering = t_delivering is not null, alone = false;
        while (true)
        {
            Task paused;
            lock (_gate)
            {
                if (_failed is { } failed) { ReleaseLocked(cid); return failed; }
                if (_paused is null)
                {
                    completion = slot.Arm();
                    SubmitLocked(command, cid, transferBytes, entered);
                    alone = _inFlight == 1;
                    // With a poller active it rings the doorbell on its next pass, for every entry queued since; a
                    // delivery in progress on this thread rings once at its end.
                    if (!_pollerActive && t_delivering != this) RingLocked();
                    else if (t_delivering == this && DeliveryDoorbellEvery > 0 && _sqWaiting >= DeliveryDoorbellEvery) RingLocked();
                    break;
                }
                paused = _paused.Task;
            }
            // A controller reset is rebuilding this queue: submit once it is back (or fail if it is closed).
            await paused.ConfigureAwait(false);
        }
        // Inside a delivery the deliverer reaps for us (polling here would nest deliveries and hold back the others).
        if (delivering) { if (Interrupt is null) _kick.Wake(); }
        else if (SleepPolling)
        {
            // Spin for at most the whole limit (the mean device time is measured to the reap, so on this queue it includes
            // the sleep-poller's oversleeping: a budget or a decision taken from it would feed on itself — a VM run
            // measured 4 ms "device" time against 0.6 ms on the interrupt queues); what is still in flight after it
            // goes to the sleep-poller.
            PollInline(slot, (long)(HybridPollLimit.TotalSeconds * Stopwatch.Frequency), ct, Crowded);
            if (!slot.Signalled) _kick.Wake();
        }
        else if (InlinePolling) PollInline(slot, long.MaxValue, ct);
        // Hybrid poll at depth 1 only (Linux's io_poll is for low depth): at depth the interrupt batches completions, and
        // spinning vCPUs were measured to slow QEMU's own emulation of the device on a loaded host (README, Benchmarks).
        else if (Interrupt is not null && HybridPollLimit > TimeSpan.Zero && alone) PollInline(slot, HybridBudget(), ct);
        else _kick.Wake();
        // Cancellation signals the slot itself (Cancelled) if the device still holds the command; registered only for
        // a cancellable token, and disposed before the slot can go back to the pool.
        var registration = ct.CanBeCanceled ? ct.UnsafeRegister(static s => ((Slot)s!).Owner.CancelWaiter((Slot)s), slot) : default;
        var result = await completion.ConfigureAwait(false);
        registration.Dispose();
        lock (_gate)
        {
            if (slot.Abandoned)
            {
                // The device is done with it too (reaped or reset): back to the pool; else the reap returns it.
                if (!slot.InFlight) { slot.Abandoned = false; ReleaseLocked(cid); }
                else slot.SubmitterGone = true;
                return result.IsOk ? Errors.Of(ErrorCode.Cancelled, "cancelled while the device holds the command") : result.Error;
            }
        }
        // A hop: the waiter slept and resumed on another thread than the one that reaped it (a wake through the pool).
        if (slot.Suspended && slot.ReapThread != Environment.CurrentManagedThreadId) Interlocked.Increment(ref _counters.ThreadHops);
        if (result.IsOk) Interlocked.Add(ref _counters.WakeTicks, Stopwatch.GetTimestamp() - slot.ReapedAt);
        if (result.IsOk) return (result.Value, cid);
        lock (_gate) ReleaseLocked(cid);
        return result.Error;
    }

    /// <summary>The submitter's token was cancelled: if the device still holds the command, the submitter stops
    /// waiting (Cancelled) and the slot stays reserved until the device completes it or a reset abandons it.</summary>
    private void CancelWaiter(Slot slot)
    {
        lock (_gate)
        {
            if (!slot.InFlight || slot.Abandoned || slot.Loop) return;
            slot.Abandoned = true;
        }
        slot.Signal(Errors.Of(ErrorCode.Cancelled, "cancelled while the device holds the command"));
    }

    /// <summary>An abandoned slot the device no longer holds: back to the pool once its submitter has gone too.</summary>
    private void DeviceDoneWithAbandonedLocked(Slot slot, int cid)
    {
        if (!slot.SubmitterGone) return;
        slot.Abandoned = slot.SubmitterGone = false;
        ReleaseLocked(cid);
    }

    /// <summary>Writes the entry for slot <paramref name="cid"/> at the SQ tail (PRP1, PRP2 or a PRP list for its data
    /// buffer) and marks the doorbell due; the caller rings it now or leaves it to the poller.</summary>
    private void SubmitLocked(NvmeCommand command, int cid, int transferBytes, long entered)
    {
        var slot = _slots[cid];
        var data = slot.Data;
        ulong prp1 = command.QueueAddress != 0 ? command.QueueAddress : transferBytes > 0 ? data.DeviceAddress : 0, prp2 = 0;
        int pages = (transferBytes + Page - 1) / Page;
        if (pages == 2) prp2 = data.DeviceAddress + Page;
        else if (pages > 2)
        {
            // A PRP list: one 8-byte entry per page after the first, in the page after the data area (NVMe §4.1.1).
            var list = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(data.Memory.Span.Slice(MaxTransfer, Page));
            for (int i = 1; i < pages; i++) list[i - 1] = data.DeviceAddress + (ulong)(i * Page);
            prp2 = data.DeviceAddress + (ulong)MaxTransfer;
        }
        slot.Generation = (slot.Generation + 1) & GenerationMask;
        command.WriteTo(_sq.Memory.Span.Slice(_sqTail * NvmeCommand.Size, NvmeCommand.Size), (ushort)(cid | slot.Generation << CidSlotBits), prp1, prp2);
        slot.InFlight = true;
        slot.Abandoned = slot.SubmitterGone = false;
        slot.Done = false;
        slot.Submitted = _timers.Now;
        slot.SubmitThread = Environment.CurrentManagedThreadId;
        slot.QueuedAt = Stopwatch.GetTimestamp();
        _counters.SubmitTicks += slot.QueuedAt - entered;
        _counters.Commands++;
        _inFlight++;
        _sqTail = (_sqTail + 1) % Entries;
        _sqDirty = true;
        _sqWaiting++;
    }

    /// <summary>One SQ tail doorbell for every entry written since the last one.</summary>
    private void RingLocked()
    {
        if (!_sqDirty) return;
        _sqDirty = false;
        _sqWaiting = 0;
        // The entries must be visible before the doorbell that publishes them.
        Interlocked.MemoryBarrier();
        _bar.Write32(_sqDoorbell, (uint)_sqTail);
        _counters.SqDoorbells++;
    }

    private bool TryEnterPoller()
    {
        lock (_gate)
        {
            if (_pollerActive) return false;
            _pollerActive = true;
            _pollerThread = Environment.CurrentManagedThreadId;
            return true;
        }
    }

    /// <summary>Gives the poller role up: rings what was queued meanwhile, and hands commands still in flight to the
    /// reaper (which sleeps while a poller is active).</summary>
    private void ExitPoller()
    {
        bool more;
        lock (_gate)
        {
            _pollerActive = false;
            _pollerThread = 0;
            RingLocked();
            more = _inFlight > 0;
        }
        if (more) _kick.Wake();
    }

    /// <summary>The submitter polls until its own command completes (SPDK: submit, then poll the phase bit, no sleep),
    /// or, with interrupts, until <paramref name="budgetTicks"/> pass without a completion (then the vector wakes it).
    /// A hung command ends too: the watchdog's reset fails it. If another thread is the poller, it reaps for us. With
    /// <paramref name="crowded"/> (the poll queue), the spin also stops once another command is in flight anywhere on
    /// the controller.</summary>
    private void PollInline(Slot mine, long budgetTicks, CancellationToken ct, Func<bool>? crowded = null)
    {
        if (mine.Signalled || !TryEnterPoller()) return;
        try
        {
            var spin = new SpinWait();
            long last = Stopwatch.GetTimestamp();
            while (!mine.Signalled && !ct.IsCancellationRequested)
            {
                if (Poll() > 0) { spin = default; last = Stopwatch.GetTimestamp(); }
                else if (crowded is not null && crowded()) { Interlocked.Increment(ref _counters.SpinsCut); break; }
                else if (Stopwatch.GetTimestamp() - last > budgetTicks) break;
                else spin.SpinOnce(sleep1Threshold: -1);
            }
        }
        finally { ExitPoller(); }
    }

    /// <summary>How long a hybrid poll may find nothing before it sleeps: twice the mean device time, within the limit
    /// (the whole limit before the first completion was timed).</summary>
    private long HybridBudget()
    {
        long limit = (long)(HybridPollLimit.TotalSeconds * Stopwatch.Frequency);
        long average = Volatile.Read(ref _deviceTicksAverage);
        return average == 0 ? limit : Math.Min(limit, 2 * average);
    }

    // The sleep-poller never sleeps less than the kernel timers can time, nor longer than this between polls.
    private static readonly TimeSpan MinSleep = TimeSpan.FromMilliseconds(1), MaxSleep = TimeSpan.FromMilliseconds(50);

    /// <summary>How long the sleep-poller sleeps before it polls: half the mean device time less what the oldest command
    /// in flight has already waited (Linux's hybrid io_poll), or, once that is past, an eighth of the mean or of the
    /// oldest command's age (a hung command is polled ever less often), within
    /// <see cref="MinSleep"/> and <see cref="MaxSleep"/>.</summary>
    private TimeSpan SleepBeforePoll()
    {
        long average = Volatile.Read(ref _deviceTicksAverage), oldest = 0, now = Stopwatch.GetTimestamp();
        lock (_gate) foreach (var s in _slots) if (s.InFlight && !s.Loop) oldest = Math.Max(oldest, now - s.QueuedAt);
        long sleep = average / 2 - oldest;
        if (sleep <= 0) sleep = Math.Max(average, oldest) / 8; // past the expected time: back off as the command ages
        var t = TimeSpan.FromSeconds(sleep / (double)Stopwatch.Frequency);
        return t < MinSleep ? MinSleep : t > MaxSleep ? MaxSleep : t;
    }

    /// <summary>One bounded poll of the sleep-poller: as the queue's poller, polls until nothing is in flight or the spin
    /// limit passes without a completion (then it sleeps again). It keeps polling after a reap while commands are in
    /// flight: the continuation it just ran submits its next depth-1 command here, inside the delivery, where that
    /// submitter cannot spin itself — going back to the timer then would make every later command pay the timer (a VM
    /// run measured 34–59% of QD1 reads there in two rounds of three). Nothing if another thread is the poller.</summary>
    private void PollBounded()
    {
        if (!TryEnterPoller()) return;
        try
        {
            long budget = (long)(HybridPollLimit.TotalSeconds * Stopwatch.Frequency), last = Stopwatch.GetTimestamp();
            var spin = new SpinWait();
            while (true)
            {
                if (Poll() > 0) { spin = default; last = Stopwatch.GetTimestamp(); continue; }
                if (InFlight == 0 || Stopwatch.GetTimestamp() - last > budget) break;
                if (Crowded is { } crowded && crowded()) { Interlocked.Increment(ref _counters.SleepPollsCut); break; }
                spin.SpinOnce(sleep1Threshold: -1);
            }
        }
        finally { ExitPoller(); }
    }

    /// <summary>Reaps this queue (the poll queue) in passing from an interrupt queue's line (<see cref="Aside"/>): only
    /// when it has a command in flight and no poller of its own is at it, so a lone command stays its submitter's.</summary>
    public void PollAside()
    {
        if (Volatile.Read(ref _inFlight) == 0 || Volatile.Read(ref _pollerActive)) return;
        int n = Poll();
        if (n > 0) Interlocked.Add(ref _counters.ReapedAside, n);
    }

    /// <summary>Produces the next command of a <see cref="RunPolledLoop"/> and a tag handed back with its completion;
    /// false ends the loop.</summary>
    public delegate bool NextCommand(out NvmeCommand command, out long tag);

    /// <summary>
    /// SPDK's perf loop on the calling thread: keeps up to <paramref name="depth"/> commands from <paramref name="next"/>
    /// in flight, writes the SQ tail doorbell once per batch of submissions, reaps by phase bit between batches without
    /// sleeping, and hands each successful completion's data (valid only during the call) with its tag to
    /// <paramref name="completed"/> before the slot is reused. No allocation per command. Stops submitting when
    /// <paramref name="next"/> returns false, on cancellation or on the first failure, and returns once every command it
    /// submitted has completed or been failed by a controller reset (the watchdog's, for a hung command), so a device
    /// that never completes cannot hold it forever. Returns the number of successful commands.
    /// </summary>
    public Result<long> RunPolledLoop(int depth, int transferBytes, NextCommand next, ReadOnlySpanAction<byte, long> completed, CancellationToken ct)
    {
        if (depth < 1 || depth > _slots.Length) return Errors.Of(ErrorCode.OutOfRange, $"depth {depth} (1 to {_slots.Length} on queue {Id})");
        if (transferBytes < 0 || transferBytes > MaxTransfer) return Errors.Of(ErrorCode.OutOfRange, $"transfer of {transferBytes} bytes (max {MaxTransfer})");
        if (!TryEnterPoller()) return Errors.Of(ErrorCode.Busy, $"another thread is polling queue {Id}");
        var own = new int[depth];
        int count = 0;
        long ok = 0;
        KernelError? error = null;
        bool more = true, havePending = false;
        NvmeCommand pending = default;
        long pendingTag = 0, pendingAt = 0;
        var spin = new SpinWait();
        try
        {
            while (true)
            {
                while (count < depth && more && error is null && !ct.IsCancellationRequested)
                {
                    if (!havePending)
                    {
                        pendingAt = Stopwatch.GetTimestamp();
                        if (!next(out pending, out pendingTag)) { more = false; break; }
                        havePending = true;
                    }
                    int cid;
                    lock (_gate)
                    {
                        if (_failed is { } failed) { error = failed; break; }
                        // Paused by a reset, or the async path holds every free slot: reap first.
                        if (_paused is not null || !_free.TryPop(out cid)) break;
                        var slot = _slots[cid];
                        if (transferBytes > 0) UnwrittenSectorGuard.Mark(slot.Data.Memory.Span[..transferBytes], _canary); // as RunAsync
                        slot.Loop = true;
                        slot.Tag = pendingTag;
                        SubmitLocked(pending, cid, transferBytes, pendingAt);
                    }
                    havePending = false;
                    own[count++] = cid;
                }
                if (count == 0 && (!more || error is not null || ct.IsCancellationRequested)) break;
                int reaped = Poll(); // rings the batch's doorbell first
                for (int i = 0; i < count; i++)
                {
                    int cid = own[i];
                    var slot = _slots[cid];
                    Result<NvmeCompletion> outcome;
                    lock (_gate)
                    {
                        if (!slot.Done) continue;
                        outcome = slot.Outcome;
                    }
                    if (!outcome.IsOk) error ??= outcome.Error;
                    else if (!outcome.Value.IsSuccess) error ??= outcome.Value.AsResult($"queue {Id} tag {slot.Tag}").Error;
                    else
                    {
                        Interlocked.Add(ref _counters.WakeTicks, Stopwatch.GetTimestamp() - slot.ReapedAt);
                        var range = slot.Data.Memory.Span[..transferBytes];
                        ScrubUnwritten(range);
                        completed(range, slot.Tag);
                        ok++;
                    }
                    lock (_gate) { slot.Loop = false; slot.Done = false; slot.Outcome = default; ReleaseLocked(cid); }
                    own[i--] = own[--count];
                }
                if (reaped > 0) spin = default;
                else spin.SpinOnce(sleep1Threshold: -1);
            }
        }
        finally { ExitPoller(); }
        if (error is { } e) return e;
        if (ct.IsCancellationRequested) return Errors.Of(ErrorCode.Cancelled, $"polled loop cancelled after {ok} commands");
        return ok;
    }

    private async ValueTask<Result<int>> AcquireSlotAsync(CancellationToken ct)
    {
        TaskCompletionSource<int> wait;
        lock (_gate)
        {
            if (_failed is { } failed) return failed;
            if (_free.TryPop(out int cid)) return cid;
            wait = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            _slotWaiters.Enqueue(wait);
        }
        try { return await wait.Task.WaitAsync(ct).ConfigureAwait(false); }
        catch (OperationCanceledException)
        {
            // A slot handed over concurrently with the cancellation goes back to the pool.
            if (wait.Task.IsCompletedSuccessfully) lock (_gate) ReleaseLocked(wait.Task.Result);
            else wait.TrySetCanceled(ct);
            return Errors.Of(ErrorCode.Cancelled, "cancelled waiting for a queue slot");
        }
        catch (KernelException e) { return e.Error; }
    }

    private void ReleaseLocked(int cid)
    {
        while (_slotWaiters.TryDequeue(out var next))
            if (next.TrySetResult(cid)) return;
        _free.Push(cid);
    }

    /// <summary>Reaps the new completions (phase bit flipped to the expected value), at most a ring's worth, completes
    /// their commands, and writes the CQ head doorbell once. Returns how many commands' completions were consumed
    /// (strays not counted).</summary>
    public int Poll()
    {
        // The slots to signal, collected under the lock and signalled after it (their continuations run here).
        int[]? rented = _slots.Length > StackReap ? ArrayPool<int>.Shared.Rent(_slots.Length) : null;
        Span<int> done = rented ?? stackalloc int[StackReap];
        try { return PollInto(done); }
        finally { if (rented is not null) ArrayPool<int>.Shared.Return(rented); }
    }

    private int PollInto(Span<int> done)
    {
        int signals = 0;
        int n = 0, strays = 0;
        int thread = Environment.CurrentManagedThreadId;
        lock (_gate)
        {
            // The interrupt line may still fire while the controller shuts down.
            if (_disposed) return 0;
            RingLocked();
            _counters.Polls++;
            // At most one ring's worth per call: a device rewriting entries with the expected phase cannot hold the
            // lock (and its caller) forever; the watchdog resets a controller that floods strays.
            while (n < Entries)
            {
                int at = _cqHead * 16;
                uint dw3 = _cq.ReadVolatile32(at + 12);
                if ((((dw3 >> 16) & 1) != 0) != _phase) break;
                uint dw0 = _cq.ReadVolatile32(at);
                int cid = (int)(dw3 & CidSlotMask), generation = (int)(dw3 >> CidSlotBits) & GenerationMask;
                var completion = new NvmeCompletion(dw0, (ushort)(dw3 >> 17));
                if (++_cqHead == Entries) { _cqHead = 0; _phase = !_phase; }
                n++;
                if (cid >= _slots.Length || !_slots[cid].InFlight || _slots[cid].Generation != generation) { _strays++; strays++; continue; }
                var slot = _slots[cid];
                slot.InFlight = false;
                _inFlight--;
                slot.ReapedAt = Stopwatch.GetTimestamp();
                slot.ReapThread = thread;
                long device = slot.ReapedAt - slot.QueuedAt;
                _counters.DeviceTicks += device;
                _deviceTicksAverage += (device - _deviceTicksAverage) / 8;
                // Inline: the submitter reaped its own command while polling (a reaper task may run on the same pool thread).
                if (_pollerActive && _pollerThread == thread && slot.SubmitThread == thread) _counters.ReapedInline++;
                else _counters.ReapedElsewhere++;
                if (slot.Abandoned) { DeviceDoneWithAbandonedLocked(slot, cid); continue; }
                slot.Outcome = completion;
                if (slot.Loop) { slot.Done = true; continue; }
                done[signals++] = cid;
            }
            if (n > 0) { _bar.Write32(_cqDoorbell, (uint)_cqHead); _counters.CqDoorbells++; }
            else _counters.EmptyPolls++;
        }
        // Strays are no progress: a poller spinning on a flood of them backs off (SpinWait) like on an empty ring.
        if (signals == 0) return n - strays;
        // The waiters' continuations run here; what they submit to this queue is rung once, below. A slot signalled
        // here is not reused before its waiter has read the outcome, so Outcome is still this command's.
        var outer = t_delivering;
        t_delivering = this;
        try { foreach (int cid in done[..signals]) _slots[cid].Signal(_slots[cid].Outcome); }
        finally
        {
            t_delivering = outer;
            lock (_gate) if (!_disposed) RingLocked();
        }
        return n - strays;
    }

    /// <summary>How long the oldest command in flight has waited (zero with none).</summary>
    public TimeSpan OldestWait(TimeSpan now)
    {
        lock (_gate)
        {
            var oldest = TimeSpan.Zero;
            foreach (var s in _slots) if (s.InFlight && now - s.Submitted > oldest) oldest = now - s.Submitted;
            return oldest;
        }
    }

    /// <summary>Holds new submissions back (a controller reset is about to rebuild the queue) until <see cref="Resume"/>.</summary>
    public void Pause()
    {
        lock (_gate) _paused ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public void Resume()
    {
        TaskCompletionSource? paused;
        lock (_gate) { paused = _paused; _paused = null; }
        paused?.TrySetResult();
    }

    /// <summary>After the controller was disabled (so the device no longer touches the rings or buffers): takes every
    /// command in flight off the queue and either resets the rings for reuse or, with <paramref name="close"/>, refuses
    /// all further commands. The returned action fails the taken commands with <paramref name="error"/> (a reset runs
    /// it once the controller is back, so their owners retry against a working queue).</summary>
    public Action Abandon(KernelError error, bool close)
    {
        var failed = new List<Slot>();
        List<TaskCompletionSource<int>>? slotWaiters = null;
        lock (_gate)
        {
            for (int cid = 0; cid < _slots.Length; cid++)
            {
                var s = _slots[cid];
                if (!s.InFlight) continue;
                s.InFlight = false;
                if (s.Abandoned) DeviceDoneWithAbandonedLocked(s, cid);
                else if (s.Loop) { s.Outcome = error; s.Done = true; }
                else failed.Add(s);
            }
            _inFlight = 0;
            _sqTail = 0;
            _sqDirty = false;
            _sqWaiting = 0;
            _cqHead = 0;
            _phase = true;
            _cq.Memory.Span.Clear();
            if (close)
            {
                _failed = error;
                slotWaiters = [.. _slotWaiters];
                _slotWaiters.Clear();
            }
        }
        _kick.Wake();
        return () =>
        {
            foreach (var s in failed) s.Signal(error);
            if (slotWaiters is not null) foreach (var w in slotWaiters) w.TrySetException(new KernelException(error));
        };
    }

    /// <summary>The reaper: sleeps on the MSI-X vector (or, polling, spins through the scheduler while commands are in
    /// flight and no other thread is the poller, and sleeps on the kick otherwise) and reaps completions.</summary>
    public async Task ReapAsync(bool polling, CancellationToken stop)
    {
        await Task.Yield();
        while (!stop.IsCancellationRequested)
        {
            try
            {
                if (SleepPolling)
                {
                    // The poll queue's fallback: sleep for about half the expected device time, then a bounded poll.
                    if (IdleOrPolled()) { await _kick.WaitAsync(stop).ConfigureAwait(false); continue; }
                    await _timers.Delay(SleepBeforePoll(), stop).ConfigureAwait(false);
                    Interlocked.Increment(ref _counters.ReaperWakes);
                    PollBounded();
                    continue;
                }
                if (!polling && Interrupt is { } irq) await irq.WaitAsync(stop).ConfigureAwait(false);
                else if (IdleOrPolled()) await _kick.WaitAsync(stop).ConfigureAwait(false);
                else await Task.Yield();
            }
            catch (OperationCanceledException) { break; }
            catch (KernelException) { break; }
            Interlocked.Increment(ref _counters.ReaperWakes);
            Poll();
            Aside?.PollAside();
        }
    }

    /// <summary>The top half an MSI-X interrupt line runs itself (<see cref="IDeviceInterrupt.TryHandleOnLine"/>):
    /// reaps the CQ and wakes the waiters from the line, like an interrupt handler, so no reaper task is woken in
    /// between (one thread hop less per completion). Counted as a reaper wake.</summary>
    public void OnInterrupt()
    {
        ReapOnInterrupt();
        Aside?.PollAside();
    }

    private void ReapOnInterrupt()
    {
        Interlocked.Increment(ref _counters.ReaperWakes);
        if (DepthPoll is { } depthPoll && t_delivering is null && PollAtDepth(depthPoll)) return;
        // Hybrid: keep polling while the one command in flight keeps being replaced (the continuation just run here
        // submitted the next), and go back to sleep on the vector once none came within the budget, nothing is in
        // flight, or several are (then interrupts batch their completions).
        if (HybridPollLimit <= TimeSpan.Zero || t_delivering is not null || !TryEnterPoller()) { Poll(); return; }
        try
        {
            long budget = HybridBudget(), last = Stopwatch.GetTimestamp();
            var spin = new SpinWait();
            while (true)
            {
                if (Poll() > 0) { spin = default; last = Stopwatch.GetTimestamp(); continue; }
                if (InFlight != 1 || Stopwatch.GetTimestamp() - last > budget) break;
                spin.SpinOnce(sleep1Threshold: -1);
            }
        }
        finally { ExitPoller(); }
    }

    /// <summary>NAPI's busy poll at depth: the interrupt line that takes the controller's one depth-poll token keeps
    /// polling every interrupt queue (each pass rings the doorbells of what the delivered continuations resubmitted) for as
    /// long as completions keep coming within the hybrid budget and commands are in flight, then gives the token back and
    /// sleeps on its vector again. One line at a time, so at most one vCPU spins and the rest of the machine (under QEMU,
    /// the device's own emulation) keeps its CPUs. False: another line holds the token (this one reaps once, as usual).</summary>
    private bool PollAtDepth(DepthPollGroup group)
    {
        if (!group.TryEnter()) return false;
        try
        {
            if (!TryEnterPoller()) return false;
            try
            {
                var spin = new SpinWait();
                long last = Stopwatch.GetTimestamp();
                while (true)
                {
                    int reaped = Poll() + group.PollOthers(this);
                    if (reaped > 0) { spin = default; last = Stopwatch.GetTimestamp(); continue; }
                    if (!group.AnyInFlight() || Stopwatch.GetTimestamp() - last > HybridBudget()) break;
                    spin.SpinOnce(sleep1Threshold: -1);
                }
            }
            finally { ExitPoller(); }
            return true;
        }
        finally { group.Exit(); }
    }

    private bool IdleOrPolled()
    {
        lock (_gate) return _inFlight == 0 || _pollerActive;
    }

    public void Dispose()
    {
        lock (_gate) _disposed = true;
        foreach (var s in _slots) s.Data.Dispose();
        _sq.Dispose();
        _cq.Dispose();
    }
}
