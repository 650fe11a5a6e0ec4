using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Ipc;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Kernel.Syscalls;

namespace Photon.Kernel.Tests.Ipc;

/// <summary>The batched send/receive system calls.</summary>
public sealed class IpcBatchTests : IDisposable
{
    private readonly PhysicalMemory _phys = new(8 * 1024 * 1024);
    private readonly CapabilityManager _caps = new();
    private readonly NamespaceManager _ns;
    private readonly ProcessManager _pm;
    private readonly IpcManager _ipc;
    private readonly ChannelSyscalls _sys;

    public IpcBatchTests()
    {
        _ns = new NamespaceManager(_caps);
        _pm = new ProcessManager(_caps, _ns, new MemoryManager(_phys, _caps));
        _ipc = new IpcManager(_caps, _ns, new HostTimers(new HostClock()));
        _sys = new ChannelSyscalls(_ipc);
    }

    public void Dispose() => _phys.Dispose();

    private (Process A, Handle HA, Process B, Handle HB) Pair(int depth)
    {
        var a = _pm.Spawn("a", _ns.RootCapability).Value.Process;
        var b = _pm.Spawn("b", _ns.RootCapability).Value.Process;
        var (x, y) = _sys.CreateChannel(a, depth).Value;
        return (a, x, b, b.AddHandle(a.Handles.Remove(y).Value).Value);
    }

    private static ReadOnlyMemory<byte>[] Messages(int n, int start = 0) =>
        Enumerable.Range(start, n).Select(i => (ReadOnlyMemory<byte>)BitConverter.GetBytes(i)).ToArray();

    [Fact]
    public void A_batch_arrives_whole_and_in_order_and_counts_like_single_sends()
    {
        var (a, ha, b, hb) = Pair(depth: 64);
        Assert.Equal(10, _sys.TrySendBatch(a, ha, Messages(10)).Value);
        var got = _sys.TryReceiveBatch(b, hb, 100).Value;
        Assert.Equal(Enumerable.Range(0, 10), got.Select(m => BitConverter.ToInt32(m.Data)));
        Assert.All(got, m => Assert.Empty(m.Handles));
        Assert.Equal(10, _ipc.MessagesSent);
        Assert.Equal(10, _ipc.MessagesReceived);
        Assert.Equal(ErrorCode.WouldBlock, _sys.TryReceiveBatch(b, hb, 100).Code);
    }

    [Fact]
    public void A_batch_larger_than_the_free_room_sends_the_first_ones_then_would_block()
    {
        var (a, ha, b, hb) = Pair(depth: 8);
        Assert.Equal(8, _sys.TrySendBatch(a, ha, Messages(20)).Value);
        Assert.Equal(ErrorCode.WouldBlock, _sys.TrySendBatch(a, ha, Messages(1)).Code);
        var got = _sys.TryReceiveBatch(b, hb, 3).Value;
        Assert.Equal(new[] { 0, 1, 2 }, got.Select(m => BitConverter.ToInt32(m.Data)));
        Assert.Equal(5, _sys.TryReceiveBatch(b, hb, 100).Value.Count);
    }

    [Fact]
    public async Task SendBatchAsync_waits_for_room_and_delivers_everything_in_order()
    {
        var (a, ha, b, hb) = Pair(depth: 4);
        var sending = _sys.SendBatchAsync(a, ha, Messages(50));
        var seen = new List<int>();
        while (seen.Count < 50)
        {
            var r = await _sys.ReceiveBatchAsync(b, hb, 16);
            seen.AddRange(r.Value.Select(m => BitConverter.ToInt32(m.Data)));
        }
        Assert.Equal(50, (await sending).Value);
        Assert.Equal(Enumerable.Range(0, 50), seen);
    }

    [Fact]
    public void Batches_need_the_same_rights_as_single_calls_and_check_everything_first()
    {
        var (a, ha, b, hb) = Pair(depth: 64);
        // A read-only duplicate of the sending end cannot send; a write-only one cannot receive.
        var readOnly = a.AddHandle(_caps.Derive(a.TokenOf(ha).Value, Rights.Read, a.Principal).Value).Value;
        Assert.Equal(ErrorCode.AccessDenied, _sys.TrySendBatch(a, readOnly, Messages(1)).Code);
        var writeOnly = b.AddHandle(_caps.Derive(b.TokenOf(hb).Value, Rights.Write, b.Principal).Value).Value;
        Assert.Equal(ErrorCode.AccessDenied, _sys.TryReceiveBatch(b, writeOnly, 1).Code);
        // One oversized message refuses the whole batch: nothing is queued.
        var batch = Messages(3).Append(new byte[IpcManager.MaxMessageBytes + 1]).ToArray();
        Assert.Equal(ErrorCode.InvalidArgument, _sys.TrySendBatch(a, ha, batch).Code);
        Assert.Equal(ErrorCode.WouldBlock, _sys.TryReceiveBatch(b, hb, 10).Code);
        Assert.Equal(ErrorCode.InvalidArgument, _sys.TryReceiveBatch(b, hb, 0).Code);
    }

    [Fact]
    public void A_batch_to_a_closed_peer_is_refused()
    {
        var (a, ha, b, hb) = Pair(depth: 64);
        Assert.True(_sys.Close(b, hb).IsOk);
        Assert.Equal(ErrorCode.Closed, _sys.TrySendBatch(a, ha, Messages(2)).Code);
    }
}
