using Photon.Kernel.Capabilities;
using Photon.Kernel.Ipc;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Tests.Security;

/// <summary>
/// Issue #9, item 15: a wait that is given up (cancelled) leaves nothing parked on the object, so a process cannot
/// grow kernel memory by starting and abandoning waits.
/// </summary>
public sealed class IpcWaiterTests : IDisposable
{
    private const int Many = 100_000;
    private readonly SecurityKernel _k = new(audit: false);
    private readonly Process _p;

    public IpcWaiterTests() => _p = _k.Spawn("p", _k.Tenant("tenant-a"));

    public void Dispose() => _k.Dispose();

    private int Waiters(Handle endpoint) => _p.Get<ChannelEndpoint>(endpoint, Rights.None).Value.Waiters;

    [Fact]
    public async Task A_hundred_thousand_cancelled_receives_leave_no_waiter()
    {
        var (a, b) = _k.Channel(_p, _p);
        using (var cancelled = new CancellationTokenSource())
        {
            cancelled.Cancel();
            for (int i = 0; i < Many; i++)
                Assert.Equal(ErrorCode.Cancelled, (await _k.Ipc.ReceiveAsync(_p, b, cancelled.Token)).Code);
        }
        Assert.Equal(0, Waiters(b));
        // Cancelled after parking, too (each one really registered: the count rises while it waits).
        for (int i = 0; i < Many / 10; i++)
        {
            using var cts = new CancellationTokenSource();
            var pending = _k.Ipc.ReceiveAsync(_p, b, cts.Token);
            if (i % 1000 == 0) Assert.Equal(1, Waiters(b));
            cts.Cancel();
            Assert.Equal(ErrorCode.Cancelled, (await pending).Code);
        }
        Assert.Equal(0, Waiters(b));
        Assert.Equal(0, Waiters(a));
        // The endpoint still works.
        var waiting = _k.Ipc.ReceiveAsync(_p, b);
        _k.Ipc.TrySend(_p, a, "still here"u8).Unwrap();
        Assert.True((await waiting).IsOk);
    }

    [Fact]
    public async Task Cancelled_wait_any_leaves_no_waiter_on_any_endpoint()
    {
        var chans = Enumerable.Range(0, 8).Select(_ => _k.Channel(_p, _p)).ToArray();
        var ends = chans.Select(c => c.B).ToArray();
        using (var cancelled = new CancellationTokenSource())
        {
            cancelled.Cancel();
            for (int i = 0; i < Many / 8; i++)
                Assert.Equal(ErrorCode.Cancelled, (await _k.Ipc.WaitAnyAsync(_p, ends, cancelled.Token)).Code);
        }
        for (int i = 0; i < Many / 100; i++)
        {
            using var cts = new CancellationTokenSource();
            var pending = _k.Ipc.WaitAnyAsync(_p, ends, cts.Token);
            if (i % 100 == 0) Assert.All(ends, e => Assert.Equal(1, Waiters(e)));
            cts.Cancel();
            Assert.Equal(ErrorCode.Cancelled, (await pending).Code);
        }
        Assert.All(ends, e => Assert.Equal(0, Waiters(e)));
        // A wait that is satisfied unregisters from the endpoints that did not fire as well.
        var any = _k.Ipc.WaitAnyAsync(_p, ends);
        _k.Ipc.TrySend(_p, chans[5].A, "!"u8).Unwrap();
        Assert.Equal(5, (await any).Value);
        Assert.All(ends, e => Assert.Equal(0, Waiters(e)));
    }

    [Fact]
    public async Task Cancelled_sends_on_a_full_channel_leave_no_waiter()
    {
        var (a, b) = _k.Channel(_p, _p, depth: 1);
        _k.Ipc.TrySend(_p, a, "fills it"u8).Unwrap();
        using (var cancelled = new CancellationTokenSource())
        {
            cancelled.Cancel();
            for (int i = 0; i < Many; i++)
                Assert.Equal(ErrorCode.Cancelled, (await _k.Ipc.SendAsync(_p, a, "x"u8.ToArray(), ct: cancelled.Token)).Code);
        }
        for (int i = 0; i < Many / 10; i++)
        {
            using var cts = new CancellationTokenSource();
            var pending = _k.Ipc.SendAsync(_p, a, "x"u8.ToArray(), ct: cts.Token);
            if (i % 1000 == 0) Assert.Equal(1, Waiters(b)); // parked on the full inbox
            cts.Cancel();
            Assert.Equal(ErrorCode.Cancelled, (await pending).Code);
        }
        Assert.Equal(0, Waiters(a));
        Assert.Equal(0, Waiters(b));
        Assert.Equal(1, _p.Get<ChannelEndpoint>(b, Rights.None).Value.Pending); // no cancelled send slipped in
    }

    [Fact]
    public async Task Cancelled_accepts_leave_no_waiter()
    {
        var listener = _k.Sys.Channels.Listen(_p).Value;
        var l = _p.Get<IpcListener>(listener, Rights.None).Value;
        using (var cancelled = new CancellationTokenSource())
        {
            cancelled.Cancel();
            for (int i = 0; i < Many; i++)
                Assert.Equal(ErrorCode.Cancelled, (await _k.Sys.Channels.AcceptAsync(_p, listener, cancelled.Token)).Code);
        }
        for (int i = 0; i < Many / 10; i++)
        {
            using var cts = new CancellationTokenSource();
            var pending = _k.Sys.Channels.AcceptAsync(_p, listener, cts.Token);
            if (i % 1000 == 0) Assert.Equal(1, l.Waiters);
            cts.Cancel();
            Assert.Equal(ErrorCode.Cancelled, (await pending).Code);
        }
        Assert.Equal(0, l.Waiters);
    }

    /// <summary>Both sides of a request/reply channel polling or waiting on their own (empty) ends at the same time —
    /// the ordinary case — must never deadlock each other (an endpoint must not hold its lock while taking its
    /// peer's).</summary>
    [Fact]
    public void Receivers_on_both_ends_of_a_channel_never_deadlock()
    {
        const int Rounds = 200_000;
        var other = _k.Spawn("q", _k.Tenant("tenant-b"));
        var (a, b) = _k.Channel(_p, other);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Exception? fault = null;
        Thread Poll(Process who, Handle end) => new(() =>
        {
            try
            {
                for (int i = 0; i < Rounds; i++)
                {
                    var r = (i % 4) switch
                    {
                        0 => _k.Ipc.ReceiveAsync(who, end, cancelled.Token).GetAwaiter().GetResult().AsResult(),
                        1 => _k.Ipc.WaitAnyAsync(who, [end], cancelled.Token).GetAwaiter().GetResult().AsResult(),
                        _ => _k.Ipc.TryReceive(who, end).AsResult(),
                    };
                    if (r.Code is not (ErrorCode.WouldBlock or ErrorCode.Cancelled)) throw new InvalidOperationException($"round {i}: {r}");
                }
            }
            catch (Exception e) { fault = e; }
        }) { IsBackground = true };
        var threads = new[] { Poll(_p, a), Poll(other, b) };
        foreach (var t in threads) t.Start();
        foreach (var t in threads) Assert.True(t.Join(TimeSpan.FromSeconds(60)), "the two ends of a channel deadlocked");
        Assert.Null(fault);
    }

    [Fact]
    public async Task Timed_out_calls_leave_no_waiter()
    {
        var (a, b) = _k.Channel(_p, _p);
        for (int i = 0; i < 20; i++)
            Assert.Equal(ErrorCode.TimedOut, (await _k.Ipc.CallAsync(_p, a, "ping"u8.ToArray(), TimeSpan.FromMilliseconds(1))).Code);
        Assert.Equal(0, Waiters(a));
        Assert.Equal(0, Waiters(b));
        Assert.Equal(20, _p.Get<ChannelEndpoint>(b, Rights.None).Value.Pending); // the unanswered requests
    }
}
