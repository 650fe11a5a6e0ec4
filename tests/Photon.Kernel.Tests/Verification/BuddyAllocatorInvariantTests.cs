using CsCheck;
using Photon.Kernel.Memory;

namespace Photon.Kernel.Tests.Verification;

/// <summary>
/// Ties <see cref="PhysicalMemory"/> to verification/BuddyAllocator.dfy: random sequences of allocations, frees of
/// whole runs, of sub-runs (a split region), double frees and frees of frames never allocated run against the real
/// allocator, and after every step the invariant the model proves must hold on the C# (<c>VerifyInvariants</c>), and
/// the allocator must agree with a plain model of which frames are allocated.
/// </summary>
public sealed class BuddyAllocatorInvariantTests
{
    private const int Frames = 300; // not a power of two: the arena is covered by blocks of several orders

    private enum Op { Allocate, FreeWhole, FreeTail, DoubleFree, FreeNeverAllocated }

    private static readonly Gen<(Op Op, int A, int B)> Step =
        Gen.Select(Gen.Frequency((5, Gen.Const(Op.Allocate)), (4, Gen.Const(Op.FreeWhole)), (2, Gen.Const(Op.FreeTail)),
                (1, Gen.Const(Op.DoubleFree)), (1, Gen.Const(Op.FreeNeverAllocated))),
            Gen.Int[1, 40], Gen.Int[0, int.MaxValue]);

    [Fact]
    public void Every_step_keeps_the_proved_invariant_and_matches_the_model()
    {
        int ops = 0, allocated = 0, refused = 0, outOfMemory = 0;
        Step.Array[200].Sample(steps =>
        {
            using var phys = new PhysicalMemory((long)Frames * PhysicalMemory.PageSize);
            var inUse = new bool[Frames];
            var runs = new List<(long First, long Pages)>();
            var freed = new List<(long First, long Pages)>();
            foreach (var (op, a, b) in steps)
            {
                ops++;
                switch (op)
                {
                    case Op.Allocate:
                        var r = phys.Allocate(a);
                        if (!r.IsOk) { Assert.Equal(ErrorCode.OutOfMemory, r.Code); outOfMemory++; break; }
                        for (long f = r.Value; f < r.Value + a; f++)
                        {
                            Assert.False(inUse[f], $"frame {f} handed out twice");
                            inUse[f] = true;
                        }
                        runs.Add((r.Value, a));
                        allocated++;
                        break;
                    case Op.FreeWhole or Op.FreeTail when runs.Count > 0:
                        int i = b % runs.Count;
                        var (first, pages) = runs[i];
                        // FreeTail frees the back part of a run (what a split region gives back) and keeps the front.
                        long keep = op == Op.FreeTail && pages > 1 ? 1 + b % (pages - 1) : 0;
                        Assert.True(phys.Free(first + keep, pages - keep).IsOk);
                        for (long f = first + keep; f < first + pages; f++) inUse[f] = false;
                        freed.Add((first + keep, pages - keep));
                        if (keep == 0) runs.RemoveAt(i); else runs[i] = (first, keep);
                        break;
                    case Op.DoubleFree when freed.Count > 0:
                        var (df, dp) = freed[b % freed.Count];
                        bool anyFree = false;
                        for (long f = df; f < df + dp; f++) anyFree |= !inUse[f];
                        var second = phys.Free(df, dp);
                        if (anyFree) { Assert.Equal(ErrorCode.DoubleFree, second.Code); refused++; }
                        else { Assert.True(second.IsOk); for (long f = df; f < df + dp; f++) inUse[f] = false; RemoveCovered(runs, df, dp); }
                        break;
                    case Op.FreeNeverAllocated:
                        long start = b % Frames;
                        long count = Math.Min(a, Frames - start);
                        bool allInUse = true;
                        for (long f = start; f < start + count; f++) allInUse &= inUse[f];
                        if (allInUse) break; // would be a legitimate free of someone's frames: not this case
                        Assert.Equal(ErrorCode.DoubleFree, phys.Free(start, count).Code);
                        refused++;
                        break;
                }
                var check = phys.VerifyInvariants();
                Assert.True(check.IsOk, check.IsOk ? "" : check.Error.Message);
                Assert.Equal(Frames - inUse.Count(x => x), phys.FreeFrames);
            }
        }, iter: 200, seed: Environment.GetEnvironmentVariable("CsCheck_Seed"));
        // The sequences reached every outcome the invariant must survive.
        Assert.True(allocated > 1000 && refused > 100 && outOfMemory > 10, $"ops {ops}, allocated {allocated}, refused {refused}, out of memory {outOfMemory}");
    }

    // A double free that succeeded because the frames had been handed out again (to a run that now loses them).
    private static void RemoveCovered(List<(long First, long Pages)> runs, long first, long pages)
    {
        for (int i = runs.Count - 1; i >= 0; i--)
            if (runs[i].First < first + pages && first < runs[i].First + runs[i].Pages) runs.RemoveAt(i);
    }

    [Fact]
    public void VerifyInvariants_catches_a_broken_allocator()
    {
        using var phys = new PhysicalMemory(64L * PhysicalMemory.PageSize);
        var r = phys.Allocate(4).Value;
        Assert.True(phys.VerifyInvariants().IsOk);
        // Mark a free frame allocated behind the allocator's back: it is now both free and allocated.
        var bitmap = (ulong[])typeof(PhysicalMemory).GetField("_allocated", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(phys)!;
        long victim = r + 4;
        bitmap[victim >> 6] |= 1UL << (int)(victim & 63);
        var broken = phys.VerifyInvariants();
        Assert.Equal(ErrorCode.Corrupted, broken.Code);
    }
}
