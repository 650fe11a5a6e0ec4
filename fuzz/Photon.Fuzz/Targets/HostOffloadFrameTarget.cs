using Photon.Kernel;
using Photon.Kernel.Drivers.Net;
using Photon.Net;

namespace Photon.Fuzz.Targets;

/// <summary>
/// Frames as a TAP or AF_PACKET device with offloads reads them: each is a 12-byte virtio_net_hdr then the frame (up to
/// 64 KiB, as Linux hands over coalesced TCP segments), the pair prefixed by a 2-byte big-endian length. The header is
/// read as the host device does (<see cref="VirtioNetHeader.ReadFromHost"/>); an accepted partial checksum is finished
/// in a copy as the copying path does, and the frame goes into the stack of <see cref="FrameTarget"/> with the checksum
/// state the header gave — so a "verified" frame reaches TCP with lying lengths and no checksum to stop it. Findings:
/// any exception, an error other than Corrupted, a checksum position outside the frame, or a stack internal error.
/// </summary>
public sealed class HostOffloadFrameTarget : IFuzzTarget
{
    private const int MaxPlainFrame = 1514;
    private readonly FrameTarget _frames = new();

    public string Name => "vnethdr";

    public void Run(byte[] input)
    {
        var (stack, nic) = _frames.Target;
        long before = stack.Dropped(DropReason.InternalError);
        for (int at = 0; at + 2 <= input.Length;)
        {
            int length = Math.Min((input[at] << 8) | input[at + 1], input.Length - at - 2);
            var message = input.AsSpan(at + 2, length);
            at += 2 + length;
            if (message.Length < VirtioNetHeader.Size) continue; // the device drops these before parsing
            var frame = message[VirtioNetHeader.Size..];
            var info = VirtioNetHeader.ReadFromHost(message[..VirtioNetHeader.Size], frame.Length, MaxPlainFrame);
            if (!info.IsOk)
            {
                if (info.Code != ErrorCode.Corrupted) throw new FuzzFinding($"header error {info.Error} is not Corrupted");
                continue;
            }
            if (info.Value.State == RxChecksum.Partial)
            {
                if (info.Value.Start < 14 || info.Value.Start + info.Value.Offset + 2 > frame.Length)
                    throw new FuzzFinding($"accepted checksum at {info.Value.Start}+{info.Value.Offset} in a {frame.Length}-byte frame");
                VirtioNetHeader.FinishChecksum(frame.ToArray(), info.Value);
            }
            if (frame.Length >= 6) FrameTarget.Mac.CopyTo(frame);
            stack.InjectFrame(nic, frame, info.Value.Verified);
        }
        if (stack.Dropped(DropReason.InternalError) != before)
            throw new FuzzFinding($"stack internal error: {stack.LastInternalError}");
    }
}
