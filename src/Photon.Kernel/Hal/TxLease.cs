namespace Photon.Kernel.Hal;

/// <summary>
/// A claim a transmitted frame holds on memory it carries by reference and does not own — a sender's lent bytes
/// (issue #17, vm18). Whoever reads the frame's pieces (a device copying them into its DMA slots, AF_PACKET's
/// <c>sendmmsg</c>, a consumer copying the frame together) does so between <see cref="TryEnter"/> and <see cref="Exit"/>;
/// the owner takes the memory back with <see cref="RevokeAsync"/>, which completes once no reader is inside, and from
/// then on <see cref="TryEnter"/> is false: a frame still queued at that moment (a retransmission behind a slow queue,
/// or one the peer acknowledged before it left) is dropped by the device instead of read. So the owner's memory is
/// never read after it got it back, whatever a device does with its frames — a device that never gives a frame back
/// holds up nobody, and a frame given back late touches nothing freed (the lease is an ordinary object it keeps alive).
/// Dropping such a frame loses nothing the peer still needs: the owner revokes only when the peer has acknowledged
/// every byte, when the connection is gone, or when the stack has copied the unacknowledged bytes into memory of its
/// own (a send cut short: <c>ByteRing.TakeLentBytes</c>), from which it retransmits them.
/// </summary>
public sealed class TxLease
{
    private const int Revoked = 1 << 30;
    private int _state;                   // readers inside, plus Revoked once revoked
    private TaskCompletionSource? _drained; // set before Revoked when readers are inside; the last one out completes it

    /// <summary>Starts a read of the leased memory; false once revoked (the reader must not touch it, and drops the
    /// frame). Every true is paired with one <see cref="Exit"/>.</summary>
    public bool TryEnter()
    {
        while (true)
        {
            int s = Volatile.Read(ref _state);
            if ((s & Revoked) != 0) return false;
            if (Interlocked.CompareExchange(ref _state, s + 1, s) == s) return true;
        }
    }

    /// <summary>Ends a read begun by a successful <see cref="TryEnter"/>.</summary>
    public void Exit()
    {
        int s = Interlocked.Decrement(ref _state);
        if (s == Revoked) Volatile.Read(ref _drained)!.TrySetResult(); // the last reader out after a revocation
        else if (s < 0) throw new InvalidOperationException("TxLease.Exit without TryEnter");
    }

    public bool IsRevoked => (Volatile.Read(ref _state) & Revoked) != 0;

    /// <summary>No read may start from now on; completes when the reads under way have ended (at once when none is — the
    /// usual case: the frames were copied long before their bytes were acknowledged). Idempotent.</summary>
    public Task RevokeAsync()
    {
        if (Interlocked.CompareExchange(ref _state, Revoked, 0) == 0) return Task.CompletedTask;
        var drained = Volatile.Read(ref _drained);
        if (drained is null)
        {
            // Published before the flag (the Or is a full fence), so the reader whose Exit finds Revoked alone sees it.
            var fresh = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            drained = Interlocked.CompareExchange(ref _drained, fresh, null) ?? fresh;
        }
        int before = Interlocked.Or(ref _state, Revoked);
        if ((before & ~Revoked) == 0) drained.TrySetResult();
        return drained.Task;
    }
}
