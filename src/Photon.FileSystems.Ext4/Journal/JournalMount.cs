using Photon.Kernel;
using Photon.Kernel.Io;

namespace Photon.FileSystems.Ext4.Journal;

/// <summary>
/// The journal's part of mounting: find the journal, replay it if the volume needs recovery (ext4 needs_recovery set,
/// or a journal with s_start != 0, as e2fsck treats it), and open the writer for a read-write mount. A read-write
/// mount replays onto the disk (blocks in place, flush, journal emptied, needs_recovery cleared, flush) and reopens
/// the volume; a read-only mount replays into a <see cref="ReplayedBlockDevice"/> and writes nothing.
/// </summary>
internal static class JournalMount
{
    internal sealed record Prepared(IBlockDevice Device, Volume Volume, JournalWriter? Writer, JournalRecovery.Recovered? Replay);

    public static async ValueTask<Prepared> PrepareAsync(Volume vol, IBlockDevice device, bool readOnly, bool verify,
        Func<DateTimeOffset> now, CancellationToken ct)
    {
        var sb = vol.Sb;
        bool recover = (sb.Incompat & Features.Recover) != 0;
        if ((sb.Compat & Features.HasJournal) == 0)
        {
            if (recover && !readOnly) throw new KernelException(ErrorCode.NotSupported, "ext4: needs_recovery is set but the volume has no journal; run e2fsck");
            return new Prepared(device, vol, null, null);
        }
        if (sb.JournalInode == 0)
        {
            if (readOnly) return new Prepared(device, vol, null, null);
            throw new KernelException(ErrorCode.NotSupported, "ext4: external journals are not supported for writing");
        }
        var (area, jsb) = await LoadAsync(vol, device, ct).ConfigureAwait(false);
        JournalRecovery.Recovered? replay = null;
        if (recover || jsb.Start != 0)
        {
            replay = await JournalRecovery.RecoverAsync(area, jsb, vol.Geo.BlocksCount, ct).ConfigureAwait(false);
            if (readOnly)
            {
                var view = new ReplayedBlockDevice(device, replay.Blocks, vol.BlockSize);
                return new Prepared(view, await Volume.OpenAsync(view, verify, ct).ConfigureAwait(false), null, replay);
            }
            await ApplyAsync(vol.BlockSize, device, area, jsb, replay, ct).ConfigureAwait(false);
            vol = await Volume.OpenAsync(device, verify, ct).ConfigureAwait(false);
            (area, jsb) = await LoadAsync(vol, device, ct).ConfigureAwait(false);
        }
        if (readOnly) return new Prepared(device, vol, null, replay);
        var writer = await JournalWriter.OpenAsync(vol, device, area, jsb, now, replay?.Transactions ?? 0, ct).ConfigureAwait(false);
        return new Prepared(device, vol, writer, replay);
    }

    private static async ValueTask<(JournalArea, JournalSuperblock)> LoadAsync(Volume vol, IBlockDevice device, CancellationToken ct)
    {
        var area = await JournalArea.LoadAsync(vol, device, ct).ConfigureAwait(false);
        var raw = new byte[vol.BlockSize];
        await area.ReadAsync(0, raw, ct).ConfigureAwait(false);
        var jsb = JournalSuperblock.Parse(raw, vol.BlockSize, area.Length);
        if (!jsb.IsOk) throw jsb.Error.ToException();
        return (area, jsb.Value);
    }

    /// <summary>Writes the replayed blocks in place, then empties the log and clears needs_recovery (in that order, each flushed).</summary>
    private static async ValueTask ApplyAsync(int bs, IBlockDevice device, JournalArea area, JournalSuperblock jsb,
        JournalRecovery.Recovered replay, CancellationToken ct)
    {
        foreach (var (block, data) in replay.Blocks)
            await Volume.WriteBytesAsync(device, block * bs, data, ct).ConfigureAwait(false);
        await FlushAsync(device, ct).ConfigureAwait(false);
        jsb.Start = 0;
        jsb.Sequence = replay.NextSequence;
        jsb.UpdateChecksum();
        var raw = new byte[bs];
        await area.ReadAsync(0, raw, ct).ConfigureAwait(false);
        jsb.Raw.CopyTo(raw, 0);
        await area.WriteAsync(0, raw, ct).ConfigureAwait(false);
        await FlushAsync(device, ct).ConfigureAwait(false);
        var sbRaw = new byte[Superblock.Size];
        await Volume.ReadBytesAsync(device, Superblock.ByteOffset, sbRaw, ct).ConfigureAwait(false);
        var replayedSb = new Superblock(sbRaw);
        if (replayedSb.MagicValue != Superblock.Magic) throw Volume.Corrupt("the journal replayed a superblock without the ext4 magic");
        await Volume.WriteBytesAsync(device, Superblock.ByteOffset, SuperblockFlags.WithRecover(sbRaw, false, replayedSb.HasMetadataCsum), ct).ConfigureAwait(false);
        await FlushAsync(device, ct).ConfigureAwait(false);
    }

    private static async ValueTask FlushAsync(IBlockDevice device, CancellationToken ct)
    {
        var r = await device.FlushAsync(ct).ConfigureAwait(false);
        if (!r.IsOk) throw r.Error.ToException();
    }
}
