using System.Security.Cryptography;
using Photon.FileSystems.Ext4;
using Photon.Kernel;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Io;

namespace Photon.FileSystems.Tests.Ext4;

/// <summary>
/// Replay of journals written by Linux's tools (debugfs journal_open/journal_write/journal_close, e2fsprogs 1.47):
/// Photon must reach the same state as e2fsck's own replay, honour revokes, stop at an uncommitted or corrupt
/// transaction, and leave the disk untouched on a read-only mount.
/// </summary>
public sealed class Ext4JournalReplayTests
{
    private static int BlockSizeOf(string img) => int.Parse(Ext4Scratch.Run("dumpe2fs", "-h", img).Output
        .Split('\n').First(l => l.StartsWith("Block size:", StringComparison.Ordinal)).Split(':')[1].Trim());

    private static string Dumpe2fsHeader(string img) => Ext4Scratch.Run("dumpe2fs", "-h", img).Output;

    private static byte[] Block(string img, long block, int bs)
    {
        using var f = File.OpenRead(img);
        var b = new byte[bs];
        f.Position = block * bs;
        f.ReadExactly(b);
        return b;
    }

    /// <summary>Journals <paramref name="blocks"/> (contents taken from <paramref name="source"/>) into <paramref name="img"/> as one committed transaction.</summary>
    private static void JournalBlocks(Ext4Scratch s, string img, string source, IReadOnlyList<long> blocks, bool checksums)
    {
        int bs = BlockSizeOf(img);
        string data = s.PathOf("jdata-" + Guid.NewGuid().ToString("N")[..8]);
        using (var f = File.Create(data))
            foreach (long b in blocks) f.Write(Block(source, b, bs));
        string script = s.PathOf("jscript");
        File.WriteAllText(script, $"jo{(checksums ? " -c" : "")}\njw -b {string.Join(',', blocks)} {data}\njc\n");
        Ext4Scratch.MustRun("debugfs", "-w", "-f", script, img);
        Assert.Contains("needs_recovery", Dumpe2fsHeader(img));
    }

    private static List<long> ChangedBlocks(string a, string b, int bs)
    {
        var x = File.ReadAllBytes(a); var y = File.ReadAllBytes(b);
        var list = new List<long>();
        for (long blk = 0; blk * bs < x.Length; blk++)
            if (!x.AsSpan((int)(blk * bs), bs).SequenceEqual(y.AsSpan((int)(blk * bs), bs))) list.Add(blk);
        return list;
    }

    private static string Sha(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    [Theory]
    [InlineData("8M", false, false)]
    [InlineData("8M", true, false)]
    [InlineData("32M", true, true)]
    public async Task LinuxJournal_IsReplayed_ToTheStateE2fsckReplays(string size, bool checksums, bool fourK)
    {
        using var s = new Ext4Scratch();
        string before = fourK ? s.MakeImage("before.img", size, null, "-b", "4096") : s.MakeImage("before.img", size);
        int bs = BlockSizeOf(before);
        // The "after" state: Linux's debugfs makes a directory and writes a file (bitmaps, descriptors, inodes,
        // directory blocks, superblock counters and the file's data all change).
        string after = s.PathOf("after.img");
        File.Copy(before, after);
        var payload = Ext4Scratch.RandomBytes(3 * bs + 123, 42);
        File.WriteAllBytes(s.PathOf("payload"), payload);
        Ext4Scratch.MustRun("debugfs", "-w", "-R", "mkdir /logged", after);
        Ext4Scratch.DebugfsWrite(after, s.PathOf("payload"), "/logged/file.bin");
        var changed = ChangedBlocks(before, after, bs);
        Assert.True(changed.Count >= 5, $"only {changed.Count} blocks changed");

        // The dirty image: "before" plus a committed transaction logging every changed block.
        string dirty = s.PathOf("dirty.img");
        File.Copy(before, dirty);
        JournalBlocks(s, dirty, after, changed, checksums);
        await MountReadOnlySees(dirty, "/logged/file.bin", payload);

        // e2fsck's replay, for comparison.
        string linux = s.PathOf("linux.img");
        File.Copy(dirty, linux);
        Ext4Scratch.Run("e2fsck", "-E", "journal_only", "-y", linux);

        // Photon's replay on a read-write mount.
        var (fs, st) = await Ext4Scratch.MountAsync(dirty);
        try
        {
            Assert.Equal(payload, await Ext4Scratch.ReadAllAsync(fs, "/logged/file.bin"));
            var journal = ((Ext4FileSystem)fs).Volume.Journal;
            Assert.NotNull(journal);
        }
        finally { await Ext4Scratch.UnmountAsync(fs, st); }
        Assert.DoesNotContain("needs_recovery", Dumpe2fsHeader(dirty));
        foreach (long b in changed.Where(b => b != (bs == 1024 ? 1 : 0)))
            Assert.True(Block(dirty, b, bs).AsSpan().SequenceEqual(Block(linux, b, bs)), $"block {b} differs from e2fsck's replay");
        var (code, output) = Ext4Scratch.Fsck(dirty);
        Assert.True(code == 0, $"e2fsck -fn after Photon's replay exited {code}:\n{output}");
        Assert.Equal(payload, s.DebugfsDump(dirty, "/logged/file.bin"));
    }

    /// <summary>Mounts read-only, checks the file reads back, and that the image was not modified.</summary>
    private static async Task MountReadOnlySees(string img, string path, byte[] expected)
    {
        string hash = Sha(img);
        var (fs, st) = await Ext4Scratch.MountAsync(img, readOnly: true);
        try { Assert.Equal(expected, await Ext4Scratch.ReadAllAsync(fs, path)); }
        finally { await Ext4Scratch.UnmountAsync(fs, st); }
        Assert.Equal(hash, Sha(img));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Replay_HonoursRevokes_AndStopsAtTheUncommittedTransaction(bool checksums)
    {
        using var s = new Ext4Scratch();
        string img = s.MakeImage("j.img", "8M");
        int bs = BlockSizeOf(img);
        var data = Ext4Scratch.RandomBytes(2 * bs, 7);
        File.WriteAllBytes(s.PathOf("two"), data);
        File.WriteAllBytes(s.PathOf("one"), data.AsSpan(0, bs).ToArray());
        // Transaction 1 logs 2000 and 2001; transaction 2 revokes 2001; transaction 3 (2002) is never committed.
        File.WriteAllText(s.PathOf("script"), $"jo{(checksums ? " -c" : "")}\njw -b 2000,2001 {s.PathOf("two")}\njw -r 2001 /dev/null\njw -b 2002 -c {s.PathOf("one")}\njc\n");
        Ext4Scratch.MustRun("debugfs", "-w", "-f", s.PathOf("script"), img);
        string linux = s.PathOf("linux.img");
        File.Copy(img, linux);
        Ext4Scratch.Run("e2fsck", "-E", "journal_only", "-y", linux);

        var (fs, st) = await Ext4Scratch.MountAsync(img);
        await Ext4Scratch.UnmountAsync(fs, st);
        Assert.Equal(data.AsSpan(0, bs).ToArray(), Block(img, 2000, bs));
        Assert.Equal(new byte[bs], Block(img, 2001, bs));
        Assert.Equal(new byte[bs], Block(img, 2002, bs));
        for (long b = 2000; b <= 2002; b++) Assert.Equal(Block(linux, b, bs), Block(img, b, bs));
        Assert.Contains("Journal start:            0", Dumpe2fsHeader(img));
        var (code, output) = Ext4Scratch.Fsck(img);
        Assert.True(code == 0, output);
    }

    [Fact]
    public async Task Replay_StopsAtATransactionWhoseLoggedBlockFailsItsChecksum()
    {
        using var s = new Ext4Scratch();
        string img = s.MakeImage("j.img", "8M");
        int bs = BlockSizeOf(img);
        var data = Ext4Scratch.RandomBytes(2 * bs, 9);
        File.WriteAllBytes(s.PathOf("a"), data.AsSpan(0, bs).ToArray());
        File.WriteAllBytes(s.PathOf("b"), data.AsSpan(bs).ToArray());
        File.WriteAllText(s.PathOf("script"), $"jo -c\njw -b 3000 {s.PathOf("a")}\njw -b 3001 {s.PathOf("b")}\njw -b 3002 {s.PathOf("a")}\njc\n");
        Ext4Scratch.MustRun("debugfs", "-w", "-f", s.PathOf("script"), img);
        // The log is: [1] desc T1, [2] data, [3] commit, [4] desc T2, [5] data, [6] commit, ... Corrupt T2's logged block.
        long journalBlock5 = JournalPhysical(img, 5);
        using (var f = File.OpenWrite(img)) { f.Position = journalBlock5 * bs + 100; f.WriteByte(0x5A); f.WriteByte(0xA5); }

        var (fs, st) = await Ext4Scratch.MountAsync(img);
        await Ext4Scratch.UnmountAsync(fs, st);
        Assert.Equal(data.AsSpan(0, bs).ToArray(), Block(img, 3000, bs));
        Assert.Equal(new byte[bs], Block(img, 3001, bs));
        Assert.Equal(new byte[bs], Block(img, 3002, bs));   // T3 is after the bad transaction: not replayed either
        var (code, output) = Ext4Scratch.Fsck(img);
        Assert.True(code == 0, output);
    }

    /// <summary>The filesystem block of journal block <paramref name="n"/> (from debugfs bmap of inode 8).</summary>
    internal static long JournalPhysical(string img, long n) =>
        long.Parse(Ext4Scratch.Run("debugfs", "-R", $"bmap <8> {n}", img).Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Last(l => l.Trim().All(char.IsDigit)).Trim());

    [Fact]
    public async Task ReadOnlyDevice_WithDirtyJournal_MountsReadOnlyReplayedInMemory_AndRefusesReadWrite()
    {
        using var s = new Ext4Scratch();
        string img = s.MakeImage("j.img", "8M");
        int bs = BlockSizeOf(img);
        File.WriteAllBytes(s.PathOf("a"), Ext4Scratch.RandomBytes(bs, 3));
        File.WriteAllText(s.PathOf("script"), $"jo -c\njw -b 4000 {s.PathOf("a")}\njc\n");
        Ext4Scratch.MustRun("debugfs", "-w", "-f", s.PathOf("script"), img);
        string hash = Sha(img);
        var storage = HostImageStorage.Open(img, readOnly: true).Value;
        try
        {
            var device = TestDevices.Nvme(storage);
            var rw = await new Ext4FileSystemDriver().MountAsync(device, new MountOptions(false));
            Assert.Equal(ErrorCode.ReadOnly, rw.Code);
            var ro = await new Ext4FileSystemDriver().MountAsync(device, new MountOptions(true));
            Assert.True(ro.IsOk, ro.ToString());
            Assert.True((await ro.Value.ReadDirectoryAsync("/")).IsOk);
            await ro.Value.DisposeAsync();
        }
        finally { await storage.DisposeAsync(); }
        Assert.Equal(hash, Sha(img));
    }
}
