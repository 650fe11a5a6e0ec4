using Photon.Kernel.Capabilities;
using Photon.Kernel.Ipc;
using Photon.Kernel.Processes;
using Photon.Kernel.Tests.Scheduling;

namespace Photon.Kernel.Tests.Ipc;

/// <summary>
/// The packed batched send (<c>TrySendPacked</c>/<c>SendPackedAsync</c>: messages back to back in one buffer, a
/// lengths array) and the batched receive into the caller's buffer (<c>TryReceiveBatchInto</c>/
/// <c>ReceiveBatchIntoAsync</c>). What a user relies on: every message arrives once, intact and in order, however the
/// batch is cut by a full inbox or a quota; hostile lengths and bad handles fail typed and change nothing; a flood is
/// held to the inbox's depth and the tenant's quota. One kernel CPU: the streaming test's allocation count is the
/// whole cost of the stream.
/// </summary>
public sealed class IpcPackedBatchTests() : IpcKernelTestBase(cpus: 1, "packed batch test")
{
    /// <summary>Messages numbered from <paramref name="start"/>, message i of length <c>i % 7</c> plus 4 (its number).</summary>
    private static (byte[] Packed, int[] Lengths) Pack(int count, int start = 0)
    {
        var lengths = new int[count];
        var packed = new List<byte>();
        for (int i = 0; i < count; i++)
        {
            int n = start + i;
            packed.AddRange(BitConverter.GetBytes(n));
            packed.AddRange(Enumerable.Repeat((byte)n, n % 7));
            lengths[i] = 4 + n % 7;
        }
        return (packed.ToArray(), lengths);
    }

    /// <summary>Checks each received message is whole (its number, then its filler) and returns the numbers.</summary>
    private static List<int> Unpack(byte[] buffer, ReadOnlySpan<int> lengths)
    {
        var numbers = new List<int>();
        int offset = 0;
        foreach (int length in lengths)
        {
            int n = BitConverter.ToInt32(buffer, offset);
            Assert.Equal(4 + n % 7, length);
            Assert.All(buffer.AsSpan(offset + 4, length - 4).ToArray(), b => Assert.Equal((byte)n, b));
            numbers.Add(n);
            offset += length;
        }
        return numbers;
    }

    private List<int> ReceiveAll(Process b, Handle hb, int lengthsRoom = 256)
    {
        var buffer = new byte[64 * 1024];
        var lengths = new int[lengthsRoom];
        var all = new List<int>();
        while (true)
        {
            var r = _ipc.TryReceiveBatchInto(b, hb, buffer, lengths);
            if (!r.IsOk) { Assert.True(r.Code is ErrorCode.WouldBlock or ErrorCode.Closed, r.Code.ToString()); return all; }
            Assert.InRange(r.Value, 1, lengthsRoom);
            all.AddRange(Unpack(buffer, lengths.AsSpan(0, r.Value)));
        }
    }

    [Fact]
    public void A_packed_batch_arrives_whole_and_in_order_and_counts_like_single_sends()
    {
        var (a, ha, b, hb) = Pair(depth: 64);
        var (packed, lengths) = Pack(40);
        Assert.Equal(40, _ipc.TrySendPacked(a, ha, packed, lengths).Value);
        Assert.Equal(40, Endpoint(b, hb).Pending);
        Assert.Equal(Enumerable.Range(0, 40), ReceiveAll(b, hb));
        Assert.Equal(40, _manager.MessagesSent);
        Assert.Equal(40, _manager.MessagesReceived);
        // Zero-length messages are messages too.
        Assert.Equal(3, _ipc.TrySendPacked(a, ha, ReadOnlySpan<byte>.Empty, new int[3]).Value);
        var l = new int[8];
        Assert.Equal(3, _ipc.TryReceiveBatchInto(b, hb, new byte[1], l).Value);
        Assert.Equal(new int[3], l[..3]);
    }

    [Fact]
    public void A_full_inbox_takes_the_first_messages_and_the_rest_follow_in_order_with_none_lost_or_repeated()
    {
        var (a, ha, b, hb) = Pair(depth: 8);
        var (packed, lengths) = Pack(20);
        Assert.Equal(8, _ipc.TrySendPacked(a, ha, packed, lengths).Value);
        Assert.Equal(ErrorCode.WouldBlock, _ipc.TrySendPacked(a, ha, packed, lengths).Code);
        // A receive whose lengths array holds three takes three; a buffer that holds two messages' bytes takes two.
        var buffer = new byte[64];
        Assert.Equal(3, _ipc.TryReceiveBatchInto(b, hb, buffer, new int[3]).Value);
        var two = new int[8];
        Assert.Equal(2, _ipc.TryReceiveBatchInto(b, hb, buffer.AsSpan(0, lengths[3] + lengths[4] + 1), two).Value);
        Assert.Equal(new[] { 3, 4 }, Unpack(buffer, two.AsSpan(0, 2)));
        var seen = new List<int> { 0, 1, 2, 3, 4 };
        int sent = 8, offset = lengths[..8].Sum();
        while (sent < 20)
        {
            var r = _ipc.TrySendPacked(a, ha, packed.AsSpan(offset), lengths.AsSpan(sent));
            if (r.IsOk) { offset += lengths.AsSpan(sent, r.Value).ToArray().Sum(); sent += r.Value; }
            else Assert.Equal(ErrorCode.WouldBlock, r.Code);
            seen.AddRange(ReceiveAll(b, hb, lengthsRoom: 3));
        }
        seen.AddRange(ReceiveAll(b, hb));
        Assert.Equal(Enumerable.Range(0, 20), seen);
    }

    [Fact]
    public void Hostile_lengths_and_buffers_fail_typed_and_change_nothing()
    {
        var (a, ha, b, hb) = Pair(depth: 64);
        long charged = 0;
        _manager.MemoryQuota = (_, bytes) => { Interlocked.Add(ref charged, bytes); return Result.Ok; };
        var buffer = new byte[1024];
        foreach (var bad in new[]
        {
            new[] { 4, -1, 4 },                       // negative
            new[] { IpcManager.MaxMessageBytes + 1 }, // over the message limit
            new[] { 600, 600 },                       // more than the buffer
            new[] { int.MaxValue, int.MaxValue, 2 },  // would overflow an int sum
            new[] { 4, int.MinValue },
            Array.Empty<int>(),
            new int[IpcManager.MaxBatch + 1],
        })
        {
            Assert.Equal(ErrorCode.InvalidArgument, _ipc.TrySendPacked(a, ha, buffer, bad).Code);
        }
        Assert.Equal(0, Endpoint(b, hb).Pending);
        Assert.Equal(0, _manager.MessagesSent);
        Assert.Equal(0, Interlocked.Read(ref charged));

        var (packed, lengths) = Pack(3); // 4, 5 and 6 bytes
        Assert.Equal(3, _ipc.TrySendPacked(a, ha, packed, lengths).Value);
        Assert.Equal(ErrorCode.InvalidArgument, _ipc.TryReceiveBatchInto(b, hb, buffer, Span<int>.Empty).Code);
        Assert.Equal(ErrorCode.InvalidArgument, _ipc.TryReceiveBatchInto(b, hb, buffer, new int[IpcManager.MaxBatch + 1]).Code);
        Assert.Equal(ErrorCode.OutOfRange, _ipc.TryReceiveBatchInto(b, hb, buffer.AsSpan(0, 3), new int[4]).Code);
        Assert.Equal(3, Endpoint(b, hb).Pending); // the first message is still there
        var got = new int[4];
        Assert.Equal(1, _ipc.TryReceiveBatchInto(b, hb, buffer.AsSpan(0, 8), got).Value); // the second does not fit after it
        Assert.Equal(new[] { 0 }, Unpack(buffer, got.AsSpan(0, 1)));
        Assert.Equal(new[] { 1, 2 }, ReceiveAll(b, hb));
    }

    [Fact]
    public void Write_only_read_only_closed_unknown_and_revoked_handles_fail_typed()
    {
        var (a, ha, b, hb) = Pair();
        var (packed, lengths) = Pack(4);
        var buffer = new byte[256];
        var writeOnly = b.AddHandle(_caps.Derive(b.TokenOf(hb).Value, Rights.Write, b.Principal).Value).Value;
        var readOnly = a.AddHandle(_caps.Derive(a.TokenOf(ha).Value, Rights.Read, a.Principal).Value).Value;
        Assert.Equal(ErrorCode.AccessDenied, _ipc.TryReceiveBatchInto(b, writeOnly, buffer, new int[4]).Code);
        Assert.Equal(ErrorCode.AccessDenied, _ipc.TrySendPacked(a, readOnly, packed, lengths).Code);
        Assert.Equal(ErrorCode.InvalidHandle, _ipc.TrySendPacked(a, new Handle(12345), packed, lengths).Code);

        var derivedToken = _caps.Derive(a.TokenOf(ha).Value, Rights.Write, a.Principal).Value;
        var derived = a.AddHandle(derivedToken).Value;
        Assert.Equal(4, _ipc.TrySendPacked(a, derived, packed, lengths).Value);
        Assert.True(_caps.Revoke(derivedToken, a.Principal).IsOk);
        var revoked = _ipc.TrySendPacked(a, derived, packed, lengths);
        Assert.False(revoked.IsOk);
        Assert.True(revoked.Code is ErrorCode.Revoked or ErrorCode.InvalidHandle, revoked.Code.ToString());

        Assert.True(a.Close(readOnly).IsOk);
        Assert.True(_ipc.Close(a, ha).IsOk);
        Assert.Equal(ErrorCode.InvalidHandle, _ipc.TrySendPacked(a, ha, packed, lengths).Code);
        // The peer's messages sent before the close are still received, then Closed.
        Assert.Equal(Enumerable.Range(0, 4), ReceiveAll(b, hb));
        Assert.Equal(ErrorCode.Closed, _ipc.TryReceiveBatchInto(b, hb, buffer, new int[4]).Code);
        Assert.Equal(ErrorCode.Closed, _ipc.TrySendPacked(b, hb, packed, lengths).Code);
    }

    [Fact]
    public void A_message_carrying_a_handle_ends_the_batch_before_it_and_is_received_singly()
    {
        var (a, ha, b, hb) = Pair();
        var (packed, lengths) = Pack(2);
        var (x, _) = _ipc.CreateChannel(a).Value;
        Assert.Equal(2, _ipc.TrySendPacked(a, ha, packed, lengths).Value);
        Assert.True(_ipc.TrySend(a, ha, "cap"u8, [new HandleTransfer(x, TransferMode.Move)]).IsOk);
        var (more, moreLengths) = Pack(2, start: 2);
        Assert.Equal(2, _ipc.TrySendPacked(a, ha, more, moreLengths).Value);

        var buffer = new byte[256];
        var got = new int[16];
        Assert.Equal(2, _ipc.TryReceiveBatchInto(b, hb, buffer, got).Value);
        Assert.Equal(ErrorCode.NotSupported, _ipc.TryReceiveBatchInto(b, hb, buffer, got).Code);
        var single = _ipc.TryReceiveInto(b, hb, buffer).Value;
        Assert.Single(single.Handles);
        Assert.True(b.Get<ChannelEndpoint>(single.Handles[0], Rights.Read).IsOk);
        Assert.Equal(new[] { 2, 3 }, ReceiveAll(b, hb));
    }

    [Fact]
    public void Quotas_are_charged_as_single_sends_would_be_and_a_flood_is_held_to_the_inbox_and_the_quota()
    {
        var (a, ha, b, hb) = Pair(depth: 64);
        const long Limit = 5 * (64 + IpcManager.MessageOverheadBytes);
        long charged = 0;
        var gate = new object();
        _manager.MemoryQuota = (_, bytes) =>
        {
            lock (gate)
            {
                if (bytes > 0 && charged + bytes > Limit) return Result.Fail(ErrorCode.QuotaExceeded, "over");
                charged += bytes;
                return Result.Ok;
            }
        };
        var packed = new byte[64 * 20];
        var lengths = Enumerable.Repeat(64, 20).ToArray();
        // Single sends would queue five and fail the sixth: the batch queues the same five.
        Assert.Equal(5, _ipc.TrySendPacked(a, ha, packed, lengths).Value);
        Assert.Equal(ErrorCode.QuotaExceeded, _ipc.TrySendPacked(a, ha, packed, lengths).Code);
        Assert.Equal(5, Endpoint(b, hb).Pending);
        Assert.Equal(Limit, charged);
        // Received into the caller's buffer, their envelopes are pooled and stay charged; a send at the limit
        // releases the pool first (as a single send's reuse refunds the envelope it takes), so it is not refused.
        Assert.Equal(5, _ipc.TryReceiveBatchInto(b, hb, new byte[64 * 20], new int[20]).Value);
        Assert.Equal(Limit, charged);

        // A flood from another thread with the receiver taking nothing: held to the quota (and so to the inbox). A
        // count of sends, not a time: on a loaded host the flood's thread once started after a 200 ms window had closed.
        int queuedMax = 0;
        var flood = Task.Run(() =>
        {
            for (int i = 0; i < 2_000; i++)
            {
                var r = _ipc.TrySendPacked(a, ha, packed, lengths);
                Assert.True(r.IsOk || r.Code is ErrorCode.QuotaExceeded or ErrorCode.WouldBlock, r.Code.ToString());
                queuedMax = Math.Max(queuedMax, Endpoint(b, hb).Pending);
            }
        });
        Assert.True(flood.Wait(Timeout), "the flood did not finish");
        Assert.InRange(charged, 0, Limit);
        Assert.Equal(5, queuedMax); // what the quota allows, no more
        Assert.True(_ipc.Close(b, hb).IsOk);
        Assert.True(_ipc.Close(a, ha).IsOk);
        Assert.Equal(0, charged); // every queued and pooled message refunded
    }

    [Fact]
    public async Task Closing_the_receiver_mid_stream_ends_the_sender_typed_and_every_received_message_came_once_in_order()
    {
        for (int round = 0; round < 50; round++)
        {
            var (a, ha, b, hb) = Pair(depth: 16);
            long charged = 0;
            _manager.MemoryQuota = (_, bytes) => { Interlocked.Add(ref charged, bytes); return Result.Ok; };
            var (packed, lengths) = Pack(1000);
            var sending = Task.Run(async () => await _ipc.SendPackedAsync(a, ha, packed, lengths));
            var buffer = new byte[4096];
            var got = new int[32];
            var seen = new List<int>();
            while (seen.Count < round * 5)
            {
                var r = _ipc.TryReceiveBatchInto(b, hb, buffer, got);
                if (r.IsOk) seen.AddRange(Unpack(buffer, got.AsSpan(0, r.Value)));
                else Thread.Yield();
            }
            Assert.True(_ipc.Close(b, hb).IsOk);
            var sent = await sending.WaitAsync(Timeout);
            // Cut short (the inbox holds 16 and the receiver took fewer than 1000), at no fewer than were received.
            Assert.True(sent.IsOk ? sent.Value >= seen.Count && sent.Value < 1000 : sent.Code == ErrorCode.Closed, sent.IsOk ? $"{sent.Value}" : sent.Code.ToString());
            Assert.Equal(Enumerable.Range(0, seen.Count), seen);
            Assert.True(_ipc.Close(a, ha).IsOk);
            Assert.Equal(0, Interlocked.Read(ref charged)); // nothing queued or pooled stays charged
        }
    }

    [Fact]
    public async Task A_kernel_task_stream_of_packed_batches_delivers_every_message_in_order_and_allocates_almost_nothing_per_message()
    {
        var (a, ha, b, hb) = Pair(depth: 256);
        const int Batch = 64;
        async Task<(long Bytes, int Bad)> Stream(int n)
        {
            var reader = OnKernel(async () =>
            {
                var buffer = new byte[Batch * 64];
                var lengths = new int[256];
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int next = 0; next < n;)
                {
                    var r = await _ipc.ReceiveBatchIntoAsync(b, hb, buffer, lengths);
                    if (!r.IsOk) return (0L, next);
                    for (int i = 0; i < r.Value; i++, next++)
                        if (lengths[i] != 64 || BitConverter.ToInt32(buffer, i * 64) != next) return (0L, next);
                }
                return (GC.GetAllocatedBytesForCurrentThread() - before, -1);
            });
            var writer = OnKernel(async () =>
            {
                var packed = new byte[Batch * 64];
                var lengths = Enumerable.Repeat(64, Batch).ToArray();
                for (int i = 0; i < n; i += Batch)
                {
                    for (int k = 0; k < Batch; k++) BitConverter.TryWriteBytes(packed.AsSpan(k * 64), i + k);
                    var r = await _ipc.SendPackedAsync(a, ha, packed, lengths);
                    if (!r.IsOk || r.Value != Batch) return false;
                }
                return true;
            });
            Assert.True(await writer);
            return await reader;
        }
        await Stream(64 * 100); // warm-up: JIT, tiering, the pool's first envelopes
        const int N = 64 * 2000;
        var (bytes, bad) = await Stream(N);
        Assert.Equal(-1, bad);
        // A copy per message would be ≥ 88 B (array) + 48 B (envelope); waits cost one promise per batch at most.
        Assert.InRange(bytes / (double)N, 0, 16);
    }

    [Fact]
    public async Task A_parked_batched_receive_is_woken_by_a_single_send_and_a_cancelled_one_leaves_no_waiter()
    {
        var (a, ha, b, hb) = Pair();
        var buffer = new byte[256];
        var lengths = new int[8];
        var parked = OnKernel(async () => await _ipc.ReceiveBatchIntoAsync(b, hb, buffer, lengths));
        Assert.True(await Wait.Until(() => Endpoint(b, hb).Waiters == 1, Timeout));
        Assert.True(_ipc.TrySend(a, ha, "one"u8).IsOk); // queued and the waiter woken, never handed a single message
        Assert.Equal(1, (await parked).Value);
        Assert.Equal(3, lengths[0]);
        Assert.Equal("one"u8.ToArray(), buffer[..3]);

        using var cts = new CancellationTokenSource();
        var cancelled = OnKernel(async () => await _ipc.ReceiveBatchIntoAsync(b, hb, buffer, lengths, cts.Token));
        Assert.True(await Wait.Until(() => Endpoint(b, hb).Waiters == 1, Timeout));
        cts.Cancel();
        Assert.Equal(ErrorCode.Cancelled, (await cancelled).Code);
        Assert.Equal(0, Endpoint(b, hb).Waiters);
        // The endpoint's reused waiter still works for a single receive afterwards.
        var single = OnKernel(async () => await _ipc.ReceiveIntoAsync(b, hb, buffer));
        Assert.True(await Wait.Until(() => Endpoint(b, hb).Waiters == 1, Timeout));
        Assert.True(_ipc.TrySend(a, ha, "two"u8).IsOk);
        Assert.Equal(3, (await single).Value.Length);
    }
}
