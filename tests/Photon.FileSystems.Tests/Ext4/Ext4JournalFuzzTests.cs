using Photon.FileSystems.Ext4;
using Photon.Kernel;
using Photon.Kernel.FileSystems;

namespace Photon.FileSystems.Tests.Ext4;

/// <summary>
/// A hostile journal is bad input: seeded mutations of a Linux-written dirty journal (checksummed and not) — random
/// bit flips and bytes in the journal superblock, descriptors, tags, revoke and commit blocks, plus targeted lies
/// (start/first/length out of range, huge r_count, tags naming blocks outside the filesystem or inside the journal) —
/// must mount or fail with a typed error, never throw or hang, and a failed read-write mount writes nothing.
/// </summary>
public sealed class Ext4JournalFuzzTests
{
    private static (byte[] Image, long[] JournalBlocks, int BlockSize) DirtyImage(Ext4Scratch s, bool checksums)
    {
        string img = s.MakeImage("j.img", "8M");
        const int bs = 1024;
        var data = Ext4Scratch.RandomBytes(3 * bs, 5);
        File.WriteAllBytes(s.PathOf("three"), data);
        File.WriteAllBytes(s.PathOf("one"), data.AsSpan(0, bs).ToArray());
        File.WriteAllText(s.PathOf("script"),
            $"jo{(checksums ? " -c" : "")}\njw -b 2100,2101,2102 {s.PathOf("three")}\njw -r 2101 /dev/null\njw -b 2103 {s.PathOf("one")}\njw -b 2104 -c {s.PathOf("one")}\njc\n");
        Ext4Scratch.MustRun("debugfs", "-w", "-f", s.PathOf("script"), img);
        var blocks = Enumerable.Range(0, 14).Select(n => Ext4JournalReplayTests.JournalPhysical(img, n)).ToArray();
        return (File.ReadAllBytes(img), blocks, bs);
    }

    private static async Task<string> MountBothAsync(byte[] image)
    {
        string outcome = "";
        foreach (bool ro in new[] { true, false })
        {
            var dev = new MemoryBlockDevice((byte[])image.Clone());
            var mount = new Ext4FileSystemDriver().MountAsync(dev, new MountOptions(ro)).AsTask();
            Assert.True(await Task.WhenAny(mount, Task.Delay(TimeSpan.FromSeconds(20))) == mount, "mount hung");
            var r = await mount;
            if (!r.IsOk)
            {
                Assert.True(r.Code is ErrorCode.Corrupted or ErrorCode.NotSupported or ErrorCode.IoError, r.ToString());
                Assert.Equal(0, dev.Writes);
                outcome += r.Code + " ";
                continue;
            }
            var list = await r.Value.ReadDirectoryAsync("/");
            Assert.True(list.IsOk || list.Code == ErrorCode.Corrupted, list.ToString());
            if (!ro) Assert.True((await r.Value.CreateFileAsync("/after-replay")).Code is ErrorCode.None or ErrorCode.Corrupted or ErrorCode.NoSpace);
            await r.Value.DisposeAsync();
            outcome += "ok ";
        }
        return outcome;
    }

    [Theory]
    [InlineData(true, 200)]
    [InlineData(false, 120)]
    public async Task HostileJournal_GivesTypedResults_NeverThrowsOrHangs(bool checksums, int iterations)
    {
        using var s = new Ext4Scratch();
        var (image, jblocks, bs) = DirtyImage(s, checksums);
        Assert.Equal("ok ok ", await MountBothAsync(image));
        var rng = new Random(checksums ? 1201 : 1202);
        var outcomes = new Dictionary<string, int>();
        for (int i = 0; i < iterations; i++)
        {
            var m = (byte[])image.Clone();
            int flips = 1 + rng.Next(4);
            for (int k = 0; k < flips; k++)
            {
                long blk = jblocks[rng.Next(jblocks.Length)];
                // Bias towards headers and tags, where the structure is.
                int off = rng.Next(3) == 0 ? rng.Next(bs) : rng.Next(96);
                if (rng.Next(2) == 0) m[blk * bs + off] ^= (byte)(1 << rng.Next(8));
                else m[blk * bs + off] = (byte)rng.Next(256);
            }
            string o = await MountBothAsync(m);
            outcomes[o] = outcomes.GetValueOrDefault(o) + 1;
        }
        Assert.True(outcomes.Count > 1, "every mutation had the same outcome: " + string.Join(", ", outcomes));
    }

    private static void Be32(byte[] img, long at, uint v) { img[at] = (byte)(v >> 24); img[at + 1] = (byte)(v >> 16); img[at + 2] = (byte)(v >> 8); img[at + 3] = (byte)v; }

    [Fact]
    public async Task TargetedJournalLies_AreRefusedOrStopReplay()
    {
        using var s = new Ext4Scratch();
        var (image, jblocks, bs) = DirtyImage(s, checksums: false);   // no checksums: the lies are not caught by a crc
        long jsb = jblocks[0] * bs, desc = jblocks[1] * bs;
        var cases = new (string What, Action<byte[]> Lie, string Expect)[]
        {
            ("s_start past the end", m => Be32(m, jsb + 28, 100_000), "Corrupted Corrupted "),
            ("s_first = 0", m => Be32(m, jsb + 20, 0), "Corrupted Corrupted "),
            ("s_maxlen larger than the inode", m => Be32(m, jsb + 16, 1u << 30), "Corrupted Corrupted "),
            ("block size differs", m => Be32(m, jsb + 12, 4096), "Corrupted Corrupted "),
            ("unknown incompat feature", m => Be32(m, jsb + 40, 0x8000_0000), "NotSupported NotSupported "),
            ("tag names a block past the filesystem", m => Be32(m, desc + 12, 50_000_000), "Corrupted Corrupted "),
            ("tag names the journal superblock", m => Be32(m, desc + 12, (uint)jblocks[0]), "Corrupted Corrupted "),
            ("descriptor sequence skips", m => Be32(m, desc + 8, 77), "ok ok "),
        };
        foreach (var (what, lie, expect) in cases)
        {
            var m = (byte[])image.Clone();
            lie(m);
            Assert.True(expect == await MountBothAsync(m), what);
        }
    }
}
