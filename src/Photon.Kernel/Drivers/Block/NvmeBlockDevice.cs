using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal;
using Photon.Kernel.Io;

namespace Photon.Kernel.Drivers.Block;

public enum BlockOp : byte { Read, Write, Flush }

/// <summary>A block command as it sits in a submission ring.</summary>
public readonly record struct BlockCommand(BlockOp Op, long Lba, Memory<byte> ReadBuffer, ReadOnlyMemory<byte> WriteData);

public sealed record NvmeOptions(int QueuePairs = 2, int QueueDepth = 64, int SectorSize = 512, int FetchBatch = 16);

/// <summary>
/// An NVMe-style block device over HAL storage: several submission/completion queue pairs (the unified
/// <see cref="QueuePair{TRequest,TResult}"/>), each served by a controller loop that fetches submissions in batches
/// and runs them concurrently against the storage. A write completes only once the storage has accepted it; a flush
/// completes once every write acknowledged before it is durable. Every command is capability-checked: reads need
/// <see cref="Rights.Read"/>, writes and flushes <see cref="Rights.Write"/>.
/// </summary>
public sealed class NvmeBlockDevice : BlockDeviceObject, IAsyncDisposable
{
    public override ObjectKind Kind => ObjectKind.BlockDevice;

    private readonly IBlockStorage _storage;
    private readonly QueuePair<BlockCommand, int>[] _queues;
    private readonly Task[] _controllers;
    private readonly Controller[] _drains;
    private readonly CancellationTokenSource _stop = new();
    private readonly bool _direct; // the storage finishes requests inline: reads and writes skip the queue pairs
    private readonly bool _awaitDirect; // ...and ends every request it accepted: a pending one is awaited as it is
    private readonly int _directLimit;
    private long _directStarted, _directEnded;
    private volatile bool _closed;
    private readonly TaskCompletionSource _closedSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private static readonly Task<Result> s_ok = Task.FromResult(Result.Ok);
    private static int s_nextHome;
    [ThreadStatic] private static int t_home; // 0: not dealt yet

    /// <summary>The calling thread's home queue seed, dealt in turn on its first request (the same for every device).</summary>
    private static int HomeQueueSeed => t_home != 0 ? t_home : t_home = Interlocked.Increment(ref s_nextHome) & int.MaxValue | 1 << 30;

    private NvmeBlockDevice(IBlockStorage storage, CapabilityManager caps, NvmeOptions options)
        : base(storage.Name)
    {
        _storage = storage;
        SectorSize = options.SectorSize;
        SectorCount = storage.Length / options.SectorSize;
        _queues = new QueuePair<BlockCommand, int>[options.QueuePairs];
        for (int i = 0; i < _queues.Length; i++) _queues[i] = new QueuePair<BlockCommand, int>(options.QueueDepth, caps, this);
        _controllers = new Task[_queues.Length];
        _drains = new Controller[_queues.Length];
        _direct = storage is IInlineBlockStorage { CompletesInline: true };
        _awaitDirect = storage is IInlineBlockStorage { EndsEveryRequest: true };
        _directLimit = options.QueuePairs * options.QueueDepth;
        for (int i = 0; i < _queues.Length; i++)
        {
            var controller = _drains[i] = new Controller(_queues[i], options.FetchBatch);
            _queues[i].DriveInline(() => Pump(controller, InlineBatches));
            _controllers[i] = ControllerLoop(controller, _stop.Token);
        }
    }

    /// <summary>Batches a submitter drains for others before it hands the rest to the controller loop (bounds how long
    /// one caller works for the rest).</summary>
    private const int InlineBatches = 4;

    /// <summary>One queue pair's device side: its fetch buffer and who is draining it (a submitter or the loop).</summary>
    private sealed class Controller(QueuePair<BlockCommand, int> queue, int fetchBatch)
    {
        public readonly QueuePair<BlockCommand, int> Queue = queue;
        public readonly Submission<BlockCommand>[] Batch = new Submission<BlockCommand>[fetchBatch];
        public int Draining;
    }

    public int SectorSize { get; }
    public long SectorCount { get; }
    public bool IsReadOnly => _storage.IsReadOnly;
    public IReadOnlyList<QueuePair<BlockCommand, int>> Queues => _queues;

    /// <summary>Reads and writes served straight from their submitter (<see cref="IInlineBlockStorage"/>), not through
    /// <see cref="Queues"/>.</summary>
    public long DirectRequests => Interlocked.Read(ref _directStarted) - Interlocked.Read(ref _directDiverted);

    /// <summary>True when reads and writes go straight to the storage from their submitter (it finishes them inline).</summary>
    public bool ServesDirect => _direct;

    private long _directDiverted;

    /// <summary>Starts the device and its controller loops. Returns the device and an all-rights capability to it.</summary>
    public static Result<(NvmeBlockDevice Device, CapabilityToken Capability)> Start(IBlockStorage storage, CapabilityManager caps,
        NvmeOptions? options = null, Principal owner = default)
    {
        options ??= new NvmeOptions();
        if (options.SectorSize is not (512 or 4096)) return Errors.Of(ErrorCode.InvalidArgument, "sector size must be 512 or 4096");
        if (options.QueuePairs is < 1 or > 64) return Errors.Of(ErrorCode.InvalidArgument, "1 to 64 queue pairs");
        if (options.FetchBatch < 1) return Errors.Of(ErrorCode.InvalidArgument, "fetch batch must be positive");
        if (storage.Length < options.SectorSize) return Errors.Of(ErrorCode.InvalidArgument, "storage smaller than one sector");
        NvmeBlockDevice device;
        try { device = new NvmeBlockDevice(storage, caps, options); }
        catch (KernelException e) { return e.Error; }
        var cap = caps.Create(device, Rights.Read | Rights.Write | Rights.Delegate | Rights.Manage, owner.Name is null ? Principal.Kernel : owner);
        if (!cap.IsOk) return cap.Error;
        return (device, cap.Value);
    }

    public Task<Result> ReadAsync(CapabilityToken cap, long lba, Memory<byte> buffer, Principal actor = default, CancellationToken ct = default)
    {
        var v = BlockRange.Validate(lba, buffer.Length, SectorSize, SectorCount);
        if (!v.IsOk) return Task.FromResult(v);
        var command = new BlockCommand(BlockOp.Read, lba, buffer, default);
        return _direct && !ct.CanBeCanceled ? Direct(command, cap, Rights.Read, actor) : Submit(command, cap, Rights.Read, actor, ct);
    }

    public Task<Result> WriteAsync(CapabilityToken cap, long lba, ReadOnlyMemory<byte> data, Principal actor = default, CancellationToken ct = default)
    {
        if (IsReadOnly) return Task.FromResult(Result.Fail(ErrorCode.ReadOnly, $"{Name} is read-only"));
        var v = BlockRange.Validate(lba, data.Length, SectorSize, SectorCount);
        if (!v.IsOk) return Task.FromResult(v);
        var command = new BlockCommand(BlockOp.Write, lba, default, data);
        return _direct && !ct.CanBeCanceled ? Direct(command, cap, Rights.Write, actor) : Submit(command, cap, Rights.Write, actor, ct);
    }

    public Task<Result> FlushAsync(CapabilityToken cap, Principal actor = default, CancellationToken ct = default) =>
        Submit(new BlockCommand(BlockOp.Flush, 0, default, default), cap, Rights.Write, actor, ct);

    /// <summary>An <see cref="IBlockDevice"/> view that sends every request with <paramref name="cap"/> (what filesystems mount).</summary>
    public override IBlockDevice Open(CapabilityToken cap, Principal actor = default) => new CapabilityBlockDevice(this, cap, actor);

    public string Name => Label;

    private async Task<Result> Submit(BlockCommand command, CapabilityToken cap, Rights rights, Principal actor, CancellationToken ct)
    {
        // Each submitting thread has a home queue pair (on hardware: one pair per CPU, so no cross-CPU locking; here
        // threads are dealt pairs in turn, so two busy submitters on two cores drain two pairs), and a thread whose home
        // pair is being drained by another takes one nobody is draining: its submitter then drains it and finds its
        // request done (one being drained would leave the request to the other thread, and its completion to a hop).
        // The pair is claimed (its drain flag taken) before the request goes in, so no other submitter can start draining
        // it in between and finish our request on its thread — which would cost us a thread-pool hop back.
        // A full pair is passed over too (requests still in the storage hold its tags), so one thread's requests beyond
        // a pair's depth spread over the others instead of waiting for ring space.
        int first = (int)((uint)HomeQueueSeed % (uint)_queues.Length), pick = first;
        Controller? claimed = null;
        for (int pass = 0; pass < 2 && claimed is null; pass++)
            for (int i = 0; i < _drains.Length; i++)
            {
                int k = (first + i) % _drains.Length;
                if (pass == 0 && _queues[k].FreeSlots == 0) continue;
                if (Volatile.Read(ref _drains[k].Draining) == 0 && Interlocked.CompareExchange(ref _drains[k].Draining, 1, 0) == 0)
                {
                    pick = k;
                    claimed = _drains[k];
                    break;
                }
            }
        if (claimed is null && _queues[pick].FreeSlots == 0)
            for (int i = 0; i < _queues.Length; i++)
                if (_queues[(first + i) % _queues.Length].FreeSlots > 0) { pick = (first + i) % _queues.Length; break; }
        var q = _queues[pick];
        long submitted = Diagnostics.Tracing.BlockIoProbe.Submitted();
        Task<Result<int>> pending;
        t_claimed = claimed;
        try { pending = q.SubmitAsync(command, cap, rights, actor, ct); }
        finally
        {
            // The request never reached the device side (refused, or waiting for ring space): let the pair go, and drain
            // what others left to us while we held it.
            if (claimed is not null && ReferenceEquals(t_claimed, claimed))
            {
                t_claimed = null;
                Release(claimed);
            }
        }
        var r = await pending.ConfigureAwait(false);
        Diagnostics.Tracing.BlockIoProbe.Completed(submitted, command, Label, r.IsOk);
        return r.AsResult();
    }

    /// <summary>
    /// A read or write on storage that finishes requests inline, served on the submitter's thread with no queue-pair tag,
    /// slot, lock or semaphore, and no task when it completes at once: the same capability check as a ring submission
    /// (denials counted on pair 0), then the storage call. Requests in flight this way are bounded by the pairs' total
    /// depth (one beyond it takes the ring path and waits there); one that does not finish at once is awaited, and ends
    /// Closed when the device closes first, as a ring request does. A cancellable request takes the ring path (its
    /// cancellation ends it at once there). Flushes always take the ring: they are rare and block.
    /// </summary>
    private Task<Result> Direct(in BlockCommand command, CapabilityToken cap, Rights rights, Principal actor)
    {
        var check = _queues[0].Authorize(cap, rights, actor);
        if (!check.IsOk) return Task.FromResult(check);
        // A stale _directEnded overestimates what is in flight: the bound errs towards the ring path.
        if (Interlocked.Increment(ref _directStarted) - Volatile.Read(ref _directEnded) > _directLimit)
        {
            Interlocked.Increment(ref _directDiverted);
            Interlocked.Increment(ref _directEnded);
            return Submit(command, cap, rights, actor, default);
        }
        if (_closed)
        {
            Interlocked.Increment(ref _directEnded);
            return Task.FromResult(Result.Fail(ErrorCode.Closed, "device closed"));
        }
        long submitted = Diagnostics.Tracing.BlockIoProbe.Submitted();
        ValueTask<int> read = default;
        ValueTask write = default;
        Result<int> result;
        try
        {
            if (command.Op == BlockOp.Read)
            {
                read = _storage.ReadAsync(command.Lba * SectorSize, command.ReadBuffer);
                if (!read.IsCompleted) return DirectPending(command, read.AsTask(), submitted);
                result = ReadResult(command, read.GetAwaiter().GetResult());
            }
            else
            {
                write = _storage.WriteAsync(command.Lba * SectorSize, command.WriteData);
                if (!write.IsCompleted)
                    return _awaitDirect ? DirectAwaited(command, write, submitted) : DirectPending(command, write.AsTask(), submitted);
                write.GetAwaiter().GetResult();
                result = command.WriteData.Length;
            }
        }
        catch (Exception e) when (IsStorageFailure(e)) { result = Failure(e); }
        Interlocked.Increment(ref _directEnded);
        Diagnostics.Tracing.BlockIoProbe.Completed(submitted, command, Label, result.IsOk);
        return result.IsOk ? s_ok : Task.FromResult(result.AsResult());
    }

    /// <summary>A direct request the storage did not finish at once: awaited here, or Closed if the device closes first
    /// (the storage still finishes it; its outcome is then observed and dropped).</summary>
    private async Task<Result> DirectPending(BlockCommand command, Task operation, long submitted)
    {
        Result<int> result;
        try
        {
            if (await Task.WhenAny(operation, _closedSignal.Task).ConfigureAwait(false) != operation)
            {
                _ = operation.ContinueWith(static t => _ = t.Exception, CancellationToken.None,
                    TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                result = Errors.Of(ErrorCode.Closed, "device closed");
            }
            else
            {
                await operation.ConfigureAwait(false);
                result = operation is Task<int> read ? ReadResult(command, read.Result) : command.WriteData.Length;
            }
        }
        catch (Exception e) when (IsStorageFailure(e)) { result = Failure(e); }
        finally { Interlocked.Increment(ref _directEnded); }
        Diagnostics.Tracing.BlockIoProbe.Completed(submitted, command, Label, result.IsOk);
        return result.AsResult();
    }

    /// <summary>A direct write on storage that ends every request (<see cref="IInlineBlockStorage.EndsEveryRequest"/>):
    /// awaited as it is — no task for the operation, no race with the close signal (the storage ends it Closed if it
    /// closes first). A write queued behind the storage's busy writer takes this path: one state machine, no more.</summary>
    private async Task<Result> DirectAwaited(BlockCommand command, ValueTask operation, long submitted)
    {
        Result<int> result;
        try
        {
            await operation.ConfigureAwait(false);
            result = command.WriteData.Length;
        }
        catch (Exception e) when (IsStorageFailure(e)) { result = Failure(e); }
        finally { Interlocked.Increment(ref _directEnded); }
        Diagnostics.Tracing.BlockIoProbe.Completed(submitted, command, Label, result.IsOk);
        return result.AsResult();
    }

    private static Result<int> ReadResult(in BlockCommand c, int got) =>
        got == c.ReadBuffer.Length ? got : Errors.Of(ErrorCode.IoError, $"short read at lba {c.Lba}: {got}/{c.ReadBuffer.Length}");

    private static bool IsStorageFailure(Exception e) => e is KernelException or IOException or OperationCanceledException or ObjectDisposedException;

    private static Result<int> Failure(Exception e) => e is KernelException k ? k.Error : Errors.Of(ErrorCode.IoError, e.Message);

    /// <summary>
    /// The controller loop: drains what submitters left to it (work past a submitter's <see cref="InlineBatches"/>,
    /// and requests put straight into <see cref="Queues"/>). Most requests never reach it: the submitter drains the ring
    /// itself (<see cref="Pump"/>).
    /// </summary>
    private async Task ControllerLoop(Controller controller, CancellationToken stop)
    {
        await Task.Yield();
        while (!stop.IsCancellationRequested)
        {
            try { await controller.Queue.WaitForDoorbellAsync(stop).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
            Pump(controller, int.MaxValue);
        }
    }

    /// <summary>
    /// Drains the queue's submissions and starts each against the storage, on the calling thread: a submitter (right
    /// after its request entered the ring) or the controller loop. One drains at a time; one that finds another
    /// draining leaves its request to it, and the drainer looks at the ring again after it stops, so nothing is left
    /// unseen. The whole fetched batch reaches batching storage (io_uring) together: one submission, not n. A request
    /// the storage finishes at once (a page-cache read on io_uring) is complete when this returns. Starting a request
    /// never blocks (storage I/O is asynchronous), so a submitter only pays the submission cost of what it drains.
    /// </summary>
    private void Pump(Controller controller, int maxBatches)
    {
        var queue = controller.Queue;
        // A submitter that claimed this pair before its request went in (Submit) already holds the drain flag.
        bool owned = ReferenceEquals(t_claimed, controller);
        if (owned) t_claimed = null;
        while (true)
        {
            if (!owned && Interlocked.CompareExchange(ref controller.Draining, 1, 0) != 0) return; // the drainer will see ours
            owned = false;
            int batches = 0;
            try
            {
                int n;
                while (batches < maxBatches && (n = queue.DrainSubmissions(controller.Batch)) > 0)
                {
                    batches++;
                    // A lone request goes straight in: a plug would hold it back until the unplug, so it could not finish
                    // inside its own submission and each layer above would box its state machine to wait for it.
                    var plug = n > 1 ? _storage as IBatchingBlockStorage : null;
                    plug?.Plug();
                    try { for (int i = 0; i < n; i++) _ = Execute(queue, controller.Batch[i]); }
                    finally { plug?.Unplug(); }
                }
            }
            finally { Interlocked.Exchange(ref controller.Draining, 0); }
            if (queue.PendingSubmissions == 0) return;
            if (batches >= maxBatches)
            {
                queue.RingDoorbell(); // enough done for others: the loop takes the rest
                return;
            }
            // Someone submitted while we were stopping and left it to us: look again.
        }
    }

    /// <summary>The pair the calling thread claimed in <see cref="Submit"/> for the request it is putting in (its Pump
    /// takes the claim over).</summary>
    [ThreadStatic] private static Controller? t_claimed;

    /// <summary>Gives up a claim whose request did not reach <see cref="Pump"/>; whatever was submitted to the pair
    /// meanwhile (left to us, the holder) is drained now.</summary>
    private void Release(Controller controller)
    {
        Interlocked.Exchange(ref controller.Draining, 0);
        if (controller.Queue.PendingSubmissions > 0) Pump(controller, InlineBatches);
    }

    private async Task Execute(QueuePair<BlockCommand, int> queue, Submission<BlockCommand> s)
    {
        Result<int> result;
        try
        {
            var c = s.Request;
            switch (c.Op)
            {
                case BlockOp.Read:
                    result = ReadResult(c, await _storage.ReadAsync(c.Lba * SectorSize, c.ReadBuffer).ConfigureAwait(false));
                    break;
                case BlockOp.Write:
                    await _storage.WriteAsync(c.Lba * SectorSize, c.WriteData).ConfigureAwait(false);
                    result = c.WriteData.Length;
                    break;
                default:
                    // Acknowledged writes have all reached the storage; making the storage durable covers every one.
                    await _storage.FlushAsync().ConfigureAwait(false);
                    result = 0;
                    break;
            }
        }
        catch (KernelException e) { result = e.Error; }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            result = Errors.Of(ErrorCode.IoError, e.Message);
        }
        queue.Complete(s.Tag, result);
    }

    public async ValueTask DisposeAsync()
    {
        _closed = true;
        _closedSignal.TrySetResult();
        _stop.Cancel();
        foreach (var q in _queues) q.Close();
        try { await Task.WhenAll(_controllers).ConfigureAwait(false); } catch (OperationCanceledException) { }
    }

    private sealed class CapabilityBlockDevice(NvmeBlockDevice device, CapabilityToken cap, Principal actor) : IBlockDevice
    {
        public string Name => device.Name;
        public int SectorSize => device.SectorSize;
        public long SectorCount => device.SectorCount;
        public bool IsReadOnly => device.IsReadOnly;

        public ValueTask<Result> ReadAsync(long lba, Memory<byte> buffer, CancellationToken ct = default) =>
            new(device.ReadAsync(cap, lba, buffer, actor, ct));

        public ValueTask<Result> WriteAsync(long lba, ReadOnlyMemory<byte> data, CancellationToken ct = default) =>
            new(device.WriteAsync(cap, lba, data, actor, ct));

        public ValueTask<Result> FlushAsync(CancellationToken ct = default) => new(device.FlushAsync(cap, actor, ct));
    }
}
