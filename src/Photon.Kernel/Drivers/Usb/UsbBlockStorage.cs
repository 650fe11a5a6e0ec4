using Photon.Kernel.Hal;

namespace Photon.Kernel.Drivers.Usb;

/// <summary>
/// The USB stick as HAL block storage, so it can sit under the kernel's capability-checked block queues
/// (<c>NvmeBlockDevice.Start(new UsbBlockStorage(stick), caps)</c>): a holder then reaches the stick only through a
/// capability with <c>Read</c> or <c>Write</c>, and revoking it cuts the holder off. Offsets and lengths must be whole
/// sectors; failures are thrown as <see cref="KernelException"/>, as the storage interface requires. Disposing
/// detaches the stick, and stops <paramref name="controller"/> when the storage owns it.
/// </summary>
public sealed class UsbBlockStorage(UsbMassStorage stick, XhciController? controller = null) : IBlockStorage
{
    public string Name => stick.Name;
    public long Length => stick.SectorCount * stick.SectorSize;
    public bool IsReadOnly => stick.IsReadOnly;

    private long Lba(long offset, int length) =>
        offset % stick.SectorSize == 0 && length % stick.SectorSize == 0
            ? offset / stick.SectorSize
            : throw new KernelException(ErrorCode.InvalidArgument, $"{Name}: unaligned access at {offset} (+{length})");

    public async ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        (await stick.ReadAsync(Lba(offset, buffer.Length), buffer, cancellationToken).ConfigureAwait(false)).Unwrap();
        return buffer.Length;
    }

    public async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        (await stick.WriteAsync(Lba(offset, data.Length), data, cancellationToken).ConfigureAwait(false)).Unwrap();

    public async ValueTask FlushAsync(CancellationToken cancellationToken = default) =>
        (await stick.FlushAsync(cancellationToken).ConfigureAwait(false)).Unwrap();

    public async ValueTask DisposeAsync()
    {
        await stick.DisposeAsync().ConfigureAwait(false);
        if (controller is not null) await controller.DisposeAsync().ConfigureAwait(false);
    }
}
