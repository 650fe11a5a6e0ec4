using Photon.Kernel.Hal;

namespace Photon.Net.Tests;

/// <summary>
/// <see cref="TxLease"/> (issue #17, vm18): the claim a frame carrying a sender's lent memory holds. A revocation
/// completes only once no reader is inside, and no read starts after it; a gathered frame whose lease was revoked is
/// withdrawn — a consumer that wants it whole gets a typed error, never the memory's new contents.
/// </summary>
public sealed class TxLeaseTests
{
    [Fact]
    public async Task A_revocation_with_no_reader_completes_at_once_and_no_read_starts_after_it()
    {
        var lease = new TxLease();
        Assert.True(lease.TryEnter());
        lease.Exit();
        Assert.True(lease.RevokeAsync().IsCompleted);
        Assert.True(lease.IsRevoked);
        Assert.False(lease.TryEnter());
        await lease.RevokeAsync().WaitAsync(TimeSpan.FromSeconds(10)); // idempotent
    }

    [Fact]
    public async Task A_revocation_waits_for_every_reader_inside()
    {
        var lease = new TxLease();
        Assert.True(lease.TryEnter());
        Assert.True(lease.TryEnter());
        var revoked = lease.RevokeAsync();
        var again = lease.RevokeAsync();
        Assert.False(lease.TryEnter());
        Assert.False(revoked.IsCompleted);
        lease.Exit();
        Assert.False(revoked.IsCompleted);
        Assert.False(again.IsCompleted);
        lease.Exit();
        await revoked.WaitAsync(TimeSpan.FromSeconds(10));
        await again.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void An_exit_without_an_enter_is_refused()
    {
        Assert.Throws<InvalidOperationException>(() => new TxLease().Exit());
    }

    [Fact]
    public void A_withdrawn_gathered_frame_is_never_copied_together()
    {
        var lent = new byte[] { 1, 2, 3, 4 };
        var lease = new TxLease();
        var frame = OffloadedFrame.WrapGathered(new byte[] { 9 }, lent.AsMemory(), default, new TxOffload(0, 0), lease);
        Assert.False(OffloadedFrame.IsWithdrawn(frame));
        Assert.True(lease.RevokeAsync().IsCompleted);
        lent.AsSpan().Fill(0xEE);
        Assert.True(OffloadedFrame.IsWithdrawn(frame));
        Assert.True(OffloadedFrame.TryGetGathered(frame, out _, out _, out _, out var carried));
        Assert.Same(lease, carried);
        Assert.Equal(ErrorCode.Cancelled, Assert.Throws<KernelException>(() => frame.ToArray()).Code);
        // One copied together before the revocation keeps what it read then.
        var lease2 = new TxLease();
        var lent2 = new byte[] { 5, 6 };
        var frame2 = OffloadedFrame.WrapGathered(new byte[] { 9 }, lent2.AsMemory(), default, new TxOffload(0, 0), lease2);
        Assert.Equal(new byte[] { 9, 5, 6 }, frame2.ToArray());
        Assert.True(lease2.RevokeAsync().IsCompleted); // the copy left its lease
        lent2.AsSpan().Fill(0xEE);
        Assert.Equal(new byte[] { 9, 5, 6 }, frame2.ToArray());
    }

    /// <summary>Stress: readers on four threads copy the lent memory inside the lease while the owner revokes, awaits,
    /// and overwrites it at once; no reader ever sees an overwritten byte. 300 rounds.</summary>
    [Fact]
    public async Task Readers_racing_a_revocation_never_see_memory_written_after_it()
    {
        for (int round = 0; round < 300; round++)
        {
            var lease = new TxLease();
            var memory = new byte[4096];
            memory.AsSpan().Fill(0x11);
            int torn = 0, reads = 0;
            using var go = new Barrier(5);
            var readers = Enumerable.Range(0, 4).Select(_ => Task.Factory.StartNew(() =>
            {
                go.SignalAndWait();
                var copy = new byte[memory.Length];
                while (lease.TryEnter())
                {
                    try { memory.CopyTo(copy, 0); }
                    finally { lease.Exit(); }
                    Interlocked.Increment(ref reads);
                    if (copy.AsSpan().IndexOfAnyExcept((byte)0x11) >= 0) Interlocked.Increment(ref torn);
                }
            }, TaskCreationOptions.LongRunning)).ToArray();
            go.SignalAndWait();
            Thread.SpinWait(round * 10);
            await lease.RevokeAsync().WaitAsync(TimeSpan.FromSeconds(30));
            memory.AsSpan().Fill(0xEE);
            await Task.WhenAll(readers).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(0, torn);
        }
    }
}
