using System.Buffers.Binary;

namespace Photon.Kernel.Drivers.Usb;

/// <summary>What a Bulk-Only command came back with: the CSW status (0 passed, 1 failed) and the data residue.</summary>
public readonly record struct BotStatus(byte Status, uint Residue, int Transferred)
{
    public bool Passed => Status == 0;
}

/// <summary>
/// USB Mass Storage Bulk-Only Transport 1.0: a 31-byte Command Block Wrapper on bulk OUT, the data phase, a 13-byte
/// Command Status Wrapper on bulk IN. Host error handling follows §5.3 and §6.7: a STALL in the data phase is cleared
/// and the CSW still read; a STALL on the CSW is cleared and the CSW read once more; a CSW that is not valid (length,
/// signature, tag, residue) or not meaningful, and a phase error, end in Reset Recovery (Bulk-Only Mass Storage
/// Reset, then clear halt on both endpoints) and a typed error. One command at a time.
/// </summary>
public sealed class BulkOnlyTransport(XhciDevice device, UsbMassStorageInterface iface)
{
    private const uint CbwSignature = 0x43425355, CswSignature = 0x53425355;
    private readonly SemaphoreSlim _one = new(1, 1);
    private uint _tag;

    public XhciDevice Device => device;
    public UsbMassStorageInterface Interface => iface;
    public long ResetRecoveries;

    /// <summary>Runs <paramref name="cdb"/>; data moves into <paramref name="dataIn"/> or from <paramref name="dataOut"/>
    /// (at most one of them non-empty).</summary>
    public async Task<Result<BotStatus>> ExecuteAsync(ReadOnlyMemory<byte> cdb, Memory<byte> dataIn, ReadOnlyMemory<byte> dataOut, CancellationToken ct)
    {
        if (cdb.Length is < 1 or > 16) return Errors.Of(ErrorCode.InvalidArgument, "CDB of 1 to 16 bytes");
        if (!dataIn.IsEmpty && !dataOut.IsEmpty) return Errors.Of(ErrorCode.InvalidArgument, "data in both directions");
        try { await _one.WaitAsync(ct).ConfigureAwait(false); }
        catch (OperationCanceledException) { return Errors.Of(ErrorCode.Cancelled, "cancelled before the command was sent"); }
        try { return await ExecuteLockedAsync(cdb, dataIn, dataOut, ct).ConfigureAwait(false); }
        finally { _one.Release(); }
    }

    private async Task<Result<BotStatus>> ExecuteLockedAsync(ReadOnlyMemory<byte> cdb, Memory<byte> dataIn, ReadOnlyMemory<byte> dataOut, CancellationToken ct)
    {
        uint tag = ++_tag;
        bool isIn = !dataIn.IsEmpty;
        int length = isIn ? dataIn.Length : dataOut.Length;
        var cbw = new byte[31];
        BinaryPrimitives.WriteUInt32LittleEndian(cbw, CbwSignature);
        BinaryPrimitives.WriteUInt32LittleEndian(cbw.AsSpan(4), tag);
        BinaryPrimitives.WriteUInt32LittleEndian(cbw.AsSpan(8), (uint)length);
        cbw[12] = isIn ? (byte)0x80 : (byte)0;
        cbw[13] = 0; // LUN 0
        cbw[14] = (byte)cdb.Length;
        cdb.Span.CopyTo(cbw.AsSpan(15));

        var sent = await device.BulkAsync(iface.BulkOut, cbw, default, ct).ConfigureAwait(false);
        // A CBW transfer that failed (timed out, cancelled) may still have reached the device, which would then answer
        // the next command with this one's data or CSW: recover as after a failed data phase.
        if (!sent.IsOk) return await AbandonAsync(sent.Error).ConfigureAwait(false);
        if (sent.Value.Stalled || sent.Value.Transferred != 31)
            return await RecoverAsync(ErrorCode.IoError, "the device refused the CBW", ct).ConfigureAwait(false);

        // Data phase, in transfers of at most 64 KiB; a short IN packet ends it early (the residue tells how much).
        int moved = 0;
        while (moved < length)
        {
            int chunk = Math.Min(length - moved, XhciDevice.MaxTransfer);
            var ep = isIn ? iface.BulkIn : iface.BulkOut;
            var r = isIn
                ? await device.BulkAsync(ep, default, dataIn.Slice(moved, chunk), ct).ConfigureAwait(false)
                : await device.BulkAsync(ep, dataOut.Slice(moved, chunk), default, ct).ConfigureAwait(false);
            if (!r.IsOk) return await AbandonAsync(r.Error).ConfigureAwait(false);
            if (r.Value.Stalled)
            {
                var cleared = await device.ClearHaltAsync(ep, ct).ConfigureAwait(false);
                if (!cleared.IsOk) return await RecoverAsync(ErrorCode.IoError, $"clearing a data-phase stall failed: {cleared.Error}", ct).ConfigureAwait(false);
                break;
            }
            moved += r.Value.Transferred;
            if (r.Value.Transferred < chunk) break;
        }

        var csw = new byte[13];
        var got = await device.BulkAsync(iface.BulkIn, default, csw, ct).ConfigureAwait(false);
        if (!got.IsOk) return await AbandonAsync(got.Error).ConfigureAwait(false);
        if (got.Value.Stalled)
        {
            var cleared = await device.ClearHaltAsync(iface.BulkIn, ct).ConfigureAwait(false);
            if (!cleared.IsOk) return await RecoverAsync(ErrorCode.IoError, "the CSW stalled and the halt would not clear", ct).ConfigureAwait(false);
            got = await device.BulkAsync(iface.BulkIn, default, csw, ct).ConfigureAwait(false);
            if (!got.IsOk) return await AbandonAsync(got.Error).ConfigureAwait(false);
            if (got.Value.Stalled) return await RecoverAsync(ErrorCode.IoError, "the CSW stalled twice", ct).ConfigureAwait(false);
        }
        if (got.Value.Transferred != 13 || BinaryPrimitives.ReadUInt32LittleEndian(csw) != CswSignature)
            return await RecoverAsync(ErrorCode.Corrupted, $"invalid CSW ({got.Value.Transferred} bytes, signature 0x{BinaryPrimitives.ReadUInt32LittleEndian(csw):x8})", ct).ConfigureAwait(false);
        uint cswTag = BinaryPrimitives.ReadUInt32LittleEndian(csw.AsSpan(4));
        if (cswTag != tag) return await RecoverAsync(ErrorCode.Corrupted, $"CSW tag {cswTag} answers no command (sent {tag})", ct).ConfigureAwait(false);
        uint residue = BinaryPrimitives.ReadUInt32LittleEndian(csw.AsSpan(8));
        byte status = csw[12];
        if (status == 2) return await RecoverAsync(ErrorCode.IoError, "phase error", ct).ConfigureAwait(false);
        if (status > 2 || residue > (uint)length)
            return await RecoverAsync(ErrorCode.Corrupted, $"CSW not meaningful (status {status}, residue {residue} of {length})", ct).ConfigureAwait(false);
        return new BotStatus(status, residue, moved);
    }

    /// <summary>A transfer failed (timed out, cancelled, transaction error) after the CBW went out: the device is somewhere
    /// in the command's data or status phase, and the next CBW would land in it — its CSW or data answering the next
    /// command (usb19). Reset Recovery puts it back at "expecting a CBW"; it runs whatever the caller's token says (the
    /// transfers are bounded by their timeouts). A stick gone from its port, or a controller gone, is not recovered.</summary>
    private async Task<Result<BotStatus>> AbandonAsync(KernelError error)
    {
        if (error.Code == ErrorCode.Closed || !device.Attached) return error;
        return await RecoverAsync(error.Code, error.Message, CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>Reset Recovery (§5.3.4), then the error that caused it. It stops at the first step that fails: a device
    /// that does not answer the reset would only make each later step wait out its own timeout.</summary>
    private async Task<Result<BotStatus>> RecoverAsync(ErrorCode code, string why, CancellationToken ct)
    {
        Interlocked.Increment(ref ResetRecoveries);
        var reset = await device.ControlAsync(0x21, 0xFF, 0, iface.InterfaceNumber, default, 0, ct).ConfigureAwait(false);
        Result clearIn = Result.Ok, clearOut = Result.Ok;
        if (reset.IsOk) clearIn = await device.ClearHaltAsync(iface.BulkIn, ct).ConfigureAwait(false);
        if (reset.IsOk && clearIn.IsOk) clearOut = await device.ClearHaltAsync(iface.BulkOut, ct).ConfigureAwait(false);
        string recovery = reset.IsOk && clearIn.IsOk && clearOut.IsOk ? "reset recovery done"
            : $"reset recovery failed ({(reset.IsOk ? "" : reset.Error.Message)}{(clearIn.IsOk ? "" : clearIn.Error.Message)}{(clearOut.IsOk ? "" : clearOut.Error.Message)})";
        return Errors.Of(code, $"USB mass storage: {why}; {recovery}");
    }
}
