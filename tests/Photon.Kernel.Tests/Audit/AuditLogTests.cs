using System.Text;
using Photon.Kernel.Audit;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal.Host;

namespace Photon.Kernel.Tests.Audit;

public sealed class AuditLogTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("photon-audit-").FullName;
    private readonly HostTimers _timers = new(new HostClock());

    public void Dispose() => Directory.Delete(_dir, true);

    private string LogPath => Path.Combine(_dir, "audit.log");

    private static CapabilityAuditEvent Event(int i, string ns = "/tenant-a", AuditAction action = AuditAction.Create) =>
        new(action, DateTimeOffset.UnixEpoch.AddSeconds(i), $"proc{i % 3}[1]", ns, new CapabilityToken((UInt128)(i + 1) << 40, 1),
            CapabilityToken.None, ObjectKind.MemoryRegion, $"region-{i}", Rights.Read | Rights.Write, ErrorCode.None, $"detail {i}");

    private async Task WriteLog(int records, byte[]? key = null)
    {
        var log = (await HashChainedAuditLog.OpenAsync(HostAppendLog.Open(LogPath).Value, _timers, new AuditLogOptions { Key = key })).Value;
        for (int i = 0; i < records; i++) log.Record(Event(i, i % 2 == 0 ? "/tenant-a" : "/tenant-b/svc", i % 5 == 0 ? AuditAction.Revoke : AuditAction.Create));
        await log.DisposeAsync();
    }

    private async Task<AuditVerifyReport> Verify(byte[]? key = null)
    {
        await using var s = HostAppendLog.OpenExisting(LogPath).Value;
        return await AuditLogVerifier.VerifyAsync(s, key);
    }

    private string[] Lines() => File.ReadAllText(LogPath).Split('\n', StringSplitOptions.RemoveEmptyEntries);
    private void WriteLines(IEnumerable<string> lines) => File.WriteAllText(LogPath, string.Concat(lines.Select(l => l + "\n")));

    [Fact]
    public async Task Records_round_trip_and_verify_intact_and_reopening_continues_the_chain()
    {
        await WriteLog(100);
        Assert.True((await Verify()).IsIntact);
        var log = (await HashChainedAuditLog.OpenAsync(HostAppendLog.Open(LogPath).Value, _timers)).Value;
        log.Record(Event(100));
        await log.DisposeAsync();
        var report = await Verify();
        Assert.True(report.IsIntact, report.ToString());
        Assert.Equal(101, report.Records);
        await using var s = HostAppendLog.OpenExisting(LogPath).Value;
        var records = (await AuditLogVerifier.ReadAsync(s)).Value;
        Assert.Equal(101, records.Count);
        Assert.Equal("region-7", records[7].Label);
        Assert.Equal(AuditAction.Revoke, records[5].Action);
    }

    [Theory]
    [InlineData("\"subject\":\"proc0[1]\"", "\"subject\":\"proc2[1]\"")]
    [InlineData("\"ns\":\"/tenant-b/svc\"", "\"ns\":\"/tenant-a\"")]
    [InlineData("\"rights\":\"ReadWrite\"", "\"rights\":\"All\"")]
    [InlineData("\"action\":\"Create\"", "\"action\":\"Denied\"")]
    [InlineData("\"detail\":\"detail 3\"", "\"detail\":\"detail 4\"")]
    [InlineData("1970-01-01T00:00:03", "1970-01-01T00:00:09")]
    public async Task Editing_any_field_of_a_record_is_detected_at_that_record(string from, string to)
    {
        await WriteLog(10);
        var lines = Lines();
        Assert.Contains(from, lines[3]);
        lines[3] = lines[3].Replace(from, to);
        WriteLines(lines);
        var r = await Verify();
        Assert.Equal(AuditProblem.Edited, r.Problem);
        Assert.Equal(3, r.FirstBadRecord);
    }

    [Fact]
    public async Task Dropping_inserting_or_reordering_records_breaks_the_chain()
    {
        await WriteLog(10);
        var lines = Lines();
        WriteLines(lines.Where((_, i) => i != 4));
        Assert.Equal((AuditProblem.BrokenChain, 4L), ((await Verify()).Problem, (await Verify()).FirstBadRecord));
        WriteLines(lines.Take(6).Append(lines[2]).Concat(lines.Skip(6)));
        Assert.Equal(AuditProblem.BrokenChain, (await Verify()).Problem);
        WriteLines(lines.Take(2).Append(lines[3]).Append(lines[2]).Concat(lines.Skip(4)));
        Assert.Equal((AuditProblem.BrokenChain, 2L), ((await Verify()).Problem, (await Verify()).FirstBadRecord));
    }

    [Fact]
    public async Task Dropping_the_tail_is_detected_through_the_head()
    {
        await WriteLog(10);
        WriteLines(Lines().Take(7));
        var r = await Verify();
        Assert.Equal(AuditProblem.TruncatedTail, r.Problem);
        Assert.Contains("10", r.Detail);
        File.Delete(LogPath + ".head");
        Assert.Equal(AuditProblem.TruncatedTail, (await Verify()).Problem);
    }

    [Fact]
    public async Task A_torn_last_write_is_reported_as_such_not_as_tampering()
    {
        await WriteLog(5);
        var text = File.ReadAllText(LogPath);
        File.WriteAllText(LogPath, text + text.Split('\n')[0][..80]);
        var r = await Verify();
        Assert.Equal(AuditProblem.TornTail, r.Problem);
        Assert.Equal(5, r.FirstBadRecord);
        var reopen = await HashChainedAuditLog.OpenAsync(HostAppendLog.Open(LogPath).Value, _timers);
        Assert.Equal(ErrorCode.Corrupted, reopen.Code);
    }

    [Fact]
    public async Task Garbage_lines_are_malformed_not_crashes()
    {
        await WriteLog(3);
        var rng = new Random(5);
        var original = File.ReadAllBytes(LogPath);
        for (int i = 0; i < 300; i++)
        {
            var mutated = (byte[])original.Clone();
            for (int k = 0; k < 1 + rng.Next(4); k++) mutated[rng.Next(mutated.Length)] = (byte)rng.Next(256);
            File.WriteAllBytes(LogPath, mutated);
            var r = await Verify();
            Assert.False(r.IsIntact && !mutated.AsSpan().SequenceEqual(original));
        }
    }

    [Fact]
    public async Task With_a_key_a_rewritten_chain_cannot_be_forged()
    {
        var key = Encoding.UTF8.GetBytes("kernel-audit-key-0123456789abcdef");
        await WriteLog(5, key);
        Assert.True((await Verify(key)).IsIntact);
        // The plain-SHA-256 view of a keyed log does not verify, so an attacker without the key cannot recompute it.
        Assert.False((await Verify()).IsIntact);
        Assert.False((await Verify(Encoding.UTF8.GetBytes("wrong"))).IsIntact);
    }

    [Fact]
    public async Task Concurrent_appenders_keep_a_valid_chain_with_group_commit()
    {
        var log = (await HashChainedAuditLog.OpenAsync(HostAppendLog.Open(LogPath).Value, _timers, new AuditLogOptions { MaxBatch = 64 })).Value;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            for (int i = 0; i < 2500; i++) log.Record(Event(t * 10_000 + i));
        })));
        Assert.True((await log.FlushAsync()).IsOk);
        Assert.Equal(10_000, log.Committed);
        Assert.True(log.Batches < 10_000, "records must be committed in groups");
        await log.DisposeAsync();
        var r = await Verify();
        Assert.True(r.IsIntact, r.ToString());
        Assert.Equal(10_000, r.Records);
    }

    [Fact]
    public async Task Query_filters_by_namespace_subtree_time_action_and_subject()
    {
        await WriteLog(20);
        await using var s = HostAppendLog.OpenExisting(LogPath).Value;
        var all = (await AuditLogVerifier.ReadAsync(s)).Value;
        Assert.Equal(10, AuditLogVerifier.Query(all, ns: "/tenant-b").Count());
        Assert.All(AuditLogVerifier.Query(all, ns: "/tenant-b"), r => Assert.Equal("/tenant-b/svc", r.Namespace));
        Assert.Empty(AuditLogVerifier.Query(all, ns: "/tenant"));
        Assert.Equal(5, AuditLogVerifier.Query(all, since: DateTimeOffset.UnixEpoch.AddSeconds(15)).Count());
        Assert.Equal(4, AuditLogVerifier.Query(all, action: AuditAction.Revoke).Count());
        Assert.Equal(7, AuditLogVerifier.Query(all, subject: "proc0[1]").Count());
    }

    [Fact]
    public async Task The_kernel_audits_capability_events_into_the_log()
    {
        var log = (await HashChainedAuditLog.OpenAsync(HostAppendLog.Open(LogPath).Value, _timers)).Value;
        var caps = new CapabilityManager(log);
        var p = new Principal("svc[1]", "/tenant-a");
        var root = caps.Create(new GenericObject("doc"), Rights.All, p).Value;
        var child = caps.Derive(root, Rights.Read, new Principal("web[2]", "/tenant-a"), p).Value;
        caps.Check(child, Rights.Write, new Principal("web[2]", "/tenant-a"));
        caps.Revoke(root, p);
        await log.DisposeAsync();
        await using var s = HostAppendLog.OpenExisting(LogPath).Value;
        var actions = (await AuditLogVerifier.ReadAsync(s)).Value.Select(r => r.Action).ToList();
        Assert.Equal([AuditAction.Create, AuditAction.Delegate, AuditAction.Denied, AuditAction.Revoke, AuditAction.Revoke], actions);
        Assert.True((await Verify()).IsIntact);
    }
}
