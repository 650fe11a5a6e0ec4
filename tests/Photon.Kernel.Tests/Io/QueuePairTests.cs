using Photon.Kernel.Capabilities;
using Photon.Kernel.Io;

namespace Photon.Kernel.Tests.Io;

public class QueuePairTests
{
    private readonly CapabilityManager _caps = new();
    private readonly GenericObject _device = new("dev");
    private readonly CapabilityToken _rw;

    public QueuePairTests() => _rw = _caps.Create(_device, Rights.Read | Rights.Write | Rights.Delegate, Principal.Kernel).Value;

    /// <summary>A real device loop: doubles every request value.</summary>
    private static async Task Serve(QueuePair<int, int> q, CancellationToken stop)
    {
        var batch = new Submission<int>[8];
        while (!stop.IsCancellationRequested)
        {
            try { await q.WaitForDoorbellAsync(stop); } catch (OperationCanceledException) { return; }
            int n;
            while ((n = q.DrainSubmissions(batch)) > 0)
                for (int i = 0; i < n; i++) q.Complete(batch[i].Tag, batch[i].Request * 2);
        }
    }

    [Fact]
    public async Task Completions_wake_submitters_with_their_own_results()
    {
        var q = new QueuePair<int, int>(16, _caps, _device);
        using var stop = new CancellationTokenSource();
        var device = Task.Run(() => Serve(q, stop.Token));
        var results = await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => q.SubmitAsync(i, _rw, Rights.Read)));
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => i * 2), results.Select(r => r.Value));
        Assert.Equal(1000, q.Stats.Completed);
        Assert.Equal(0, q.Stats.InFlight);
        stop.Cancel();
        await device;
    }

    [Fact]
    public async Task Full_ring_gives_WouldBlock_and_waiting_submit_proceeds_when_completions_drain()
    {
        var q = new QueuePair<int, int>(4, _caps, _device);
        var first = Enumerable.Range(0, 4).Select(i => q.TrySubmit(i, _rw, Rights.Read).Value).ToList();
        var full = q.TrySubmit(99, _rw, Rights.Read);
        Assert.Equal(ErrorCode.WouldBlock, full.Code);
        var waiting = q.SubmitAsync(5, _rw, Rights.Read);
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);
        // The device drains the ring and completes everything.
        var batch = new Submission<int>[8];
        Assert.Equal(4, q.DrainSubmissions(batch));
        for (int i = 0; i < 4; i++) q.Complete(batch[i].Tag, batch[i].Request + 100);
        Assert.Equal([100, 101, 102, 103], (await Task.WhenAll(first)).Select(r => r.Value));
        // Now the waiting submission got a slot and can be served.
        for (int spin = 0; spin < 100 && q.DrainSubmissions(batch.AsSpan(0, 1)) == 0; spin++) await Task.Delay(10);
        q.Complete(batch[0].Tag, 7);
        Assert.Equal(7, (await waiting).Value);
        Assert.True(q.Stats.RingFull >= 2);
    }

    [Fact]
    public async Task Batch_submit_rings_the_doorbell_once_and_stops_at_a_full_ring()
    {
        var q = new QueuePair<int, int>(8, _caps, _device);
        var r = q.SubmitBatch(Enumerable.Range(0, 12).ToList(), _rw, Rights.Read);
        Assert.Equal(8, r.Value.Count);
        var batch = new Submission<int>[16];
        Assert.Equal(8, q.DrainSubmissions(batch));
        for (int i = 0; i < 8; i++) q.Complete(batch[i].Tag, 1);
        Assert.All(await Task.WhenAll(r.Value), x => Assert.Equal(1, x.Value));
    }

    [Fact]
    public async Task Cancelled_request_completes_as_cancelled_and_its_late_completion_is_ignored()
    {
        var q = new QueuePair<int, int>(4, _caps, _device);
        using var cts = new CancellationTokenSource();
        var t = q.SubmitAsync(1, _rw, Rights.Read, ct: cts.Token);
        cts.Cancel();
        Assert.Equal(ErrorCode.Cancelled, (await t).Code);
        var batch = new Submission<int>[4];
        Assert.Equal(1, q.DrainSubmissions(batch));
        q.Complete(batch[0].Tag, 5);     // late: must not disturb anything
        q.Complete(batch[0].Tag, 6);     // duplicate: ignored
        q.Complete(3000, 1);             // stray tag: ignored
        Assert.Equal(0, q.Stats.InFlight);
        Assert.Equal(1, q.Stats.Cancelled);
        // The slot is reusable.
        var again = q.TrySubmit(2, _rw, Rights.Read).Value;
        q.DrainSubmissions(batch);
        q.Complete(batch[0].Tag, 4);
        Assert.Equal(4, (await again).Value);
    }

    [Fact]
    public async Task Every_request_is_capability_checked_before_it_enters_the_ring()
    {
        var q = new QueuePair<int, int>(4, _caps, _device);
        var readOnly = _caps.Derive(_rw, Rights.Read, Principal.Kernel).Value;
        Assert.Equal(ErrorCode.AccessDenied, (await q.SubmitAsync(1, readOnly, Rights.Write)).Code);
        _caps.Revoke(readOnly);
        Assert.Equal(ErrorCode.Revoked, q.TrySubmit(1, readOnly, Rights.Read).Code);
        var other = _caps.Create(new GenericObject("other"), Rights.All, Principal.Kernel).Value;
        Assert.Equal(ErrorCode.WrongObjectType, q.TrySubmit(1, other, Rights.Read).Code);
        Assert.Equal(0, q.Stats.Submitted);
        Assert.Equal(3, q.Stats.Denied);
    }

    [Fact]
    public async Task Closing_fails_outstanding_and_new_requests_with_Closed()
    {
        var q = new QueuePair<int, int>(4, _caps, _device);
        var pending = q.SubmitAsync(1, _rw, Rights.Read);
        q.Close();
        Assert.Equal(ErrorCode.Closed, (await pending).Code);
        Assert.Equal(ErrorCode.Closed, (await q.SubmitAsync(1, _rw, Rights.Read)).Code);
    }

    [Fact]
    public void Bad_depths_are_rejected()
    {
        Assert.Equal(ErrorCode.InvalidArgument, Assert.Throws<KernelException>(() => new QueuePair<int, int>(3, _caps, _device)).Code);
        Assert.Equal(ErrorCode.InvalidArgument, Assert.Throws<KernelException>(() => new QueuePair<int, int>(65536, _caps, _device)).Code);
    }
}
