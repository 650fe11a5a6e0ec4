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

    /// <summary>
    /// The device: sleeps on a doorbell (a SemaphoreSlim, which Coyote controls) instead of polling, so a path can
    /// never spin to the step bound; on each ring it fetches the submissions and answers each with request * 10.
    /// The test rings once per accepted submission and once more to stop: every ring for a submission comes after it
    /// was queued, so the stop ring finds every submission queued and the final drain takes them all.
    /// </summary>
    private sealed class Device
    {
        private readonly SemaphoreSlim _doorbell = new(0);
        private volatile bool _stop;
        private readonly Task _loop;

        public Device(QueuePair<int, int> qp) => _loop = Task.Run(() => Run(qp));

        public void Ring() => _doorbell.Release();

        public Task StopAsync()
        {
            _stop = true;
            _doorbell.Release();
            return _loop;
        }

        private async Task Run(QueuePair<int, int> qp)
        {
            var batch = new Submission<int>[4];
            while (true)
            {
                await _doorbell.WaitAsync();
                bool last = _stop;
                int n;
                while ((n = qp.DrainSubmissions(batch)) > 0)
                    for (int i = 0; i < n; i++) qp.Complete(batch[i].Tag, batch[i].Request * 10);
                if (last) return;
            }
        }
    }

    /// <summary>Submits and rings the doorbell once the submission is queued (or refused), before awaiting it.</summary>
    private static async Task<Result<int>> Submit(QueuePair<int, int> qp, Device device, int request, CapabilityToken cap,
        CancellationToken ct = default)
    {
        var pending = qp.SubmitAsync(request, cap, Rights.Write, ct: ct);
        device.Ring();
        return await pending;
    }

    [Test]
    public static async Task SubmitCompleteCancel_EachRequestCompletesOnceWithItsOwnAnswer()
    {
        InterleavingPoints.Enable();
        var (qp, cap) = NewQueuePair(depth: 2);
        using var cts = new CancellationTokenSource();
        var device = new Device(qp);
        var one = Task.Run(() => Submit(qp, device, 1, cap, cts.Token));
        var two = Task.Run(() => Submit(qp, device, 2, cap));
        var cancel = Task.Run(cts.Cancel);
        var r1 = await one; var r2 = await two;
        await cancel;
        Specification.Assert(r1.IsOk ? r1.Value == 10 : r1.Code == ErrorCode.Cancelled, $"request 1 ended {r1}");
        Specification.Assert(r2.IsOk && r2.Value == 20, $"request 2 (not cancellable) ended {r2}");
        // The stop ring drains what the device still owns (a cancelled request keeps its tag until the device answers).
        await device.StopAsync();
        var s = qp.Stats;
        Specification.Assert(s.InFlight == 0, $"{s.InFlight} requests still in flight after the device stopped");
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
        var device = new Device(qp);
        var one = Task.Run(() => Submit(qp, device, 1, cap));
        var two = Task.Run(() => Submit(qp, device, 2, cap));
        var close = Task.Run(qp.Close);
        var r1 = await one; var r2 = await two;
        await close;
        await device.StopAsync();
        Specification.Assert(r1.IsOk ? r1.Value == 10 : r1.Code == ErrorCode.Closed, $"request 1 ended {r1}");
        Specification.Assert(r2.IsOk ? r2.Value == 20 : r2.Code == ErrorCode.Closed, $"request 2 ended {r2}");
        var after = qp.TrySubmit(3, cap, Rights.Write);
        Specification.Assert(!after.IsOk && after.Code == ErrorCode.Closed, $"a submit after close returned {after}");
    }

    /// <summary>
    /// A confused or hostile device completes one tag twice, from two threads at once, and a burst completes the same
    /// tag a third time. Invariant: the request gets exactly one of the answers, its tag is freed once (the whole depth
    /// can be submitted again, each new request on its own tag with its own answer), and the completed count is one.
    /// </summary>
    [Test]
    public static async Task DuplicateCompletionsOfOneTagRacing_FreeItOnce()
    {
        InterleavingPoints.Enable();
        var (qp, cap) = NewQueuePair(depth: 2);
        var pending = qp.SubmitAsync(1, cap, Rights.Write);
        var batch = new Submission<int>[2];
        Specification.Assert(qp.DrainSubmissions(batch) == 1, "the submission was not queued");
        ushort tag = batch[0].Tag;
        var single = Task.Run(() => qp.Complete(tag, 10));
        var again = Task.Run(() => qp.Complete(tag, 11));
        var burst = Task.Run(() => qp.Complete([tag], [Result<int>.Success(12)]));
        await Task.WhenAll(single, again, burst);
        var r = await pending;
        Specification.Assert(r.IsOk && r.Value is 10 or 11 or 12, $"the request ended {r}");
        Specification.Assert(qp.Stats.Completed == 1 && qp.Stats.InFlight == 0, $"{qp.Stats.Completed} completions counted for one request, {qp.Stats.InFlight} in flight");

        var next = new[] { qp.SubmitAsync(2, cap, Rights.Write), qp.SubmitAsync(3, cap, Rights.Write) };
        Specification.Assert(qp.DrainSubmissions(batch) == 2, "the whole depth could not be submitted again");
        Specification.Assert(batch[0].Tag != batch[1].Tag, $"two requests share tag {batch[0].Tag}");
        foreach (var s in batch) qp.Complete(s.Tag, s.Request * 10);
        var (r2, r3) = (await next[0], await next[1]);
        Specification.Assert(r2.IsOk && r2.Value == 20 && r3.IsOk && r3.Value == 30, $"the next requests ended {r2} and {r3}");
    }

    /// <summary>Counts each cookie's reports (a sink request must be reported exactly once).</summary>
    private sealed class CountingSink : IQueueCompletionSink<int>
    {
        public readonly int[] Reports = new int[4];
        public readonly Result<int>[] Last = new Result<int>[4];
        public void OnCompleted(int cookie, Result<int> result)
        {
            Interlocked.Increment(ref Reports[cookie]);
            Last[cookie] = result;
        }
    }

    /// <summary>
    /// Sink submissions (tcp17: a NIC's posted receive buffers, no task per request) racing the device's answers and a
    /// close. Invariant: every accepted request is reported exactly once, under its own cookie, with its own answer
    /// (request * 10) or Closed; a refused one never; and once the device stopped nothing is left in flight.
    /// </summary>
    [Test]
    public static async Task SinkSubmitsRacingCompleteAndClose_EachReportedOnceUnderItsCookie()
    {
        InterleavingPoints.Enable();
        var (qp, cap) = NewQueuePair(depth: 4);
        var sink = new CountingSink();
        var device = new Device(qp);
        var accepted = new int[2];
        var one = Task.Run(() => { accepted[0] = qp.SubmitBatch([1, 2], [0, 1], sink, cap, Rights.Write) is { IsOk: true } r ? r.Value : 0; device.Ring(); });
        var two = Task.Run(() => { accepted[1] = qp.SubmitBatch([3, 4], [2, 3], sink, cap, Rights.Write) is { IsOk: true } r ? r.Value : 0; device.Ring(); });
        var close = Task.Run(qp.Close);
        await Task.WhenAll(one, two, close);
        await device.StopAsync();
        for (int cookie = 0; cookie < 4; cookie++)
        {
            bool wasAccepted = cookie < 2 ? cookie < accepted[0] : cookie - 2 < accepted[1];
            int reports = Volatile.Read(ref sink.Reports[cookie]);
            Specification.Assert(reports == (wasAccepted ? 1 : 0), $"cookie {cookie} reported {reports} times (accepted {wasAccepted})");
            if (!wasAccepted) continue;
            var r = sink.Last[cookie];
            Specification.Assert(r.IsOk ? r.Value == (cookie + 1) * 10 : r.Code == ErrorCode.Closed, $"cookie {cookie} ended {r}");
        }
    }
}
