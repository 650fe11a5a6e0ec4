using Photon.Kernel;
using Photon.Kernel.Io;

namespace Photon.FileSystems.Ext4.Journal;

/// <summary>
/// Writes a group of filesystem operations' metadata (the volume's <see cref="RunningTransaction"/>, committed as jbd2
/// does: when it is a quarter of the log, older than <see cref="CommitInterval"/>, or on fsync/unmount) as one jbd2
/// transaction in the volume's own journal, in ordered mode, then checkpoints it in place and empties the log. One commit is:
/// <list type="number">
/// <item>flush — the operation's file data (already written in place) and the previous transaction's log reset are durable;</item>
/// <item>journal superblock s_start = first, s_sequence = T; ext4 superblock needs_recovery set; descriptor blocks
///   (tags with v3 checksums when the journal has csum v3) and the logged copies (escaped if they begin with the jbd2 magic); flush;</item>
/// <item>commit block (checksummed); flush — the transaction is now durable and replayable by Photon, e2fsck and Linux;</item>
/// <item>checkpoint: every block in place (the superblock still flagged needs_recovery); flush;</item>
/// <item>journal superblock s_start = 0, s_sequence = T+1; superblock with needs_recovery cleared (made durable by the
///   next transaction's first flush or an fsync).</item>
/// </list>
/// A crash at any point leaves either the old state (log not committed) or a committed log that replays to the new
/// state. Because the log is emptied before the next transaction writes to it, no earlier transaction can ever be
/// replayed over a block reused since, so this writer never needs revoke records (replay honours Linux's).
/// A transaction too large for the log is written in place without atomicity and counted in <see cref="Unjournaled"/>.
/// </summary>
internal sealed class JournalWriter
{
    private readonly IBlockDevice _device;
    private readonly JournalArea _area;
    private readonly JournalSuperblock _jsb;
    private readonly Func<DateTimeOffset> _now;
    private readonly bool _metadataCsum;
    private readonly byte[]? _block0;       // block 0 of a >1 KiB-block volume (the superblock lives at byte 1024 in it)
    private byte[] _diskSb;                 // the ext4 superblock as last written in place (needs_recovery clear)
    private readonly int _bs, _tagBytes, _tagsPerDescriptor;
    private readonly uint _seed;

    public long Transactions { get; private set; }

    /// <summary>jbd2's default commit interval (<c>commit=5</c>): a running transaction older than this is committed
    /// when the next operation ends.</summary>
    internal TimeSpan CommitInterval { get; set; } = TimeSpan.FromSeconds(5);

    internal DateTimeOffset Now => _now();

    /// <summary>Committed transactions replayed when this mount began (0 if the journal was empty).</summary>
    public int Recovered { get; private init; }
    public long Unjournaled { get; private set; }
    public uint NextSequence => _jsb.Sequence;

    private JournalWriter(IBlockDevice device, JournalArea area, JournalSuperblock jsb, Func<DateTimeOffset> now, bool metadataCsum, byte[]? block0, byte[] sb)
    {
        _device = device; _area = area; _jsb = jsb; _now = now; _metadataCsum = metadataCsum; _block0 = block0; _diskSb = sb;
        _bs = area.BlockSize; _tagBytes = jsb.TagBytes; _seed = jsb.ChecksumSeed;
        int limit = _bs - (jsb.CsumV2OrV3 ? Jbd2.TailSize : 0);
        _tagsPerDescriptor = (limit - Jbd2.HeaderSize - Jbd2.UuidSize) / _tagBytes;
    }

    /// <summary>Opens the writer on an empty log (recovery already ran). Revoke/64-bit/csum-v3 are enabled as Linux's ext4
    /// does; the journal superblock carrying them is written with the first transaction (opening writes nothing).</summary>
    public static async ValueTask<Result<JournalWriter>> OpenAsync(Volume vol, IBlockDevice device, JournalArea area, JournalSuperblock jsb,
        Func<DateTimeOffset> now, int recovered, CancellationToken ct)
    {
        if (jsb.Start != 0) throw new InvalidOperationException("the journal must be recovered before writing");
        if (!jsb.IsV2) return Result<JournalWriter>.Fail(ErrorCode.NotSupported, "ext4: v1 journal superblocks are not supported for writing");
        if ((jsb.Incompat & Jbd2.IncompatAsyncCommit) != 0 || (jsb.Compat & Jbd2.CompatChecksum) != 0)
            return Result<JournalWriter>.Fail(ErrorCode.NotSupported, "ext4: async-commit / v1-checksum journals are not supported for writing");
        jsb.EnableWriterFeatures(vol.Csum, vol.Sb.Is64Bit);
        byte[]? block0 = null;
        if (vol.BlockSize > 1024)
        {
            block0 = new byte[vol.BlockSize];
            var read = await Volume.ReadBytesAsync(device, 0, block0, ct).ConfigureAwait(false);
            if (!read.IsOk) return read.Error;
        }
        return new JournalWriter(device, area, jsb, now, vol.Csum, block0, (byte[])vol.Sb.Raw.Clone()) { Recovered = recovered };
    }

    private long SbBlock => _bs == 1024 ? 1 : 0;

    private long LogCapacity => _jsb.MaxLen - _jsb.First;

    private long BlocksNeeded(int n) => (n + _tagsPerDescriptor - 1) / _tagsPerDescriptor + n + 1;

    /// <summary>Whether a group of <paramref name="blocks"/> metadata blocks (plus the superblock) stays within a
    /// quarter of the log, jbd2's bound on a running transaction (j_max_transaction_buffers).</summary>
    internal bool GroupFits(int blocks) => BlocksNeeded(blocks + 1) <= Math.Max(LogCapacity / 4, 8);

    /// <summary>Commits one operation: <paramref name="metadata"/> are whole blocks, <paramref name="superblock"/> the new
    /// ext4 superblock (1024 bytes) or null if it did not change.</summary>
    public async ValueTask<Result> CommitAsync(IReadOnlyList<(long Block, ReadOnlyMemory<byte> Data)> metadata, byte[]? superblock, CancellationToken ct)
    {
        if (metadata.Count == 0 && superblock is null) return Result.Ok;
        var blocks = new List<(long Block, byte[] Data)>(metadata.Count + 1);
        foreach (var (b, d) in metadata) blocks.Add((b, d.ToArray()));
        byte[] finalSb = superblock ?? _diskSb;
        byte[] flaggedSb = WithRecover(finalSb, true);
        if (superblock is not null) blocks.Add((SbBlock, SuperblockBlock(flaggedSb)));
        blocks.Sort((x, y) => x.Block.CompareTo(y.Block));

        var r = await _device.FlushAsync(ct).ConfigureAwait(false);
        if (!r.IsOk) return r;
        if (BlocksNeeded(blocks.Count) > LogCapacity)
        {
            r = await CheckpointAsync(blocks, finalSb, ct).ConfigureAwait(false);
            if (!r.IsOk) return r;
            r = await _device.FlushAsync(ct).ConfigureAwait(false);
            if (!r.IsOk) return r;
            _diskSb = (byte[])finalSb.Clone();
            Unjournaled++;
            return Result.Ok;
        }

        uint tid = _jsb.Sequence;
        _jsb.Start = _jsb.First;
        r = await WriteJournalSuperblockAsync(ct).ConfigureAwait(false);
        if (!r.IsOk) return r;
        r = await Volume.WriteBytesAsync(_device, Superblock.ByteOffset, WithRecover(_diskSb, true), ct).ConfigureAwait(false);
        if (!r.IsOk) return r;

        long pos = _jsb.First;
        for (int i = 0; i < blocks.Count; i += _tagsPerDescriptor)
        {
            int n = Math.Min(_tagsPerDescriptor, blocks.Count - i);
            var desc = new byte[_bs];
            Jbd2.WriteHeader(desc, Jbd2.Descriptor, tid);
            int off = Jbd2.HeaderSize;
            var logged = new byte[n][];
            for (int k = 0; k < n; k++)
            {
                var (target, data) = blocks[i + k];
                var copy = (byte[])data.Clone();
                uint flags = 0;
                if (Jbd2.Be32(copy, 0) == Jbd2.Magic) { Jbd2.Be32(copy, 0, 0); flags |= Jbd2.FlagEscape; }
                if (k > 0) flags |= Jbd2.FlagSameUuid;
                if (k == n - 1) flags |= Jbd2.FlagLastTag;
                r = WriteTag(desc.AsSpan(off, _tagBytes), target, flags, _jsb.CsumV2OrV3 ? JournalRecovery.TagChecksum(_seed, tid, copy) : 0);
                if (!r.IsOk) return r;
                off += _tagBytes;
                if (k == 0) { _jsb.Uuid.CopyTo(desc.AsSpan(off)); off += Jbd2.UuidSize; }
                logged[k] = copy;
            }
            if (_jsb.CsumV2OrV3) JournalRecovery.SetTail(desc, _seed);
            r = await _area.WriteAsync(pos++, desc, ct).ConfigureAwait(false);
            if (!r.IsOk) return r;
            foreach (var copy in logged)
            {
                r = await _area.WriteAsync(pos++, copy, ct).ConfigureAwait(false);
                if (!r.IsOk) return r;
            }
        }
        r = await _device.FlushAsync(ct).ConfigureAwait(false);
        if (!r.IsOk) return r;

        var commit = new byte[_bs];
        Jbd2.WriteHeader(commit, Jbd2.Commit, tid);
        var now = _now();
        long secs = Math.Max(0, now.ToUnixTimeSeconds());
        Jbd2.Be32(commit, 48, (uint)(secs >> 32)); Jbd2.Be32(commit, 52, (uint)secs);
        Jbd2.Be32(commit, 56, (uint)(now.ToUnixTimeMilliseconds() % 1000 * 1_000_000));
        if (_jsb.CsumV2OrV3) JournalRecovery.SetCommitChecksum(commit, _seed);
        r = await _area.WriteAsync(pos, commit, ct).ConfigureAwait(false);
        if (!r.IsOk) return r;
        r = await _device.FlushAsync(ct).ConfigureAwait(false);
        if (!r.IsOk) return r;

        r = await CheckpointAsync(blocks, flaggedSb, ct).ConfigureAwait(false);
        if (!r.IsOk) return r;
        r = await _device.FlushAsync(ct).ConfigureAwait(false);
        if (!r.IsOk) return r;

        _jsb.Start = 0;
        _jsb.Sequence = tid + 1;
        r = await WriteJournalSuperblockAsync(ct).ConfigureAwait(false);
        if (!r.IsOk) return r;
        r = await Volume.WriteBytesAsync(_device, Superblock.ByteOffset, finalSb, ct).ConfigureAwait(false);
        if (!r.IsOk) return r;
        _diskSb = (byte[])finalSb.Clone();
        Transactions++;
        return Result.Ok;
    }

    private async ValueTask<Result> CheckpointAsync(List<(long Block, byte[] Data)> blocks, byte[] sb, CancellationToken ct)
    {
        // The superblock goes by its byte range, never as block 0 (which also holds the boot sector on >1 KiB volumes).
        foreach (var (b, d) in blocks)
        {
            if (b == SbBlock) continue;
            var w = await Volume.WriteBytesAsync(_device, b * _bs, d, ct).ConfigureAwait(false);
            if (!w.IsOk) return w;
        }
        return await Volume.WriteBytesAsync(_device, Superblock.ByteOffset, sb, ct).ConfigureAwait(false);
    }

    private Result WriteTag(Span<byte> tag, long target, uint flags, uint checksum)
    {
        Jbd2.Be32(tag, 0, (uint)target);
        if (_jsb.CsumV3)
        {
            Jbd2.Be32(tag, 4, flags);
            Jbd2.Be32(tag, 8, (uint)(target >> 32));
            Jbd2.Be32(tag, 12, checksum);
            return Result.Ok;
        }
        tag[4] = (byte)(checksum >> 8); tag[5] = (byte)checksum;
        tag[6] = (byte)(flags >> 8); tag[7] = (byte)flags;
        if (_jsb.Has64Bit) Jbd2.Be32(tag, 8, (uint)(target >> 32));
        else if (target >> 32 != 0) return Volume.Corrupt($"block {target} needs 64-bit journal tags");
        return Result.Ok;
    }

    private async ValueTask<Result> WriteJournalSuperblockAsync(CancellationToken ct)
    {
        _jsb.UpdateChecksum();
        var raw = new byte[_bs];
        var read = await _area.ReadAsync(0, raw, ct).ConfigureAwait(false);
        if (!read.IsOk) return read;
        _jsb.Raw.CopyTo(raw, 0);
        return await _area.WriteAsync(0, raw, ct).ConfigureAwait(false);
    }

    /// <summary>The superblock's block as a whole block (for the log): block 1 with 1 KiB blocks, else block 0 around byte 1024.</summary>
    private byte[] SuperblockBlock(byte[] sb)
    {
        if (_block0 is null) return (byte[])sb.Clone();
        var b = (byte[])_block0.Clone();
        sb.CopyTo(b, Superblock.ByteOffset);
        return b;
    }

    /// <summary>A copy of a superblock with needs_recovery set or cleared, its checksum updated.</summary>
    internal byte[] WithRecover(byte[] sb, bool set) => SuperblockFlags.WithRecover(sb, set, _metadataCsum);
}

/// <summary>Raw edits of the ext4 superblock's needs_recovery flag (used by the writer and by recovery).</summary>
internal static class SuperblockFlags
{
    public static byte[] WithRecover(byte[] sb, bool set, bool metadataCsum)
    {
        var copy = (byte[])sb.Clone();
        var s = new Superblock(copy);
        uint inc = s.Incompat;
        inc = set ? inc | Features.Recover : inc & ~Features.Recover;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(0x60), inc);
        if (metadataCsum) s.UpdateChecksum();
        return copy;
    }
}
