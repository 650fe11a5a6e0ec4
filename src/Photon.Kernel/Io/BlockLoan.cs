using Photon.Kernel.Drivers.Dma;

namespace Photon.Kernel.Io;

/// <summary>
/// One lent read as the kernel's own consumer (a filesystem) holds it: the <see cref="DmaLoan"/> the device filled,
/// read in place, and the way to end it. The loan can end under the reader — revoked, or the device removed — and
/// then <see cref="CopyTo"/> answers <c>Revoked</c> rather than handing out bytes the device may reuse.
/// </summary>
public sealed class BlockLoan : IDisposable
{
    private readonly DmaLoan _loan;
    private readonly Action _end;
    private int _disposed;

    internal BlockLoan(DmaLoan loan, Action end)
    {
        _loan = loan;
        _end = end;
    }

    /// <summary>Bytes the device wrote.</summary>
    public int Length => _loan.Length;

    /// <summary>Copies <paramref name="destination"/>.Length bytes from <paramref name="offset"/> of the device-written
    /// buffer: the only copy of a lent read.</summary>
    public Result CopyTo(int offset, Memory<byte> destination) =>
        _loan.View(offset, destination.Length, destination, static (span, into) => span.CopyTo(into.Span));

    /// <summary>Ends the loan: the buffer goes back to the driver (once no copy is running).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) _end();
    }
}
