using System.Security.Cryptography;
using Photon.Kernel.Hal;
using Photon.Net.Tcp;
using static Photon.Net.Tests.StackTests;

namespace Photon.Net.Tests;

/// <summary>
/// Issue #17, vm17: a large send that does not fit its buffer is lent, not copied — the send buffer reads the sender's
/// memory in place (<c>TcpConnection.TryLend</c>) and the send ends when the peer has acknowledged its last byte. Checked
/// by exact streams and counters: to a gathering NIC the lent payload goes by reference, each frame holding the send's
/// lease (vm18), and no storage is grown; a frame a device still holds when the send ends is dropped unread, never sent
/// with the memory's next contents, and an end racing a device's read waits for it; over a lossy, reordering wire
/// retransmissions read the right bytes; a close does not end a lent send early, a cancelled one leaves an exact prefix
/// (what it had sent) and ends at once — its unacknowledged bytes copied into the buffer's own storage (never more in
/// flight than the buffer holds), or the connection reset when the quota has no room — and a reset ends it with the
/// error; a send made meanwhile follows it in order.
/// </summary>
public sealed class LentSendTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    /// <summary>16 bytes of the pattern a sender writes over its memory once its send returned (random data holds such a
    /// run with probability ~2^-128 per position).</summary>
    private static readonly byte[] Reused = Enumerable.Repeat((byte)0xEE, 16).ToArray();

    private static NetworkStackOptions Options(int send = 64 * 1024) => new()
    {
        TcpMinRto = TimeSpan.FromMilliseconds(50), TcpMsl = TimeSpan.FromMilliseconds(200),
        TcpSendBuffer = send, TcpSendBufferMax = 1 << 20,
    };

    private static async Task Until(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, what);
            await Task.Delay(1);
        }
    }

    private static async Task<(NetworkStack Left, NetworkStack Right, TcpConnection Client, TcpConnection Server, TcpListener Listener)> GatheringPair(
        GatheringDevice nic, WireEnd peer, string subnet, NetworkStackOptions? options = null)
    {
        var left = new NetworkStack(TwoStacks.Timers, options ?? Options());
        var right = new NetworkStack(TwoStacks.Timers, options ?? Options());
        left.AddInterface(nic, Ipv4Cidr.Parse($"{subnet}.1/24").Value).Unwrap();
        right.AddInterface(peer, Ipv4Cidr.Parse($"{subnet}.2/24").Value).Unwrap();
        left.Start();
        right.Start();
        var listener = right.Tcp.Listen(8200).Value;
        var accept = listener.AcceptAsync();
        var client = (await left.Tcp.ConnectAsync(new IpEndpoint(TwoStacks.Ip($"{subnet}.2"), 8200)).WaitAsync(Patience)).Value;
        var server = (await accept.WaitAsync(Patience)).Value;
        return (left, right, client, server, listener);
    }

    [Fact]
    public async Task A_lent_send_to_a_gathering_nic_goes_by_reference_under_its_lease_and_grows_no_storage()
    {
        var (a, b) = WireEnd.Pair();
        var nic = new GatheringDevice(a);
        var (left, right, client, server, listener) = await GatheringPair(nic, b, "10.9.12");
        await using (left) await using (right) await using (listener)
        {
            Assert.True((await client.SendAsync("head"u8.ToArray()).WaitAsync(Patience)).IsOk); // a small send is copied
            var data = RandomNumberGenerator.GetBytes(4 << 20);
            var received = ReadAll(server);
            var send = client.SendAsync(data);
            Assert.True((await send.WaitAsync(Patience)).IsOk);
            await client.CloseAsync();
            var got = await received.WaitAsync(Patience);
            Assert.Equal(SHA256.HashData("head"u8.ToArray().Concat(data).ToArray()), SHA256.HashData(got));
            Assert.Equal(1, left[Counter.TcpSendsLent]);
            Assert.Equal(data.Length, left[Counter.TcpSendBytesLent]);
            Assert.Equal(0, left[Counter.TcpSendBytesTakenFromParkedWriter]);
            Assert.Equal(0, left[Counter.TcpSendStorageGrowths]);
            // The payload went from the sender's memory straight to the device (one copy: the device's), each frame
            // holding the send's lease (vm18).
            Assert.True(nic.SawPayloadIn(data), "no frame carried the lent memory by reference");
            Assert.True(left[Counter.TcpLentBytesByReference] >= data.Length - 64 * 1024, $"{left[Counter.TcpLentBytesByReference]} lent bytes by reference");
            Assert.True(left[Counter.TcpPayloadBytesCopiedOut] < 64 * 1024, $"{left[Counter.TcpPayloadBytesCopiedOut]} bytes copied into frames");
        }
    }

    [Fact]
    public async Task With_lending_by_reference_off_lent_bytes_are_copied_into_frames_never_referenced()
    {
        var (a, b) = WireEnd.Pair();
        var nic = new GatheringDevice(a);
        var (left, right, client, server, listener) = await GatheringPair(nic, b, "10.9.16", Options() with { TcpLentBytesByReference = false });
        await using (left) await using (right) await using (listener)
        {
            var data = RandomNumberGenerator.GetBytes(1 << 20);
            var received = ReadAll(server);
            Assert.True((await client.SendAsync(data).WaitAsync(Patience)).IsOk);
            await client.CloseAsync();
            Assert.Equal(SHA256.HashData(data), SHA256.HashData(await received.WaitAsync(Patience)));
            Assert.Equal(1, left[Counter.TcpSendsLent]);
            Assert.False(nic.SawPayloadIn(data), "a frame referenced the lent memory");
            Assert.True(left[Counter.TcpPayloadBytesCopiedOut] >= data.Length);
            Assert.Equal(0, left[Counter.TcpLentBytesByReference]);
        }
    }

    /// <summary>The memory-safety property (vm18), as the attacker would try it. The device sends a copy of each frame at
    /// once — so the peer acknowledges everything, as an optimistic ACK for frames still queued would — but also keeps
    /// every frame that carries lent memory, like a slow queue still holding them. The send ends; the sender reuses its
    /// array at once (HttpServer hands it back to the process-wide ArrayPool, where another tenant may write its
    /// secrets). When the slow queue finally reads its frames, every one is withdrawn: none is read, so none of the
    /// reused array's bytes reaches the wire; a consumer that wants such a frame whole gets a typed error.</summary>
    [Fact]
    public async Task A_frame_still_queued_when_its_lent_send_ends_is_dropped_never_sent_with_the_reused_memory()
    {
        var (a, b) = WireEnd.Pair();
        var nic = new GatheringDevice(a) { KeepLeased = true };
        var (left, right, client, server, listener) = await GatheringPair(nic, b, "10.9.17");
        await using (left) await using (right) await using (listener)
        {
            var data = RandomNumberGenerator.GetBytes(2 << 20);
            var expected = data.ToArray();
            var received = ReadAll(server);
            Assert.True((await client.SendAsync(data).WaitAsync(Patience)).IsOk);
            data.AsSpan().Fill(0xEE); // the sender's memory is its own again: another owner writes there now
            var read = nic.ReadKept();
            Assert.True(nic.KeptLeased > 10, $"{nic.KeptLeased} frames kept");
            Assert.Empty(read);
            Assert.Equal(nic.KeptLeased, nic.Withdrawn);
            await client.CloseAsync();
            Assert.Equal(SHA256.HashData(expected), SHA256.HashData(await received.WaitAsync(Patience)));
        }
    }

    /// <summary>A device still copying a frame of a lent send when the peer's ACK ends it (its lease entered): the send
    /// does not return until that copy is done, so the sender cannot reuse memory a device is reading.</summary>
    [Fact]
    public async Task A_lent_send_whose_frame_is_being_read_when_it_is_acknowledged_returns_only_after_the_read()
    {
        var (a, b) = WireEnd.Pair();
        var nic = new GatheringDevice(a) { HoldReadAt = 3 };
        var (left, right, client, server, listener) = await GatheringPair(nic, b, "10.9.18");
        await using (left) await using (right) await using (listener)
        {
            var data = RandomNumberGenerator.GetBytes(1 << 20);
            var received = ReadAll(server);
            var send = client.SendAsync(data);
            await Until(() => left[Counter.TcpLentSendsWaitedForReader] == 1, "the send's end did not wait for the read in progress");
            Assert.False(send.IsCompleted);
            Assert.True(nic.FinishHeldRead());
            Assert.True((await send.WaitAsync(Patience)).IsOk);
            await client.CloseAsync();
            Assert.Equal(SHA256.HashData(data), SHA256.HashData(await received.WaitAsync(Patience)));
        }
    }

    /// <summary>Close, reset and cancellation racing frames in flight: a device that holds every lent frame and reads
    /// it later (on another thread, while the connection ends) reads none after the send returned — the send's array
    /// is overwritten the moment it returns, and no frame read afterwards carries the overwritten bytes. 30 rounds.</summary>
    [Fact]
    public async Task Ends_racing_a_device_that_reads_frames_late_never_leak_reused_memory()
    {
        for (int round = 0; round < 30; round++)
        {
            var (a, b) = WireEnd.Pair();
            var nic = new GatheringDevice(a) { KeepLeased = true };
            var (left, right, client, server, listener) = await GatheringPair(nic, b, "10.9.19");
            await using (left) await using (right) await using (listener)
            {
                var data = RandomNumberGenerator.GetBytes(512 << 10);
                using var cts = new CancellationTokenSource();
                var send = client.SendAsync(data, cts.Token);
                var stop = new CancellationTokenSource();
                var leaks = 0;
                var reader = Task.Run(async () =>
                {
                    while (!stop.IsCancellationRequested)
                    {
                        foreach (var f in nic.ReadKept())
                            if (f.AsSpan(54).IndexOf(Reused) >= 0) Interlocked.Increment(ref leaks);
                        await Task.Yield();
                    }
                });
                var reading = ReadAll(server);
                await Task.Delay(round % 5);
                switch (round % 3)
                {
                    case 0: await client.AbortAsync(); break;            // reset
                    case 1: cts.Cancel(); break;                         // cancellation
                    default: await client.DisposeAsync(); break;         // close and release
                }
                await send.WaitAsync(Patience);
                data.AsSpan().Fill(0xEE);                                // reused the moment the send returned
                await Task.Delay(5);
                stop.Cancel();
                await reader.WaitAsync(Patience);
                foreach (var f in nic.ReadKept())
                    if (f.AsSpan(54).IndexOf(Reused) >= 0) Interlocked.Increment(ref leaks);
                Assert.Equal(0, leaks);
                await server.AbortAsync();
                try { await reading.WaitAsync(Patience); } catch (Exception) { }
            }
        }
    }

    [Fact]
    public async Task Retransmissions_by_reference_over_a_lossy_reordering_wire_send_the_right_lent_bytes()
    {
        var (a, b) = WireEnd.Pair(loss: 0.02, seed: 13, reorder: 0.02);
        var nic = new GatheringDevice(a);
        var (left, right, client, server, listener) = await GatheringPair(nic, b, "10.9.20", Options(send: 32 * 1024));
        await using (left) await using (right) await using (listener)
        {
            var data = RandomNumberGenerator.GetBytes(2 << 20);
            var received = ReadAll(server);
            Assert.True((await client.SendAsync(data).WaitAsync(Patience)).IsOk);
            await client.CloseAsync();
            Assert.Equal(SHA256.HashData(data), SHA256.HashData(await received.WaitAsync(Patience)));
            Assert.True(left[Counter.TcpRetransmits] > 0, "the wire lost nothing: no retransmission was tested");
            Assert.True(left[Counter.TcpLentBytesByReference] > data.Length, "retransmissions did not go by reference too");
        }
    }

    [Fact]
    public async Task Retransmissions_over_a_lossy_reordering_wire_read_the_right_lent_bytes()
    {
        await using var net = new TwoStacks(loss: 0.02, seed: 11, reorder: 0.02, options: Options(send: 32 * 1024));
        var (client, server, listener) = await net.ConnectAsync(80);
        var data = RandomNumberGenerator.GetBytes(3 << 20);
        var received = ReadAll(server);
        Assert.True((await client.SendAsync(data).WaitAsync(Patience)).IsOk);
        await client.CloseAsync();
        var got = await received.WaitAsync(Patience);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(got));
        Assert.Equal(1, net.Left[Counter.TcpSendsLent]);
        Assert.True(net.Left[Counter.TcpRetransmits] > 0, "the wire lost nothing: no retransmission was tested");
        await listener.DisposeAsync();
    }

    [Fact]
    public async Task A_lent_send_ends_only_when_acknowledged_and_a_small_send_made_meanwhile_follows_it()
    {
        await using var net = new TwoStacks(options: new NetworkStackOptions
        {
            TcpMinRto = TimeSpan.FromMilliseconds(50), TcpMsl = TimeSpan.FromMilliseconds(200),
            TcpSendBuffer = 64 * 1024, TcpSendBufferMax = 64 * 1024, TcpReceiveBuffer = 64 * 1024, TcpReceiveBufferMax = 64 * 1024,
        });
        var (client, server, listener) = await net.ConnectAsync(80);
        var big = RandomNumberGenerator.GetBytes(1 << 20);
        var small = RandomNumberGenerator.GetBytes(700);
        var sendBig = client.SendAsync(big);
        await Until(() => client.PendingCalls == 1, "the large send never parked");
        var sendSmall = client.SendAsync(small);
        await Until(() => client.PendingCalls == 2, "the small send did not park behind the lent one");
        // The peer does not read: its window closes at 64 KiB, so most of the lent bytes cannot even be sent yet.
        await Task.Delay(50);
        Assert.False(sendBig.IsCompleted);
        Assert.False(sendSmall.IsCompleted);
        var got = await ReadExactlyAsync(server, big.Length + small.Length);
        Assert.True((await sendBig.WaitAsync(Patience)).IsOk);
        Assert.True((await sendSmall.WaitAsync(Patience)).IsOk);
        Assert.Equal(big.Concat(small).ToArray(), got);
        await listener.DisposeAsync();
    }

    [Fact]
    public async Task A_close_does_not_end_a_lent_send_before_its_bytes_are_acknowledged()
    {
        await using var net = new TwoStacks(options: new NetworkStackOptions
        {
            TcpMinRto = TimeSpan.FromMilliseconds(50), TcpMsl = TimeSpan.FromMilliseconds(200),
            TcpSendBuffer = 64 * 1024, TcpSendBufferMax = 64 * 1024, TcpReceiveBuffer = 64 * 1024, TcpReceiveBufferMax = 64 * 1024,
        });
        var (client, server, listener) = await net.ConnectAsync(80);
        var data = RandomNumberGenerator.GetBytes(1 << 20);
        var send = client.SendAsync(data);
        await Until(() => client.PendingCalls == 1, "the send never parked");
        await client.CloseAsync();
        await Task.Delay(50);
        Assert.False(send.IsCompleted); // its memory is still read: the peer has not even been sent most of it
        var got = await ReadAll(server).WaitAsync(Patience);
        Assert.True((await send.WaitAsync(Patience)).IsOk);
        Assert.Equal(data, got);                 // all of it, then the FIN
        await listener.DisposeAsync();
    }

    /// <summary>A cancelled lent send drops what it had not sent and ends at once (what it had sent is kept): the
    /// peer gets an exact prefix of it, then the next send's bytes — over 20 rounds of a cancel racing the reader.</summary>
    [Fact]
    public async Task A_cancelled_lent_send_leaves_an_exact_prefix_then_the_next_send()
    {
        await using var net = new TwoStacks(options: new NetworkStackOptions
        {
            TcpMinRto = TimeSpan.FromMilliseconds(50), TcpMsl = TimeSpan.FromMilliseconds(200),
            TcpSendBuffer = 16 * 1024, TcpSendBufferMax = 16 * 1024, TcpReceiveBuffer = 64 * 1024, TcpReceiveBufferMax = 64 * 1024,
        });
        var listener = net.Right.Tcp.Listen(83).Value;
        await using var _ = listener;
        var rng = new Random(3);
        int cancelled = 0;
        for (int round = 0; round < 20; round++)
        {
            var accept = listener.AcceptAsync();
            var client = (await net.Left.Tcp.ConnectAsync(new IpEndpoint(TwoStacks.Ip("10.9.0.2"), 83)).WaitAsync(Patience)).Value;
            var server = (await accept.WaitAsync(Patience)).Value;
            long lent0 = net.Left[Counter.TcpSendsLent];
            var a = RandomNumberGenerator.GetBytes(400_000);
            var b = RandomNumberGenerator.GetBytes(5_000);
            using var cts = new CancellationTokenSource();
            var sendA = client.SendAsync(a, cts.Token);
            await Until(() => client.PendingCalls == 1 || sendA.IsCompleted, "the send never parked");
            Assert.Equal(1, net.Left[Counter.TcpSendsLent] - lent0);
            if (round % 3 == 0) cts.Cancel(); // before any reading: the peer's window holds only part of it
            var reader = Task.Run(() => ReadAll(server));
            int delay = rng.Next(0, 4);
            if (delay > 0) await Task.Delay(delay);
            cts.Cancel();
            var ra = await sendA.WaitAsync(Patience);
            Assert.True(ra.IsOk || ra.Code == ErrorCode.Cancelled, ra.ToString());
            Assert.True((await client.SendAsync(b).WaitAsync(Patience)).IsOk);
            await client.CloseAsync();
            var got = await reader.WaitAsync(Patience);
            int k = got.Length - b.Length;
            Assert.InRange(k, 0, a.Length);
            Assert.True(got.AsSpan(0, k).SequenceEqual(a.AsSpan(0, k)), $"round {round}: the cancelled send's bytes are not a prefix of it");
            Assert.True(got.AsSpan(k).SequenceEqual(b), $"round {round}: the next send's bytes did not follow at once");
            if (ra.IsOk) Assert.Equal(a.Length, k);
            else cancelled++;
            await server.DisposeAsync();
            await client.DisposeAsync();
        }
        Assert.True(cancelled > 0, "no round cancelled a lent send");
    }

    /// <summary>review18: a cancelled lent send used to wait until the peer acknowledged what it had sent — a client that
    /// never acknowledged held the sender (and an HTTP server's connection slot) for as long as it liked. Now its sent,
    /// unacknowledged bytes are copied into the send buffer's own storage and the cancel returns at once, with no ACK
    /// ever arriving; the sender may reuse its memory at once, and the peer still gets the original bytes.</summary>
    [Fact]
    public async Task A_cancelled_lent_send_the_peer_never_acknowledges_ends_at_once_and_its_sent_bytes_stay_right()
    {
        await using var net = new TwoStacks(options: new NetworkStackOptions
        {
            TcpMinRto = TimeSpan.FromMilliseconds(50), TcpMaxRto = TimeSpan.FromMilliseconds(200), TcpMsl = TimeSpan.FromMilliseconds(200),
            TcpSendBuffer = 16 * 1024, TcpSendBufferMax = 1 << 20, TcpReceiveBuffer = 64 * 1024, TcpReceiveBufferMax = 64 * 1024,
        });
        var (client, server, listener) = await net.ConnectAsync(84);
        var a = RandomNumberGenerator.GetBytes(1 << 20);
        var original = a.ToArray();
        var b = RandomNumberGenerator.GetBytes(3_000);
        net.B.Loss = 1.0; // the peer's ACKs never arrive
        long outBefore = net.Left[Counter.TcpSegmentsOut];
        using var cts = new CancellationTokenSource();
        var send = client.SendAsync(a, cts.Token);
        await Until(() => client.PendingCalls == 1, "the send never parked");
        await Until(() => net.Left[Counter.TcpSegmentsOut] - outBefore >= 4, "nothing of the lent send went out");
        Assert.Equal(1, net.Left[Counter.TcpSendsLent]);
        cts.Cancel();
        var r = await send.WaitAsync(Patience);
        Assert.Equal(ErrorCode.Cancelled, r.Code);
        Assert.Equal(1, net.Left[Counter.TcpLentBytesTakenOnCut]); // ended by the copy, not by an ACK
        Array.Clear(a); // the sender reuses its memory at once
        net.B.Loss = 0;
        Assert.True((await client.SendAsync(b).WaitAsync(Patience)).IsOk);
        await client.CloseAsync();
        var got = await ReadAll(server).WaitAsync(Patience);
        int k = got.Length - b.Length;
        Assert.InRange(k, 1, original.Length - 1);
        Assert.True(got.AsSpan(0, k).SequenceEqual(original.AsSpan(0, k)), "the bytes sent before the cancel changed with the sender's memory");
        Assert.True(got.AsSpan(k).SequenceEqual(b));
        Assert.Equal(0, net.Left[Counter.TcpResetsSent]);
        await listener.DisposeAsync();
    }

    /// <summary>The ring's side of ending a cut lent send at once (<see cref="ByteRing.TakeLentBytes"/>): the lent bytes
    /// become its own, after its own bytes and in order, charged to the owner; the lender's memory is no longer read (it
    /// may be overwritten at once); when the quota has no room nothing changes and the connection resets instead.</summary>
    [Fact]
    public void Taking_lent_bytes_copies_them_in_order_charged_or_changes_nothing_when_the_quota_refuses()
    {
        const int K = 1024;
        var quotas = new Photon.Kernel.Quotas.TenantQuotas();
        quotas.SetLimits("/t", new Photon.Kernel.Quotas.QuotaLimits(MemoryBytes: 64 * K)).Unwrap();
        var account = new Photon.Net.Sockets.SocketAccount("/t", new Photon.Kernel.Capabilities.Principal("sender", "/t"), quotas, maxEphemeral: 4);
        var ring = new ByteRing(1 << 20, ByteRing.LargeStorage) { Account = account };
        var own = RandomNumberGenerator.GetBytes(3 * K);
        var lentA = RandomNumberGenerator.GetBytes(20 * K);
        var lentB = RandomNumberGenerator.GetBytes(30 * K);
        Assert.Equal(own.Length, ring.Write(own));
        long endA = ring.Lend(lentA), endB = ring.Lend(lentB);
        ring.Discard(3 * K + 5 * K); // the own bytes and the first 5 KiB of the first extent acknowledged
        Assert.Equal(5 * K, ring.LentDiscarded);
        var before = new byte[ring.Count];
        ring.Peek(0, before);

        var big = RandomNumberGenerator.GetBytes(80 * K); // 15 + 30 + 80 KiB takes 128 KiB of storage: past the 64 KiB quota
        Assert.True(ring.Lend(big) > 0);
        Assert.False(ring.TakeLentBytes());
        Assert.Equal(before.Length + big.Length, ring.Count); // nothing changed: still lent, still read in place
        ring.TruncateLent(big.Length);

        Assert.True(ring.TakeLentBytes());
        Assert.Equal(0, ring.LentBytes);
        Assert.True(ring.LentDiscarded >= endA && ring.LentDiscarded >= endB); // both lenders may go
        Array.Clear(lentA);
        Array.Clear(lentB);
        var after = new byte[ring.Count];
        ring.Peek(0, after);
        Assert.Equal(before, after);
        Assert.Equal(ring.Storage, account.Usage.BufferBytes); // the grown storage charged to the owner
        Assert.True(ring.Free > 0); // its own again: writes may follow
        ring.Release();
        Assert.Equal(0, quotas.Usage("/t").MemoryBytes);
    }

    /// <summary>review18: a send made while a cancelled lent send had left the writers' list but was not cut yet was lent
    /// behind it and cut with it (dropped bytes, a healthy connection reporting it closed). A send now parks behind any
    /// lent send. Many rounds of a cancel racing the next large send: the next send always succeeds, whole, in order.</summary>
    [Fact]
    public async Task A_large_send_racing_the_cancel_of_a_lent_send_is_never_cut_with_it()
    {
        await using var net = new TwoStacks(options: new NetworkStackOptions
        {
            TcpMinRto = TimeSpan.FromMilliseconds(50), TcpMsl = TimeSpan.FromMilliseconds(200),
            TcpSendBuffer = 16 * 1024, TcpSendBufferMax = 1 << 20, TcpReceiveBuffer = 64 * 1024, TcpReceiveBufferMax = 64 * 1024,
        });
        var listener = net.Right.Tcp.Listen(86).Value;
        await using var _ = listener;
        for (int round = 0; round < 12; round++)
        {
            var accept = listener.AcceptAsync();
            var client = (await net.Left.Tcp.ConnectAsync(new IpEndpoint(TwoStacks.Ip("10.9.0.2"), 86)).WaitAsync(Patience)).Value;
            var server = (await accept.WaitAsync(Patience)).Value;
            var a = RandomNumberGenerator.GetBytes(400_000);
            var b = RandomNumberGenerator.GetBytes(200_000);
            using var cts = new CancellationTokenSource();
            var sendA = client.SendAsync(a, cts.Token);
            await Until(() => client.PendingCalls == 1 || sendA.IsCompleted, "the send never parked");
            var cancel = Task.Run(cts.Cancel);
            var sendB = Task.Run(() => client.SendAsync(b));
            await cancel;
            var reader = Task.Run(() => ReadAll(server));
            var ra = await sendA.WaitAsync(Patience);
            Assert.True(ra.IsOk || ra.Code == ErrorCode.Cancelled, ra.ToString());
            var rb = await sendB.WaitAsync(Patience);
            Assert.True(rb.IsOk, $"round {round}: the racing send failed: {rb}");
            await client.CloseAsync();
            var got = await reader.WaitAsync(Patience);
            int k = got.Length - b.Length;
            Assert.InRange(k, 0, a.Length);
            Assert.True(got.AsSpan(0, k).SequenceEqual(a.AsSpan(0, k)), $"round {round}: not a prefix of the cancelled send");
            Assert.True(got.AsSpan(k).SequenceEqual(b), $"round {round}: the racing send's bytes did not follow whole");
            await server.DisposeAsync();
            await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_reset_ends_a_lent_send_with_the_error_not_as_sent()
    {
        await using var net = new TwoStacks(options: new NetworkStackOptions
        {
            TcpMinRto = TimeSpan.FromMilliseconds(50), TcpMsl = TimeSpan.FromMilliseconds(200),
            TcpSendBuffer = 64 * 1024, TcpSendBufferMax = 64 * 1024, TcpReceiveBuffer = 64 * 1024, TcpReceiveBufferMax = 64 * 1024,
        });
        var (client, server, listener) = await net.ConnectAsync(80);
        var send = client.SendAsync(RandomNumberGenerator.GetBytes(1 << 20));
        await Until(() => client.PendingCalls == 1, "the send never parked");
        await client.AbortAsync();
        var r = await send.WaitAsync(Patience);
        Assert.Equal(ErrorCode.ConnectionReset, r.Code);
        Assert.Equal(0, client.PendingCalls);
        await server.DisposeAsync();
        await listener.DisposeAsync();
    }

    private static async Task<byte[]> ReadExactlyAsync(TcpConnection c, int n)
    {
        var got = new byte[n];
        int at = 0;
        while (at < n)
        {
            int k = (await c.ReceiveAsync(got.AsMemory(at, Math.Min(16 * 1024, n - at))).WaitAsync(Patience)).Value;
            Assert.True(k > 0, "the stream ended early");
            at += k;
        }
        return got;
    }
}
