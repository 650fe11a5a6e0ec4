namespace Photon.Kernel.Io;

/// <summary>
/// A block device that can lend the DMA buffer a read landed in instead of copying it out (the zero-copy read, issue
/// #17): a filesystem that needs only part of the sectors it reads copies that part straight out of the buffer the
/// device wrote — one copy instead of two (device buffer → scratch → caller). Optional: a filesystem checks for it and
/// falls back to <see cref="IBlockDevice.ReadAsync"/> when the device cannot lend (busy, too large).
/// </summary>
public interface IBlockLending
{
    /// <summary>The largest lent read, in bytes (one device command).</summary>
    int MaxLentBytes { get; }

    /// <summary>Reads <paramref name="bytes"/> (whole sectors) at <paramref name="lba"/> into a device buffer and lends
    /// it; disposing the loan gives the buffer back. <c>Busy</c> when the device has lent as many buffers as it can
    /// spare (the caller reads the ordinary way instead).</summary>
    ValueTask<Result<BlockLoan>> LendReadAsync(long lba, int bytes, CancellationToken ct = default);
}
