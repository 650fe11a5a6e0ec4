using System.Runtime.CompilerServices;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Dma;
using Photon.Kernel.Drivers.Nvme;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Processes;
using Photon.Kernel.Quotas;
using Photon.Kernel.Syscalls;
using Photon.Kernel.Tests.Security;

namespace Photon.Kernel.Tests.Drivers.Nvme;

/// <summary>Issue #17, zero-copy: NVMe reads lent as <see cref="DmaLoan"/>s through <c>Syscalls.Dma</c>, on the
/// in-process device model.</summary>
public sealed class DmaLendingTests : IDisposable
{
    private static readonly HostTimers Timers = new(new HostClock());
    private readonly SecurityKernel _k = new();

    public void Dispose() => _k.Dispose();

    private async Task<(NvmeDeviceModel Model, NvmeDisk Disk, Process P, Handle DiskHandle)> StartAsync(int queueEntries = 8)
    {
        var model = new NvmeDeviceModel(blocks: 8192);
        var c = await NvmeController.StartAsync(model, Timers, new NvmeDriverOptions(IoQueues: 1, QueueEntries: queueEntries));
        Assert.True(c.IsOk, c.ToString());
        var (disk, cap) = NvmeDisk.Create("nvme0", c.Value, _k.Caps).Value;
        var p = _k.Spawn("reader", _k.Tenant("tenant-a"));
        var mine = _k.Caps.DeriveForKernel(cap, Rights.Read, p.Principal, p.Principal).Value;
        return (model, disk, p, p.AddHandle(mine).Value);
    }

    private static byte[] Copy(DmaSyscalls dma, Process p, Handle loan, int length)
    {
        var copy = new byte[length];
        dma.View(p, loan, 0, length, copy, (span, into) => span.CopyTo(into)).Unwrap();
        return copy;
    }

    [Fact]
    public async Task The_consumer_sees_the_bytes_in_the_buffer_the_device_wrote_without_a_copy()
    {
        var (model, disk, p, h) = await StartAsync();
        await using var _ = disk;
        var data = new byte[8192];
        new Random(7).NextBytes(data);
        data.CopyTo(model.Disk, 100 * 512);
        var loan = await _k.Sys.Dma.LendReadAsync(p, h, 100, 8192);
        Assert.True(loan.IsOk, loan.ToString());
        Assert.Equal(8192, _k.Sys.Dma.Length(p, loan.Value).Value);
        Assert.Equal(data, Copy(_k.Sys.Dma, p, loan.Value, 8192));
        // Same memory: the span handed to the consumer starts at the very byte the device's DMA write reached.
        var address = p.Get<DmaLoan>(loan.Value, Rights.Read).Value.DeviceAddress;
        var deviceBytes = model.DeviceMemoryArray(address, out int at);
        bool same = false;
        _k.Sys.Dma.View(p, loan.Value, 0, 8192, 0, (span, _) => same = Unsafe.AreSame(
            ref Unsafe.AsRef(in span[0]), ref deviceBytes[at])).Unwrap();
        Assert.True(same, "the loan's bytes are a copy, not the device-written buffer");
        // Read-only: the handle carries Read only and cannot be widened.
        Assert.Equal(ErrorCode.AccessDenied, p.Get<DmaLoan>(loan.Value, Rights.Write).Code);
        Assert.Equal(1, disk.Controller.LentBuffers);
        _k.Sys.Dma.Return(p, loan.Value).Unwrap();
        Assert.Equal(0, disk.Controller.LentBuffers);
        Assert.Equal(ErrorCode.InvalidHandle, _k.Sys.Dma.Length(p, loan.Value).Code);
    }

    [Fact]
    public async Task Revocation_mid_read_is_a_typed_error_and_the_buffer_goes_back_only_after_the_read()
    {
        var (model, disk, p, h) = await StartAsync();
        await using var _ = disk;
        var loan = (await _k.Sys.Dma.LendReadAsync(p, h, 0, 4096)).Value;
        var token = p.TokenOf(loan).Value;
        bool lentDuringRead = false;
        var r = _k.Sys.Dma.View(p, loan, 0, 4096, 0, (span, _) =>
        {
            _k.Caps.Revoke(token, Principal.Kernel); // the lender revokes while the consumer reads
            lentDuringRead = disk.Controller.LentBuffers == 1;
        });
        Assert.Equal(ErrorCode.Revoked, r.Code);
        Assert.True(lentDuringRead, "the buffer went back to the device while the consumer was reading it");
        Assert.Equal(0, disk.Controller.LentBuffers);
        Assert.Equal(ErrorCode.Revoked, _k.Sys.Dma.View(p, loan, 0, 1, 0, (_, _) => { }).Code);
        // Recycled: the queue serves reads again with every slot.
        Assert.True((await disk.Controller.ReadAsync(0, new byte[4096], default)).IsOk);
    }

    [Fact]
    public async Task A_lent_buffer_is_never_given_to_the_device_until_returned()
    {
        var (model, disk, p, h) = await StartAsync(queueEntries: 4);
        await using var _ = disk;
        model.Disk.AsSpan(0, 4096).Fill(0xAA);
        var loan = (await _k.Sys.Dma.LendReadAsync(p, h, 0, 4096)).Value;
        var address = p.Get<DmaLoan>(loan, Rights.Read).Value.DeviceAddress;
        // Lots of ordinary reads and writes over the other slots: none may reuse the lent buffer.
        var io = Enumerable.Range(0, 64).Select(i => i % 2 == 0
            ? disk.Controller.ReadAsync(8 + i * 8, new byte[4096], default)
            : disk.Controller.WriteAsync(8 + i * 8, new byte[4096], default)).Select(v => v.AsTask()).ToArray();
        Assert.All(await Task.WhenAll(io), x => Assert.True(x.IsOk, x.ToString()));
        Assert.DoesNotContain(address, model.DataAddressesUsed.Skip(1));
        Assert.All(Copy(_k.Sys.Dma, p, loan, 4096), b => Assert.Equal(0xAA, b));
        // At most half of a queue's slots are lent: the rest always serve ordinary I/O.
        var second = await _k.Sys.Dma.LendReadAsync(p, h, 8, 4096);
        Assert.True(second.IsOk);
        Assert.Equal(ErrorCode.Busy, (await _k.Sys.Dma.LendReadAsync(p, h, 16, 4096)).Code);
        Assert.True((await disk.Controller.ReadAsync(0, new byte[4096], default)).IsOk);
        _k.Sys.Dma.Return(p, loan).Unwrap();
        _k.Sys.Dma.Return(p, second.Value).Unwrap();
        Assert.True((await _k.Sys.Dma.LendReadAsync(p, h, 16, 4096)).IsOk);
    }

    [Fact]
    public async Task A_flood_of_lends_is_bounded_by_the_tenants_memory_quota_and_hostile_sizes_are_refused()
    {
        var (model, disk, p, h) = await StartAsync(queueEntries: 64);
        await using var _ = disk;
        _k.Quotas.SetLimits("/tenant-a", new QuotaLimits(MemoryBytes: 5 * 4096)).Unwrap();
        var held = new List<Handle>();
        for (int i = 0; i < 5; i++) held.Add((await _k.Sys.Dma.LendReadAsync(p, h, i * 8, 4096)).Value);
        int commands = model.Commands;
        var refused = await _k.Sys.Dma.LendReadAsync(p, h, 100, 4096);
        Assert.Equal(ErrorCode.QuotaExceeded, refused.Code);
        Assert.Equal(commands, model.Commands); // refused before the device was asked
        Assert.Equal(5, disk.OutstandingLoans);
        // Malformed requests are refused as such (before any charge), not as quota.
        foreach (var bad in new[] { 0, -4096, 100, 1 << 30, int.MaxValue })
            Assert.Equal(ErrorCode.InvalidArgument, (await _k.Sys.Dma.LendReadAsync(p, h, 0, bad)).Code);
        Assert.Equal(ErrorCode.OutOfRange, (await _k.Sys.Dma.LendReadAsync(p, h, long.MaxValue, 4096)).Code);
        Assert.Equal(ErrorCode.OutOfRange, (await _k.Sys.Dma.LendReadAsync(p, h, 8191, 4096)).Code);
        Assert.Equal(ErrorCode.OutOfRange, _k.Sys.Dma.View(p, held[0], 4000, 200, 0, (_, _) => { }).Code);
        Assert.Equal(ErrorCode.OutOfRange, _k.Sys.Dma.View(p, held[0], -1, 1, 0, (_, _) => { }).Code);
        _k.Sys.Dma.Return(p, held[0]).Unwrap();
        Assert.True((await _k.Sys.Dma.LendReadAsync(p, h, 100, 4096)).IsOk); // the returned loan's quota is free again
        Assert.Equal(5 * 4096, _k.Quotas.Usage("/tenant-a").MemoryBytes);
    }

    [Fact]
    public async Task A_lent_read_that_completes_while_the_disk_stops_is_revoked_not_kept()
    {
        var (model, disk, p, h) = await StartAsync();
        model.HoldIo = true;
        // The device completes the held read as the stopping controller asks it to shut down: after the stop took its
        // list of loans to revoke, before the controller is gone.
        model.OnShutdown = () => model.ReleaseHeld();
        var lend = Task.Run(async () => await _k.Sys.Dma.LendReadAsync(p, h, 0, 4096)); // its submitter polls inline
        while (model.Held == 0) await Task.Delay(1);
        await disk.DisposeAsync();
        var loan = await lend;
        Assert.Equal(ErrorCode.Closed, loan.Code);
        Assert.Equal(0, disk.OutstandingLoans);
        Assert.Equal(0, _k.Quotas.Usage("/tenant-a").MemoryBytes);
    }

    [Fact]
    public async Task Stopping_the_disk_revokes_every_loan_and_a_stale_or_wrong_handle_is_refused()
    {
        var (model, disk, p, h) = await StartAsync();
        var loan = (await _k.Sys.Dma.LendReadAsync(p, h, 0, 4096)).Value;
        Assert.Equal(ErrorCode.WrongObjectType, _k.Sys.Dma.Length(p, h).Code);
        Assert.Equal(ErrorCode.WrongObjectType, (await _k.Sys.Dma.LendReadAsync(p, loan, 0, 4096)).Code);
        await disk.DisposeAsync();
        Assert.Equal(0, disk.OutstandingLoans);
        Assert.Equal(ErrorCode.Revoked, _k.Sys.Dma.View(p, loan, 0, 1, 0, (_, _) => { }).Code);
        Assert.Equal(0, _k.Quotas.Usage("/tenant-a").MemoryBytes);
    }
}
