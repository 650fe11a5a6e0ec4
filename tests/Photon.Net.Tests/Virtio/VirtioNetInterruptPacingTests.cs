using System.Security.Cryptography;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Net;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Scheduling;
using Xunit.Abstractions;

namespace Photon.Net.Tests.Virtio;

/// <summary>Issue #17, step 1: what paces receiving. On QEMU the receive queue woke ~14-60 times a second; the timeline
/// (NetPathTimeline) showed every wake-up was an MSI-X interrupt, none a timer. These tests keep it so: with every
/// timer frozen — the stacks' tick (delayed ACKs, retransmissions) and the drivers' poll interval — a transfer must
/// still complete and be acknowledged, driven by interrupts alone; and the same transfer on a driver that polls on a
/// timer tick makes no progress, which shows the test would catch a receive path paced by a timer.</summary>
public sealed class VirtioNetInterruptPacingTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly byte[] MacA = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56], MacB = [0x52, 0x54, 0x00, 0x12, 0x34, 0x57];

    /// <summary>Host timers that can be frozen: while frozen, time stands still and no delay ever ends.</summary>
    private sealed class FreezableTimers : IKernelTimers
    {
        private readonly HostTimers _host = new(new HostClock());
        private readonly TaskCompletionSource _thawed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TimeSpan _frozenAt;
        public volatile bool Frozen;
        public long DelaysStarted;

        public void Freeze() { _frozenAt = _host.Now; Frozen = true; }
        public void Thaw() { Frozen = false; _thawed.TrySetResult(); }
        public TimeSpan Now => Frozen ? _frozenAt : _host.Now;

        public async Task Delay(TimeSpan due, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref DelaysStarted);
            if (Frozen) await _thawed.Task.WaitAsync(cancellationToken);
            await _host.Delay(due, cancellationToken);
        }
    }

    private async Task<(bool Completed, VirtioNetRxStats ReceiverWhileFrozen)> TransferWithTimersFrozen(bool receiverPolls, TimeSpan patience)
    {
        var timers = new FreezableTimers();
        var a = new VirtioNetModel(MacA, address: "0000:00:04.0");
        var b = new VirtioNetModel(MacB, address: "0000:00:05.0");
        a.Transmitted = b.Inject;
        b.Transmitted = a.Inject;
        var caps = new CapabilityManager();
        var devA = (await VirtioNetDevice.OpenAsync(a.Function, timers).WaitAsync(Timeout)).Value;
        var devB = (await VirtioNetDevice.OpenAsync(b.Function, timers, new VirtioNetOptions(ForcePolling: receiverPolls)).WaitAsync(Timeout)).Value;
        await using var nicA = NicDriver.Start(devA, caps).Value.Driver;
        await using var nicB = NicDriver.Start(devB, caps).Value.Driver;
        timers.Freeze(); // from here on nothing that waits for time ever wakes
        await using var left = new NetworkStack(timers);
        await using var right = new NetworkStack(timers);
        left.AddInterface(nicA, Ipv4Cidr.Parse("10.9.0.1/24").Value).Unwrap();
        right.AddInterface(nicB, Ipv4Cidr.Parse("10.9.0.2/24").Value).Unwrap();
        left.Start();
        right.Start();
        await using var listener = right.Tcp.Listen(7000).Value;
        var data = RandomNumberGenerator.GetBytes(512 * 1024);
        var transfer = Task.Run(async () =>
        {
            var accept = listener.AcceptAsync();
            var client = (await left.Tcp.ConnectAsync(new IpEndpoint(TwoStacks.Ip("10.9.0.2"), 7000))).Value;
            var server = (await accept).Value;
            var receive = StackTests.ReadAll(server);
            Assert.True((await client.SendAsync(data)).IsOk);
            Assert.True((await client.CloseAsync()).IsOk);
            Assert.Equal(SHA256.HashData(data), SHA256.HashData(await receive));
            // Acknowledged too: the sender's buffer empties only on the receiver's ACKs, none of them sent by a timer.
            await WaitUntil(() => client.Info.SendQueue == 0);
        });
        bool completed = await Task.WhenAny(transfer, Task.Delay(patience)) == transfer;
        if (completed) await transfer;
        var frozen = devB.Stats.Rx;
        output.WriteLine($"receiver polls: {receiverPolls}; completed: {completed}; receiver {devB.Stats}; delays started {timers.DelaysStarted}");
        timers.Thaw(); // let everything finish and shut down
        try { await transfer.WaitAsync(Timeout); } catch (Exception) when (!completed) { }
        return (completed, frozen);
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        while (!condition()) await Task.Delay(2);
    }

    [Fact]
    public async Task With_every_timer_frozen_a_transfer_is_received_and_acknowledged_on_interrupts_alone()
    {
        var (completed, receiver) = await TransferWithTimersFrozen(receiverPolls: false, Timeout);
        Assert.True(completed, "the transfer stalled with the timers frozen: something in the receive or ACK path waits for a timer");
        Assert.True(receiver.Interrupts > 0 && receiver.Frames > 300, $"{receiver}");
    }

    [Fact]
    public async Task A_receiver_that_polls_on_a_timer_makes_no_progress_with_the_timers_frozen()
    {
        var (completed, receiver) = await TransferWithTimersFrozen(receiverPolls: true, TimeSpan.FromSeconds(2));
        Assert.False(completed);
        Assert.InRange(receiver.Frames, 0, 1); // at most a frame that was there before the first sleep: then it waited for the tick
    }
}
