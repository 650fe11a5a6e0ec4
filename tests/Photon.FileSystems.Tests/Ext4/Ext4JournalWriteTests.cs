using Photon.FileSystems.Ext4;
using Photon.FileSystems.Tests.Crash;
using Photon.Kernel.FileSystems;

namespace Photon.FileSystems.Tests.Ext4;

/// <summary>
/// Photon's journal, read by Linux's tools: stop the disk right after Photon's commit block is durable and before any
/// checkpoint write (the "process killed after commit" state), and e2fsck must replay Photon's transaction to the
/// committed state; Photon's own replay of the same image must agree.
/// </summary>
public sealed class Ext4JournalWriteTests
{
    [Theory]
    [InlineData("8M", 1024)]
    [InlineData("16M", 4096)]
    public async Task CommittedButNotCheckpointed_IsReplayedByE2fsck_ToTheCommittedState(string size, int blockSize)
    {
        using var s = new Ext4Scratch();
        string mkfs = s.MakeImage("base.img", size, null, "-b", blockSize.ToString());
        var recorder = new RecordingBlockDevice(File.ReadAllBytes(mkfs));
        var fs = (await new Ext4FileSystemDriver().MountAsync(recorder, new MountOptions())).Value;
        Assert.True((await fs.CreateDirectoryAsync("/d")).IsOk);
        Assert.True((await fs.CreateFileAsync("/d/f")).IsOk);
        Assert.True((await fs.FlushAsync()).IsOk);
        var data = Ext4Scratch.RandomBytes(5 * blockSize + 17, 77);
        int before = recorder.Log.Count;
        Assert.True((await fs.WriteAsync("/d/f", 0, data)).IsOk);
        Assert.True((await fs.FlushAsync()).IsOk);
        int after = recorder.Log.Count;
        await fs.DisposeAsync();

        // The write's transaction, committed by the fsync: flush (data), log, flush, commit, flush, checkpoint, flush,
        // log reset; then the fsync's own flush.
        var flushes = Enumerable.Range(before, after - before).Where(i => recorder.Log[i].IsFlush).ToList();
        Assert.Equal(5, flushes.Count);
        var image = new CrashState(flushes[2] + 1, [], "after-commit").Build(recorder.Base, recorder.Log);
        string img = s.PathOf("committed.img");
        File.WriteAllBytes(img, image);
        string header = Ext4Scratch.Run("dumpe2fs", "-h", img).Output;
        Assert.Contains("needs_recovery", header);
        Assert.DoesNotContain("Journal start:            0\n", header);
        Assert.Contains("journal_checksum_v3", header);   // metadata_csum volume: Photon enables csum v3 as Linux does
        // Linux's logdump parses Photon's log: one descriptor and one commit block of the expected sequence.
        string log = Ext4Scratch.Run("debugfs", "-R", "logdump", img).Output;
        Assert.Contains("(descriptor block)", log);
        Assert.Contains("(commit block)", log);
        // Without replay the file is still empty in place (debugfs does not replay).
        Assert.Contains("Size: 0", Ext4Scratch.Run("debugfs", "-R", "stat /d/f", img).Output);

        string photon = s.PathOf("photon.img");
        File.Copy(img, photon);
        var (code, output) = Ext4Scratch.Run("e2fsck", "-fy", img);
        Assert.True(code is 0 or 1, $"e2fsck -fy exited {code}: {output}");
        Assert.Contains("recovering journal", output);
        (code, output) = Ext4Scratch.Fsck(img);
        Assert.True(code == 0, $"e2fsck -fn after e2fsck's replay exited {code}: {output}");
        Assert.Equal(data, s.DebugfsDump(img, "/d/f"));

        var (pfs, st) = await Ext4Scratch.MountAsync(photon);
        try { Assert.Equal(data, await Ext4Scratch.ReadAllAsync(pfs, "/d/f")); }
        finally { await Ext4Scratch.UnmountAsync(pfs, st); }
        (code, output) = Ext4Scratch.Fsck(photon);
        Assert.True(code == 0, $"e2fsck -fn after Photon's replay exited {code}: {output}");
    }

    [Fact]
    public async Task OperationsUntilAnFsyncAreOneTransaction_AndTheVolumeIsCleanAfterIt()
    {
        using var s = new Ext4Scratch();
        string img = s.MakeImage("w.img", "8M");
        var (fs, st) = await Ext4Scratch.MountAsync(img);
        try
        {
            var vol = ((Ext4FileSystem)fs).Volume;
            var journal = vol.Journal!;
            journal.CommitInterval = TimeSpan.FromHours(1);   // a loaded machine must not commit the group by age
            long t0 = journal.Transactions;
            uint seq0 = journal.NextSequence;
            Assert.True((await fs.CreateDirectoryAsync("/x")).IsOk);
            Assert.True((await fs.CreateFileAsync("/x/y")).IsOk);
            Assert.True((await fs.WriteAsync("/x/y", 0, Ext4Scratch.RandomBytes(10_000, 1))).IsOk);
            // Group commit: nothing committed yet, the three operations wait in the running transaction.
            Assert.Equal(t0, journal.Transactions);
            Assert.Equal(3, vol.RunningOperations);
            Assert.True((await fs.FlushAsync()).IsOk);
            Assert.Equal(t0 + 1, journal.Transactions);
            Assert.Equal(seq0 + 1, journal.NextSequence);
            Assert.Equal(0, vol.RunningOperations);
            // After the fsync (the fs still mounted) the image is clean and complete: log empty, needs_recovery clear.
            var (code, output) = Ext4Scratch.Fsck(img);
            Assert.True(code == 0, output);
            string header = Ext4Scratch.Run("dumpe2fs", "-h", img).Output;
            Assert.DoesNotContain("needs_recovery", header);
            Assert.Contains($"Journal sequence:         0x{seq0 + 1:x8}", header);
        }
        finally { await Ext4Scratch.UnmountAsync(fs, st); }
    }

    [Fact]
    public async Task AnOperationThatFreesSpace_CommitsItsGroupAtOnce()
    {
        using var s = new Ext4Scratch();
        string img = s.MakeImage("w.img", "8M");
        var (fs, st) = await Ext4Scratch.MountAsync(img);
        try
        {
            var vol = ((Ext4FileSystem)fs).Volume;
            vol.Journal!.CommitInterval = TimeSpan.FromHours(1);   // a loaded machine must not commit the group by age
            long t0 = vol.Journal.Transactions;
            Assert.True((await fs.CreateFileAsync("/a")).IsOk);
            Assert.True((await fs.WriteAsync("/a", 0, Ext4Scratch.RandomBytes(50_000, 2))).IsOk);
            Assert.Equal(2, vol.RunningOperations);
            // Blocks freed in an uncommitted group must not be handed to another file before the free is committed.
            Assert.True((await fs.DeleteAsync("/a")).IsOk);
            Assert.Equal(0, vol.RunningOperations);
            Assert.Equal(t0 + 1, vol.Journal.Transactions);
            var (code, output) = Ext4Scratch.Fsck(img);
            Assert.True(code == 0, output);
        }
        finally { await Ext4Scratch.UnmountAsync(fs, st); }
    }

    [Fact]
    public async Task ARunningTransactionOlderThanTheCommitInterval_IsCommittedWhenTheNextOperationEnds()
    {
        using var s = new Ext4Scratch();
        string img = s.MakeImage("w.img", "8M");
        var (fs, st) = await Ext4Scratch.MountAsync(img);
        try
        {
            var vol = ((Ext4FileSystem)fs).Volume;
            vol.Journal!.CommitInterval = TimeSpan.FromHours(1);   // a loaded machine must not commit the group by age
            long t0 = vol.Journal.Transactions;
            Assert.True((await fs.CreateFileAsync("/a")).IsOk);
            Assert.Equal(1, vol.RunningOperations);
            vol.Journal.CommitInterval = TimeSpan.Zero;
            Assert.True((await fs.CreateFileAsync("/b")).IsOk);
            Assert.Equal(0, vol.RunningOperations);
            Assert.Equal(t0 + 1, vol.Journal.Transactions);
        }
        finally { await Ext4Scratch.UnmountAsync(fs, st); }
    }

    [Fact]
    public async Task WriteBack_CommitsTheRunningGroupOnlyOnceItIsOlderThanTheCommitInterval()
    {
        using var s = new Ext4Scratch();
        string img = s.MakeImage("w.img", "8M");
        var (fs, st) = await Ext4Scratch.MountAsync(img);
        try
        {
            var vol = ((Ext4FileSystem)fs).Volume;
            vol.Journal!.CommitInterval = TimeSpan.FromHours(1);
            long t0 = vol.Journal.Transactions;
            Assert.True((await fs.CreateFileAsync("/a")).IsOk);
            Assert.True((await fs.WriteBackAsync()).IsOk);
            Assert.Equal(1, vol.RunningOperations);            // young: held
            Assert.Equal(t0, vol.Journal.Transactions);
            vol.Journal.CommitInterval = TimeSpan.Zero;
            Assert.True((await fs.WriteBackAsync()).IsOk);
            Assert.Equal(0, vol.RunningOperations);            // due: committed, with no operation to trigger it
            Assert.Equal(t0 + 1, vol.Journal.Transactions);
            Assert.True((await fs.WriteBackAsync()).IsOk);
            Assert.Equal(t0 + 1, vol.Journal.Transactions);    // nothing running: no empty transaction
        }
        finally { await Ext4Scratch.UnmountAsync(fs, st); }
    }

    [Fact]
    public async Task AGroupThatWouldOutgrowAQuarterOfTheLog_IsCommittedBeforeTheOperationJoins()
    {
        using var s = new Ext4Scratch();
        string img = s.MakeImage("w.img", "8M");
        var (fs, st) = await Ext4Scratch.MountAsync(img);
        try
        {
            var vol = ((Ext4FileSystem)fs).Volume;
            vol.Journal!.CommitInterval = TimeSpan.FromHours(1);   // only size may commit the group here
            long t0 = vol.Journal.Transactions;
            // Each directory touches a new directory block (and, over the image's groups, new bitmaps and inode
            // table blocks), so hundreds of them outgrow a quarter of the 1,024-block log.
            for (int i = 0; i < 600; i++) Assert.True((await fs.CreateDirectoryAsync($"/d{i}")).IsOk);
            Assert.True(vol.Journal.Transactions > t0, "the group was never committed for its size");
            Assert.Equal(0, vol.Journal.Unjournaled);
            Assert.True((await fs.FlushAsync()).IsOk);
            var (code, output) = Ext4Scratch.Fsck(img);
            Assert.True(code == 0, output);
        }
        finally { await Ext4Scratch.UnmountAsync(fs, st); }
    }

    [Fact]
    public async Task LoggedBlockBeginningWithTheJournalMagic_IsEscaped_AndRestoredByBothReplays()
    {
        using var s = new Ext4Scratch();
        string mkfs = s.MakeImage("base.img", "8M");
        var recorder = new RecordingBlockDevice(File.ReadAllBytes(mkfs));
        var fs = (await new Ext4FileSystemDriver().MountAsync(recorder, new MountOptions())).Value;
        var journal = ((Ext4FileSystem)fs).Volume.Journal!;
        var block = Ext4Scratch.RandomBytes(1024, 5);
        block[0] = 0xC0; block[1] = 0x3B; block[2] = 0x39; block[3] = 0x98;   // jbd2 magic, big-endian
        int before = recorder.Log.Count;
        await journal.CommitAsync([(2500L, (ReadOnlyMemory<byte>)block)], null, default);
        int after = recorder.Log.Count;
        await fs.DisposeAsync();
        var flushes = Enumerable.Range(before, after - before).Where(i => recorder.Log[i].IsFlush).ToList();
        var image = new CrashState(flushes[2] + 1, [], "after-commit").Build(recorder.Base, recorder.Log);
        Assert.False(image.AsSpan(2500 * 1024, 1024).SequenceEqual(block));
        // The logged copy has its first four bytes zeroed (the escape flag restores them).
        string log = Ext4Scratch.Run("debugfs", "-R", "logdump -b 2500", WriteImage(s, "l.img", image)).Output;
        Assert.Contains("FS block 2500 logged", log);

        string linux = WriteImage(s, "linux.img", image);
        var (code, output) = Ext4Scratch.Run("e2fsck", "-E", "journal_only", "-y", linux);
        Assert.True(code is 0 or 1, output);
        Assert.Equal(block, File.ReadAllBytes(linux).AsSpan(2500 * 1024, 1024).ToArray());

        var dev = new MemoryBlockDevice((byte[])image.Clone());
        var remount = await new Ext4FileSystemDriver().MountAsync(dev, new MountOptions());
        Assert.True(remount.IsOk, remount.ToString());
        Assert.Equal(1, ((Ext4FileSystem)remount.Value).Volume.Journal!.Recovered);
        await remount.Value.DisposeAsync();
        Assert.Equal(block, dev.Data.AsSpan(2500 * 1024, 1024).ToArray());
    }

    private static string WriteImage(Ext4Scratch s, string name, byte[] image)
    {
        string path = s.PathOf(name);
        File.WriteAllBytes(path, image);
        return path;
    }
}
