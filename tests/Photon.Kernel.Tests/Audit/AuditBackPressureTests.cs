using Photon.Kernel.Audit;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal.Host;

namespace Photon.Kernel.Tests.Audit;

/// <summary>Issue #9 item 19: a flood of events against a slow disk must not grow memory without limit, and must not
/// lose events either (the log blocks recorders instead of dropping).</summary>
public sealed class AuditBackPressureTests
{
    private readonly HostTimers _timers = new(new HostClock());

    private static CapabilityAuditEvent Event(int i) =>
        new(AuditAction.Denied, DateTimeOffset.UnixEpoch.AddMilliseconds(i), $"flooder[{i % 7}]", "/tenant-b",
            new CapabilityToken((UInt128)(i + 1) << 40, 1), CapabilityToken.None, ObjectKind.Channel, "chan", Rights.Write,
            ErrorCode.AccessDenied, "flood");

    [Fact]
    public async Task A_flood_against_a_slow_disk_stays_within_the_buffer_bound_and_loses_nothing()
    {
        const long bound = 64 * 1024;
        const int threads = 4, perThread = 15_000;
        var storage = new MemoryAppendLog(appendDelay: TimeSpan.FromMilliseconds(2));
        var log = (await HashChainedAuditLog.OpenAsync(storage, _timers, new AuditLogOptions
        {
            Key = new byte[32], MaxPendingBytes = bound, MaxDelay = TimeSpan.FromSeconds(10),
        })).Value;
        await Task.WhenAll(Enumerable.Range(0, threads).Select(t => Task.Run(() =>
        {
            for (int i = 0; i < perThread; i++) log.Record(Event(t * perThread + i));
        })));
        // One record may go over the bound (the one that found the buffer just below it).
        var recordBytes = (int)(storage.Length / Math.Max(1, log.Committed));
        Assert.True(log.Stalls > 0, "a disk this slow must have made recorders wait");
        Assert.InRange(log.PeakPendingBytes, 1, bound + 4 * recordBytes);
        await log.DisposeAsync();

        Assert.Equal(threads * perThread, log.Committed);
        Assert.Equal(0, log.LostRecords);
        var report = await AuditLogVerifier.VerifyAsync(storage, new byte[32]);
        Assert.True(report.IsIntact, report.ToString());
        Assert.Equal(threads * perThread, report.Records);
    }

    [Fact]
    public async Task Events_after_close_are_counted_not_buffered_and_do_not_block()
    {
        var storage = new MemoryAppendLog();
        var log = (await HashChainedAuditLog.OpenAsync(storage, _timers, new AuditLogOptions { MaxPendingBytes = 1024 })).Value;
        log.Record(Event(0));
        await log.DisposeAsync();
        for (int i = 0; i < 10_000; i++) log.Record(Event(i));
        Assert.Equal(10_000, log.DroppedAfterClose);
        Assert.Equal(0, log.PendingBytes);
        Assert.Equal(1, log.Committed);
    }
}
