using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Dma;
using Photon.Kernel.Hal.Pci;
using Photon.Kernel.Quotas;

namespace Photon.Kernel.Drivers.Net;

/// <summary>
/// The zero-copy receive loans of one NIC: each is a <see cref="DmaLoan"/> over a frame in the DMA buffer the device
/// wrote (charged to the borrower's tenant by the <see cref="DmaLender"/>), remembered here so that stopping the NIC
/// revokes every one before the device and its buffers go away (as <c>NvmeDisk</c> does for its reads). Each tenant
/// borrows within its <see cref="TenantLoanShare"/> of each queue — half the queue's lendable ring buffers and half its
/// merge buffers — so a tenant that holds its loans is refused (QuotaExceeded) while the others, and the kernel's own
/// stack (principals outside any tenant, bounded by the queue's limits and its burst size), still borrow.
/// </summary>
internal sealed class NicFrameLoans(CapabilityManager caps)
{
    private readonly HashSet<CapabilityToken> _live = new();
    // One share per (tenant, queue), made on a tenant's first lend; tenants are made by the administrator, so few.
    private readonly Dictionary<(string Tenant, int Queue), TenantLoanShare> _shares = new();
    private bool _stopped;

    /// <summary>The share <paramref name="actor"/>'s tenant borrows <paramref name="queue"/>'s buffers within; null
    /// for the kernel's own principals.</summary>
    public TenantLoanShare? ShareOf(IFrameLending device, int queue, Principal actor)
    {
        if (TenantQuotas.TenantOf(actor) is not { } tenant) return null;
        lock (_shares)
        {
            if (_shares.TryGetValue((tenant, queue), out var share)) return share;
            var (ring, merge) = device.LendingLimits(queue);
            // Half of each, at least one ring buffer: one tenant can never hold what a second one needs to borrow at all.
            share = new TenantLoanShare(tenant, Math.Max(1, ring / 2), merge / 2);
            _shares[(tenant, queue)] = share;
            return share;
        }
    }

    public int Outstanding { get { lock (_live) return _live.Count; } }

    public async Task<Result<CapabilityToken>> LendAsync(IFrameLending device, int queue, int chargeBytes, string label, DmaLender lender,
        Principal actor, CancellationToken ct, Action<LentFrame>? onTaken = null)
    {
        lock (_live) if (_stopped) return Errors.Of(ErrorCode.Closed, $"{label}: the NIC is stopping");
        var share = ShareOf(device, queue, actor);
        var lent = await lender.LendAsync(actor, chargeBytes, label, async () =>
        {
            var f = await device.TakeLentAsync(queue, ct, share).ConfigureAwait(false);
            if (f.IsOk) onTaken?.Invoke(f.Value);
            return f.IsOk ? Result<(IDmaBuffer, Action)>.Success((f.Value.Frame, f.Value.GiveBack)) : f.Error;
        }, onEnd: t => { lock (_live) _live.Remove(t); }).ConfigureAwait(false);
        return Track(lent, label);
    }

    /// <summary>Lends the next frame already received on <paramref name="queue"/>, without waiting (WouldBlock when
    /// there is none, Busy at the queue's lending limit, QuotaExceeded over the tenant's share).</summary>
    public Result<CapabilityToken> TryLend(IFrameLending device, int queue, int chargeBytes, string label, DmaLender lender, Principal actor,
        Action<LentFrame>? onTaken = null)
    {
        lock (_live) if (_stopped) return Errors.Of(ErrorCode.Closed, $"{label}: the NIC is stopping");
        var share = ShareOf(device, queue, actor);
        var lent = lender.LendNow(actor, chargeBytes, label, () =>
        {
            var f = device.TryTakeLent(queue, share);
            if (f.IsOk) onTaken?.Invoke(f.Value);
            return f.IsOk ? Result<(IDmaBuffer, Action)>.Success((f.Value.Frame, f.Value.GiveBack)) : f.Error;
        }, onEnd: t => { lock (_live) _live.Remove(t); });
        return Track(lent, label);
    }

    private Result<CapabilityToken> Track(Result<CapabilityToken> lent, string label)
    {
        if (!lent.IsOk) return lent;
        bool stopped;
        lock (_live)
        {
            stopped = _stopped;
            if (!stopped) _live.Add(lent.Value);
        }
        if (!stopped) return lent;
        caps.Revoke(lent.Value, Principal.Kernel); // lent while the NIC stopped: the buffer goes straight back
        return Errors.Of(ErrorCode.Closed, $"{label}: the NIC is stopping");
    }

    /// <summary>Refuses new loans and revokes the live ones (their buffers go back once no read runs).</summary>
    public void RevokeAll()
    {
        CapabilityToken[] all;
        lock (_live)
        {
            _stopped = true;
            all = [.. _live];
        }
        foreach (var t in all) caps.Revoke(t, Principal.Kernel);
    }
}
