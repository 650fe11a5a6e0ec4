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
    private static readonly byte[] Mac = [2, 0, 0, 0, 0, 2];
    private NetworkStack? _stack;
    private NetInterface? _nic;

    public string Name => "frames";

    // Built on the first input, inside SharpFuzz's Fuzzer.Run: instrumented code must not run before AFL's shared
    // memory is attached. One stack for all inputs (persistent mode), as a real one sees frame after frame.
    private void Start()
    {
        _stack = new NetworkStack(new ManualTimers());
        _nic = _stack.AddInterface(new DiscardDevice(), Ipv4Cidr.Parse("10.9.0.2/24").Value).Value;
        _stack.Tcp.Listen(80).Unwrap();
        _stack.Udp.Bind(53).Unwrap();
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

    private sealed class DiscardDevice : INetworkDevice
    {
        public string Name => "fuzz0";
        public ReadOnlyMemory<byte> MacAddress => Mac;
        public int Mtu => 1500;
        public ValueTask SendAsync(ReadOnlyMemory<byte> frame, CancellationToken ct = default) => ValueTask.CompletedTask;
        public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            await Task.Delay(Timeout.Infinite, ct);
            return 0;
        }
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>Time stands still: retransmission timers never fire, so one input's outcome depends only on its bytes.</summary>
    private sealed class ManualTimers : IKernelTimers
    {
        public TimeSpan Now => TimeSpan.Zero;
        public Task Delay(TimeSpan due, CancellationToken cancellationToken = default) => Task.Delay(Timeout.Infinite, cancellationToken);
    }
}
