using Photon.Kernel.Capabilities;
using Photon.Kernel.Io;

namespace Photon.Kernel.Tests.Io;

/// <summary>
/// <see cref="QueuePair{TRequest,TResult}.Complete(ReadOnlySpan{ushort}, ReadOnlySpan{Result{TResult}})"/> with one tag
/// (tcp18: a request/response round trip's burst, completed without renting a pooled array) behaves as a burst does:
/// the waiter or sink hears its answer once, the tag and its ring space are free again, and a stray or duplicate answer
/// is ignored.
/// </summary>
public class QueuePairBurstOfOneTests
{
    private readonly CapabilityManager _caps = new();
    private readonly GenericObject _device = new("dev");
    private readonly CapabilityToken _rw;

    public QueuePairBurstOfOneTests() => _rw = _caps.Create(_device, Rights.Read | Rights.Write, Principal.Kernel).Value;

    private sealed class Sink : IQueueCompletionSink<int>
    {
        public readonly List<(int Cookie, Result<int> Result)> Seen = new();
        public void OnCompleted(int cookie, Result<int> result) { lock (Seen) Seen.Add((cookie, result)); }
    }

    [Fact]
    public async Task A_burst_of_one_answers_its_waiter_once_and_frees_its_slot_every_round()
    {
        var q = new QueuePair<int, int>(4, _caps, _device);
        var batch = new Submission<int>[4];
        for (int round = 0; round < 40; round++) // 10 times the depth: a slot not freed would fill the ring
        {
            var t = q.TrySubmit(round, _rw, Rights.Read);
            Assert.True(t.IsOk, t.ToString());
            Assert.Equal(1, q.DrainSubmissions(batch));
            q.Complete([batch[0].Tag], [Result<int>.Success(round * 2)]);
            q.Complete([batch[0].Tag], [Result<int>.Success(-1)]); // a duplicate: ignored
            q.Complete([(ushort)3], [Result<int>.Success(-2)]); // a tag not in use: ignored
            var r = await t.Value;
            Assert.True(r.IsOk);
            Assert.Equal(round * 2, r.Value);
            Assert.Equal(4, q.FreeSlots);
        }
        var stats = q.Stats;
        Assert.Equal(40, stats.Completed);
        Assert.Equal(0, stats.InFlight);
    }

    [Fact]
    public void A_sink_request_answered_as_a_burst_of_one_is_reported_once_under_its_cookie()
    {
        var q = new QueuePair<int, int>(2, _caps, _device);
        var sink = new Sink();
        var batch = new Submission<int>[2];
        for (int round = 0; round < 20; round++)
        {
            Assert.Equal(1, q.SubmitBatch([round], [round + 100], sink, _rw, Rights.Read).Value);
            Assert.Equal(1, q.DrainSubmissions(batch));
            q.Complete([batch[0].Tag], [Result<int>.Success(round)]);
            q.Complete([batch[0].Tag], [Result<int>.Success(-1)]);
        }
        Assert.Equal(Enumerable.Range(0, 20).Select(i => (i + 100, i)), sink.Seen.Select(s => (s.Cookie, s.Result.Value)));
        Assert.Equal(2, q.FreeSlots);
    }

    [Fact]
    public async Task A_submitter_waiting_for_ring_space_is_let_in_by_a_burst_of_one()
    {
        var q = new QueuePair<int, int>(2, _caps, _device);
        var batch = new Submission<int>[2];
        var first = q.TrySubmit(1, _rw, Rights.Read).Value;
        var second = q.TrySubmit(2, _rw, Rights.Read).Value;
        var third = q.SubmitAsync(3, _rw, Rights.Read); // the ring is full: waits for space
        Assert.Equal(2, q.DrainSubmissions(batch));
        Assert.False(third.IsCompleted);
        q.Complete([batch[0].Tag], [Result<int>.Success(10)]);
        Assert.Equal(10, (await first).Value);
        // The freed slot lets the third in; it is answered as a burst of one too.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        int n;
        while ((n = q.DrainSubmissions(batch)) == 0) { Assert.True(DateTime.UtcNow < deadline, "the waiting submitter never got the slot"); await Task.Delay(5); }
        Assert.Equal(3, batch[0].Request);
        q.Complete([batch[0].Tag], [Result<int>.Success(30)]);
        Assert.Equal(30, (await third.WaitAsync(TimeSpan.FromSeconds(20))).Value);
        Assert.False(second.IsCompleted);
    }
}
