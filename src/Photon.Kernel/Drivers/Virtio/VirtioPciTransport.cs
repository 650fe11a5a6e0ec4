using Photon.Kernel.Hal.Pci;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Drivers.Virtio;

/// <summary>
/// The virtio 1.x PCI transport (virtio 1.2 §4.1): the common configuration (status, features, queue setup), the
/// notification area and the device-specific configuration, each a window of a BAR found by
/// <see cref="VirtioPciLayout"/>. Fields are accessed at their natural width, as the spec requires. It knows nothing of
/// any device type; <c>VirtioNetDevice</c> builds on it.
/// </summary>
public sealed class VirtioPciTransport
{
    // struct virtio_pci_common_cfg
    private const int DeviceFeatureSelect = 0x00, DeviceFeature = 0x04, DriverFeatureSelect = 0x08, DriverFeature = 0x0C,
        ConfigMsixVector = 0x10, NumQueues = 0x12, DeviceStatus = 0x14, ConfigGeneration = 0x15, QueueSelect = 0x16,
        QueueSize = 0x18, QueueMsixVector = 0x1A, QueueEnable = 0x1C, QueueNotifyOff = 0x1E, QueueDesc = 0x20,
        QueueDriver = 0x28, QueueDevice = 0x30;
    private const int PciCommand = 0x04;
    private const ushort MemorySpace = 1 << 1, BusMaster = 1 << 2;
    /// <summary>"No vector" for config_msix_vector and queue_msix_vector.</summary>
    public const ushort NoVector = 0xFFFF;

    private readonly IMmioRegion _common, _notify, _device;
    private readonly long _commonBase, _notifyBase, _deviceBase;
    private readonly VirtioPciLayout _layout;

    private VirtioPciTransport(IPciFunction function, VirtioPciLayout layout, IMmioRegion common, IMmioRegion notify, IMmioRegion? device)
    {
        Function = function;
        _layout = layout;
        _common = common;
        _commonBase = layout.Common.Offset;
        _notify = notify;
        _notifyBase = layout.Notify.Offset;
        _device = device ?? common;
        _deviceBase = layout.Device?.Offset ?? 0;
        DeviceConfigLength = layout.Device?.Length ?? 0;
    }

    public IPciFunction Function { get; }
    public uint DeviceConfigLength { get; }
    public bool HasMsix => _layout.HasMsix;

    /// <summary>Parses the capabilities, maps the BARs they name (checking each structure lies inside its BAR) and
    /// enables memory decoding and bus mastering (vfio-pci leaves bus mastering off).</summary>
    public static Result<VirtioPciTransport> Open(IPciFunction function)
    {
        var parsed = VirtioPciLayout.Parse(function);
        if (!parsed.TryGet(out var layout)) return parsed.Error;
        var bars = new Dictionary<int, IMmioRegion>();
        Result<IMmioRegion> Map(VirtioStructure s)
        {
            if (!bars.TryGetValue(s.Bar, out var region))
            {
                var mapped = function.MapBar(s.Bar);
                if (!mapped.TryGet(out region)) return mapped.Error;
                bars[s.Bar] = region;
            }
            if ((ulong)s.Offset + s.Length > (ulong)region.Length)
                return Errors.Of(ErrorCode.Corrupted, $"virtio structure at BAR{s.Bar}+0x{s.Offset:x} (0x{s.Length:x} bytes) is outside the BAR");
            return Result<IMmioRegion>.Success(region);
        }
        var common = Map(layout.Common);
        if (!common.IsOk) return common.Error;
        var notify = Map(layout.Notify);
        if (!notify.IsOk) return notify.Error;
        IMmioRegion? device = null;
        if (layout.Device is { } d)
        {
            var mapped = Map(d);
            if (!mapped.IsOk) return mapped.Error;
            device = mapped.Value;
        }
        function.WriteConfig16(PciCommand, (ushort)(function.ReadConfig16(PciCommand) | MemorySpace | BusMaster));
        return new VirtioPciTransport(function, layout, common.Value, notify.Value, device);
    }

    public VirtioStatus Status
    {
        get => (VirtioStatus)_common.Read8(_commonBase + DeviceStatus);
        set => _common.Write8(_commonBase + DeviceStatus, (byte)value);
    }

    public byte Generation => _common.Read8(_commonBase + ConfigGeneration);
    public int QueueCount => _common.Read16(_commonBase + NumQueues);

    /// <summary>Writes 0 to the status and waits (bounded) for the device to read back 0 (§4.1.4.3.2).</summary>
    public async Task<Result> ResetAsync(IKernelTimers timers, CancellationToken ct)
    {
        Status = VirtioStatus.Reset;
        for (int i = 0; i < 1000; i++)
        {
            if (Status == VirtioStatus.Reset) return Result.Ok;
            try { await timers.Delay(TimeSpan.FromMilliseconds(1), ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { return Result.Fail(ErrorCode.Cancelled, "virtio reset cancelled"); }
        }
        return Result.Fail(ErrorCode.TimedOut, "virtio device did not complete its reset");
    }

    public ulong DeviceFeatures()
    {
        _common.Write32(_commonBase + DeviceFeatureSelect, 0);
        ulong low = _common.Read32(_commonBase + DeviceFeature);
        _common.Write32(_commonBase + DeviceFeatureSelect, 1);
        ulong high = _common.Read32(_commonBase + DeviceFeature);
        return low | high << 32;
    }

    /// <summary>Writes the driver's features, sets FEATURES_OK and checks the device kept it (§3.1.1 steps 5–6).</summary>
    public Result Negotiate(ulong features)
    {
        _common.Write32(_commonBase + DriverFeatureSelect, 0);
        _common.Write32(_commonBase + DriverFeature, (uint)features);
        _common.Write32(_commonBase + DriverFeatureSelect, 1);
        _common.Write32(_commonBase + DriverFeature, (uint)(features >> 32));
        Status |= VirtioStatus.FeaturesOk;
        if ((Status & VirtioStatus.FeaturesOk) == 0)
            return Result.Fail(ErrorCode.NotSupported, $"device refused features 0x{features:x}");
        return Result.Ok;
    }

    public void SetConfigVector(ushort vector) => _common.Write16(_commonBase + ConfigMsixVector, vector);

    /// <summary>Whether the device has <paramref name="queue"/>: an index past <c>num_queues</c> is never selected — cast to
    /// the 16-bit select register it could name another queue (review18b: a device claiming 0x8000 pairs put the control
    /// queue at 0x10000, which selected RX queue 0 and reprogrammed it).</summary>
    private bool Exists(int queue) => queue >= 0 && queue < QueueCount;

    /// <summary>The largest size the device allows for <paramref name="queue"/> (0: the queue does not exist).</summary>
    public ushort MaxQueueSize(int queue)
    {
        if (!Exists(queue)) return 0;
        _common.Write16(_commonBase + QueueSelect, (ushort)queue);
        return _common.Read16(_commonBase + QueueSize);
    }

    /// <summary>Gives the device a queue's rings and enables it; returns where to notify it. <c>NotSupported</c> when
    /// the device rejects the MSI-X vector, <c>Corrupted</c> when its notify offset lies outside the notify structure.</summary>
    public Result<VirtioNotifier> EnableQueue(int queue, ushort size, ulong desc, ulong driver, ulong device, ushort vector)
    {
        if (!Exists(queue)) return Errors.Of(ErrorCode.Corrupted, $"queue {queue} is past the device's {QueueCount}");
        _common.Write16(_commonBase + QueueSelect, (ushort)queue);
        _common.Write16(_commonBase + QueueSize, size);
        _common.Write16(_commonBase + QueueMsixVector, vector);
        if (vector != NoVector && _common.Read16(_commonBase + QueueMsixVector) != vector)
            return Errors.Of(ErrorCode.NotSupported, $"device refused MSI-X vector {vector} for queue {queue}");
        WriteSplit64(QueueDesc, desc);
        WriteSplit64(QueueDriver, driver);
        WriteSplit64(QueueDevice, device);
        long off = (long)_common.Read16(_commonBase + QueueNotifyOff) * _layout.NotifyOffMultiplier;
        if (off + 2 > _layout.Notify.Length)
            return Errors.Of(ErrorCode.Corrupted, $"queue {queue} notify offset 0x{off:x} is outside the notify structure");
        _common.Write16(_commonBase + QueueEnable, 1);
        return new VirtioNotifier(_notify, _notifyBase + off, (ushort)queue);
    }

    // 64-bit fields as two 32-bit halves, low first (the spec allows it; some transports split wider accesses anyway).
    private void WriteSplit64(int field, ulong value)
    {
        _common.Write32(_commonBase + field, (uint)value);
        _common.Write32(_commonBase + field + 4, (uint)(value >> 32));
    }

    /// <summary>Device configuration fields, read at their natural width (QEMU answers all ones for bytes past the
    /// configuration the negotiated features define, so a wider read could swallow a field); <c>OutOfRange</c> past
    /// the structure.</summary>
    public Result<byte> ReadDeviceConfig8(int offset) =>
        CheckDeviceConfig(offset, 1) is { } e ? e : _device.Read8(_deviceBase + offset);

    public Result<ushort> ReadDeviceConfig16(int offset) =>
        CheckDeviceConfig(offset, 2) is { } e ? e : _device.Read16(_deviceBase + offset);

    private KernelError? CheckDeviceConfig(int offset, int size) =>
        offset < 0 || offset + size > DeviceConfigLength ? new KernelError(ErrorCode.OutOfRange, $"device config offset {offset}") : null;
}

/// <summary>Where and what to write to tell the device a queue has new buffers (§4.1.5.2).</summary>
public sealed class VirtioNotifier(IMmioRegion region, long offset, ushort queue)
{
    private long _notifications;

    public void Notify()
    {
        Interlocked.Increment(ref _notifications);
        region.Write16(offset, queue);
    }

    /// <summary>Doorbell writes so far: under emulation each one is a trap into the device, the cost EVENT_IDX and
    /// batching exist to avoid.</summary>
    public long Notifications => Interlocked.Read(ref _notifications);
}
