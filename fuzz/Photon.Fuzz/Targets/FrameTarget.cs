using Photon.Kernel;
using Photon.Kernel.Hal;
using Photon.Kernel.Scheduling;
using Photon.Net;

namespace Photon.Fuzz.Targets;

/// <summary>
/// Ethernet frames (ARP, IPv4 with fragments, ICMP, UDP, TCP) into one network stack with a TCP listener on port 80
/// and a UDP socket on 53. The input is a sequence of frames, each prefixed by a 2-byte big-endian length, so AFL
/// can build handshakes and fragment trains. The stack catches and counts its own exceptions (InternalError): any
/// such count is a finding, as is an exception out of the stack.
/// </summary>
public sealed class FrameTarget : IFuzzTarget
{
    internal static readonly byte[] Mac = [2, 0, 0, 0, 0, 2];
    private NetworkStack? _stack;
    private NetInterface? _nic;

    public string Name => "frames";

    // Built on the first input, inside SharpFuzz's Fuzzer.Run: instrumented code must not run before AFL's shared
    // memory is attached. One stack for all inputs (persistent mode), as a real one sees frame after frame.
    private void Start()
    {
        _stack = new NetworkStack(new FrozenTimers());
        _nic = _stack.AddInterface(new DiscardDevice("fuzz0", Mac), Ipv4Cidr.Parse("10.9.0.2/24").Value).Value;
        _stack.Tcp.Listen(80).Unwrap();
        _stack.Udp.Bind(53).Unwrap();
    }

    /// <summary>The stack and its interface, built on first use (also by <see cref="HostOffloadFrameTarget"/>).</summary>
    internal (NetworkStack Stack, NetInterface Nic) Target
    {
        get
        {
            if (_stack is null) Start();
            return (_stack!, _nic!);
        }
    }

    public void Run(byte[] input)
    {
        if (_stack is null) Start();
        var stack = _stack!;
        var nic = _nic!;
        long before = stack.Dropped(DropReason.InternalError);
        for (int at = 0; at + 2 <= input.Length;)
        {
            int length = Math.Min((input[at] << 8) | input[at + 1], input.Length - at - 2);
            var frame = input.AsSpan(at + 2, length);
            // Every frame is addressed to the stack (the MAC is not what a fuzzer should spend its time finding).
            if (frame.Length >= 6) Mac.CopyTo(frame);
            stack.InjectFrame(nic, frame);
            at += 2 + length;
        }
        if (stack.Dropped(DropReason.InternalError) != before)
            throw new FuzzFinding($"stack internal error: {stack.LastInternalError}");
    }
}
