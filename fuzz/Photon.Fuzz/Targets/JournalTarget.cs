using System.IO.Compression;
using Photon.FileSystems.Ext4;
using Photon.Kernel.FileSystems;

namespace Photon.Fuzz.Targets;

/// <summary>
/// ext4 journal (jbd2) replay alone. A journal is at least 1 MiB, over AFL's input limit, so the input is spliced
/// into a fixed dirty image (Targets/journal-base.img.gz, made by fuzz/make-corpus.sh: needs_recovery set, journal
/// superblock with metadata_csum checksums and s_start = 1): it replaces the log after the journal superblock —
/// descriptor, data, revoke and commit blocks — and the rest of the log is zeroed. The image is then mounted
/// read-only (replay in memory: the disk must not be written) and read-write (replay written in place), each
/// followed by every file operation. Seeds: fuzz/corpus/journal (logs debugfs wrote).
/// </summary>
public sealed class JournalTarget : IFuzzTarget
{
    private const int BlockSize = 1024;
    private const int JournalBlocks = 1024; // mke2fs -J size=1 with 1 KiB blocks, one extent (no flex_bg)
    private static readonly byte[] Base = LoadBase();
    private static readonly int LogStart = JournalSuperblockOffset(Base) + BlockSize;
    private static readonly int LogBytes = JournalBlocks * BlockSize - BlockSize;

    public string Name => "journal";

    /// <summary>Per input: the image and its copies, the replayed blocks (at most the journal's 1 MiB), the operations.</summary>
    private const long MaxAllocatedBytes = 256L * 1024 * 1024;

    public void Run(byte[] input) => AllocationBound.Run(Name, MaxAllocatedBytes, () => Splice(input));

    private static void Splice(byte[] input)
    {
        var image = (byte[])Base.Clone();
        Array.Clear(image, LogStart, LogBytes);
        input.AsSpan(0, Math.Min(input.Length, LogBytes)).CopyTo(image.AsSpan(LogStart));
        FileSystemExercise.Run(new Ext4FileSystemDriver(), image, new MountOptions(ReadOnly: true));
        FileSystemExercise.Run(new Ext4FileSystemDriver(), image, new MountOptions());
    }

    private static byte[] LoadBase()
    {
        using var resource = typeof(JournalTarget).Assembly.GetManifestResourceStream("journal-base.img.gz")
            ?? throw new InvalidOperationException("journal-base.img.gz is not embedded");
        using var gz = new GZipStream(resource, CompressionMode.Decompress);
        using var copy = new MemoryStream();
        gz.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>Block 0 of the journal: the first block-aligned jbd2 magic (0xC03B3998, big-endian) followed by a v2 superblock type.</summary>
    private static int JournalSuperblockOffset(byte[] image)
    {
        for (int at = 0; at + BlockSize <= image.Length; at += BlockSize)
            if (image[at] == 0xC0 && image[at + 1] == 0x3B && image[at + 2] == 0x39 && image[at + 3] == 0x98 && image[at + 7] == 4)
                return at;
        throw new InvalidOperationException("journal-base.img.gz has no journal superblock");
    }
}
