namespace Photon.Kernel.Hal;

/// <summary>
/// A small record that is replaced atomically: a reader sees the whole old value or the whole new one, never a mix,
/// even across a crash. The audit log keeps its rollback anchor in one; where it lives (another disk, a host path the
/// log's writer cannot rewrite, later a TPM NV index) is the backend's business.
/// </summary>
public interface IAtomicRecord
{
    string Name { get; }

    /// <summary>The record, or null if none was ever written.</summary>
    ValueTask<byte[]?> ReadAsync(CancellationToken ct = default);

    /// <summary>Replaces the record durably and atomically.</summary>
    ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken ct = default);
}
