using Photon.Kernel.Hal.Pci;

namespace Photon.Kernel.Drivers.Usb;

/// <summary>
/// The consumer side (xHCI 1.2 §4.9.4): one event ring segment described by a one-entry Event Ring Segment Table. An
/// entry is new when its cycle bit equals the consumer cycle state; the state toggles at each wrap. The driver
/// reads the TRB (cycle first, then the rest) and tells the controller how far it got through ERDP.
/// </summary>
public sealed class XhciEventRing : IDisposable
{
    private readonly IDmaBuffer _segment, _table;
    private int _dequeue;
    private bool _cycle = true;

    private XhciEventRing(IDmaBuffer segment, IDmaBuffer table, int entries)
    {
        _segment = segment;
        _table = table;
        Entries = entries;
        _table.WriteVolatile64(0, segment.DeviceAddress);
        _table.WriteVolatile32(8, (uint)entries);
        _table.WriteVolatile32(12, 0);
    }

    public int Entries { get; }
    public ulong TableAddress => _table.DeviceAddress;
    public ulong DequeuePointer => _segment.DeviceAddress + (ulong)(_dequeue * Trb.Size);

    public static Result<XhciEventRing> Create(IPciFunction function, int entries)
    {
        if (entries < 16 || entries > 4096) return Errors.Of(ErrorCode.InvalidArgument, $"event ring of {entries} TRBs");
        var segment = function.AllocateDma(entries * Trb.Size);
        if (!segment.TryGet(out var s)) return segment.Error;
        var table = function.AllocateDma(64);
        if (!table.TryGet(out var t)) { s.Dispose(); return table.Error; }
        return new XhciEventRing(s, t, entries);
    }

    /// <summary>Takes the next event if the controller has written one.</summary>
    public bool TryDequeue(out Trb trb)
    {
        int at = _dequeue * Trb.Size;
        uint control = _segment.ReadVolatile32(at + 12);
        if (((control & Trb.Cycle) != 0) != _cycle)
        {
            trb = default;
            return false;
        }
        trb = new Trb(_segment.ReadVolatile64(at), _segment.ReadVolatile32(at + 8), control);
        if (++_dequeue == Entries)
        {
            _dequeue = 0;
            _cycle = !_cycle;
        }
        return true;
    }

    public void Dispose()
    {
        _segment.Dispose();
        _table.Dispose();
    }
}
