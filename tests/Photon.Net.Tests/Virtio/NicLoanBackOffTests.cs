using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Dma;
using Photon.Kernel.Drivers.Net;
using Photon.Kernel.Hal;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Scheduling;

namespace Photon.Net.Tests.Virtio;

/// <summary>While another consumer (the DMA syscalls) holds a queue's whole lending limit, the stack's receive face
/// waits on the kernel's timers the NIC was given (<see cref="NicOptions.Timers"/>) and tries again after each tick —
/// it neither ends the stack's receive loop nor spins a host thread on <c>Task.Yield</c>.</summary>
public sealed class NicLoanBackOffTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly byte[] Mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x58];

    /// <summary>Timers whose delays complete only when the test says so, counting each one asked for.</summary>
    private sealed class GatedTimers : IKernelTimers
    {
        private readonly Lock _lock = new();
        private readonly List<TaskCompletionSource> _pending = [];
        public int Delays { get { lock (_lock) return _pending.Count + _released; } }
        private int _released;
        public TimeSpan Now => TimeSpan.Zero;

        public Task Delay(TimeSpan due, CancellationToken cancellationToken = default)
        {
            var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            cancellationToken.Register(() => tcs.TrySetCanceled(cancellationToken));
            lock (_lock) _pending.Add(tcs);
            return tcs.Task;
        }

        public void ReleaseAll()
        {
            TaskCompletionSource[] due;
            lock (_lock) { due = [.. _pending]; _released += due.Length; _pending.Clear(); }
            foreach (var t in due) t.TrySetResult();
        }
    }

    private static byte[] Frame(int i)
    {
        var f = new byte[64];
        Mac.CopyTo(f, 0);
        f[12] = 0x88; f[13] = 0xB5; // local experimental EtherType
        f[20] = (byte)i;
        return f;
    }

    private const ushort Ring = 16; // the lending limit is half the ring: 8

    /// <summary>A NIC on the gated timers with a full ring of frames waiting, and a second consumer's lender.</summary>
    private static async Task<(NicDriver Nic, CapabilityToken NicCap, GatedTimers Timers, DmaLender Other)> StartAsync()
    {
        var model = new VirtioNetModel(Mac);
        var timers = new GatedTimers();
        var dev = (await VirtioNetDevice.OpenAsync(model.Function, new HostTimers(new HostClock()), new VirtioNetOptions(QueueSize: Ring)).WaitAsync(Timeout)).Value;
        var caps = new CapabilityManager();
        var (nic, nicCap) = NicDriver.Start(dev, caps, new NicOptions(Timers: timers)).Value;
        for (int i = 0; i < Ring; i++) model.Inject(Frame(i));
        return (nic, nicCap, timers, new DmaLender(caps, memoryQuota: null));
    }

    [Fact]
    public async Task The_stack_face_parks_on_the_nic_timers_while_another_consumer_holds_the_lending_limit_then_receives()
    {
        var (nic, nicCap, timers, other) = await StartAsync();

        // The other consumer takes the queue's whole lending limit.
        var held = new List<CapabilityToken>();
        while (true)
        {
            var loan = await nic.LendReceiveAsync(nicCap, 0, other).WaitAsync(Timeout);
            if (!loan.IsOk) { Assert.Equal(ErrorCode.Busy, loan.Code); break; }
            held.Add(loan.Value);
        }
        Assert.Equal(Ring / 2, held.Count);

        INetworkBatches stackFace = nic;
        var receive = stackFace.ReceiveAsync(0).AsTask();
        await WaitUntil(() => timers.Delays == 1, "the stack face to ask the NIC's timers for its back-off");
        // Parked: a spinning face would keep retrying (and asking for more delays) without the timer completing.
        await Task.Delay(100);
        Assert.Equal(1, timers.Delays);
        Assert.False(receive.IsCompleted);

        // Still held after a tick: the face retries once and parks again — it does not give up on Busy.
        timers.ReleaseAll();
        await WaitUntil(() => timers.Delays == 2, "a second back-off after one retry");
        Assert.False(receive.IsCompleted);

        // The other consumer returns its loans; the next tick lends to the stack.
        foreach (var t in held) Assert.True(other.Revoke(t).IsOk);
        timers.ReleaseAll();
        var batch = await receive.WaitAsync(Timeout);
        Assert.True(batch.IsOk, batch.ToString());
        Assert.True(batch.Value.Count >= 1);
        batch.Value.Release();
        await nic.DisposeAsync();
        Assert.Equal(0, nic.OutstandingLoans);
    }

    [Fact]
    public async Task Cancelling_a_receive_parked_in_the_back_off_ends_it_typed()
    {
        var (nic, nicCap, timers, other) = await StartAsync();
        while ((await nic.LendReceiveAsync(nicCap, 0, other).WaitAsync(Timeout)).IsOk) { }

        using var cts = new CancellationTokenSource();
        INetworkBatches stackFace = nic;
        var receive = stackFace.ReceiveAsync(0, cts.Token).AsTask();
        await WaitUntil(() => timers.Delays == 1, "the back-off");
        cts.Cancel();
        var result = await receive.WaitAsync(Timeout);
        Assert.Equal(ErrorCode.Cancelled, result.Code);
        await nic.DisposeAsync();
    }

    private static async Task WaitUntil(Func<bool> condition, string what)
    {
        var until = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < until, $"timed out waiting for {what}");
            await Task.Delay(5);
        }
    }
}
