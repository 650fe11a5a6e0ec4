using Photon.Kernel.Hal.Pci;
using Photon.Kernel.Scheduling;
using static Photon.Kernel.Drivers.Usb.XhciRegisters;

namespace Photon.Kernel.Drivers.Usb;

/// <summary>
/// An xHCI host controller (xHCI 1.2) driven from user space: halt and reset, the Device Context Base Address Array
/// with its scratchpad buffers, the command ring, one event ring (interrupter 0, MSI-X vector 0 or polling), root
/// ports, and the slot commands devices are brought up with. Operations run one at a time (a USB mass-storage device
/// is strictly sequential anyway); each waits for its own event — matched by the TRB it names, with a deadline — so a
/// controller that never answers gives <see cref="ErrorCode.TimedOut"/>, an event naming a TRB, slot or endpoint the
/// driver did not use is <see cref="ErrorCode.Corrupted"/>, and nothing is read outside the rings.
/// </summary>
public sealed class XhciController : IAsyncDisposable
{
    private readonly IPciFunction _function;
    private readonly IMmioRegion _bar;
    private readonly IKernelTimers _timers;
    private readonly XhciOptions _options;
    private readonly long _op, _rt, _db;
    private readonly IDmaBuffer _dcbaa;
    private readonly IDmaBuffer? _scratchpadArray;
    private readonly List<IDmaBuffer> _scratchpads;
    private readonly XhciRing _commands;
    private readonly XhciEventRing _events;
    private readonly IReadOnlyList<IDeviceInterrupt> _interrupts;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private KernelError? _dead;
    private int _disposed;

    private XhciController(IPciFunction function, IMmioRegion bar, IKernelTimers timers, XhciOptions options, long op, long rt, long db,
        int ports, int slots, int contextSize, IDmaBuffer dcbaa, IDmaBuffer? scratchpadArray, List<IDmaBuffer> scratchpads,
        XhciRing commands, XhciEventRing events, IReadOnlyList<IDeviceInterrupt> interrupts)
    {
        _function = function;
        _bar = bar;
        _timers = timers;
        _options = options;
        _op = op;
        _rt = rt;
        _db = db;
        Ports = ports;
        Slots = slots;
        ContextSize = contextSize;
        _dcbaa = dcbaa;
        _scratchpadArray = scratchpadArray;
        _scratchpads = scratchpads;
        _commands = commands;
        _events = events;
        _interrupts = interrupts;
    }

    public IPciFunction Function => _function;
    public int Ports { get; }
    public int Slots { get; }
    /// <summary>32 or 64 bytes (HCCPARAMS1.CSZ).</summary>
    public int ContextSize { get; }
    public int ScratchpadBuffers => _scratchpads.Count;
    public bool Polling => _interrupts.Count == 0;
    internal XhciOptions Options => _options;
    internal IKernelTimers Timers => _timers;
    /// <summary>Events that named nothing the driver was waiting for (port changes excluded).</summary>
    public long StrayEvents;

    /// <summary>Resets and starts the controller. The controller owns <paramref name="function"/> from here (it is
    /// disposed on failure too).</summary>
    public static async Task<Result<XhciController>> OpenAsync(IPciFunction function, IKernelTimers timers, XhciOptions? options = null,
        CancellationToken ct = default)
    {
        options ??= new XhciOptions();
        var owned = new List<IDisposable>();
        try
        {
            var r = await StartAsync(function, timers, options, owned, ct).ConfigureAwait(false);
            if (r.IsOk) return r;
            foreach (var d in owned) d.Dispose();
            function.Dispose();
            return r;
        }
        catch (KernelException e)
        {
            foreach (var d in owned) d.Dispose();
            function.Dispose();
            return e.Error;
        }
    }

    private static async Task<Result<XhciController>> StartAsync(IPciFunction function, IKernelTimers timers, XhciOptions options,
        List<IDisposable> owned, CancellationToken ct)
    {
        var mapped = function.MapBar(0);
        if (!mapped.TryGet(out var bar)) return mapped.Error;
        function.WriteConfig16(0x04, (ushort)(function.ReadConfig16(0x04) | (1 << 1) | (1 << 2))); // memory space, bus master
        long op = bar.Read32(CapLength) & 0xFF;
        uint hcs1 = bar.Read32(HcsParams1), hcs2 = bar.Read32(HcsParams2), hcc1 = bar.Read32(HccParams1);
        long db = bar.Read32(DbOff) & ~3u, rt = bar.Read32(RtsOff) & ~0x1Fu;
        int maxSlots = (int)(hcs1 & 0xFF), ports = (int)(hcs1 >> 24);
        if (op < 0x20 || op + PortBase + 0x10L * ports > bar.Length || rt + 0x40 > bar.Length || db + 4L * 256 > bar.Length)
            return Errors.Of(ErrorCode.Corrupted, $"xHCI register layout outside BAR0 (caplength 0x{op:x}, rtsoff 0x{rt:x}, dboff 0x{db:x})");
        if (maxSlots == 0 || ports == 0) return Errors.Of(ErrorCode.Corrupted, "xHCI reports no slots or no ports");
        if ((hcc1 & 1) == 0) return Errors.Of(ErrorCode.NotSupported, "xHCI without 64-bit addressing (AC64)");
        int contextSize = (hcc1 & (1 << 2)) != 0 ? 64 : 32;
        int scratchpads = (int)(((hcs2 >> 21) & 0x1F) << 5 | (hcs2 >> 27));

        // Halt, then reset (§4.2): wait for Controller Not Ready to clear, stop, wait for Halted, reset.
        if (!await WaitRegister(bar, op + UsbSts, StsNotReady, 0, timers, options.Command, ct).ConfigureAwait(false))
            return Errors.Of(ErrorCode.TimedOut, "xHCI stays not-ready");
        bar.Write32(op + UsbCmd, bar.Read32(op + UsbCmd) & ~CmdRun);
        if (!await WaitRegister(bar, op + UsbSts, StsHalted, StsHalted, timers, options.Command, ct).ConfigureAwait(false))
            return Errors.Of(ErrorCode.TimedOut, "xHCI does not halt");
        bar.Write32(op + UsbCmd, CmdReset);
        if (!await WaitRegister(bar, op + UsbCmd, CmdReset, 0, timers, options.Command, ct).ConfigureAwait(false)
            || !await WaitRegister(bar, op + UsbSts, StsNotReady, 0, timers, options.Command, ct).ConfigureAwait(false))
            return Errors.Of(ErrorCode.TimedOut, "xHCI reset does not complete");

        int slots = Math.Min(maxSlots, Math.Clamp(options.MaxSlots, 1, 255));
        bar.Write32(op + Config, (bar.Read32(op + Config) & ~0xFFu) | (uint)slots);

        var dcbaa = function.AllocateDma((slots + 1) * 8);
        if (!dcbaa.TryGet(out var dcbaaBuffer)) return dcbaa.Error;
        owned.Add(dcbaaBuffer);
        IDmaBuffer? array = null;
        var pads = new List<IDmaBuffer>();
        if (scratchpads > 0)
        {
            // PAGESIZE is a bit mask (bit n: 2^(n+12) bytes supported), not a count: the driver uses 4 KiB pages, which
            // every controller must support (bit 0). At most 1,023 scratchpads x 4 KiB = 4 MiB, whatever the device says
            // (review18b: read as a count, 0xFFFF made each page ~256 MiB, a boot-time memory exhaustion).
            if ((bar.Read32(op + PageSize) & 1) == 0) return Errors.Of(ErrorCode.NotSupported, "xHCI without 4 KiB pages");
            const int pageSize = 4096;
            var a = function.AllocateDma(scratchpads * 8);
            if (!a.TryGet(out array)) return a.Error;
            owned.Add(array);
            for (int i = 0; i < scratchpads; i++)
            {
                var page = function.AllocateDma(pageSize);
                if (!page.TryGet(out var p)) return page.Error;
                owned.Add(p);
                pads.Add(p);
                array.WriteVolatile64(i * 8, p.DeviceAddress);
            }
            dcbaaBuffer.WriteVolatile64(0, array.DeviceAddress);
        }
        var commands = XhciRing.Create(function, options.RingEntries);
        if (!commands.TryGet(out var commandRing)) return commands.Error;
        owned.Add(commandRing);
        var events = XhciEventRing.Create(function, options.RingEntries);
        if (!events.TryGet(out var eventRing)) return events.Error;
        owned.Add(eventRing);

        WriteSplit(bar, op + Dcbaap, dcbaaBuffer.DeviceAddress);
        WriteSplit(bar, op + Crcr, commandRing.Base | 1); // RCS = 1
        bar.Write32(rt + Erstsz, 1);
        WriteSplit(bar, rt + Erdp, eventRing.DequeuePointer);
        WriteSplit(bar, rt + Erstba, eventRing.TableAddress);

        IReadOnlyList<IDeviceInterrupt> interrupts = [];
        if (!options.ForcePolling)
        {
            var msix = function.EnableMsix(1);
            if (msix.IsOk) interrupts = msix.Value;
            else if (msix.Code != ErrorCode.NotSupported) return msix.Error;
        }
        foreach (var i in interrupts) owned.Add(i);
        bar.Write32(rt + Imod, 0);
        bar.Write32(rt + Iman, ImanPending | (interrupts.Count > 0 ? ImanEnable : 0));
        bar.Write32(op + UsbCmd, CmdRun | (interrupts.Count > 0 ? CmdInterruptEnable : 0));
        if (!await WaitRegister(bar, op + UsbSts, StsHalted, 0, timers, options.Command, ct).ConfigureAwait(false))
            return Errors.Of(ErrorCode.TimedOut, "xHCI does not start running");
        return new XhciController(function, bar, timers, options, op, rt, db, ports, slots, contextSize, dcbaaBuffer, array, pads,
            commandRing, eventRing, interrupts);
    }

    private static void WriteSplit(IMmioRegion bar, long offset, ulong value)
    {
        bar.Write32(offset, (uint)value);
        bar.Write32(offset + 4, (uint)(value >> 32));
    }

    /// <summary>Polls a register until (value &amp; mask) == expected, bounded by <paramref name="timeout"/>.</summary>
    private static async Task<bool> WaitRegister(IMmioRegion bar, long offset, uint mask, uint expected, IKernelTimers timers,
        TimeSpan timeout, CancellationToken ct)
    {
        var deadline = timers.Now + timeout;
        while (true)
        {
            if ((bar.Read32(offset) & mask) == expected) return true;
            if (timers.Now >= deadline) return false;
            try { await timers.Delay(TimeSpan.FromMilliseconds(1), ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { return false; }
        }
    }

    /// <summary>PORTSC of root port <paramref name="port"/> (1-based).</summary>
    public uint PortStatus(int port) => _bar.Read32(_op + PortBase + 0x10L * (port - 1));

    /// <summary>The ports with a device attached.</summary>
    public IReadOnlyList<int> ConnectedPorts() =>
        Enumerable.Range(1, Ports).Where(p => (PortStatus(p) & PortConnected) != 0).ToList();

    /// <summary>Speed of the device on a port (PORTSC bits 13:10: 1 full, 2 low, 3 high, 4 super).</summary>
    public int PortSpeed(int port) => (int)((PortStatus(port) >> 10) & 0xF);

    /// <summary>Resets a port (USB2 ports need it to become enabled; USB3 ports enable themselves after link
    /// training) and clears its change bits. <c>NotFound</c> when nothing is attached, <c>TimedOut</c> if the reset
    /// never completes.</summary>
    public async Task<Result> ResetPortAsync(int port, CancellationToken ct)
    {
        if (port < 1 || port > Ports) return Result.Fail(ErrorCode.OutOfRange, $"no root port {port}");
        long reg = _op + PortBase + 0x10L * (port - 1);
        uint sc = _bar.Read32(reg);
        if ((sc & PortConnected) == 0) return Result.Fail(ErrorCode.NotFound, $"nothing attached to port {port}");
        if ((sc & PortEnabled) == 0)
        {
            // Write PP and PR only: PED is write-1-to-clear and the change bits are too.
            _bar.Write32(reg, PortPower | PortReset);
            if (!await WaitRegister(_bar, reg, PortResetChange, PortResetChange, _timers, _options.Command, ct).ConfigureAwait(false))
                return Result.Fail(ErrorCode.TimedOut, $"port {port} reset did not complete");
        }
        _bar.Write32(reg, PortPower | (_bar.Read32(reg) & PortChangeBits));
        sc = _bar.Read32(reg);
        if ((sc & PortEnabled) == 0) return Result.Fail(ErrorCode.IoError, $"port {port} not enabled after reset (PORTSC 0x{sc:x8})");
        return Result.Ok;
    }

    internal void SetDeviceContext(int slot, ulong address) => _dcbaa.WriteVolatile64(slot * 8, address);

    internal void RingDoorbell(int slot, uint target) => _bar.Write32(_db + 4L * slot, target);

    /// <summary>Runs a command and returns its completion event; <c>IoError</c> for a completion code other than
    /// success (the code is in the message), <c>TimedOut</c> if the controller never answers (then the controller is
    /// considered dead: its command ring position is unknown).</summary>
    internal async Task<Result<Trb>> CommandAsync(Trb command, CancellationToken ct)
    {
        if (_dead is { } dead) return dead;
        ulong at = _commands.Enqueue(command);
        RingDoorbell(0, 0);
        var ev = await WaitEventAsync(e => e.Type == TrbType.CommandCompletion && e.Parameter == at, _options.Command, ct).ConfigureAwait(false);
        if (!ev.IsOk)
        {
            if (ev.Code == ErrorCode.TimedOut) _dead = new KernelError(ErrorCode.Faulted, $"xHCI stopped answering commands ({command.Type})");
            return ev.Error;
        }
        if (ev.Value.Completion != TrbCompletion.Success)
            return Errors.Of(ErrorCode.IoError, $"{command.Type} failed: {ev.Value.Completion}");
        return ev.Value;
    }

    /// <summary>Waits for the event <paramref name="match"/> accepts, draining (and counting) others; bounded by
    /// <paramref name="timeout"/>. A controller that reports a host system or controller error is <c>Faulted</c>; one
    /// whose registers read all ones has gone from the bus (<c>Closed</c>).</summary>
    internal async Task<Result<Trb>> WaitEventAsync(Func<Trb, bool> match, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = _timers.Now + timeout;
        while (true)
        {
            if (Drain(match, out var found)) return found;
            uint sts = _bar.Read32(_op + UsbSts);
            if (sts == 0xFFFFFFFF) return Fail(ErrorCode.Closed, "xHCI is gone from the bus");
            if ((sts & (StsHostSystemError | StsHostControllerError)) != 0) return Fail(ErrorCode.Faulted, $"xHCI error (USBSTS 0x{sts:x8})");
            var left = deadline - _timers.Now;
            if (left <= TimeSpan.Zero) return Errors.Of(ErrorCode.TimedOut, "no event from the xHCI in time");
            if (ct.IsCancellationRequested) return Errors.Of(ErrorCode.Cancelled, "cancelled");
            using var wake = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var sleep = _timers.Delay(Polling ? (left < _options.Poll ? left : _options.Poll) : left, wake.Token);
            Task[] waits = Polling ? [sleep] : [sleep, _interrupts[0].WaitAsync(wake.Token).AsTask()];
            try { await Task.WhenAny(waits).ConfigureAwait(false); }
            finally { wake.Cancel(); }
            foreach (var w in waits)
                try { await w.ConfigureAwait(false); }
                catch (OperationCanceledException) { }
        }
    }

    private Result<Trb> Fail(ErrorCode code, string why)
    {
        _dead ??= new KernelError(code, why);
        return _dead.Value;
    }

    private bool Drain(Func<Trb, bool> match, out Trb found)
    {
        found = default;
        bool got = false, any = false;
        for (int i = 0; i < _events.Entries && !got; i++)
        {
            if (!_events.TryDequeue(out var ev)) break;
            any = true;
            if (match(ev)) { found = ev; got = true; }
            else if (ev.Type != TrbType.PortStatusChange) Interlocked.Increment(ref StrayEvents);
        }
        if (any)
        {
            WriteSplit(_bar, _rt + Erdp, _events.DequeuePointer | ErdpBusy);
            _bar.Write32(_rt + Iman, ImanPending | (Polling ? 0 : ImanEnable));
        }
        return got;
    }

    /// <summary>Serialises operations on the controller.</summary>
    internal async Task<IDisposable?> EnterAsync(CancellationToken ct)
    {
        if (Volatile.Read(ref _disposed) != 0) return null;
        try { await _gate.WaitAsync(ct).ConfigureAwait(false); }
        catch (OperationCanceledException) { return null; }
        catch (ObjectDisposedException) { return null; }
        return new Releaser(_gate);
    }

    /// <summary>Why <see cref="EnterAsync"/> gave no gate: the caller's cancellation, or a closed controller. Only the
    /// latter is <c>Closed</c> — the mass-storage layer reads <c>Closed</c> as "the stick is gone" and refuses every later
    /// call, so a cancelled read must not say it.</summary>
    internal static KernelError NotEntered(CancellationToken ct) =>
        ct.IsCancellationRequested ? new KernelError(ErrorCode.Cancelled, "cancelled") : new KernelError(ErrorCode.Closed, "controller closed");

    private sealed class Releaser(SemaphoreSlim gate) : IDisposable
    {
        private int _done;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) gate.Release();
        }
    }

    internal KernelError? Dead => _dead;

    /// <summary>True when the last close found the controller still running (it never reported Halted): its DMA memory
    /// was left allocated rather than freed under a controller that may still write it.</summary>
    public bool LeakedOnClose { get; private set; }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            bool halted;
            try
            {
                _bar.Write32(_op + UsbCmd, 0); // stop: no more DMA
                halted = await WaitRegister(_bar, _op + UsbSts, StsHalted, StsHalted, _timers, TimeSpan.FromMilliseconds(200), default).ConfigureAwait(false);
            }
            catch (KernelException) { halted = false; }
            if (!halted)
            {
                // A controller that does not halt may still write its rings, contexts and scratchpads. Without an IOMMU
                // (the uio fallback) freed memory is reused at once: leak it, and keep the function open (closing it
                // would give its DMA mappings back under the device) — as virtio-net does (review18b).
                LeakedOnClose = true;
                foreach (var i in _interrupts) i.Dispose();
                return;
            }
            _commands.Dispose();
            _events.Dispose();
            foreach (var p in _scratchpads) p.Dispose();
            _scratchpadArray?.Dispose();
            _dcbaa.Dispose();
            foreach (var i in _interrupts) i.Dispose();
            _function.Dispose();
        }
        finally { _gate.Release(); }
    }
}
