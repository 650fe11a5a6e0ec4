using Photon.Net.Sockets;

namespace Photon.Net.Tests;

/// <summary>
/// Issue #11, the request/response round trip: a receive parked on a socket that asked for it
/// (<c>TcpConnection.ResumeReceivesInline</c>) resumes on the thread that handled the arriving data, after the stack's
/// lock, instead of through the thread pool. Checked here by counts, never times: every parked receive woken by a burst
/// is resumed inline and counted; other sockets are untouched; a burst runs at most its budget inline; nothing is resumed
/// under the lock; and the inline path racing close, abort and the peer's reset leaves no call parked or hung.
/// </summary>
public sealed class InlineReceiveResumeTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>Waits until <paramref name="c"/> has a call parked, so the data that follows wakes it from a burst.</summary>
    private static async Task UntilParked(Photon.Net.Tcp.TcpConnection c)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (c.PendingCalls == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the receive never parked");
            await Task.Delay(1);
        }
    }

    [Fact]
    public async Task Every_parked_receive_of_an_inline_socket_is_resumed_on_the_receiving_thread_and_others_are_not()
    {
        await using var net = new TwoStacks();
        var (client, server, listener) = await net.ConnectAsync(80);
        var (client2, server2, _) = await net.ConnectAsync(81);
        server.ResumeReceivesInline = true;
        var buf = new byte[16];
        long inline0 = net.Right[Counter.TcpReceivesResumedInline];
        const int RoundTrips = 50;
        for (int i = 0; i < RoundTrips; i++)
        {
            var receive = server.ReceiveAsync(buf);
            await UntilParked(server);
            (await client.SendAsync(new byte[] { (byte)i })).Unwrap();
            var n = await receive.WaitAsync(Patience);
            Assert.Equal(1, n.Value);
            Assert.Equal((byte)i, buf[0]);
            Assert.Equal(i + 1, net.Right[Counter.TcpReceivesResumedInline] - inline0); // exactly one per parked receive
        }
        Assert.Equal(0, net.Right[Counter.TcpReceivesResumedLater]);

        // A socket that did not ask is resumed as before (through a posted continuation), and not counted.
        var other = server2.ReceiveAsync(buf);
        await UntilParked(server2);
        (await client2.SendAsync(new byte[] { 7 })).Unwrap();
        Assert.Equal(1, (await other.WaitAsync(Patience)).Value);
        Assert.Equal(RoundTrips, net.Right[Counter.TcpReceivesResumedInline] - inline0);
        Assert.Equal(0, server.PendingCalls + server2.PendingCalls);
        await listener.DisposeAsync();
    }

    [Fact]
    public async Task A_blocked_continuation_on_a_socket_that_did_not_opt_in_does_not_stall_an_inline_socket()
    {
        await using var net = new TwoStacks();
        var (slowClient, slowServer, listener) = await net.ConnectAsync(80);
        var (client, server, _) = await net.ConnectAsync(81);
        server.ResumeReceivesInline = true;
        using var gate = new ManualResetEventSlim(false);
        int blocked = 0;
        // A tenant's continuation that blocks its thread until released.
        var slow = slowServer.ReceiveAsync(new byte[16]).ContinueWith(t =>
        {
            Interlocked.Increment(ref blocked);
            gate.Wait(Patience);
            return t.Result;
        }, TaskContinuationOptions.ExecuteSynchronously);
        await UntilParked(slowServer);
        (await slowClient.SendAsync(new byte[] { 1 })).Unwrap();
        var deadline = DateTime.UtcNow + Patience;
        while (Volatile.Read(ref blocked) == 0) { Assert.True(DateTime.UtcNow < deadline); await Task.Delay(1); }

        // While it blocks, the inline socket still gets every request resumed from the receiving thread.
        var buf = new byte[16];
        long inline0 = net.Right[Counter.TcpReceivesResumedInline];
        for (int i = 0; i < 20; i++)
        {
            var receive = server.ReceiveAsync(buf);
            await UntilParked(server);
            (await client.SendAsync(new byte[] { (byte)i })).Unwrap();
            Assert.Equal(1, (await receive.WaitAsync(Patience)).Value);
        }
        Assert.Equal(20, net.Right[Counter.TcpReceivesResumedInline] - inline0);
        Assert.False(slow.IsCompleted);
        gate.Set();
        Assert.Equal(1, (await slow.WaitAsync(Patience)).Value);
        await listener.DisposeAsync();
    }

    [Fact]
    public async Task A_burst_resumes_at_most_its_budget_inline_and_posts_the_rest()
    {
        var calls = new PendingCalls<bool>(64, "receive");
        var parked = Enumerable.Range(0, NetworkStack.InlineResumesPerBurst + 5).Select(_ => calls.Park(inline: true).Value).ToList();
        bool resuming = false;
        int ranInside = 0, resumer = Environment.CurrentManagedThreadId;
        // Ran inside ResumeAll: on this thread while it resumes (the posted ones run on others, maybe meanwhile).
        var continuations = parked.Select(c => Observe(c, () => { if (resuming && Environment.CurrentManagedThreadId == resumer) Interlocked.Increment(ref ranInside); })).ToList();
        var woken = new List<PendingCalls<bool>.Resume>();
        calls.WakeAll(true, woken);
        Assert.Equal(parked.Count, woken.Count);
        Assert.Equal(0, calls.Count);
        Assert.All(parked, c => Assert.False(c.IsCompleted)); // nothing completed under the (caller's) lock

        resuming = true;
        int inline = PendingCalls<bool>.ResumeAll(woken, NetworkStack.InlineResumesPerBurst);
        resuming = false;
        Assert.Equal(NetworkStack.InlineResumesPerBurst, inline);
        Assert.Equal(NetworkStack.InlineResumesPerBurst, ranInside);
        Assert.Empty(woken);
        var results = await Task.WhenAll(continuations).WaitAsync(Patience); // the rest were posted, and do complete
        Assert.All(results, Assert.True);
    }

    [Fact]
    public async Task An_inline_call_woken_outside_a_burst_is_not_resumed_on_the_waking_thread()
    {
        var calls = new PendingCalls<bool>(4, "receive");
        var call = calls.Park(inline: true).Value;
        bool waking = false, ranWhileWaking = false;
        int waker = Environment.CurrentManagedThreadId;
        var continuation = Observe(call, () => ranWhileWaking = waking && Environment.CurrentManagedThreadId == waker);
        waking = true;
        calls.WakeAll(true); // as close or a tick does, under the stack's lock
        waking = false;
        Assert.True(await continuation.WaitAsync(Patience));
        Assert.False(ranWhileWaking);
    }

    [Fact]
    public async Task Inline_receives_racing_close_abort_and_the_peers_reset_all_end_and_leave_nothing_parked()
    {
        await using var net = new TwoStacks();
        var listener = net.Right.Tcp.Listen(80).Value;
        for (int i = 0; i < 60; i++)
        {
            var accept = listener.AcceptAsync();
            var client = (await net.Left.Tcp.ConnectAsync(new IpEndpoint(TwoStacks.Ip("10.9.0.2"), 80))).Value;
            var server = (await accept.WaitAsync(Patience)).Value;
            server.ResumeReceivesInline = true;
            var buf = new byte[16];
            int kind = i % 3;
            // The server's loop: the inline continuation itself re-enters the stack (sends, then, on the third kind,
            // aborts) from the receiving thread.
            var loop = Task.Run(async () =>
            {
                int got = 0;
                while (true)
                {
                    var n = await server.ReceiveAsync(buf);
                    if (!n.IsOk || n.Value == 0) return got;
                    got += n.Value;
                    if (kind == 2) { await server.AbortAsync(); return got; }
                    await server.SendAsync(buf.AsMemory(0, n.Value));
                }
            });
            await UntilParked(server);
            var send = client.SendAsync(new byte[] { 1, 2, 3 });
            // Racing the data's arrival: the local handle released, the peer's reset, or the inline abort above.
            var race = kind switch
            {
                0 => Task.Run(async () => await server.DisposeAsync()),
                1 => Task.Run(async () => await client.AbortAsync()),
                _ => Task.CompletedTask,
            };
            await send;
            await race.WaitAsync(Patience);
            int received = await loop.WaitAsync(Patience); // every receive ends: data, end of stream or an error
            Assert.InRange(received, 0, 3);
            Assert.Equal(0, server.PendingCalls);
            await client.AbortAsync();
            await server.DisposeAsync();
        }
        Assert.True(net.Right[Counter.TcpReceivesResumedInline] > 0); // the race went through the inline path
        await listener.DisposeAsync();
    }

    /// <summary>Awaits a parked call (once, as its owner does) and runs <paramref name="onResume"/> where the
    /// continuation runs: inline in the completing thread unless the call posts it.</summary>
    private static async Task<bool> Observe(PendingCalls<bool>.Call call, Action onResume)
    {
        bool r = await call.AsValueTask().ConfigureAwait(false);
        onResume();
        return r;
    }
}
