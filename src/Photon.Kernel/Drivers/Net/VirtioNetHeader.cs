namespace Photon.Kernel.Drivers.Net;

/// <summary>struct virtio_net_hdr (virtio 1.2 §5.1.6): 12 bytes before every frame once VERSION_1 is negotiated
/// (num_buffers is always present then). With no offloads negotiated the driver sends it zeroed — no checksum or
/// segmentation work for the device — and ignores its fields on receive: every frame arrives whole in one buffer
/// because MRG_RXBUF and the GUEST_TSO/UFO features are not negotiated.</summary>
internal static class VirtioNetHeader
{
    public const int Size = 12;

    public static void WriteEmpty(Span<byte> into) => into[..Size].Clear();
}
