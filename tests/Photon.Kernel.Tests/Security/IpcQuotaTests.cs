using Photon.Kernel.Capabilities;
using Photon.Kernel.Ipc;
using Photon.Kernel.Processes;
using Photon.Kernel.Quotas;

namespace Photon.Kernel.Tests.Security;

/// <summary>
/// Issue #9, item 8: bytes queued in IPC inboxes are kernel memory charged to the sender's tenant, so a tenant cannot
/// park more in other processes' inboxes than its memory quota; receiving or dropping a message refunds it.
/// </summary>
public sealed class IpcQuotaTests : IDisposable
{
    private const int Quota = 64 * 1024, RegionBytes = 16 * 1024, Payload = 4096;
    private const long PerMessage = Payload + IpcManager.MessageOverheadBytes;
    private readonly SecurityKernel _k = new();
    private readonly Process _sender, _receiver;
    private readonly CapabilityToken _receiverControl;
    private readonly Handle _out, _in;

    public IpcQuotaTests()
    {
        _k.Quotas.SetLimits("/tenant-a", new QuotaLimits(MemoryBytes: Quota)).Unwrap();
        _sender = _k.Spawn("greedy", _k.Tenant("tenant-a"));
        (_receiver, _receiverControl) = _k.SpawnWithControl("sink", _k.Tenant("tenant-b"));
        (_out, _in) = _k.Channel(_sender, _receiver, depth: IpcManager.MaxDepth);
        _sender.AllocateMemory(RegionBytes).Unwrap();
    }

    public void Dispose() => _k.Dispose();

    private long Used => _k.Quotas.Usage("/tenant-a").MemoryBytes;
    private int Pending => _receiver.Get<ChannelEndpoint>(_in, Rights.None).Value.Pending;

    /// <summary>Sends 4 KiB messages until the kernel refuses (at most 4 MiB); returns how many were queued.</summary>
    private int Flood()
    {
        var payload = new byte[Payload];
        for (int i = 0; i < 4 * 1024 * 1024 / Payload; i++)
        {
            long used = Used;
            var r = _k.Ipc.TrySend(_sender, _out, payload);
            if (r.IsOk) continue;
            Assert.Equal(ErrorCode.QuotaExceeded, r.Code);
            Assert.True(used + PerMessage > Quota, $"refused at {used} bytes although {PerMessage} more fit in {Quota}");
            Assert.Equal(used, Used); // the refusal charged nothing
            return i;
        }
        Assert.Fail("4 MiB of messages were queued under a 64 KiB quota");
        return -1;
    }

    [Fact]
    public void A_tenant_cannot_queue_more_than_its_memory_quota()
    {
        int queued = Flood();
        Assert.Equal((Quota - RegionBytes) / PerMessage, queued);
        Assert.Equal(RegionBytes + queued * PerMessage, Used);
        Assert.Equal(queued, Pending);
        Assert.True(Used <= Quota);
        // Regions and queued bytes share the quota: no room for another region page either.
        Assert.Equal(ErrorCode.QuotaExceeded, _sender.AllocateMemory(Quota - Used + 1).Code);
        // The receiver's tenant was charged nothing for what waits in its inbox.
        Assert.Equal(0, _k.Quotas.Usage("/tenant-b").MemoryBytes);
    }

    [Fact]
    public void Receiving_refunds_the_sender()
    {
        int queued = Flood();
        Assert.True(_k.Ipc.TryReceive(_receiver, _in).IsOk);
        Assert.Equal(RegionBytes + (queued - 1) * PerMessage, Used);
        Assert.True(_k.Ipc.TrySend(_sender, _out, new byte[Payload]).IsOk); // exactly the room one receive made
        Assert.Equal(ErrorCode.QuotaExceeded, _k.Ipc.TrySend(_sender, _out, new byte[Payload]).Code);
        while (_k.Ipc.TryReceive(_receiver, _in).IsOk) { }
        Assert.Equal(RegionBytes, Used);
        Assert.Equal(queued, Flood()); // the whole allowance is back
    }

    [Fact]
    public void Dropping_by_closing_the_receiving_end_refunds_the_sender()
    {
        Flood();
        long dropped = _k.Ipc.MessagesDropped;
        _k.Ipc.Close(_receiver, _in).Unwrap();
        Assert.Equal(RegionBytes, Used);
        Assert.True(_k.Ipc.MessagesDropped > dropped);
        Assert.Equal(ErrorCode.Closed, _k.Ipc.TrySend(_sender, _out, new byte[Payload]).Code);
        Assert.Equal(RegionBytes, Used);
    }

    [Fact]
    public async Task Dropping_by_destroying_the_receiver_refunds_the_sender()
    {
        Flood();
        (await _k.DestroyAsync(_receiverControl)).Unwrap();
        Assert.Equal(RegionBytes, Used);
    }

    [Fact]
    public void Capabilities_carried_in_messages_are_charged_too_and_a_refused_send_moves_nothing()
    {
        int queued = Flood();
        Assert.True(_k.Ipc.TryReceive(_receiver, _in).IsOk);
        // Room for one bare message, but not for one carrying capabilities (HandleOverheadBytes each).
        long used = Used;
        int n = (int)((Quota - used - PerMessage) / IpcManager.HandleOverheadBytes) + 1;
        Assert.InRange(n, 1, IpcManager.MaxHandlesPerMessage);
        var spare = Enumerable.Range(0, n).Select(_ => _k.Sys.Handles.Duplicate(_sender, _out, Rights.Transfer).Value).ToArray();
        var r = _k.Ipc.TrySend(_sender, _out, new byte[Payload], spare.Select(h => new HandleTransfer(h, TransferMode.Move)).ToArray());
        Assert.Equal(ErrorCode.QuotaExceeded, r.Code);
        Assert.Equal(used, Used);
        Assert.All(spare, h => Assert.True(_sender.TokenOf(h).IsOk, "a refused move took the handle"));
        Assert.Equal(queued - 1, Pending);
    }
}
