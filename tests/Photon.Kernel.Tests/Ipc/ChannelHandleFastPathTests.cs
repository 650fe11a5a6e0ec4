using Photon.Kernel.Audit;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Ipc;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Scheduling;
using Photon.Kernel.Syscalls;

namespace Photon.Kernel.Tests.Ipc;

/// <summary>
/// The IPC calls check their endpoint handle on a lock-free fast path (the handle table's and the capability table's
/// snapshot reads, no typed Result). What a user relies on: it never lets through what the full check refuses — a
/// revoked capability behind a handle still in the table, missing rights, a closed handle whose slot was reused — and
/// every refusal is still audited, each time, as before.
/// </summary>
public sealed class ChannelHandleFastPathTests : IAsyncDisposable
{
    private readonly PhysicalMemory _phys = new(4 * 1024 * 1024);
    private readonly InMemoryAuditSink _audit = new();
    private readonly CapabilityManager _caps;
    private readonly NamespaceManager _ns;
    private readonly ProcessManager _pm;
    private readonly KernelScheduler _scheduler;
    private readonly ChannelSyscalls _ipc;

    public ChannelHandleFastPathTests()
    {
        _caps = new CapabilityManager(_audit);
        _ns = new NamespaceManager(_caps);
        _pm = new ProcessManager(_caps, _ns, new MemoryManager(_phys, _caps));
        _scheduler = new KernelScheduler(new HostProcessors(1), new HostClock(),
            new SchedulerOptions(Workers: 1, StarvationThreshold: TimeSpan.FromSeconds(30)));
        _ipc = new ChannelSyscalls(new IpcManager(_caps, _ns, _scheduler));
    }

    public async ValueTask DisposeAsync()
    {
        await _scheduler.DisposeAsync();
        _phys.Dispose();
    }

    private (Process A, Handle Ha, Process B, Handle Hb) Pair()
    {
        var a = _pm.Spawn("a", _ns.RootCapability).Value.Process;
        var b = _pm.Spawn("b", _ns.RootCapability).Value.Process;
        var (x, y) = _ipc.CreateChannel(a, depth: 1024).Value;
        return (a, x, b, b.AddHandle(a.Handles.Remove(y).Value).Value);
    }

    private int Denials(CapabilityToken token, ErrorCode code) =>
        _audit.Snapshot().Count(e => e.Action == AuditAction.Denied && e.Token == token && e.Error == code);

    [Fact]
    public void A_revoked_capability_behind_a_handle_still_in_the_table_fails_every_later_call_and_each_is_audited()
    {
        var (a, ha, b, hb) = Pair();
        var writer = _caps.Derive(a.TokenOf(ha).Value, Rights.Write, a.Principal).Value;
        var reader = _caps.Derive(b.TokenOf(hb).Value, Rights.Read, b.Principal).Value;
        var w = a.AddHandle(writer).Value;
        var r = b.AddHandle(reader).Value;
        var buffer = new byte[16];
        for (int i = 0; i < 3; i++) // the fast path's success case, both ways
        {
            Assert.True(_ipc.TrySend(a, w, new byte[] { (byte)i }).IsOk);
            Assert.Equal(1, _ipc.TryReceiveInto(b, r, buffer).Value.Length);
        }

        Assert.True(_caps.Revoke(writer, a.Principal).IsOk);
        Assert.True(_caps.Revoke(reader, b.Principal).IsOk);
        Assert.True(_ipc.TrySend(a, ha, new byte[] { 9 }).IsOk); // the parent handles are untouched
        for (int i = 0; i < 3; i++)
        {
            var sent = _ipc.TrySend(a, w, new byte[] { 1 });
            Assert.True(sent.Code is ErrorCode.Revoked or ErrorCode.StaleCapability, sent.Code.ToString());
            var packed = _ipc.TrySendPacked(a, w, new byte[2], new[] { 1, 1 });
            Assert.True(packed.Code is ErrorCode.Revoked or ErrorCode.StaleCapability, packed.Code.ToString());
            var got = _ipc.TryReceiveInto(b, r, buffer);
            Assert.True(got.Code is ErrorCode.Revoked or ErrorCode.StaleCapability, got.Code.ToString());
        }
        Assert.Equal(1, _ipc.TryReceiveInto(b, hb, buffer).Value.Length); // only the parent's message arrived
        Assert.Equal(9, buffer[0]);
        Assert.Equal(ErrorCode.WouldBlock, _ipc.TryReceiveInto(b, hb, buffer).Code);
        Assert.Equal(6, _audit.Snapshot().Count(e => e.Action == AuditAction.Denied && e.Token == writer));
        Assert.Equal(3, _audit.Snapshot().Count(e => e.Action == AuditAction.Denied && e.Token == reader));
    }

    [Fact]
    public void Missing_rights_are_refused_on_every_call_after_successful_ones_and_each_refusal_is_audited()
    {
        var (a, ha, b, hb) = Pair();
        var readOnly = _caps.Derive(a.TokenOf(ha).Value, Rights.Read, a.Principal).Value;
        var ro = a.AddHandle(readOnly).Value;
        var buffer = new byte[16];
        for (int i = 0; i < 5; i++)
        {
            Assert.True(_ipc.TrySend(b, hb, new byte[] { (byte)i }).IsOk);
            Assert.Equal(1, _ipc.TryReceiveInto(a, ro, buffer).Value.Length); // Read is enough to receive through it
            Assert.Equal((byte)i, buffer[0]);
            Assert.Equal(ErrorCode.AccessDenied, _ipc.TrySend(a, ro, new byte[] { 1 }).Code);
            Assert.Equal(ErrorCode.AccessDenied, _ipc.TrySendPacked(a, ro, new byte[1], new[] { 1 }).Code);
        }
        Assert.Equal(10, Denials(readOnly, ErrorCode.AccessDenied));
        Assert.Equal(ErrorCode.WouldBlock, _ipc.TryReceiveInto(b, hb, buffer).Code); // nothing got through
    }

    [Fact]
    public void A_closed_handle_whose_slot_was_reused_does_not_reach_the_new_endpoint()
    {
        var (a, ha, b, hb) = Pair();
        Assert.True(_ipc.TrySend(a, ha, new byte[] { 1 }).IsOk);
        Assert.True(_ipc.Close(a, ha).IsOk);
        // A new channel takes the freed slot in a's table, under a new generation.
        var (x, y) = _ipc.CreateChannel(a).Value;
        Assert.Equal(ha.Index, x.Index);
        Assert.NotEqual(ha, x);
        for (int i = 0; i < 3; i++) Assert.Equal(ErrorCode.InvalidHandle, _ipc.TrySend(a, ha, new byte[] { 2 }).Code);
        Assert.Equal(ErrorCode.WouldBlock, _ipc.TryReceiveInto(a, y, new byte[16]).Code);
        Assert.Equal(ErrorCode.WouldBlock, _ipc.TryReceiveInto(a, x, new byte[16]).Code);
    }

    [Fact]
    public void A_sender_racing_a_revocation_never_succeeds_again_once_it_has_failed()
    {
        var (a, ha, b, hb) = Pair();
        var writer = _caps.Derive(a.TokenOf(ha).Value, Rights.Write, a.Principal).Value;
        var w = a.AddHandle(writer).Value;
        long sent = 0;
        var firstFailure = new TaskCompletionSource<ErrorCode>(TaskCreationOptions.RunContinuationsAsynchronously);
        var sender = Task.Run(() =>
        {
            var buffer = new byte[16];
            while (true)
            {
                var r = _ipc.TrySend(a, w, new byte[] { 7 });
                if (r.IsOk) { Interlocked.Increment(ref sent); _ipc.TryReceiveInto(b, hb, buffer); continue; }
                if (r.Code == ErrorCode.WouldBlock) continue;
                firstFailure.TrySetResult(r.Code);
                // Once refused, refused for good: a later call never finds the revoked capability live again.
                for (int i = 0; i < 10_000; i++)
                    if (_ipc.TrySend(a, w, new byte[] { 8 }).IsOk) throw new InvalidOperationException($"send {i} after the first refusal succeeded");
                return;
            }
        });
        Assert.True(SpinWait.SpinUntil(() => Interlocked.Read(ref sent) >= 100 || sender.IsCompleted, TimeSpan.FromSeconds(60)));
        Assert.True(_caps.Revoke(writer, a.Principal).IsOk);
        // After Revoke returned, a call made now is refused (the revocation's linearization point is behind us).
        Assert.True(_ipc.TrySend(a, w, new byte[] { 9 }).Code is ErrorCode.Revoked or ErrorCode.StaleCapability);
        Assert.True(sender.Wait(TimeSpan.FromSeconds(60)));
        Assert.True(firstFailure.Task.Result is ErrorCode.Revoked or ErrorCode.StaleCapability, firstFailure.Task.Result.ToString());
    }
}
