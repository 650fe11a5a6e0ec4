using Photon.Kernel.Hal.Pci;

namespace Photon.Kernel.Drivers.Usb;

/// <summary>
/// A producer ring (the command ring or a transfer ring, xHCI 1.2 §4.9): one segment of TRBs whose last entry is a
/// Link TRB back to the start with Toggle Cycle set. The producer writes each TRB with its cycle bit last (the control
/// word is stored after the rest, as a volatile store) so the controller never sees a half-written TRB.
/// </summary>
public sealed class XhciRing : IDisposable
{
    private readonly IDmaBuffer _buffer;
    private int _enqueue;
    private bool _cycle = true;

    private XhciRing(IDmaBuffer buffer, int entries)
    {
        _buffer = buffer;
        Entries = entries;
        WriteLink();
    }

    public int Entries { get; }
    public ulong Base => _buffer.DeviceAddress;
    public bool CycleState => _cycle;
    /// <summary>The device address the next TRB will be written at.</summary>
    public ulong EnqueuePointer => Base + (ulong)(_enqueue * Trb.Size);

    public static Result<XhciRing> Create(IPciFunction function, int entries)
    {
        if (entries < 4 || entries > 4096) return Errors.Of(ErrorCode.InvalidArgument, $"ring of {entries} TRBs");
        var buffer = function.AllocateDma(entries * Trb.Size);
        if (!buffer.TryGet(out var b)) return buffer.Error;
        return new XhciRing(b, entries);
    }

    private void WriteLink()
    {
        int at = (Entries - 1) * Trb.Size;
        _buffer.WriteVolatile64(at, Base);
        _buffer.WriteVolatile32(at + 8, 0);
        _buffer.WriteVolatile32(at + 12, Trb.TypeBits(TrbType.Link) | Trb.ToggleCycle | (_cycle ? 0 : Trb.Cycle));
    }

    /// <summary>Writes one TRB (its cycle bit is set here) and returns its device address.</summary>
    public ulong Enqueue(Trb trb)
    {
        int at = _enqueue * Trb.Size;
        ulong address = Base + (ulong)at;
        _buffer.WriteVolatile64(at, trb.Parameter);
        _buffer.WriteVolatile32(at + 8, trb.Status);
        _buffer.WriteVolatile32(at + 12, (trb.Control & ~Trb.Cycle) | (_cycle ? Trb.Cycle : 0));
        if (++_enqueue == Entries - 1)
        {
            // Hand the link TRB over with the current cycle, then wrap and toggle.
            int link = (Entries - 1) * Trb.Size;
            _buffer.WriteVolatile32(link + 12, Trb.TypeBits(TrbType.Link) | Trb.ToggleCycle | (_cycle ? Trb.Cycle : 0));
            _enqueue = 0;
            _cycle = !_cycle;
        }
        return address;
    }

    /// <summary>Whether <paramref name="address"/> is a TRB slot of this ring (for checking event pointers).</summary>
    public bool Contains(ulong address) => address >= Base && address < Base + (ulong)((Entries - 1) * Trb.Size) && (address - Base) % Trb.Size == 0;

    public void Dispose() => _buffer.Dispose();
}
