using System.Runtime.CompilerServices;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Dma;
using Photon.Kernel.Io;

namespace Photon.Kernel.Drivers.Nvme;

/// <summary>
/// Namespace 1 of a real NVMe controller as a block-device kernel object. Every request is checked against a
/// capability to the disk (reads need Read, writes and flushes Write) before it reaches a queue pair; the driver
/// itself holds the controller, which owns the PCI function and its DMA memory. When the last capability to the disk
/// is revoked the controller is shut down and the function released, so revoking the device capability stops the
/// driver.
/// </summary>
public sealed class NvmeDisk : BlockDeviceObject, IAsyncDisposable
{
    public override ObjectKind Kind => ObjectKind.NvmeDisk;

    private readonly NvmeController _controller;
    private readonly CapabilityManager _caps;
    private readonly HashSet<CapabilityToken> _loans = [];
    // Loans to the kernel's own consumers (a mounted filesystem): bounded by the queues' lendable slots, not charged.
    private readonly DmaLender _kernelLender;
    private long _kernelLoans;
    private Task? _stopping;

    private NvmeDisk(string name, NvmeController controller, CapabilityManager caps) : base(name)
    {
        _controller = controller;
        _caps = caps;
        _kernelLender = new DmaLender(caps, memoryQuota: null);
    }

    public string Name => Label;
    public NvmeIdentity Identity => _controller.Identity;
    public NvmeController Controller => _controller;
    public int SectorSize => _controller.BlockSize;
    public long SectorCount => _controller.BlockCount;

    /// <summary>Wraps a started controller; returns the disk and an all-rights capability to it.</summary>
    public static Result<(NvmeDisk Disk, CapabilityToken Capability)> Create(string name, NvmeController controller, CapabilityManager caps,
        Principal owner = default)
    {
        var disk = new NvmeDisk(name, controller, caps);
        var cap = caps.Create(disk, Rights.Read | Rights.Write | Rights.Delegate | Rights.Manage, owner.Name is null ? Principal.Kernel : owner);
        if (!cap.IsOk) return cap.Error;
        return (disk, cap.Value);
    }

    public override IBlockDevice Open(CapabilityToken capability, Principal actor = default) => new View(this, capability, actor);

    private Result Check(CapabilityToken cap, Rights rights, Principal actor)
    {
        var r = _caps.Check(cap, rights, actor);
        if (!r.IsOk) return r.Error;
        return ReferenceEquals(r.Value, this) ? Result.Ok : Result.Fail(ErrorCode.WrongObjectType, $"capability does not name {Name}");
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<Result> ReadAsync(CapabilityToken cap, long lba, Memory<byte> buffer, Principal actor = default, CancellationToken ct = default)
    {
        var ok = Check(cap, Rights.Read, actor);
        return ok.IsOk ? await _controller.ReadAsync(lba, buffer, ct).ConfigureAwait(false) : ok;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<Result> WriteAsync(CapabilityToken cap, long lba, ReadOnlyMemory<byte> data, Principal actor = default, CancellationToken ct = default)
    {
        var ok = Check(cap, Rights.Write, actor);
        return ok.IsOk ? await _controller.WriteAsync(lba, data, ct).ConfigureAwait(false) : ok;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<Result> FlushAsync(CapabilityToken cap, Principal actor = default, CancellationToken ct = default)
    {
        var ok = Check(cap, Rights.Write, actor);
        return ok.IsOk ? await _controller.FlushAsync(ct).ConfigureAwait(false) : ok;
    }

    /// <summary>Zero-copy read (needs Read): one command's worth of blocks lands in a queue's DMA buffer, which is lent
    /// to <paramref name="actor"/> as a <see cref="DmaLoan"/> (charged to its tenant) instead of being copied out.</summary>
    public async Task<Result<CapabilityToken>> LendReadAsync(CapabilityToken cap, long lba, int bytes, DmaLender lender, Principal actor,
        CancellationToken ct = default)
    {
        var ok = Check(cap, Rights.Read, actor);
        if (!ok.IsOk) return ok.Error;
        var valid = _controller.CheckLentRead(lba, bytes);
        if (!valid.IsOk) return valid.Error;
        lock (_loans) if (_stopping is not null) return Errors.Of(ErrorCode.Closed, $"{Name} is stopping");
        var lent = await lender.LendAsync(actor, bytes, $"dma-loan {Name}@{lba}", () => _controller.ReadLentAsync(lba, bytes, ct),
            onEnd: t => { lock (_loans) _loans.Remove(t); }).ConfigureAwait(false);
        if (!lent.IsOk) return lent;
        // Checked again once lent: a read that completed while StopAsync ran (after it took its list of loans to revoke)
        // would otherwise keep a buffer the stopping controller frees, and its tenant's quota charge.
        bool stopping;
        lock (_loans)
        {
            stopping = _stopping is not null;
            if (!stopping) _loans.Add(lent.Value);
        }
        if (!stopping) return lent;
        _caps.Revoke(lent.Value, Principal.Kernel);
        return Errors.Of(ErrorCode.Closed, $"{Name} is stopping");
    }

    /// <summary>A lent read for a kernel consumer that opened the disk through <paramref name="cap"/> (a filesystem's
    /// partial-block read, <see cref="IBlockLending"/>): the same capability-checked <see cref="DmaLoan"/>, held by
    /// <paramref name="actor"/>, revoked with every other loan when the disk stops.</summary>
    public async Task<Result<BlockLoan>> LendToKernelAsync(CapabilityToken cap, long lba, int bytes, Principal actor, CancellationToken ct = default)
    {
        var holder = actor.Name is null ? Principal.Kernel : actor;
        var token = await LendReadAsync(cap, lba, bytes, _kernelLender, holder, ct).ConfigureAwait(false);
        if (!token.IsOk) return token.Error;
        var loan = _caps.Check(token.Value, Rights.Read, holder);
        if (!loan.IsOk || loan.Value is not DmaLoan lent)
        {
            _kernelLender.Revoke(token.Value);
            return loan.IsOk ? Errors.Of(ErrorCode.WrongObjectType, "not a DMA loan") : loan.Error;
        }
        Interlocked.Increment(ref _kernelLoans);
        return new BlockLoan(lent, () => _kernelLender.Revoke(token.Value));
    }

    /// <summary>Lent reads served to kernel consumers (filesystems) since start.</summary>
    public long KernelLoans => Interlocked.Read(ref _kernelLoans);

    /// <summary>Loans of this disk not yet ended.</summary>
    public int OutstandingLoans { get { lock (_loans) return _loans.Count; } }

    protected override void OnLastCapabilityRevoked() => Stop();

    /// <summary>Revokes every loan (their buffers go back) before the controller shuts down and frees its DMA memory.</summary>
    private Task Stop()
    {
        lock (_loans) return _stopping ??= StopAsync([.. _loans]);
    }

    private async Task StopAsync(CapabilityToken[] loans)
    {
        await Task.Yield(); // outside the lock and the revoking caller's stack
        foreach (var t in loans) _caps.Revoke(t, Principal.Kernel);
        await _controller.DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync() => await Stop().ConfigureAwait(false);

    private sealed class View(NvmeDisk disk, CapabilityToken cap, Principal actor) : IBlockDevice, IBlockLending
    {
        public int MaxLentBytes => disk.Identity.MaxTransferBytes;
        public async ValueTask<Result<BlockLoan>> LendReadAsync(long lba, int bytes, CancellationToken ct = default) =>
            await disk.LendToKernelAsync(cap, lba, bytes, actor, ct).ConfigureAwait(false);
        public string Name => disk.Name;
        public int SectorSize => disk.SectorSize;
        public long SectorCount => disk.SectorCount;
        public bool IsReadOnly => false;
        public ValueTask<Result> ReadAsync(long lba, Memory<byte> buffer, CancellationToken ct = default) => disk.ReadAsync(cap, lba, buffer, actor, ct);
        public ValueTask<Result> WriteAsync(long lba, ReadOnlyMemory<byte> data, CancellationToken ct = default) => disk.WriteAsync(cap, lba, data, actor, ct);
        public ValueTask<Result> FlushAsync(CancellationToken ct = default) => disk.FlushAsync(cap, actor, ct);
    }
}
