using System.Collections.Concurrent;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Ipc;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Tests.Ipc;

/// <summary>
/// A byte-only send that refills a pooled envelope already charged to its own sender takes one endpoint lock and no
/// quota call (issue #11): the charge carries over. What a user relies on: each tenant is charged exactly what its
/// queued and pooled messages cost after every step — a pooled envelope another tenant paid for is reused only by
/// moving the charge — a full inbox still refuses, a closed one still says Closed, and the bytes are the new message's.
/// </summary>
public sealed class IpcOneLockSendTests() : IpcKernelTestBase(cpus: 1, "one-lock send test")
{
    private const long Cost16 = 16 + IpcManager.MessageOverheadBytes, Cost32 = 32 + IpcManager.MessageOverheadBytes;

    private ConcurrentDictionary<Principal, long> MeterCharges()
    {
        var charged = new ConcurrentDictionary<Principal, long>();
        _manager.MemoryQuota = (p, bytes) => { charged.AddOrUpdate(p, bytes, (_, v) => v + bytes); return Result.Ok; };
        return charged;
    }

    private static long Of(ConcurrentDictionary<Principal, long> charged, Process p) => charged.GetValueOrDefault(p.Principal);

    [Fact]
    public void Each_tenant_pays_exactly_for_its_queued_and_pooled_messages_when_senders_share_an_endpoint()
    {
        var (a, ha, b, hb) = Pair();
        var c = _pm.Spawn("c", _ns.RootCapability).Value.Process;
        var hc = c.AddHandle(_caps.Derive(a.TokenOf(ha).Value, Rights.Write, a.Principal).Value).Value;
        Assert.NotEqual(a.Principal, c.Principal);
        var charged = MeterCharges();
        var buffer = new byte[64];

        Assert.True(_ipc.TrySend(a, ha, Fill(16, 1)).IsOk);
        Assert.Equal(16, _ipc.TryReceiveInto(b, hb, buffer).Value.Length);
        Assert.Equal(Cost16, Of(charged, a)); // received; its envelope pooled, still a's

        // c's send reuses the envelope a paid for: the charge moves to c, none is left with a.
        Assert.True(_ipc.TrySend(c, hc, Fill(16, 2)).IsOk);
        Assert.Equal(0, Of(charged, a));
        Assert.Equal(Cost16, Of(charged, c));
        Assert.Equal(16, _ipc.TryReceiveInto(b, hb, buffer).Value.Length);
        Assert.Equal(Fill(16, 2), buffer[..16]);

        // And back to a.
        Assert.True(_ipc.TrySend(a, ha, Fill(16, 3)).IsOk);
        Assert.Equal(Cost16, Of(charged, a));
        Assert.Equal(0, Of(charged, c));

        // a's own stream: the second send finds no pooled envelope (the first is queued), the third reuses one.
        Assert.True(_ipc.TrySend(a, ha, Fill(16, 4)).IsOk);
        Assert.Equal(2 * Cost16, Of(charged, a));
        Assert.Equal(16, _ipc.TryReceiveInto(b, hb, buffer).Value.Length);
        Assert.Equal(Fill(16, 3), buffer[..16]);
        Assert.True(_ipc.TrySend(a, ha, Fill(16, 5)).IsOk); // the one-lock refill: charge carried over
        Assert.Equal(2 * Cost16, Of(charged, a));
        // Another size never takes the 16 B envelope's charge.
        Assert.True(_ipc.TrySend(a, ha, Fill(32, 6)).IsOk);
        Assert.Equal(2 * Cost16 + Cost32, Of(charged, a));

        foreach (var (size, fill) in new[] { (16, 4), (16, 5), (32, 6) })
        {
            Assert.Equal(size, _ipc.TryReceiveInto(b, hb, buffer).Value.Length);
            Assert.Equal(Fill(size, fill), buffer[..size]);
        }
        Assert.Equal(ErrorCode.WouldBlock, _ipc.TryReceiveInto(b, hb, buffer).Code);
        Assert.True(_ipc.Close(b, hb).IsOk);
        Assert.Equal(0, Of(charged, a));
        Assert.Equal(0, Of(charged, c));
    }

    [Fact]
    public void A_full_inbox_refuses_a_send_that_a_free_pooled_envelope_would_fit_and_a_closed_one_says_closed()
    {
        var (a, ha, b, hb) = Pair(depth: 2);
        var charged = MeterCharges();
        var buffer = new byte[32];
        Assert.True(_ipc.TrySend(a, ha, Fill(16, 1)).IsOk);
        Assert.True(_ipc.TrySend(a, ha, Fill(16, 2)).IsOk);
        Assert.True(_ipc.TryReceiveInto(b, hb, buffer).IsOk);
        Assert.True(_ipc.TryReceiveInto(b, hb, buffer).IsOk); // two 16 B envelopes pooled, still a's
        Assert.True(_ipc.TrySend(a, ha, Fill(32, 3)).IsOk); // other size: fresh envelopes, the pool untouched
        Assert.True(_ipc.TrySend(a, ha, Fill(32, 4)).IsOk);
        Assert.Equal(2 * Cost16 + 2 * Cost32, Of(charged, a));

        // Full (depth 2) with two free 16 B envelopes: refused, nothing queued, charged or taken from the pool.
        Assert.Equal(ErrorCode.WouldBlock, _ipc.TrySend(a, ha, Fill(16, 5)).Code);
        Assert.Equal(2 * Cost16 + 2 * Cost32, Of(charged, a));
        Assert.Equal(2, Endpoint(b, hb).Pending);

        Assert.Equal(32, _ipc.TryReceiveInto(b, hb, buffer).Value.Length);
        Assert.Equal(Fill(32, 3), buffer);
        Assert.True(_ipc.TrySend(a, ha, Fill(16, 5)).IsOk); // room again: refills a pooled 16 B envelope
        Assert.Equal(32, _ipc.TryReceiveInto(b, hb, buffer).Value.Length);
        Assert.Equal(Fill(32, 4), buffer);
        Assert.Equal(16, _ipc.TryReceiveInto(b, hb, buffer).Value.Length);
        Assert.Equal(Fill(16, 5), buffer[..16]);

        Assert.True(_ipc.Close(b, hb).IsOk);
        Assert.Equal(ErrorCode.Closed, _ipc.TrySend(a, ha, Fill(16, 6)).Code);
        Assert.Equal(0, Of(charged, a));
    }

    private static byte[] Fill(int size, int value) => Enumerable.Repeat((byte)value, size).ToArray();
}
