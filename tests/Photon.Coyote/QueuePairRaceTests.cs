using Microsoft.Coyote.SystematicTesting;
using Microsoft.Coyote.Specifications;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Io;

namespace Photon.Coyote;

/// <summary>
/// <see cref="QueuePair{TRequest,TResult}"/> with submitters, a polling device, cancellation and close racing.
/// Invariant: every accepted submission completes exactly once with a typed result — the device's own answer, or
/// Cancelled, or Closed — never hangs and never gets another request's answer; after the dust settles no tag or ring
/// slot is leaked (the whole depth can be submitted again), and the counters add up.
/// </summary>
public static class QueuePairRaceTests
{
    private static (QueuePair<int, int> Qp, CapabilityToken Cap) NewQueuePair(int depth)
    {
        var caps = new CapabilityManager();
        var device = new GenericObject("disk");
        var cap = caps.Create(device, Rights.Read | Rights.Write, Principal.Kernel).Value;
        return (new QueuePair<int, int>(depth, caps, device), cap);
    }

    /// <summary>The device: fetch submissions, answer each with request * 10, until told to stop.</summary>
    private static async Task Device(QueuePair<int, int> qp, Func<bool> stop)
    {
        var batch = new Submission<int>[4];
        while (!stop())
        {
            int n = qp.DrainSubmissions(batch);
            for (int i = 0; i < n; i++) qp.Complete(batch[i].Tag, batch[i].Request * 10);
            await Task.Yield();
        }
    }

    [Test]
    public static async Task SubmitCompleteCancel_EachRequestCompletesOnceWithItsOwnAnswer()
    {
        InterleavingPoints.Enable();
        var (qp, cap) = NewQueuePair(depth: 2);
        using var cts = new CancellationTokenSource();
        bool done = false;
        var device = Task.Run(() => Device(qp, () => Volatile.Read(ref done)));
        var one = Task.Run(() => qp.SubmitAsync(1, cap, Rights.Write, ct: cts.Token));
        var two = Task.Run(() => qp.SubmitAsync(2, cap, Rights.Write));
        var cancel = Task.Run(cts.Cancel);
        var r1 = await one; var r2 = await two;
        await cancel;
        Specification.Assert(r1.IsOk ? r1.Value == 10 : r1.Code == ErrorCode.Cancelled, $"request 1 ended {r1}");
        Specification.Assert(r2.IsOk && r2.Value == 20, $"request 2 (not cancellable) ended {r2}");
        // Let the device complete what it still owns (a cancelled request keeps its tag until the device answers).
        while (qp.Stats.InFlight > 0) await Task.Yield();
        Volatile.Write(ref done, true);
        await device;
        var s = qp.Stats;
        Specification.Assert(s.Submitted == s.Completed, $"{s.Submitted} submitted, {s.Completed} completed by the device");
        Specification.Assert(s.Cancelled == (r1.IsOk ? 0 : 1), $"cancel counted {s.Cancelled} times, request 1 {r1}");
        // No leaked tag or ring slot: the full depth is free again.
        var a = qp.TrySubmit(3, cap, Rights.Write);
        var b = qp.TrySubmit(4, cap, Rights.Write);
        Specification.Assert(a.IsOk && b.IsOk, $"ring slots leaked: {a} / {b}");
    }

    [Test]
    public static async Task CloseRacingSubmitAndComplete_EveryRequestEndsTyped()
    {
        InterleavingPoints.Enable();
        var (qp, cap) = NewQueuePair(depth: 4);
        bool done = false;
        var device = Task.Run(() => Device(qp, () => Volatile.Read(ref done)));
        var one = Task.Run(() => qp.SubmitAsync(1, cap, Rights.Write));
        var two = Task.Run(() => qp.SubmitAsync(2, cap, Rights.Write));
        var close = Task.Run(qp.Close);
        var r1 = await one; var r2 = await two;
        await close;
        Volatile.Write(ref done, true);
        await device;
        Specification.Assert(r1.IsOk ? r1.Value == 10 : r1.Code == ErrorCode.Closed, $"request 1 ended {r1}");
        Specification.Assert(r2.IsOk ? r2.Value == 20 : r2.Code == ErrorCode.Closed, $"request 2 ended {r2}");
        var after = qp.TrySubmit(3, cap, Rights.Write);
        Specification.Assert(!after.IsOk && after.Code == ErrorCode.Closed, $"a submit after close returned {after}");
    }
}
