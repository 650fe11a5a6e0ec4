using Photon.Kernel.Capabilities;
using Photon.Kernel.Ipc;
using Photon.Kernel.Memory;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Tests.Security;

/// <summary>
/// Issue #9, items 5 and 6: a move re-issues the capability, so a copy of the old token is dead wherever it is put
/// back; and a handle moved twice at once is delivered exactly once.
/// </summary>
public sealed class IpcMoveTests : IDisposable
{
    private readonly SecurityKernel _k = new();

    public void Dispose() => _k.Dispose();

    // ---- item 5 ----

    [Fact]
    public async Task A_saved_token_put_back_after_a_move_is_revoked_for_every_use_and_the_receiver_keeps_working()
    {
        var a = _k.Spawn("a", _k.Tenant("tenant-a"));
        var b = _k.Spawn("b", _k.Tenant("tenant-b"));
        var (toB, fromA) = _k.Channel(a, b);
        var (toA, _) = _k.Channel(a, a);
        var region = a.AllocateMemory(2 * 4096).Value;
        a.WriteMemory(region, 0, "mine"u8).Unwrap();
        var saved = a.TokenOf(region).Value; // what a compromised sender could keep

        _k.Ipc.TrySend(a, toB, "take it"u8, [new HandleTransfer(region, TransferMode.Move)]).Unwrap();
        var resurrected = a.AddHandle(saved).Value;
        AssertDeadForEveryUse(a, resurrected, b, toA, "while the message is in flight");

        var got = Assert.Single((await _k.Ipc.ReceiveAsync(b, fromA)).Value.Handles);
        AssertDeadForEveryUse(a, resurrected, b, toA, "after it was received");

        var buf = new byte[4];
        b.ReadMemory(got, 0, buf).Unwrap();
        Assert.Equal("mine"u8.ToArray(), buf);
        b.WriteMemory(got, 0, "hers"u8).Unwrap();
        using (var m = b.MapMemory(got).Value) Assert.True(m.Read(0, buf).IsOk);
        Assert.Equal("hers"u8.ToArray(), buf);
        var (lo, hi) = b.SplitMemory(got, 4096).Value;
        b.FreeMemory(lo).Unwrap();
        b.FreeMemory(hi).Unwrap();
        Assert.True(_k.Caps.VerifyInvariants().IsOk);
    }

    private void AssertDeadForEveryUse(Process a, Handle h, Process other, Handle endpoint, string when)
    {
        var buf = new byte[4];
        void Revoked(ErrorCode code, string what) => Assert.True(code == ErrorCode.Revoked, $"{what} {when}: {code}, expected Revoked");
        Revoked(a.ReadMemory(h, 0, buf).Code, "read");
        Revoked(a.WriteMemory(h, 0, "evil"u8).Code, "write");
        Revoked(a.MapMemory(h).Code, "map");
        Revoked(_k.Sys.Memory.Length(a, h).Code, "length");
        Revoked(a.ShareReadOnly(h).Code, "share");
        Revoked(a.Duplicate(h, Rights.Read).Code, "duplicate");
        Revoked(a.Delegate(h, other, Rights.Read).Code, "delegate");
        Revoked(a.RevokeDerived(h).Code, "revoke-derived");
        Revoked(a.SplitMemory(h, 4096).Code, "split");
        Revoked(a.FreeMemory(h).Code, "free");
        Revoked(_k.Sys.Handles.Inspect(a, h).Code, "inspect");
        Revoked(_k.Ipc.TrySend(a, endpoint, "x"u8, [new HandleTransfer(h, TransferMode.Move)]).Code, "move");
        Revoked(_k.Ipc.TrySend(a, endpoint, "x"u8, [new HandleTransfer(h, TransferMode.Derive, Rights.Read)]).Code, "lend");
        Assert.DoesNotContain(_k.Sys.Handles.List(a), i => i.Handle == h);
    }

    // ---- item 6 ----

    [Fact]
    public void Two_racing_moves_of_one_transfer_only_handle_deliver_exactly_one_capability()
    {
        const int Iterations = 3000;
        var a = _k.Spawn("a", _k.Tenant("tenant-a"));
        var b = _k.Spawn("b", _k.Tenant("tenant-b"));
        var lanes = new[] { _k.Channel(a, b, depth: 4), _k.Channel(a, b, depth: 4) };
        var region = a.AllocateMemory(4096).Value;
        var obj = a.Get<MemoryRegion>(region, Rights.None).Value;
        long baseline = _k.Caps.LiveCount;

        var start = new Barrier(3);
        var done = new Barrier(3);
        var shared = Handle.Invalid;
        var results = new Result[2];
        Exception? fault = null;
        var workers = Enumerable.Range(0, 2).Select(i => new Thread(() =>
        {
            try
            {
                for (int n = 0; n < Iterations; n++)
                {
                    start.SignalAndWait();
                    results[i] = _k.Ipc.TrySend(a, lanes[i].A, "race"u8, [new HandleTransfer(shared, TransferMode.Move)]);
                    done.SignalAndWait();
                }
            }
            catch (Exception e) { fault = e; start.Dispose(); done.Dispose(); }
        }) { IsBackground = true, Name = $"mover-{i}" }).ToArray();
        foreach (var w in workers) w.Start();

        int[] wins = [0, 0];
        for (int n = 0; n < Iterations; n++)
        {
            shared = a.Duplicate(region, Rights.Transfer).Value;
            start.SignalAndWait();
            done.SignalAndWait();
            Assert.Null(fault);

            int ok = results.Count(r => r.IsOk);
            Assert.True(ok == 1, $"iteration {n}: {results[0].Code} / {results[1].Code}");
            var loser = results.Single(r => !r.IsOk);
            Assert.True(loser.Code == ErrorCode.InvalidHandle, $"iteration {n}: the losing move got {loser.Error}, expected InvalidHandle");
            wins[Array.FindIndex(results, r => r.IsOk)]++;

            // Exactly one message, carrying exactly one capability: the Transfer-only one, to the same region.
            var delivered = new List<Handle>();
            foreach (var (_, end) in lanes)
            {
                var msg = _k.Ipc.TryReceive(b, end);
                if (msg.IsOk) delivered.AddRange(msg.Value.Handles);
                else Assert.Equal(ErrorCode.WouldBlock, msg.Code);
            }
            var h = Assert.Single(delivered);
            Assert.Same(obj, b.Get<MemoryRegion>(h, Rights.Transfer).Value);
            Assert.Equal(Rights.Transfer, _k.Sys.Handles.Inspect(b, h).Value.Rights);
            Assert.Equal(ErrorCode.InvalidHandle, a.TokenOf(shared).Code);
            Assert.Equal(baseline + 1, _k.Caps.LiveCount);
            _k.Sys.Handles.Close(b, h).Unwrap();
            Assert.Equal(baseline, _k.Caps.LiveCount);
        }
        foreach (var w in workers) w.Join();
        Assert.True(wins[0] > 0 && wins[1] > 0, $"the race never went both ways ({wins[0]}/{wins[1]})");
        Assert.True(_k.Caps.VerifyInvariants().IsOk);
    }
}
