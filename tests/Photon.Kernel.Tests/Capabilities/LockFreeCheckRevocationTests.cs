using Photon.Kernel.Capabilities;

namespace Photon.Kernel.Tests.Capabilities;

/// <summary>
/// The lock-free check path against concurrent revocation and moves: a check that starts after Revoke (or Move)
/// returned must fail, and checks overlapping a revocation must see the whole subtree die at once.
/// </summary>
public class LockFreeCheckRevocationTests
{
    private sealed record Round(int Number, CapabilityToken[] Tokens);

    [Fact]
    public void A_check_that_starts_after_revoke_returned_never_succeeds_for_the_token_or_a_descendant()
    {
        var caps = new CapabilityManager { ReuseQuarantine = 64 }; // small quarantine: slots get reused during the run
        const int Rounds = 1500;
        Round? current = null;
        int revokedThrough = 0;   // every round <= this has had Revoke return
        bool stop = false;
        var violations = new List<string>();
        long successes = 0, failures = 0;

        void Checker(int seed)
        {
            var rng = new Random(seed);
            int lastRound = 0, failedRound = 0;
            while (!Volatile.Read(ref stop))
            {
                var round = Volatile.Read(ref current);
                if (round is null) continue;
                // Read the revocation watermark before the check starts.
                int revokedBefore = Volatile.Read(ref revokedThrough);
                var token = round.Tokens[rng.Next(round.Tokens.Length)];
                var r = caps.Check(token, Rights.Read);
                if (lastRound != round.Number) { lastRound = round.Number; failedRound = 0; }
                if (r.IsOk)
                {
                    Interlocked.Increment(ref successes);
                    if (revokedBefore >= round.Number)
                        lock (violations) violations.Add($"round {round.Number}: check succeeded after Revoke returned");
                    if (failedRound == round.Number)
                        lock (violations) violations.Add($"round {round.Number}: a node succeeded after another in its subtree failed");
                }
                else
                {
                    Interlocked.Increment(ref failures);
                    if (r.Code is not (ErrorCode.Revoked or ErrorCode.StaleCapability))
                        lock (violations) violations.Add($"round {round.Number}: unexpected {r.Code}");
                    failedRound = round.Number;
                }
            }
        }

        var checkers = Enumerable.Range(0, 3).Select(i => new Thread(() => Checker(i)) { IsBackground = true }).ToArray();
        foreach (var t in checkers) t.Start();
        var rng = new Random(42);
        for (int n = 1; n <= Rounds; n++)
        {
            var root = caps.Create(new GenericObject($"r{n}"), Rights.All, Principal.Kernel).Value;
            var tokens = new List<CapabilityToken> { root };
            for (int i = 0; i < 40; i++)
                tokens.Add(caps.Derive(tokens[rng.Next(tokens.Count)], Rights.All, Principal.Kernel).Value);
            Volatile.Write(ref current, new Round(n, tokens.ToArray()));
            for (int spin = rng.Next(2000); spin > 0; spin--) Thread.SpinWait(1);
            Assert.Equal(tokens.Count, caps.Revoke(root).Value);
            Volatile.Write(ref revokedThrough, n);
        }
        Volatile.Write(ref stop, true);
        foreach (var t in checkers) t.Join();

        Assert.Empty(violations);
        Assert.True(Interlocked.Read(ref failures) > 0);
        Assert.True(caps.VerifyInvariants().IsOk);
        Assert.Equal(0, caps.LiveCount);
    }

    [Fact]
    public void A_check_of_the_old_token_that_starts_after_move_returned_never_succeeds()
    {
        var caps = new CapabilityManager { ReuseQuarantine = 16 };
        var holder = new Principal("p", "/");
        const int Moves = 20_000;
        var before = new CapabilityToken[Moves]; // before[k] is the token the k-th move killed
        int movedThrough = 0;                    // moves that have returned
        bool stop = false;
        int violations = 0;

        var checker = new Thread(() =>
        {
            var rng = new Random(7);
            while (!Volatile.Read(ref stop))
            {
                int m = Volatile.Read(ref movedThrough);
                if (m == 0) continue;
                // Bias towards the most recent moves, where a race would show.
                int k = Math.Max(0, m - 1 - rng.Next(Math.Min(m, 4)));
                if (caps.Check(before[k], Rights.Read).IsOk) Interlocked.Increment(ref violations);
            }
        }) { IsBackground = true };
        checker.Start();
        var token = caps.Create(new GenericObject("moving"), Rights.Read | Rights.Transfer, holder).Value;
        for (int i = 0; i < Moves; i++)
        {
            before[i] = token;
            var moved = caps.Move(token, holder, holder, holder).Value;
            Volatile.Write(ref movedThrough, i + 1);
            Assert.True(caps.Check(moved, Rights.Read).IsOk);
            token = moved;
        }
        Volatile.Write(ref stop, true);
        checker.Join();

        Assert.Equal(0, violations);
        Assert.True(caps.VerifyInvariants().IsOk);
    }

    [Fact]
    public void A_token_to_a_reused_slot_fails_the_lock_free_check_as_stale()
    {
        var caps = new CapabilityManager { ReuseQuarantine = 0 };
        var first = caps.Create(new GenericObject("a"), Rights.Read, Principal.Kernel).Value;
        caps.Revoke(first).Unwrap();
        var second = caps.Create(new GenericObject("b"), Rights.Read, Principal.Kernel).Value;
        var third = caps.Create(new GenericObject("c"), Rights.Read, Principal.Kernel).Value;

        Assert.Contains(first.SlotIndex, new[] { second.SlotIndex, third.SlotIndex });
        Assert.Equal(ErrorCode.StaleCapability, caps.Check(first, Rights.Read).Code);
        Assert.True(caps.Check(second, Rights.Read).IsOk);
        Assert.True(caps.VerifyInvariants().IsOk);
    }
}
