using Microsoft.Coyote.Specifications;
using Microsoft.Coyote.SystematicTesting;
using Photon.Kernel.Hal;

namespace Photon.Coyote;

/// <summary>
/// <see cref="TxLease"/> (issue #17, vm18): two device readers entering, reading and leaving the lease of a sender's
/// lent memory while the sender revokes it and, once the revocation completes, takes the memory back (here: marks it
/// freed). Invariants after any interleaving: no reader is inside the lease once the revocation has completed — a reader
/// that reads finds the memory not yet freed — and every revocation completes (no reader leaves it hanging).
/// </summary>
public static class TxLeaseRaceTests
{
    [Test]
    public static async Task ReadersRacingRevoke_NeverReadFreedMemoryAndTheRevokeCompletes()
    {
        var lease = new TxLease();
        int freed = 0;
        int reads = 0;
        async Task Reader()
        {
            for (int i = 0; i < 2; i++)
            {
                if (!lease.TryEnter()) return;
                await Task.Yield();
                Specification.Assert(Volatile.Read(ref freed) == 0, "a reader read memory its owner had taken back");
                Interlocked.Increment(ref reads);
                lease.Exit();
                await Task.Yield();
            }
        }
        async Task Owner()
        {
            await Task.Yield();
            await lease.RevokeAsync();
            Volatile.Write(ref freed, 1);
            Specification.Assert(!lease.TryEnter(), "a read started after the revocation");
        }
        await Task.WhenAll(Reader(), Reader(), Owner());
        Specification.Assert(Volatile.Read(ref freed) == 1, "the revocation never completed");
    }
}
