using System.Buffers;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Diagnostics.Tracing;
using Photon.Kernel.Drivers.Dma;
using Photon.Kernel.Drivers.Net;
using Photon.Kernel.Drivers.Nvme;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Syscalls;

/// <summary>
/// Zero-copy DMA system calls: a disk read or a received network frame whose bytes stay in the DMA buffer the device
/// wrote, lent to the caller as a read-only <see cref="DmaLoan"/> handle (charged to its tenant), viewed in place, and
/// returned by closing the handle.
/// </summary>
public sealed class DmaSyscalls(DmaLender lender)
{
    /// <summary>Reads <paramref name="bytes"/> (whole blocks, at most one command) at <paramref name="lba"/> of an NVMe
    /// disk (needs Read) into a device-written buffer and gives the caller a Read-only handle to it.</summary>
    public async Task<Result<Handle>> LendReadAsync(Process caller, Handle disk, long lba, int bytes, CancellationToken ct = default)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.dma.lend_read");
        if (caller.State != ProcessState.Running) return Errors.Of(ErrorCode.Closed, $"{caller} has exited");
        var d = caller.GetWithToken<NvmeDisk>(disk, Rights.Read);
        if (!d.IsOk) return d.Error;
        var loan = await d.Value.Object.LendReadAsync(d.Value.Token, lba, bytes, lender, caller.Principal, ct).ConfigureAwait(false);
        return loan.IsOk ? caller.AddHandle(loan.Value) : loan.Error;
    }

    /// <summary>Zero-copy receive: waits for the next frame on RX queue <paramref name="queue"/> of a NIC (needs Read)
    /// and gives the caller a Read-only handle to it, in the buffer the device wrote; the device gets the buffer back when
    /// the handle is closed (<see cref="Return"/>). Charged to the caller's tenant; Busy when half the queue is lent.</summary>
    public async Task<Result<Handle>> LendReceiveAsync(Process caller, Handle nic, int queue, CancellationToken ct = default)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.dma.lend_receive");
        if (caller.State != ProcessState.Running) return Errors.Of(ErrorCode.Closed, $"{caller} has exited");
        var n = caller.GetWithToken<NicDriver>(nic, Rights.Read);
        if (!n.IsOk) return n.Error;
        var loan = await n.Value.Object.LendReceiveAsync(n.Value.Token, queue, lender, caller.Principal, ct).ConfigureAwait(false);
        return loan.IsOk ? caller.AddHandle(loan.Value) : loan.Error;
    }

    /// <summary>The loan's length (needs Read).</summary>
    public Result<int> Length(Process caller, Handle loan)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.dma.length");
        var l = caller.Get<DmaLoan>(loan, Rights.Read);
        return l.IsOk ? l.Value.Length : l.Error;
    }

    /// <summary>Runs <paramref name="reader"/> on the lent bytes in place (needs Read); Revoked once the loan ended,
    /// including when it ended during this read.</summary>
    public Result View<TState>(Process caller, Handle loan, int offset, int length, TState state, ReadOnlySpanAction<byte, TState> reader)
    {
        var l = caller.Get<DmaLoan>(loan, Rights.Read);
        return l.IsOk ? l.Value.View(offset, length, state, reader) : l.Error;
    }

    /// <summary>Gives the buffer back to the driver (closes the handle; the loan's only capability dies).</summary>
    public Result Return(Process caller, Handle loan)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.dma.return");
        var l = caller.Get<DmaLoan>(loan, Rights.None);
        return l.IsOk ? caller.Close(loan) : l.Error;
    }
}
