using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal.Pci;

namespace Photon.Kernel.Drivers.Dma;

/// <summary>
/// Turns a device-filled DMA buffer into a <see cref="DmaLoan"/> held by a consumer. The buffer's pages are charged to
/// the consumer's tenant memory quota before the device is asked to fill it (a flood of lends is refused with
/// QuotaExceeded, not served), and uncharged when the loan ends. The loan's one capability (Read only) is held by the
/// consumer; the lender keeps its token so a driver can revoke every loan it made when it stops.
/// </summary>
public sealed class DmaLender(CapabilityManager caps, Func<Principal, long, Result>? memoryQuota)
{
    private const int Page = 4096;

    /// <summary>Charges <paramref name="holder"/>, runs <paramref name="fill"/> (the device I/O that writes a buffer
    /// it then stops using), and lends the buffer. Every failure after the charge undoes it and gives the buffer back.</summary>
    internal async Task<Result<CapabilityToken>> LendAsync(Principal holder, int bytes, string label,
        Func<Task<Result<(IDmaBuffer Buffer, Action GiveBack)>>> fill, Action<CapabilityToken>? onEnd = null)
    {
        if (bytes <= 0) return Errors.Of(ErrorCode.InvalidArgument, "a loan needs at least one byte");
        long pages = (bytes + (long)Page - 1) / Page;
        var charged = memoryQuota?.Invoke(holder, pages) ?? Result.Ok;
        if (!charged.IsOk) return charged.Error;
        var filled = await fill().ConfigureAwait(false);
        return Lend(holder, pages, bytes, label, filled, onEnd);
    }

    /// <summary>The same for a buffer that is already filled (a received frame): charges <paramref name="holder"/>,
    /// runs <paramref name="take"/> (which must not wait) and lends what it took; nothing stays charged when it fails.</summary>
    internal Result<CapabilityToken> LendNow(Principal holder, int bytes, string label, Func<Result<(IDmaBuffer Buffer, Action GiveBack)>> take,
        Action<CapabilityToken>? onEnd = null)
    {
        if (bytes <= 0) return Errors.Of(ErrorCode.InvalidArgument, "a loan needs at least one byte");
        long pages = (bytes + (long)Page - 1) / Page;
        var charged = memoryQuota?.Invoke(holder, pages) ?? Result.Ok;
        if (!charged.IsOk) return charged.Error;
        return Lend(holder, pages, bytes, label, take(), onEnd);
    }

    private Result<CapabilityToken> Lend(Principal holder, long pages, int bytes, string label, Result<(IDmaBuffer Buffer, Action GiveBack)> filled,
        Action<CapabilityToken>? onEnd)
    {
        if (!filled.IsOk)
        {
            memoryQuota?.Invoke(holder, -pages);
            return filled.Error;
        }
        var (buffer, giveBack) = filled.Value;
        CapabilityToken token = default;
        // A NIC's frame is shorter than the receive buffer charged for it: the loan covers what the device wrote.
        var loan = new DmaLoan(label, buffer, Math.Min(bytes, buffer.Length), () =>
        {
            memoryQuota?.Invoke(holder, -pages);
            giveBack();
            onEnd?.Invoke(token);
        });
        var cap = caps.Create(loan, Rights.Read, holder);
        if (!cap.IsOk)
        {
            loan.End();
            return cap.Error;
        }
        token = cap.Value;
        return token;
    }

    /// <summary>Ends a loan from the lending side (its capability dies; the buffer goes back once no read runs).</summary>
    internal Result Revoke(CapabilityToken loan)
    {
        var r = caps.Revoke(loan, Principal.Kernel);
        return r.IsOk || r.Code is ErrorCode.Revoked or ErrorCode.StaleCapability ? Result.Ok : r.AsResult();
    }
}
