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

    public static async ValueTask<Result<Prepared>> PrepareAsync(Volume vol, IBlockDevice device, bool readOnly, bool verify,
        Func<DateTimeOffset> now, CancellationToken ct)
    {
        var sb = vol.Sb;
        bool recover = (sb.Incompat & Features.Recover) != 0;
        if ((sb.Compat & Features.HasJournal) == 0)
        {
            if (recover && !readOnly) return Result<Prepared>.Fail(ErrorCode.NotSupported, "ext4: needs_recovery is set but the volume has no journal; run e2fsck");
            return new Prepared(device, vol, null, null);
        }
        if (sb.JournalInode == 0)
        {
            if (readOnly) return new Prepared(device, vol, null, null);
            return Result<Prepared>.Fail(ErrorCode.NotSupported, "ext4: external journals are not supported for writing");
        }
        var loaded = await LoadAsync(vol, device, ct).ConfigureAwait(false);
        if (!loaded.IsOk) return loaded.Error;
        var (area, jsb) = loaded.Value;
        JournalRecovery.Recovered? replay = null;
        if (recover || jsb.Start != 0)
        {
            var recovered = await JournalRecovery.RecoverAsync(area, jsb, vol.Geo.BlocksCount, ct).ConfigureAwait(false);
            if (!recovered.IsOk) return recovered.Error;
            replay = recovered.Value;
            if (readOnly)
            {
                var view = new ReplayedBlockDevice(device, replay.Blocks, vol.BlockSize);
                var viewVolume = await Volume.OpenAsync(view, verify, ct).ConfigureAwait(false);
                if (!viewVolume.IsOk) return viewVolume.Error;
                return new Prepared(view, viewVolume.Value, null, replay);
            }
            var applied = await ApplyAsync(vol.BlockSize, device, area, jsb, replay, ct).ConfigureAwait(false);
            if (!applied.IsOk) return applied.Error;
            var reopened = await Volume.OpenAsync(device, verify, ct).ConfigureAwait(false);
            if (!reopened.IsOk) return reopened.Error;
            vol = reopened.Value;
            var reloaded = await LoadAsync(vol, device, ct).ConfigureAwait(false);
            if (!reloaded.IsOk) return reloaded.Error;
            (area, jsb) = reloaded.Value;
        }
        if (readOnly) return new Prepared(device, vol, null, replay);
        var writer = await JournalWriter.OpenAsync(vol, device, area, jsb, now, replay?.Transactions ?? 0, ct).ConfigureAwait(false);
        if (!writer.IsOk) return writer.Error;
        return new Prepared(device, vol, writer.Value, replay);
    }

    private static async ValueTask<Result<(JournalArea, JournalSuperblock)>> LoadAsync(Volume vol, IBlockDevice device, CancellationToken ct)
    {
        var area = await JournalArea.LoadAsync(vol, device, ct).ConfigureAwait(false);
        if (!area.IsOk) return area.Error;
        var raw = new byte[vol.BlockSize];
        var read = await area.Value.ReadAsync(0, raw, ct).ConfigureAwait(false);
        if (!read.IsOk) return read.Error;
        var jsb = JournalSuperblock.Parse(raw, vol.BlockSize, area.Value.Length);
        if (!jsb.IsOk) return jsb.Error;
        return (area.Value, jsb.Value);
    }

    /// <summary>Writes the replayed blocks in place, then empties the log and clears needs_recovery (in that order, each flushed).</summary>
    private static async ValueTask<Result> ApplyAsync(int bs, IBlockDevice device, JournalArea area, JournalSuperblock jsb,
        JournalRecovery.Recovered replay, CancellationToken ct)
    {
        foreach (var (block, data) in replay.Blocks)
        {
            var w = await Volume.WriteBytesAsync(device, block * bs, data, ct).ConfigureAwait(false);
            if (!w.IsOk) return w;
        }
        var f1 = await device.FlushAsync(ct).ConfigureAwait(false);
        if (!f1.IsOk) return f1;
        jsb.Start = 0;
        jsb.Sequence = replay.NextSequence;
        jsb.UpdateChecksum();
        var raw = new byte[bs];
        var r = await area.ReadAsync(0, raw, ct).ConfigureAwait(false);
        if (!r.IsOk) return r;
        jsb.Raw.CopyTo(raw, 0);
        var jw = await area.WriteAsync(0, raw, ct).ConfigureAwait(false);
        if (!jw.IsOk) return jw;
        var f2 = await device.FlushAsync(ct).ConfigureAwait(false);
        if (!f2.IsOk) return f2;
        var sbRaw = new byte[Superblock.Size];
        var sr = await Volume.ReadBytesAsync(device, Superblock.ByteOffset, sbRaw, ct).ConfigureAwait(false);
        if (!sr.IsOk) return sr;
        var replayedSb = new Superblock(sbRaw);
        if (replayedSb.MagicValue != Superblock.Magic) return Volume.Corrupt("the journal replayed a superblock without the ext4 magic");
        var sw = await Volume.WriteBytesAsync(device, Superblock.ByteOffset, SuperblockFlags.WithRecover(sbRaw, false, replayedSb.HasMetadataCsum), ct).ConfigureAwait(false);
        if (!sw.IsOk) return sw;
        return await device.FlushAsync(ct).ConfigureAwait(false);
    }
}
