using Photon.Kernel;

namespace Photon.FileSystems.Ext4.Journal;

/// <summary>
/// jbd2 recovery (Linux fs/jbd2/recovery.c, mirrored in e2fsprogs' e2fsck/recovery.c): walk the log from s_start,
/// collect every transaction that ends in a valid commit block, apply revoke records, and produce the final contents
/// of every block the committed transactions logged. The walk stops at the first block that is not the next expected
/// descriptor/revoke/commit of the expected sequence, at the first checksum failure (descriptor, revoke or commit
/// block tails, per-block tag checksums with csum v2/v3), and after at most one lap of the log, so a hostile journal
/// costs at most one read of each log block per pass and memory for at most one copy of each logged block.
/// </summary>
internal static class JournalRecovery
{
    private readonly record struct Tag(long Target, long LogBlock, uint Flags);

    private sealed class Transaction(uint sequence)
    {
        public uint Sequence { get; } = sequence;
        public List<Tag> Tags { get; } = new();
        public List<long> Revokes { get; } = new();
    }

    /// <summary>What replay found: the blocks to write (in ascending order), the next sequence number, counts.</summary>
    internal sealed record Recovered(SortedDictionary<long, byte[]> Blocks, uint NextSequence, int Transactions, int Revoked);

    /// <summary>Scans and replays the log into memory; nothing is written. Corrupted for a committed transaction that logs
    /// a block outside the filesystem or inside the journal.</summary>
    public static async ValueTask<Result<Recovered>> RecoverAsync(JournalArea area, JournalSuperblock jsb, ulong fsBlocks, CancellationToken ct)
    {
        if (jsb.Start == 0) return new Recovered(new SortedDictionary<long, byte[]>(), jsb.Sequence, 0, 0);
        int bs = area.BlockSize;
        bool csum = jsb.CsumV2OrV3, csum3 = jsb.CsumV3, bit64 = jsb.Has64Bit;
        uint seed = jsb.ChecksumSeed;
        int tagBytes = jsb.TagBytes, limit = bs - (csum ? Jbd2.TailSize : 0);
        long first = jsb.First, end = jsb.MaxLen;
        long Next(long p) => p + 1 >= end ? first : p + 1;

        var committed = new List<Transaction>();
        uint seq = jsb.Sequence;
        var tx = new Transaction(seq);
        long pos = jsb.Start, budget = end - first;
        var block = new byte[bs];
        var data = new byte[bs];
        while (budget-- > 0)
        {
            var read = await area.ReadAsync(pos, block, ct).ConfigureAwait(false);
            if (!read.IsOk) return read.Error;
            if (Jbd2.Be32(block, 0) != Jbd2.Magic || Jbd2.Be32(block, 8) != seq) break;
            uint type = Jbd2.Be32(block, 4);
            if (type == Jbd2.Descriptor)
            {
                if (csum && !TailMatches(block, seed)) break;
                bool bad = false;
                for (int off = Jbd2.HeaderSize; off + tagBytes <= limit;)
                {
                    long target = Jbd2.Be32(block, off);
                    uint flags = csum3 ? Jbd2.Be32(block, off + 4) : (uint)(block[off + 6] << 8 | block[off + 7]);
                    if (bit64) target |= (long)Jbd2.Be32(block, off + 8) << 32;
                    uint tagCsum = csum3 ? Jbd2.Be32(block, off + 12) : (uint)(block[off + 4] << 8 | block[off + 5]);
                    off += tagBytes;
                    if ((flags & Jbd2.FlagSameUuid) == 0) off += Jbd2.UuidSize;
                    pos = Next(pos);
                    if (budget-- <= 0) { bad = true; break; }
                    if (csum)
                    {
                        var dataRead = await area.ReadAsync(pos, data, ct).ConfigureAwait(false);
                        if (!dataRead.IsOk) return dataRead.Error;
                        uint c = TagChecksum(seed, seq, data);
                        if ((csum3 ? c : c & 0xFFFF) != tagCsum) { bad = true; break; }
                    }
                    tx.Tags.Add(new Tag(target, pos, flags));
                    if ((flags & Jbd2.FlagLastTag) != 0) break;
                }
                if (bad) break;
            }
            else if (type == Jbd2.Commit)
            {
                if (csum && !CommitMatches(block, seed)) break;
                committed.Add(tx);
                tx = new Transaction(++seq);
            }
            else if (type == Jbd2.Revoke)
            {
                if (csum && !TailMatches(block, seed)) break;
                int used = (int)Math.Min(Jbd2.Be32(block, Jbd2.HeaderSize), (uint)limit);
                int rec = bit64 ? 8 : 4;
                for (int off = 16; off + rec <= used; off += rec)
                    tx.Revokes.Add(bit64 ? (long)((ulong)Jbd2.Be32(block, off) << 32 | Jbd2.Be32(block, off + 4)) : Jbd2.Be32(block, off));
            }
            else break;
            pos = Next(pos);
        }

        // Revoke pass: a record in transaction R hides the block in every transaction up to and including R.
        var revoked = new Dictionary<long, uint>();
        foreach (var t in committed)
            foreach (long b in t.Revokes)
                if (!revoked.TryGetValue(b, out uint r) || Jbd2.After(t.Sequence, r)) revoked[b] = t.Sequence;

        // Replay pass: later transactions overwrite earlier ones.
        var blocks = new SortedDictionary<long, byte[]>();
        int skipped = 0;
        foreach (var t in committed)
            foreach (var tag in t.Tags)
            {
                if (tag.Target < 0 || (ulong)tag.Target >= fsBlocks)
                    return Volume.Corrupt($"journal transaction {t.Sequence} logs block {tag.Target}, outside the filesystem");
                if (area.Contains(tag.Target))
                    return Volume.Corrupt($"journal transaction {t.Sequence} logs block {tag.Target}, inside the journal");
                if (revoked.TryGetValue(tag.Target, out uint r) && !Jbd2.After(t.Sequence, r)) { skipped++; continue; }
                var copy = new byte[bs];
                var copyRead = await area.ReadAsync(tag.LogBlock, copy, ct).ConfigureAwait(false);
                if (!copyRead.IsOk) return copyRead.Error;
                if ((tag.Flags & Jbd2.FlagEscape) != 0) Jbd2.Be32(copy, 0, Jbd2.Magic);
                blocks[tag.Target] = copy;
            }
        return new Recovered(blocks, seq, committed.Count, skipped);
    }

    private static byte[] BigEndian(uint v)
    {
        var b = new byte[4];
        Jbd2.Be32(b, 0, v);
        return b;
    }

    /// <summary>Descriptor and revoke blocks end in jbd2_journal_block_tail: crc32c(seed, block with the tail zeroed).</summary>
    internal static bool TailMatches(byte[] block, uint seed)
    {
        int at = block.Length - Jbd2.TailSize;
        uint stored = Jbd2.Be32(block, at);
        Jbd2.Be32(block, at, 0);
        uint c = Crc32C.Update(seed, block);
        Jbd2.Be32(block, at, stored);
        return c == stored;
    }

    /// <summary>A commit block's v2/v3 checksum lives in h_chksum[0] (byte 16): crc32c(seed, block with it zeroed).</summary>
    internal static bool CommitMatches(byte[] block, uint seed)
    {
        uint stored = Jbd2.Be32(block, 16);
        Jbd2.Be32(block, 16, 0);
        uint c = Crc32C.Update(seed, block);
        Jbd2.Be32(block, 16, stored);
        return c == stored;
    }

    internal static void SetTail(byte[] block, uint seed)
    {
        int at = block.Length - Jbd2.TailSize;
        Jbd2.Be32(block, at, 0);
        Jbd2.Be32(block, at, Crc32C.Update(seed, block));
    }

    internal static void SetCommitChecksum(byte[] block, uint seed)
    {
        Jbd2.Be32(block, 16, 0);
        Jbd2.Be32(block, 16, Crc32C.Update(seed, block));
    }

    internal static uint TagChecksum(uint seed, uint sequence, ReadOnlySpan<byte> data) => Crc32C.Update(Crc32C.Update(seed, BigEndian(sequence)), data);
}
