using CsCheck;
using Photon.Kernel.Capabilities;
using Xunit.Abstractions;

namespace Photon.Kernel.Tests.Verification;

/// <summary>
/// Refinement by differential testing: CsCheck generates random operation sequences (creates, derivations with and
/// without Delegate, charged derivations, moves, revocations of subtrees and of descendants, checks of live, revoked,
/// stale and forged tokens) and <see cref="CapabilityRefinement"/> runs each step against the real
/// <see cref="CapabilityManager"/> and the Dafny-verified model compiled to C#, failing on the first difference.
/// CI runs <see cref="CiOperations"/> operations; set PHOTON_REFINEMENT_OPS (e.g. 2000000) for a long run, and
/// CsCheck_Seed to replay a failure.
/// </summary>
public sealed class CapabilityRefinementTests(ITestOutputHelper output)
{
    private const int CiOperations = 20_000;
    private const int SequenceLength = 500;

    private static readonly Gen<CapStep> Step =
        Gen.Select(Gen.Frequency((4, Gen.Const(CapOp.Create)), (2, Gen.Const(CapOp.CreateOnExisting)), (8, Gen.Const(CapOp.Derive)),
                (2, Gen.Const(CapOp.DeriveForKernel)), (2, Gen.Const(CapOp.DeriveCharged)), (3, Gen.Const(CapOp.Move)),
                (1, Gen.Const(CapOp.MoveForKernel)), (3, Gen.Const(CapOp.Revoke)), (2, Gen.Const(CapOp.RevokeDescendants)),
                (3, Gen.Const(CapOp.Check)), (2, Gen.Const(CapOp.CheckForged))),
            Gen.Int, Gen.Int[0, 1 << 16], Gen.UInt, Gen.Int[0, CapabilityRefinement.Principals - 1], Gen.Int[0, CapabilityRefinement.Principals - 1])
        .Select((op, a, b, rights, p1, p2) => new CapStep(op, a, b, rights, p1, p2));

    // Each sample is one fresh manager: its quarantine (0 reuses slots at once, 8 delays reuse) and quota limit vary.
    // A quarter of the runs get a tiny quota: with ~5 charged derivations per run spread over the principals, limits of
    // 5 and up were almost never reached, and a CI run could end without a single QuotaExceeded to compare.
    private static readonly Gen<(int Quarantine, int Quota, CapStep[] Steps)> Runs =
        Gen.Select(Gen.Int[0, 8], Gen.Frequency((1, Gen.Int[1, 4]), (3, Gen.Int[5, 200])), Step.Array[SequenceLength]);

    private void Run(long operations)
    {
        var succeeded = new long[Enum.GetValues<CapOp>().Length];
        var seen = new Dictionary<ErrorCode, long>();
        long steps = 0;
        Runs.Sample(run =>
        {
            var r = new CapabilityRefinement(run.Quarantine, run.Quota);
            foreach (var s in run.Steps)
                if (r.Apply(s) is { } d) throw new Xunit.Sdk.XunitException(d);
            if (r.CompareAll() is { } diff) throw new Xunit.Sdk.XunitException(diff);
            steps += r.Steps;
            for (int i = 0; i < succeeded.Length; i++) succeeded[i] += r.Succeeded[i];
            foreach (var (code, n) in r.Seen) seen[code] = seen.GetValueOrDefault(code) + n;
        }, iter: Math.Max(1, operations / SequenceLength), threads: 1, writeLine: output.WriteLine,
            print: run => $"quarantine {run.Quarantine}, quota {run.Quota}, {run.Steps.Length} steps");
        output.WriteLine($"{steps} operations agreed; succeeded: " +
            string.Join(", ", Enum.GetValues<CapOp>().Select(o => $"{o} {succeeded[(int)o]}")) +
            "; refused: " + string.Join(", ", seen.Select(kv => $"{kv.Key} {kv.Value}")));
        // The run must have done real work, not bounced off errors: every operation succeeded somewhere, and the
        // refusals the model distinguishes all occurred.
        foreach (var op in Enum.GetValues<CapOp>().Where(o => o != CapOp.CheckForged))
            Assert.True(succeeded[(int)op] > 0, $"{op} never succeeded");
        foreach (var code in new[] { ErrorCode.Revoked, ErrorCode.StaleCapability, ErrorCode.UnknownCapability, ErrorCode.AccessDenied,
                     ErrorCode.QuotaExceeded, ErrorCode.InvalidArgument, ErrorCode.InvalidHandle })
            Assert.True(seen.GetValueOrDefault(code) > 0, $"no {code} was ever returned");
    }

    [Fact]
    public void Capability_manager_refines_the_verified_model_over_random_operation_sequences() => Run(CiOperations);

    [Fact]
    public void Long_refinement_run_when_PHOTON_REFINEMENT_OPS_is_set()
    {
        var setting = Environment.GetEnvironmentVariable("PHOTON_REFINEMENT_OPS");
        if (!long.TryParse(setting, out var operations) || operations <= 0)
        {
            output.WriteLine("PHOTON_REFINEMENT_OPS is not set: the long refinement run is skipped.");
            return;
        }
        Run(operations);
    }

    [Fact]
    public void The_comparison_catches_a_model_that_differs_from_the_manager()
    {
        // Same operations, but the model waits longer before reusing a slot: the first reuse must show up as a
        // difference (a token with another slot index), so the lockstep comparison is not vacuous.
        var r = new CapabilityRefinement(quarantine: 0, quotaLimit: 100, modelQuarantine: 2);
        Assert.Null(r.Apply(new CapStep(CapOp.Create, 0, 0, 0x3FFF, 0, 0)));
        Assert.Null(r.Apply(new CapStep(CapOp.Revoke, 0, 0, 0, 0, 0)));
        var diff = r.Apply(new CapStep(CapOp.Create, 0, 0, 0x3FFF, 0, 0));
        Assert.NotNull(diff);
        Assert.Contains("real issued #0/g2, model #1/g1", diff);
    }
}
