using Photon.Kernel;

namespace Photon.Cli.Vm;

/// <summary>
/// Fault test on QEMU's real USB stick: with the FAT still mounted, the guest prints <see cref="Marker"/> on the serial
/// console, the host script answers with <c>device_del</c> on QEMU's monitor, and the guest keeps reading a file from
/// the mount (file data is not cached, so every read reaches the stick) until the read fails. The promise checked:
/// the failure is a typed error (the driver sees the port disconnected or the transfer fail and reports the stick
/// removed), it comes within the bound, and nothing crashes or hangs.
/// </summary>
public static class VmUsbRemovalFault
{
    public const string Marker = "PHOTON-VM: USB-REMOVE";
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(180);

    /// <summary>The first error <paramref name="read"/> returns after the marker, with how many reads still succeeded
    /// (the host needs a moment to act); <c>TimedOut</c> when every read kept succeeding for <see cref="Bound"/>.</summary>
    public static async Task<(Result Failure, int ReadsBeforeRemoval)> RunAsync(Func<Task<Result<byte[]>>> read)
    {
        Console.WriteLine(Marker);
        var deadline = DateTime.UtcNow + Bound;
        int ok = 0;
        while (DateTime.UtcNow < deadline)
        {
            var r = await read();
            if (!r.IsOk) return (r.AsResult(), ok);
            ok++;
            await Task.Delay(500);
        }
        return (Result.Fail(ErrorCode.TimedOut, $"the stick still answered after {Bound.TotalSeconds} s: was device_del sent?"), ok);
    }
}
