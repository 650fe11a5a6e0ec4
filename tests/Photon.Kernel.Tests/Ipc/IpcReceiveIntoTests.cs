using System.Text;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Ipc;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Scheduling;
using Photon.Kernel.Syscalls;
using Photon.Kernel.Tests.Scheduling;

namespace Photon.Kernel.Tests.Ipc;

/// <summary>
/// Receiving into the caller's own buffer (issue #11): a parked receiver's buffer is filled by the sender on direct
/// hand-off, a queued message is copied into it, and its byte-only envelope is reused — so a kernel-task ping-pong
/// allocates nothing per message. What a user relies on: the bytes and handles arrive intact and in order, a buffer too
/// small for the next message fails typed without losing it, and the handle checks of a receive still hold. One CPU:
/// both ends of a ping-pong and every hand-off run on its thread, so that thread's allocation count is the whole cost
/// of the round trips (other tests allocate in parallel in this process).
/// </summary>
public sealed class IpcReceiveIntoTests() : IpcKernelTestBase(cpus: 1, "receive-into test")
{
    [Fact]
    public async Task Ping_pong_into_caller_buffers_delivers_every_message_in_order_and_allocates_nothing_per_round_trip()
    {
        var (a, ha, b, hb) = Pair();
        async Task<(long Bytes, int BadRound)> RoundTrips(int n)
        {
            var echo = OnKernel(async () =>
            {
                var buffer = new byte[IpcManager.MaxMessageBytes];
                for (int i = 0; i < n; i++)
                {
                    var m = await _ipc.ReceiveIntoAsync(b, hb, buffer);
                    if (!m.IsOk || !(await _ipc.SendAsync(b, hb, buffer.AsMemory(0, m.Value.Length))).IsOk) return false;
                }
                return true;
            });
            var client = OnKernel(async () =>
            {
                var message = new byte[16];
                var buffer = new byte[64];
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < n; i++)
                {
                    BitConverter.TryWriteBytes(message, i);
                    if (!(await _ipc.SendAsync(a, ha, message)).IsOk) return (0L, i);
                    var back = await _ipc.ReceiveIntoAsync(a, ha, buffer);
                    if (!back.IsOk || back.Value.Length != 16 || BitConverter.ToInt32(buffer) != i) return (0L, i);
                }
                return (GC.GetAllocatedBytesForCurrentThread() - before, -1);
            });
            Assert.True(await echo);
            return await client;
        }
        await RoundTrips(1_000); // warm-up: JIT, tiering and the run queue's first growth allocate
        const int N = 20_000;
        var (bytes, badRound) = await RoundTrips(N);
        Assert.Equal(-1, badRound);
        // A message per receive was 288 B per round trip (two arrays, two messages, an envelope when queued).
        Assert.True(bytes / N < 8, $"{bytes / N} B allocated per round trip");
        Assert.Equal(_manager.MessagesSent, _manager.MessagesReceived);
        Assert.Equal(0, Endpoint(b, hb).Waiters);
    }

    [Fact]
    public async Task A_message_larger_than_the_buffer_fails_typed_and_stays_queued_for_a_big_enough_buffer()
    {
        var (a, ha, b, hb) = Pair();
        var small = new byte[4];
        // A parked receiver with a small buffer: the send is queued instead of handed over, the receive says why.
        var parked = OnKernel(async () => await _ipc.ReceiveIntoAsync(b, hb, small));
        Assert.True(await Wait.Until(() => Endpoint(b, hb).Waiters == 1, Timeout));
        Assert.True(_ipc.TrySend(a, ha, "too long for four"u8).IsOk);
        var tooSmall = await parked;
        Assert.Equal(ErrorCode.OutOfRange, tooSmall.Code);
        Assert.Equal(0, small[0]); // nothing written into the buffer
        Assert.Equal(1, Endpoint(b, hb).Pending);
        Assert.Equal(ErrorCode.OutOfRange, _ipc.TryReceiveInto(b, hb, small).Code); // the queued path says so too
        var big = new byte[64];
        var got = _ipc.TryReceiveInto(b, hb, big);
        Assert.True(got.IsOk);
        Assert.Equal("too long for four", Encoding.UTF8.GetString(big, 0, got.Value.Length));
        Assert.Equal(ErrorCode.WouldBlock, _ipc.TryReceiveInto(b, hb, big).Code);
    }

    [Fact]
    public async Task A_parked_receiver_gets_the_senders_bytes_in_its_own_buffer_without_queueing()
    {
        var (a, ha, b, hb) = Pair();
        var buffer = new byte[32];
        var received = OnKernel(async () => await _ipc.ReceiveIntoAsync(b, hb, buffer.AsMemory(8)));
        Assert.True(await Wait.Until(() => Endpoint(b, hb).Waiters == 1, Timeout));
        var payload = "straight in"u8.ToArray();
        Assert.True(_ipc.TrySend(a, ha, payload).IsOk);
        payload[0] = (byte)'X'; // copied at send time
        Assert.Equal(0, Endpoint(b, hb).Pending);
        var got = await received;
        Assert.True(got.IsOk);
        Assert.Empty(got.Value.Handles);
        Assert.Equal("straight in", Encoding.UTF8.GetString(buffer, 8, got.Value.Length));
        Assert.Equal(0, buffer[0]); // only the slice the receiver passed was written
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Reused_envelopes_carry_only_their_own_message_and_stay_charged_to_the_sender_until_the_channel_closes(bool closeSendersEnd)
    {
        var (a, ha, b, hb) = Pair();
        long charged = 0;
        _manager.MemoryQuota = (_, bytes) => { Interlocked.Add(ref charged, bytes); return Result.Ok; };
        var buffer = new byte[16];
        const long pooled = 2 * (16 + IpcManager.MessageOverheadBytes);
        for (int round = 0; round < 200; round++)
        {
            // Same size every time, so each send after the first reuses the envelope the last receive gave back.
            var first = Enumerable.Repeat((byte)round, 16).ToArray();
            var second = Enumerable.Repeat((byte)~round, 16).ToArray();
            Assert.True(_ipc.TrySend(a, ha, first).IsOk);
            Assert.True(_ipc.TrySend(a, ha, second).IsOk);
            Assert.Equal(pooled, Interlocked.Read(ref charged));
            Assert.Equal(16, _ipc.TryReceiveInto(b, hb, buffer).Value.Length);
            Assert.Equal(first, buffer);
            Assert.Equal(16, _ipc.TryReceiveInto(b, hb, buffer).Value.Length);
            Assert.Equal(second, buffer);
            // Received, but the two envelopes wait in the pool for the next send: their memory is still the sender's.
            Assert.Equal(pooled, Interlocked.Read(ref charged));
        }
        // Either end closing releases the pool (no send can reach it any more) and refunds every byte.
        Assert.True((closeSendersEnd ? _ipc.Close(a, ha) : _ipc.Close(b, hb)).IsOk);
        Assert.Equal(0, Interlocked.Read(ref charged));
    }

    [Fact]
    public void A_moved_handle_arrives_in_the_receivers_table_and_leaves_the_senders()
    {
        var (a, ha, b, hb) = Pair();
        var (x, y) = _ipc.CreateChannel(a).Value;
        Assert.True(_ipc.TrySend(a, ha, "with a handle"u8, [new HandleTransfer(y, TransferMode.Move)]).IsOk);
        Assert.Equal(ErrorCode.InvalidHandle, a.Get<ChannelEndpoint>(y, Rights.None).Code);
        var buffer = new byte[64];
        var got = _ipc.TryReceiveInto(b, hb, buffer);
        Assert.True(got.IsOk);
        Assert.Equal("with a handle", Encoding.UTF8.GetString(buffer, 0, got.Value.Length));
        var moved = Assert.Single(got.Value.Handles);
        Assert.True(_ipc.TrySend(a, x, "through"u8).IsOk);
        Assert.Equal(7, _ipc.TryReceiveInto(b, moved, buffer).Value.Length);
    }

    [Fact]
    public async Task Closed_write_only_and_unknown_handles_fail_typed_and_a_handle_closed_while_parked_is_handed_nothing()
    {
        var (a, ha, b, hb) = Pair();
        var buffer = new byte[64];
        var writeOnly = b.AddHandle(_caps.Derive(b.TokenOf(hb).Value, Rights.Write, b.Principal).Value).Value;
        Assert.Equal(ErrorCode.AccessDenied, _ipc.TryReceiveInto(b, writeOnly, buffer).Code);
        Assert.Equal(ErrorCode.AccessDenied, (await OnKernel(async () => await _ipc.ReceiveIntoAsync(b, writeOnly, buffer))).Code);
        Assert.Equal(ErrorCode.InvalidHandle, _ipc.TryReceiveInto(b, new Handle(12345), buffer).Code);

        var received = OnKernel(async () => await _ipc.ReceiveIntoAsync(b, hb, buffer));
        Assert.True(await Wait.Until(() => Endpoint(b, hb).Waiters == 1, Timeout));
        Assert.True(_ipc.Close(b, hb).IsOk); // the receiver's handle is gone while it waits
        var sent = _ipc.TrySend(a, ha, "late"u8);
        var got = await received;
        Assert.False(got.IsOk);
        Assert.NotEqual(ErrorCode.WouldBlock, got.Code);
        Assert.Equal(0, buffer[0]);
        Assert.Equal(ErrorCode.Closed, sent.Code);
        Assert.Equal(ErrorCode.InvalidHandle, _ipc.TryReceiveInto(b, hb, buffer).Code);
    }
}
