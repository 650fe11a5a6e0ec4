using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Dma;
using Photon.Kernel.Drivers.Net;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Processes;
using Photon.Kernel.Quotas;
using Photon.Kernel.Tests.Security;
using Photon.Net.Tests.Virtio;

namespace Photon.Kernel.Tests.Drivers.Net;

/// <summary>Issue #17, zero-copy NIC receive: frames lent in the DMA buffers the virtio-net device wrote, as
/// <see cref="DmaLoan"/>s through <c>Syscalls.Dma</c>, on the in-process virtio-net device model.</summary>
public sealed class NicRxLendingTests : IDisposable
{
    private static readonly HostTimers Timers = new(new HostClock());
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private static readonly byte[] Mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
    private readonly SecurityKernel _k = new();

    public void Dispose() => _k.Dispose();

    private async Task<(VirtioNetModel Model, VirtioNetDevice Device, NicDriver Nic, Process P, Handle NicHandle)> StartAsync(ushort queueSize = 16)
    {
        var model = new VirtioNetModel(Mac);
        var opened = await VirtioNetDevice.OpenAsync(model.Function, Timers, new VirtioNetOptions(QueueSize: queueSize)).WaitAsync(Timeout);
        Assert.True(opened.IsOk, opened.ToString());
        var (nic, cap) = NicDriver.Start(opened.Value, _k.Caps).Value;
        var p = _k.Spawn("receiver", _k.Tenant("tenant-a"));
        var mine = _k.Caps.DeriveForKernel(cap, Rights.Read, p.Principal, p.Principal).Value;
        return (model, opened.Value, nic, p, p.AddHandle(mine).Value);
    }

    private static byte[] Frame(int seq, int length = 60)
    {
        var f = new byte[length];
        Mac.CopyTo(f, 0);
        f[12] = 0x88; f[13] = 0xB5; // local experimental EtherType
        BinaryPrimitives.WriteInt32BigEndian(f.AsSpan(14), seq);
        for (int i = 18; i < f.Length; i++) f[i] = (byte)(seq + i);
        return f;
    }

    private byte[] Copy(Process p, Handle loan)
    {
        int length = _k.Sys.Dma.Length(p, loan).Value;
        var copy = new byte[length];
        _k.Sys.Dma.View(p, loan, 0, length, copy, (span, into) => span.CopyTo(into)).Unwrap();
        return copy;
    }

    private async Task<Handle> Lend(Process p, Handle nic)
    {
        var loan = await _k.Sys.Dma.LendReceiveAsync(p, nic, 0).WaitAsync(Timeout);
        Assert.True(loan.IsOk, loan.ToString());
        return loan.Value;
    }

    [Fact]
    public async Task A_received_frame_is_lent_in_the_buffer_the_device_wrote_and_returning_it_reposts_it()
    {
        var (model, dev, nic, p, h) = await StartAsync();
        await using var _ = nic;
        var frame = Frame(1, 1514);
        model.Inject(frame);
        var loan = await Lend(p, h);
        Assert.Equal(frame, Copy(p, loan)); // exactly the frame: the virtio-net header is not part of the loan
        // Same memory: the consumer's span starts at the byte the device's DMA write reached.
        var l = p.Get<DmaLoan>(loan, Rights.Read).Value;
        var device = model.Function.Dma.Translate(l.DeviceAddress, frame.Length);
        bool same = false;
        _k.Sys.Dma.View(p, loan, 0, frame.Length, 0, (span, _) => same = Unsafe.AreSame(ref Unsafe.AsRef(in span[0]), ref device.Span[0])).Unwrap();
        Assert.True(same, "the loan's bytes are a copy, not the device-written buffer");
        Assert.Equal(ErrorCode.AccessDenied, p.Get<DmaLoan>(loan, Rights.Write).Code); // read-only, cannot be widened
        Assert.Equal(1, dev.LentBuffers(0));
        Assert.Equal(1, nic.OutstandingLoans);
        Assert.Equal(4096, _k.Quotas.Usage("/tenant-a").MemoryBytes); // one receive buffer charged
        _k.Sys.Dma.Return(p, loan).Unwrap();
        Assert.Equal(0, dev.LentBuffers(0));
        Assert.Equal(0, nic.OutstandingLoans);
        Assert.Equal(0, _k.Quotas.Usage("/tenant-a").MemoryBytes);
        Assert.Equal(ErrorCode.InvalidHandle, _k.Sys.Dma.Length(p, loan).Code);
        // The buffer went back to the ring: a full ring's worth of frames more still arrives.
        for (int i = 0; i < 40; i++)
        {
            model.Inject(Frame(100 + i));
            var next = await Lend(p, h);
            Assert.Equal(Frame(100 + i), Copy(p, next));
            _k.Sys.Dma.Return(p, next).Unwrap();
        }
        Assert.Equal(0, model.DmaFaults);
    }

    [Fact]
    public async Task A_lent_buffer_is_never_given_to_the_device_until_returned_and_at_most_half_the_ring_is_lent()
    {
        var (model, dev, nic, p, h) = await StartAsync(queueSize: 16);
        await using var _ = nic;
        model.Inject(Frame(7));
        var held = await Lend(p, h);
        // 200 more frames through the copying path: the device cycles every other buffer many times over.
        var receiving = Task.Run(async () =>
        {
            var bufs = Enumerable.Range(0, 8).Select(_ => (Memory<byte>)new byte[2048]).ToArray();
            var lengths = new int[8];
            int got = 0;
            using var cts = new CancellationTokenSource(Timeout);
            while (got < 200) got += await dev.ReceiveBatchAsync(0, bufs, lengths, cts.Token);
            return got;
        });
        for (int i = 0; i < 200; i++)
        {
            model.Inject(Frame(1000 + i));
            if (i % 8 == 7) await Task.Yield();
        }
        Assert.Equal(200, await receiving.WaitAsync(Timeout));
        Assert.Equal(Frame(7), Copy(p, held)); // untouched: the device never had the buffer again
        // Half of the 16 buffers may be lent, tenant-a's share half of that; the ninth lend is refused (Busy) and the
        // device keeps receiving.
        var (q, hq) = Receiver("receiver-b", "tenant-b", nic, h, p);
        var more = new List<Handle>();
        for (int i = 0; i < 3; i++)
        {
            model.Inject(Frame(i));
            more.Add(await Lend(p, h));
        }
        for (int i = 3; i < 7; i++)
        {
            model.Inject(Frame(i));
            await Lend(q, hq);
        }
        Assert.Equal(8, dev.LentBuffers(0));
        model.Inject(Frame(99));
        Assert.Equal(ErrorCode.Busy, (await _k.Sys.Dma.LendReceiveAsync(p, h, 0)).Code);
        Assert.Equal(4 * 4096, _k.Quotas.Usage("/tenant-a").MemoryBytes); // the refused lend was not charged
        _k.Sys.Dma.Return(p, more[0]).Unwrap();
        Assert.Equal(Frame(99), Copy(p, await Lend(p, h)));
    }

    /// <summary>A second receiver in <paramref name="tenant"/> with Read on the NIC <paramref name="nicOf"/> holds.</summary>
    private (Process P, Handle Nic) Receiver(string name, string tenant, NicDriver nic, Handle nicOf, Process of)
    {
        _ = nic;
        var q = _k.Spawn(name, _k.Tenant(tenant));
        var cap = _k.Caps.DeriveForKernel(of.TokenOf(nicOf).Value, Rights.Read, q.Principal, q.Principal).Value;
        return (q, q.AddHandle(cap).Value);
    }

    [Fact]
    public async Task One_tenant_holding_its_receive_loans_cannot_starve_another_tenants_loans()
    {
        var (model, dev, nic, p, h) = await StartAsync(queueSize: 16);
        await using var _ = nic;
        var (q, hq) = Receiver("receiver-b", "tenant-b", nic, h, p);
        // Tenant a lends and holds as much as it can: its share, a quarter of the ring, then a typed refusal that
        // leaves the frame on the ring and charges nothing.
        for (int i = 0; i < 6; i++) model.Inject(Frame(i));
        var heldByA = new List<Handle>();
        for (int i = 0; i < 4; i++) heldByA.Add(await Lend(p, h));
        Assert.Equal(ErrorCode.QuotaExceeded, (await _k.Sys.Dma.LendReceiveAsync(p, h, 0).WaitAsync(Timeout)).Code);
        Assert.Equal(4, dev.LentBuffers(0));
        Assert.Equal(4 * 4096, _k.Quotas.Usage("/tenant-a").MemoryBytes);
        // Tenant b still borrows: the frame a was refused is the next one lent, to b.
        Assert.Equal(Frame(4), Copy(q, await Lend(q, hq)));
        Assert.Equal(Frame(5), Copy(q, await Lend(q, hq)));
        Assert.Equal(2 * 4096, _k.Quotas.Usage("/tenant-b").MemoryBytes);
        // Another process of tenant a shares a's share: spreading the loans over processes does not widen it.
        var (p2, hp2) = Receiver("receiver-a2", "tenant-a", nic, h, p);
        model.Inject(Frame(6));
        Assert.Equal(ErrorCode.QuotaExceeded, (await _k.Sys.Dma.LendReceiveAsync(p2, hp2, 0).WaitAsync(Timeout)).Code);
        // A returned loan gives tenant a room for one more.
        _k.Sys.Dma.Return(p, heldByA[0]).Unwrap();
        Assert.Equal(Frame(6), Copy(p2, await Lend(p2, hp2)));
        Assert.Equal(ErrorCode.QuotaExceeded, (await _k.Sys.Dma.LendReceiveAsync(p, h, 0).WaitAsync(Timeout)).Code);
        // Stopping the NIC ends every loan of both tenants, and their shares with them.
        await nic.DisposeAsync();
        Assert.Equal(0, nic.OutstandingLoans);
        Assert.Equal(0, _k.Quotas.Usage("/tenant-a").MemoryBytes);
        Assert.Equal(0, _k.Quotas.Usage("/tenant-b").MemoryBytes);
    }

    [Fact]
    public async Task A_flood_of_lends_is_bounded_by_the_tenants_memory_quota_and_a_refused_lend_takes_no_frame()
    {
        var (model, dev, nic, p, h) = await StartAsync(queueSize: 64);
        await using var _ = nic;
        _k.Quotas.SetLimits("/tenant-a", new QuotaLimits(MemoryBytes: 3 * 4096)).Unwrap();
        for (int i = 0; i < 10; i++) model.Inject(Frame(i));
        var held = new List<Handle>();
        for (int i = 0; i < 3; i++) held.Add(await Lend(p, h));
        Assert.Equal(ErrorCode.QuotaExceeded, (await _k.Sys.Dma.LendReceiveAsync(p, h, 0)).Code);
        Assert.Equal(3, dev.LentBuffers(0));
        _k.Sys.Dma.Return(p, held[0]).Unwrap();
        // The refused lend left frame 3 on the ring: it is the next one lent, in order.
        Assert.Equal(Frame(3), Copy(p, await Lend(p, h)));
        Assert.Equal(3 * 4096, _k.Quotas.Usage("/tenant-a").MemoryBytes);
        // A lend with nothing to receive waits, and cancelling it is a typed error that charges nothing.
        _k.Sys.Dma.Return(p, held[1]).Unwrap();
        for (int i = 4; i < 10; i++) _k.Sys.Dma.Return(p, await Lend(p, h)).Unwrap();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        Assert.Equal(ErrorCode.Cancelled, (await _k.Sys.Dma.LendReceiveAsync(p, h, 0, cts.Token).WaitAsync(Timeout)).Code);
        Assert.Equal(2 * 4096, _k.Quotas.Usage("/tenant-a").MemoryBytes);
    }

    [Fact]
    public async Task Revocation_mid_read_is_typed_and_stopping_the_nic_revokes_every_loan_and_bad_handles_are_refused()
    {
        var (model, dev, nic, p, h) = await StartAsync();
        model.Inject(Frame(1));
        model.Inject(Frame(2));
        var first = await Lend(p, h);
        var token = p.TokenOf(first).Value;
        bool lentDuringRead = false;
        var r = _k.Sys.Dma.View(p, first, 0, 4, 0, (_, _) =>
        {
            _k.Caps.Revoke(token, Principal.Kernel); // the kernel revokes while the consumer reads
            lentDuringRead = dev.LentBuffers(0) == 1;
        });
        Assert.Equal(ErrorCode.Revoked, r.Code);
        Assert.True(lentDuringRead, "the buffer went back to the device while the consumer was reading it");
        Assert.Equal(0, dev.LentBuffers(0));
        Assert.Equal(ErrorCode.Revoked, _k.Sys.Dma.View(p, first, 0, 1, 0, (_, _) => { }).Code);
        // Wrong object, wrong queue, missing right, closed handle: typed refusals.
        var second = await Lend(p, h);
        Assert.Equal(ErrorCode.WrongObjectType, (await _k.Sys.Dma.LendReceiveAsync(p, second, 0)).Code);
        Assert.Equal(ErrorCode.OutOfRange, (await _k.Sys.Dma.LendReceiveAsync(p, h, 1)).Code);
        Assert.Equal(ErrorCode.OutOfRange, (await _k.Sys.Dma.LendReceiveAsync(p, h, -1)).Code);
        var noRead = p.AddHandle(_k.Caps.DeriveForKernel(p.TokenOf(h).Value, Rights.None, p.Principal, p.Principal).Value).Value;
        Assert.Equal(ErrorCode.AccessDenied, (await _k.Sys.Dma.LendReceiveAsync(p, noRead, 0)).Code);
        // Stopping the NIC revokes the live loan before the device and its buffers go.
        await nic.DisposeAsync();
        Assert.Equal(0, nic.OutstandingLoans);
        Assert.Equal(ErrorCode.Revoked, _k.Sys.Dma.View(p, second, 0, 1, 0, (_, _) => { }).Code);
        Assert.Equal(0, _k.Quotas.Usage("/tenant-a").MemoryBytes);
        Assert.Equal(ErrorCode.Closed, (await _k.Sys.Dma.LendReceiveAsync(p, h, 0)).Code);
        p.Close(h).Unwrap();
        Assert.Equal(ErrorCode.InvalidHandle, (await _k.Sys.Dma.LendReceiveAsync(p, h, 0)).Code);
    }
}
