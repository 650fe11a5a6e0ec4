using System.Buffers.Binary;
using Photon.Kernel.Drivers.Net;
using Photon.Kernel.Hal.Host;

namespace Photon.Net.Tests.Virtio;

/// <summary>The NAPI race on the receive queue (issue #17, vm13), stepped one call at a time on the device model so it
/// is deterministic: the consumer drains with interrupts off; a frame that lands after its last empty look but before
/// it turns interrupts back on raises no interrupt (the device saw them off) — the re-arm must look at the ring once
/// more and take it, or the frame would sit there until some later frame interrupts. With and without EVENT_IDX (the
/// two ways of turning interrupts off and on: used_event and VIRTQ_AVAIL_F_NO_INTERRUPT).</summary>
public sealed class VirtioNetRearmRaceTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly byte[] Mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
    private const ulong EventIdx = 1UL << 29;

    private static byte[] Frame(int seq)
    {
        var f = new byte[60];
        Mac.CopyTo(f, 0);
        f[12] = 0x08;
        f[14] = 0x45;
        BinaryPrimitives.WriteInt32BigEndian(f.AsSpan(46), seq);
        return f;
    }

    private static async Task<(VirtioNetModel Model, VirtioNetDevice Device)> Open(bool eventIndex)
    {
        var model = new VirtioNetModel(Mac);
        if (!eventIndex) model.OfferedFeatures &= ~EventIdx;
        var opened = await VirtioNetDevice.OpenAsync(model.Function, new HostTimers(new HostClock())).WaitAsync(Timeout);
        Assert.True(opened.IsOk, opened.ToString());
        Assert.False(opened.Value.Polling);
        Assert.Equal(eventIndex, (opened.Value.Features & EventIdx) != 0);
        return (model, opened.Value);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_frame_landing_between_the_last_empty_look_and_the_rearm_is_taken_by_the_rearm_without_an_interrupt(bool eventIndex)
    {
        var (model, dev) = await Open(eventIndex);
        await using var _ = dev;
        var rx = dev.RxQueue(0);
        var irq = model.Function.Interrupt(model.QueueVector(0))!;
        var buffers = new Memory<byte>[] { new byte[2048] };
        var lengths = new int[1];

        // The consumer's last look: nothing there, interrupts still off (they are off while it drains).
        Assert.Equal(0, rx.TryTake(buffers, lengths));
        // The frame lands in the window: the device sees interrupts off and does not raise one.
        model.Inject(Frame(1));
        Assert.Equal(0, Interlocked.Read(ref irq.Fired));
        long wakeups = rx.Stats.Interrupts;

        // The re-arm turns interrupts on and looks once more: it must return at once, without sleeping.
        var wait = rx.WaitAsync(CancellationToken.None);
        Assert.True(wait.IsCompleted, "the re-arm slept on a frame already in the ring: with no interrupt coming it would be lost");
        await wait;
        Assert.Equal(wakeups, rx.Stats.Interrupts);
        Assert.Equal(1, rx.TryTake(buffers, lengths));
        Assert.Equal(1, BinaryPrimitives.ReadInt32BigEndian(buffers[0].Span[46..]));
        Assert.Equal(0, Interlocked.Read(ref irq.Fired)); // taken with no interrupt at all
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_frame_landing_after_the_rearm_raises_one_interrupt_that_wakes_the_sleeper_and_draining_turns_them_off_again(bool eventIndex)
    {
        var (model, dev) = await Open(eventIndex);
        await using var _ = dev;
        var rx = dev.RxQueue(0);
        var irq = model.Function.Interrupt(model.QueueVector(0))!;
        var buffers = Enumerable.Range(0, 8).Select(_ => (Memory<byte>)new byte[2048]).ToArray();
        var lengths = new int[8];

        Assert.Equal(0, rx.TryTake(buffers, lengths));
        var wait = rx.WaitAsync(CancellationToken.None); // armed, asleep
        Assert.False(wait.IsCompleted);
        model.Inject(Frame(1));
        await wait.AsTask().WaitAsync(Timeout);
        Assert.Equal(1, Interlocked.Read(ref irq.Fired));
        // Awake, draining: interrupts are off again, so a burst arriving now raises none (the consumer polls it).
        for (int i = 2; i <= 6; i++) model.Inject(Frame(i));
        Assert.Equal(1, Interlocked.Read(ref irq.Fired));
        int got = 0;
        while (got < 6) got += rx.TryTake(buffers, lengths);
        Assert.Equal(6, got);
        Assert.Equal(1, Interlocked.Read(ref irq.Fired)); // six frames, one interrupt
    }

    [Fact]
    public async Task Racing_the_rearm_many_times_loses_no_frame()
    {
        // Frames injected from another thread at every moment of the drain / re-arm cycle: each must be received; a
        // lost wake-up would leave the consumer asleep with a frame in the ring and the 30 s timeout would fire.
        var (model, dev) = await Open(eventIndex: true);
        await using var _ = dev;
        const int Frames = 2000;
        var injector = Task.Run(async () =>
        {
            for (int i = 0; i < Frames; i++)
            {
                model.Inject(Frame(i));
                if (i % 3 == 0) await Task.Yield();
            }
        });
        var buffers = Enumerable.Range(0, 16).Select(_ => (Memory<byte>)new byte[2048]).ToArray();
        var lengths = new int[16];
        var seen = new List<int>();
        using var cts = new CancellationTokenSource(Timeout);
        while (seen.Count < Frames)
        {
            int n = await dev.ReceiveBatchAsync(0, buffers, lengths, cts.Token);
            for (int i = 0; i < n; i++) seen.Add(BinaryPrimitives.ReadInt32BigEndian(buffers[i].Span[46..]));
        }
        await injector;
        Assert.Equal(Enumerable.Range(0, Frames), seen);
    }
}
