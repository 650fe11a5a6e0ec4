using Microsoft.Win32.SafeHandles;
using Photon.Kernel.Hal.Host.Vfio;

namespace Photon.Kernel.Tests.Hal;

/// <summary>The MSI-X line's thread (<see cref="VfioInterrupt"/>) against a plain eventfd standing for VFIO's.</summary>
public sealed class VfioInterruptTests
{
    [Fact]
    public async Task A_throwing_top_half_is_counted_and_the_line_keeps_running()
    {
        if (!OperatingSystem.IsLinux()) return;
        int fd = VfioNative.eventfd(0, VfioNative.EFD_CLOEXEC);
        Assert.True(fd >= 0);
        using var line = new VfioInterrupt(vector: 0, fd);
        int calls = 0;
        // As a doorbell beyond the BAR did in the NVMe driver's reap: an exception out of the handler, on the line.
        line.TryHandleOnLine(() => { Interlocked.Increment(ref calls); throw new ArgumentOutOfRangeException("offset"); });
        using var signal = new FileStream(new SafeFileHandle(fd, ownsHandle: false), FileAccess.Write, bufferSize: 0);
        signal.Write(BitConverter.GetBytes(1UL));
        Assert.Equal(1, await line.WaitAsync(default).AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        var next = line.WaitAsync(default).AsTask();
        signal.Write(BitConverter.GetBytes(1UL));
        Assert.Equal(1, await next.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(2, Volatile.Read(ref calls));
        Assert.Equal(2, line.HandlerFailures);
    }
}
