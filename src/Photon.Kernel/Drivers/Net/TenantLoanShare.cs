namespace Photon.Kernel.Drivers.Net;

/// <summary>
/// One tenant's share of one RX queue's zero-copy receive loans: at most <see cref="RingBuffers"/> of the queue's
/// lendable ring buffers and <see cref="MergeBuffers"/> of its merge buffers at once. The queue charges a frame here,
/// under its own lock, before it lends it (a frame that would take the tenant over its share stays on the ring), and
/// uncharges it when the loan ends — so a tenant that holds its loans runs out of its share, not of the queue's, and the
/// other tenants (and the kernel's stack) keep buffers to borrow.
/// </summary>
internal sealed class TenantLoanShare(string tenant, int ringBuffers, int mergeBuffers)
{
    private readonly Lock _lock = new();
    private int _ringHeld, _mergeHeld;

    public string Tenant => tenant;
    public int RingBuffers => ringBuffers;
    public int MergeBuffers => mergeBuffers;

    public int RingHeld { get { lock (_lock) return _ringHeld; } }
    public int MergeHeld { get { lock (_lock) return _mergeHeld; } }

    /// <summary>Whether the tenant holds its whole share already (a lend would be refused whatever the next frame is).</summary>
    public bool Exhausted { get { lock (_lock) return _ringHeld >= ringBuffers; } }

    /// <summary>Charges a frame lent in <paramref name="ring"/> ring buffers, or copied into one merge buffer
    /// (<paramref name="merge"/>); false, charging nothing, when it would take the tenant over its share.</summary>
    public bool TryCharge(int ring, bool merge)
    {
        lock (_lock)
        {
            if (_ringHeld + ring > ringBuffers || (merge && _mergeHeld >= mergeBuffers)) return false;
            _ringHeld += ring;
            if (merge) _mergeHeld++;
            return true;
        }
    }

    public void Uncharge(int ring, bool merge)
    {
        lock (_lock)
        {
            _ringHeld -= ring;
            if (merge) _mergeHeld--;
        }
    }

    public KernelError Refusal() => Errors.Of(ErrorCode.QuotaExceeded,
        $"tenant {tenant} holds its share of this queue's receive loans ({ringBuffers} ring buffers, {mergeBuffers} merge buffers)");
}
