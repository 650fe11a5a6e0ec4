namespace Photon.Kernel.Hal;

/// <summary>
/// Storage that can take a batch of requests to the device in one go (an io_uring submits them with one enter).
/// A driver plugs before issuing a fetched batch and unplugs after; requests issued in between may wait for the
/// unplug. Like Linux's blk_start_plug/blk_finish_plug, a plug belongs to the thread that took it: Plug and Unplug are
/// called on the same thread with no await between them, and other threads' requests are not held back.
/// </summary>
public interface IBatchingBlockStorage
{
    void Plug();
    void Unplug();
}
