using System.Runtime.Versioning;
using Photon.Kernel.Audit;
using Photon.Kernel.Boot;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal.Host;

namespace Photon.Kernel.Tests.Audit;

/// <summary>
/// Issue #9 items 9 and 10: an attacker who can write the log's files but lacks the key cannot forge it (deleting a
/// Denied record and re-chaining), and cannot roll it back to an older copy when an anchor is kept.
/// </summary>
[SupportedOSPlatform("linux")] // key and anchor files are checked for mode 0600
public sealed class AuditKeyAndAnchorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("photon-audit-key-").FullName;
    private readonly HostTimers _timers = new(new HostClock());

    public void Dispose() => Directory.Delete(_dir, true);

    private string LogPath => Path.Combine(_dir, "audit.log");
    private string AnchorPath => Path.Combine(_dir, "elsewhere", "audit.anchor");

    private static CapabilityAuditEvent Event(int i) =>
        new(i % 4 == 1 ? AuditAction.Denied : AuditAction.Create, DateTimeOffset.UnixEpoch.AddSeconds(i), "intruder[7]", "/tenant-b",
            new CapabilityToken((UInt128)(i + 1) << 40, 1), CapabilityToken.None, ObjectKind.MemoryRegion, $"region-{i}", Rights.Read,
            i % 4 == 1 ? ErrorCode.AccessDenied : ErrorCode.None, $"event {i}");

    private async Task<HashChainedAuditLog> Open(byte[] key, bool anchored = true) =>
        (await HashChainedAuditLog.OpenAsync(HostAppendLog.Open(LogPath).Value, _timers,
            new AuditLogOptions { Key = key, Anchor = anchored ? new HostAtomicFile(AnchorPath) : null })).Value;

    private async Task<AuditVerifyReport> Verify(byte[]? key, bool anchored = false)
    {
        await using var s = HostAppendLog.OpenExisting(LogPath).Value;
        return await AuditLogVerifier.VerifyAsync(s, key, anchored ? new HostAtomicFile(AnchorPath) : null);
    }

    private byte[] NewKey() => HostKeyFile.LoadOrCreate(Path.Combine(_dir, "audit.key")).Value;

    public AuditKeyAndAnchorTests() => Directory.CreateDirectory(Path.GetDirectoryName(AnchorPath)!);

    [Fact]
    public async Task Deleting_a_Denied_record_and_rechaining_fools_an_unkeyed_verify_but_not_a_keyed_one()
    {
        var key = NewKey();
        var log = await Open(key);
        for (int i = 0; i < 12; i++) log.Record(Event(i));
        await log.DisposeAsync();
        Assert.True((await Verify(key)).IsIntact);

        // The attacker removes the first Denied record, renumbers, re-chains and recomputes the head.
        bool dropped = false;
        AuditForger.Rechain(LogPath, body => !dropped && (dropped = body.Contains("\"action\":\"Denied\"")));
        Assert.True(dropped);

        var unkeyed = await Verify(key: null);
        Assert.True(unkeyed.IsIntact, "an unkeyed chain is recomputable: this is why boot always sets a key");
        Assert.Equal(11, unkeyed.Records);
        var keyed = await Verify(key);
        Assert.Equal(AuditProblem.Edited, keyed.Problem);
        Assert.Equal(0, keyed.FirstBadRecord);

        // Guessing a key does not help either.
        AuditForger.Rechain(LogPath, _ => false, key: new byte[32]);
        Assert.Equal(AuditProblem.Edited, (await Verify(key)).Problem);
    }

    [Fact]
    public async Task Photon_audit_verify_checks_the_key_and_says_an_unkeyed_check_proves_little()
    {
        var keyPath = Path.Combine(_dir, "audit.key");
        var key = NewKey();
        var log = await Open(key);
        for (int i = 0; i < 8; i++) log.Record(Event(i));
        await log.DisposeAsync();

        Assert.Equal(0, await Photon.Cli.CliApp.RunAsync(["audit", "verify", LogPath, "--key", keyPath, "--anchor", AnchorPath]));
        Assert.Equal(1, await Photon.Cli.CliApp.RunAsync(["audit", "verify", LogPath])); // a keyed chain is not a SHA-256 chain
        Assert.Equal(2, await Photon.Cli.CliApp.RunAsync(["audit", "verify", LogPath, "--key"]));

        AuditForger.Rechain(LogPath, body => body.Contains("\"action\":\"Denied\""));
        Assert.Equal(1, await Photon.Cli.CliApp.RunAsync(["audit", "verify", LogPath, "--key", keyPath]));
        // Without the key the forgery passes the chain check — exit 3 says it is not authenticated, never 0.
        Assert.Equal(3, await Photon.Cli.CliApp.RunAsync(["audit", "verify", LogPath]));
    }

    [Fact]
    public void The_key_file_is_created_owner_only_kept_across_boots_and_refused_when_others_can_read_it()
    {
        var path = Path.Combine(_dir, "boot.key");
        var first = HostKeyFile.LoadOrCreate(path).Value;
        Assert.Equal(HostKeyFile.KeyBytes, first.Length);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Equal(first, HostKeyFile.LoadOrCreate(path).Value);
        Assert.Equal(first, HostKeyFile.Load(path).Value);

        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        Assert.Equal(ErrorCode.AccessDenied, HostKeyFile.Load(path).Code);
        Assert.Equal(ErrorCode.AccessDenied, HostKeyFile.LoadOrCreate(path).Code);
        Assert.Equal(ErrorCode.NotFound, HostKeyFile.Load(Path.Combine(_dir, "none.key")).Code);
        var shortKey = Path.Combine(_dir, "short.key");
        File.WriteAllText(shortKey, "abcd\n");
        File.SetUnixFileMode(shortKey, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.Equal(ErrorCode.Corrupted, HostKeyFile.Load(shortKey).Code);
    }

    [Fact]
    public async Task The_kernel_refuses_a_persistent_audit_log_without_a_key()
    {
        var storage = HostAppendLog.Open(LogPath).Value;
        var booted = await Kernel.Boot.PhotonKernel.BootAsync(Boot.TestKernel.Config with { EchoLog = false, MemoryBytes = 4 * 1024 * 1024, AuditStorage = storage });
        Assert.Equal(ErrorCode.InvalidArgument, booted.Code);
        await storage.DisposeAsync();
    }

    [Fact]
    public async Task Rolling_a_keyed_log_back_to_an_older_copy_is_caught_by_the_anchor()
    {
        var key = NewKey();
        var log = await Open(key);
        for (int i = 0; i < 10; i++) log.Record(Event(i));
        Assert.True((await log.FlushAsync()).IsOk);
        // The attacker keeps a copy of the log and its head as they are now...
        var oldLog = File.ReadAllBytes(LogPath);
        var oldHead = File.ReadAllBytes(LogPath + ".head");
        for (int i = 10; i < 25; i++) log.Record(Event(i));
        await log.DisposeAsync();
        Assert.True((await Verify(key, anchored: true)).IsIntact);

        // ...and later puts it back: a shorter, internally consistent, correctly keyed log with a valid older head.
        File.WriteAllBytes(LogPath, oldLog);
        File.WriteAllBytes(LogPath + ".head", oldHead);
        Assert.True((await Verify(key)).IsIntact, "head alone cannot see a rollback");
        var r = await Verify(key, anchored: true);
        Assert.Equal(AuditProblem.RolledBack, r.Problem);
        Assert.Contains("25", r.Detail);

        // The kernel refuses to continue a rolled-back log, and the CLI reports it.
        var reopen = await HashChainedAuditLog.OpenAsync(HostAppendLog.Open(LogPath).Value, _timers,
            new AuditLogOptions { Key = key, Anchor = new HostAtomicFile(AnchorPath) });
        Assert.Equal(ErrorCode.Corrupted, reopen.Code);
        Assert.Equal(1, await Photon.Cli.CliApp.RunAsync(["audit", "verify", LogPath, "--key", Path.Combine(_dir, "audit.key"), "--anchor", AnchorPath]));

        // Deleting the log and its head outright does not make it a fresh log: the anchor is not reset.
        File.Delete(LogPath);
        File.Delete(LogPath + ".head");
        var emptied = await HashChainedAuditLog.OpenAsync(HostAppendLog.Open(LogPath).Value, _timers,
            new AuditLogOptions { Key = key, Anchor = new HostAtomicFile(AnchorPath) });
        Assert.Equal(ErrorCode.Corrupted, emptied.Code);
        Assert.Contains("RolledBack", emptied.Error.Message);
    }

    [Fact]
    public async Task A_different_log_under_the_same_key_does_not_match_the_record_at_the_anchor()
    {
        var key = NewKey();
        var log = await Open(key);
        for (int i = 0; i < 5; i++) log.Record(Event(i));
        await log.DisposeAsync();
        var anchorOfFirst = File.ReadAllBytes(AnchorPath);

        // A longer log made under the same key (another boot), swapped in with the first log's anchor.
        File.Delete(LogPath);
        File.Delete(LogPath + ".head");
        File.Delete(AnchorPath);
        log = await Open(key);
        for (int i = 100; i < 110; i++) log.Record(Event(i));
        await log.DisposeAsync();
        File.WriteAllBytes(AnchorPath, anchorOfFirst);
        var r = await Verify(key, anchored: true);
        Assert.Equal(AuditProblem.RolledBack, r.Problem);
        Assert.Equal(4, r.FirstBadRecord);
    }

    [Fact]
    public async Task The_anchor_follows_every_commit_is_owner_only_and_cannot_be_deleted_or_forged_unnoticed()
    {
        var key = NewKey();
        var log = await Open(key);
        Assert.True(File.Exists(AnchorPath), "a new log starts its anchor at zero");
        for (int round = 1; round <= 3; round++)
        {
            for (int i = 0; i < 7; i++) log.Record(Event(round * 10 + i));
            Assert.True((await log.FlushAsync()).IsOk);
            var anchor = File.ReadAllText(AnchorPath).Split(' ');
            Assert.Equal(log.Committed.ToString(), anchor[0]);
        }
        await log.DisposeAsync();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(AnchorPath));
        Assert.False(File.Exists(AnchorPath + ".tmp"));
        Assert.True((await Verify(key, anchored: true)).IsIntact);

        // Raising the count (to make a later truncation look like a rollback elsewhere) or lowering it needs the key.
        var forged = AuditForger.Seal(null, "anchor", 2, new byte[32]);
        File.WriteAllBytes(AnchorPath, forged);
        Assert.Equal(AuditProblem.BadAnchor, (await Verify(key, anchored: true)).Problem);

        // Deleting the anchor does not switch the check off, and the kernel will not silently re-anchor.
        File.Delete(AnchorPath);
        Assert.Equal(AuditProblem.BadAnchor, (await Verify(key, anchored: true)).Problem);
        var reopen = await HashChainedAuditLog.OpenAsync(HostAppendLog.Open(LogPath).Value, _timers,
            new AuditLogOptions { Key = key, Anchor = new HostAtomicFile(AnchorPath) });
        Assert.Equal(ErrorCode.Corrupted, reopen.Code);
    }
}
