namespace Photon.Kernel.Io;

/// <summary>
/// The filesystems' partial-sector read through <see cref="IBlockLending"/>: the covering sectors land in a lent device
/// buffer and only the wanted bytes are copied out of it, once, into the caller's buffer.
/// </summary>
public static class LentBlockRead
{
    /// <summary>Reads <paramref name="bytes"/> at <paramref name="lba"/> through a loan and copies
    /// <paramref name="destination"/>.Length bytes from <paramref name="skip"/> into <paramref name="destination"/>.
    /// Returns null when the device cannot lend this read (not a lending device, too large, or no buffer to spare):
    /// the caller reads the ordinary way. Any other failure (device error, loan revoked mid-copy) is the result.</summary>
    public static async ValueTask<Result?> TryReadAsync(IBlockDevice device, long lba, int bytes, int skip, Memory<byte> destination,
        CancellationToken ct)
    {
        if (device is not IBlockLending lending || bytes <= 0 || bytes > lending.MaxLentBytes || bytes % device.SectorSize != 0
            || skip < 0 || skip > bytes - destination.Length)
            return null;
        var lent = await lending.LendReadAsync(lba, bytes, ct).ConfigureAwait(false);
        if (!lent.IsOk) return lent.Code == ErrorCode.Busy ? null : (Result)lent.Error;
        using var loan = lent.Value;
        return loan.CopyTo(skip, destination);
    }
}
