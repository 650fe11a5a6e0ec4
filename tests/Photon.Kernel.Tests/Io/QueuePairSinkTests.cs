using System.Collections.Concurrent;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Io;

namespace Photon.Kernel.Tests.Io;

/// <summary>
/// <see cref="QueuePair{TRequest,TResult}"/>'s sink submissions (tcp17: a NIC's posted receive buffers without a task,
/// completion source and cancellation registration each): every accepted request is reported once, under its cookie,
/// with the device's answer or Closed; the capability check still refuses; a warm cycle allocates nothing; and the
/// doorbell a device loop sleeps on no longer counts one ring per submission.
/// </summary>
public class QueuePairSinkTests
{
    private readonly CapabilityManager _caps = new();
    private readonly GenericObject _device = new("dev");
    private readonly CapabilityToken _rw;

    public QueuePairSinkTests() => _rw = _caps.Create(_device, Rights.Read | Rights.Write | Rights.Delegate, Principal.Kernel).Value;

    private sealed class Sink : IQueueCompletionSink<int>
    {
        public readonly ConcurrentQueue<(int Cookie, Result<int> Result)> Seen = new();
        public void OnCompleted(int cookie, Result<int> result) => Seen.Enqueue((cookie, result));
    }

    /// <summary>Allocation-free on purpose (the allocation test uses it): counts and sums, no collection.</summary>
    private sealed class CountingSink : IQueueCompletionSink<int>
    {
        public long Count, Sum;
        public void OnCompleted(int cookie, Result<int> result)
        {
            Count++;
            Sum += result.IsOk ? result.Value - cookie : -1_000_000;
        }
    }

    [Fact]
    public void Each_request_is_reported_once_under_its_cookie_with_its_own_answer_and_tags_are_reused()
    {
        var q = new QueuePair<int, int>(8, _caps, _device);
        var sink = new Sink();
        var batch = new Submission<int>[8];
        int next = 0;
        for (int round = 0; round < 50; round++) // 50 rounds of up to 8: every tag is reused many times
        {
            int want = 1 + round % 8;
            var requests = Enumerable.Range(next, want).ToArray();
            var cookies = requests.Select(r => r + 1000).ToArray();
            var r = q.SubmitBatch(requests, cookies, sink, _rw, Rights.Read);
            Assert.True(r.IsOk);
            Assert.Equal(want, r.Value);
            Assert.Equal(want, q.DrainSubmissions(batch));
            // Answer in reverse order, as a burst: the sink still hears each under its own cookie.
            var tags = batch.Take(want).Reverse().Select(s => s.Tag).ToArray();
            var results = batch.Take(want).Reverse().Select(s => Result<int>.Success(s.Request * 3)).ToArray();
            q.Complete(tags, results);
            next += want;
        }
        var seen = sink.Seen.ToArray();
        Assert.Equal(next, seen.Length);
        Assert.Equal(Enumerable.Range(1000, next), seen.Select(s => s.Cookie).Order());
        Assert.All(seen, s => Assert.Equal((s.Cookie - 1000) * 3, s.Result.Value));
        Assert.Equal(0, q.Stats.InFlight);
        Assert.Equal(next, q.Stats.Completed);
    }

    [Fact]
    public void A_full_ring_takes_a_prefix_and_an_empty_one_says_WouldBlock()
    {
        var q = new QueuePair<int, int>(4, _caps, _device);
        var sink = new Sink();
        var r = q.SubmitBatch([1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6], sink, _rw, Rights.Read);
        Assert.Equal(4, r.Value);
        var full = q.SubmitBatch([7], [7], sink, _rw, Rights.Read);
        Assert.Equal(ErrorCode.WouldBlock, full.Code);
        Assert.Equal(2, q.Stats.RingFull);
        Assert.Throws<ArgumentException>(() => q.SubmitBatch([1, 2], [1], sink, _rw, Rights.Read));
    }

    [Fact]
    public void Close_reports_every_request_in_flight_Closed_once_and_late_device_answers_are_ignored()
    {
        var q = new QueuePair<int, int>(8, _caps, _device);
        var sink = new Sink();
        Assert.Equal(5, q.SubmitBatch([0, 1, 2, 3, 4], [10, 11, 12, 13, 14], sink, _rw, Rights.Read).Value);
        var batch = new Submission<int>[8];
        Assert.Equal(5, q.DrainSubmissions(batch));
        q.Complete(batch[0].Tag, 100); // one answered before the close
        q.Close();
        foreach (var s in batch.Take(5)) q.Complete(s.Tag, 999); // the device answers after the close: ignored
        q.Complete(batch.Take(5).Select(s => s.Tag).ToArray(), Enumerable.Repeat(Result<int>.Success(998), 5).ToArray());
        var seen = sink.Seen.ToArray();
        Assert.Equal(5, seen.Length);
        Assert.Equal([10, 11, 12, 13, 14], seen.Select(s => s.Cookie).Order());
        Assert.Equal(100, seen.Single(s => s.Cookie == 10).Result.Value);
        Assert.All(seen.Where(s => s.Cookie != 10), s => Assert.Equal(ErrorCode.Closed, s.Result.Code));
        Assert.Equal(ErrorCode.Closed, q.SubmitBatch([5], [15], sink, _rw, Rights.Read).Code);
        Assert.Equal(5, sink.Seen.Count);
    }

    [Fact]
    public void The_capability_check_still_refuses_and_counts_the_denial()
    {
        var q = new QueuePair<int, int>(8, _caps, _device);
        var sink = new Sink();
        var writeOnly = _caps.Derive(_rw, Rights.Write, new Principal("tenant-a", "tenant-a"), Principal.Kernel).Value;
        Assert.Equal(ErrorCode.AccessDenied, q.SubmitBatch([1], [1], sink, writeOnly, Rights.Read, new Principal("tenant-a", "tenant-a")).Code);
        var other = _caps.Create(new GenericObject("other"), Rights.Read, Principal.Kernel).Value;
        Assert.Equal(ErrorCode.WrongObjectType, q.SubmitBatch([1], [1], sink, other, Rights.Read).Code);
        _caps.Revoke(_rw, Principal.Kernel);
        Assert.False(q.SubmitBatch([1], [1], sink, _rw, Rights.Read).IsOk);
        Assert.Equal(3, q.Stats.Denied);
        Assert.Equal(0, q.Stats.Submitted);
        Assert.Empty(sink.Seen);
    }

    [Fact]
    public void A_warm_submit_drain_complete_cycle_allocates_nothing()
    {
        var q = new QueuePair<int, int>(64, _caps, _device);
        var sink = new CountingSink();
        var requests = Enumerable.Range(0, 8).ToArray();
        var cookies = Enumerable.Range(0, 8).ToArray();
        var batch = new Submission<int>[8];
        var tags = new ushort[8];
        var results = new Result<int>[8];
        void Cycle()
        {
            q.SubmitBatch(requests, cookies, sink, _rw, Rights.Read);
            int n = q.DrainSubmissions(batch);
            for (int i = 0; i < n; i++) { tags[i] = batch[i].Tag; results[i] = batch[i].Request; }
            q.Complete(tags.AsSpan(0, n), results.AsSpan(0, n));
        }
        for (int i = 0; i < 1000; i++) Cycle(); // warm: JIT, the pool's arrays
        const int cycles = 10_000;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < cycles; i++) Cycle();
        long perCycle = (GC.GetAllocatedBytesForCurrentThread() - before) / cycles;
        Assert.True(perCycle < 8, $"{perCycle} B allocated per 8-request cycle (a task per request would be ~1 KiB)");
        Assert.Equal(11_000 * 8, sink.Count);
        Assert.Equal(0, sink.Sum); // every result under its own cookie
    }

    [Fact]
    public void Submissions_while_the_device_loop_is_busy_ring_its_doorbell_once_not_once_each()
    {
        var q = new QueuePair<int, int>(16, _caps, _device);
        var sink = new Sink();
        var batch = new Submission<int>[16];
        for (int i = 0; i < 1000; i++) // the loop never sleeps meanwhile: it drains as a submitter would see it
        {
            Assert.Equal(1, q.SubmitBatch([i], [i], sink, _rw, Rights.Read).Value);
            Assert.Equal(1, q.DrainSubmissions(batch));
            q.Complete(batch[0].Tag, i);
        }
        // One pending ring covers all of them; the loop's next sleep is a real one (was: 999 spurious wakes queued).
        Assert.True(q.WaitForDoorbellAsync(CancellationToken.None).IsCompleted);
        var second = q.WaitForDoorbellAsync(CancellationToken.None);
        Assert.False(second.IsCompleted);
        // And a submission after that sleep began wakes it.
        Assert.Equal(1, q.SubmitBatch([5], [5], sink, _rw, Rights.Read).Value);
        Assert.True(second.IsCompleted);
        Assert.Equal(1000, sink.Seen.Count);
    }
}
