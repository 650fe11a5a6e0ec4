using System.Buffers.Binary;
using Photon.Kernel.Io;

namespace Photon.Kernel.Drivers.Usb;

/// <summary>
/// A USB stick as a block device: the device on a root port of an <see cref="XhciController"/> is addressed and
/// configured, its Bulk-Only interface found, and the SCSI medium brought up (INQUIRY, TEST UNIT READY with REQUEST
/// SENSE while it reports a unit attention, READ CAPACITY(10)); reads and writes are READ(10)/WRITE(10) in transfers of
/// at most 64 KiB, flush is SYNCHRONIZE CACHE(10). Filesystems mount it like any <see cref="IBlockDevice"/>. A device
/// that disappears from its port (unplugged, <c>device_del</c>) turns every later call into <see cref="ErrorCode.Closed"/>
/// at once; the call that was in flight ends with a typed error when its transfer fails or times out.
/// </summary>
public sealed class UsbMassStorage : IBlockDevice, IAsyncDisposable
{
    private readonly BulkOnlyTransport _bot;
    private int _removed;

    private UsbMassStorage(BulkOnlyTransport bot, string vendor, string product, long sectors, int sectorSize)
    {
        _bot = bot;
        Vendor = vendor;
        Product = product;
        SectorCount = sectors;
        SectorSize = sectorSize;
        Name = $"usb-storage@{bot.Device.Controller.Function.Info.Address}-port{bot.Device.Port}";
    }

    public string Name { get; }
    public string Vendor { get; }
    public string Product { get; }
    public int SectorSize { get; }
    public long SectorCount { get; }
    public bool IsReadOnly => false;
    public BulkOnlyTransport Transport => _bot;
    public bool Removed => Volatile.Read(ref _removed) != 0;

    /// <summary>Brings up the mass-storage device on <paramref name="port"/> (the first connected port when 0).</summary>
    public static async Task<Result<UsbMassStorage>> AttachAsync(XhciController hc, int port = 0, CancellationToken ct = default)
    {
        if (port == 0)
        {
            var connected = hc.ConnectedPorts();
            if (connected.Count == 0) return Errors.Of(ErrorCode.NotFound, "no USB device attached");
            port = connected[0];
        }
        var attached = await XhciDevice.AttachAsync(hc, port, ct).ConfigureAwait(false);
        if (!attached.TryGet(out var dev)) return attached.Error;
        var r = await BringUpAsync(dev, ct).ConfigureAwait(false);
        if (!r.IsOk) await dev.DisposeAsync().ConfigureAwait(false);
        return r;
    }

    private static async Task<Result<UsbMassStorage>> BringUpAsync(XhciDevice dev, CancellationToken ct)
    {
        var desc = await dev.ControlAsync(0x80, 6, UsbDescriptors.Device << 8, 0, default, 18, ct).ConfigureAwait(false);
        if (!desc.IsOk) return desc.Error;
        var parsed = UsbDescriptors.ParseDevice(desc.Value);
        if (!parsed.IsOk) return parsed.Error;
        var head = await dev.ControlAsync(0x80, 6, UsbDescriptors.Configuration << 8, 0, default, 9, ct).ConfigureAwait(false);
        if (!head.IsOk) return head.Error;
        if (head.Value.Length < 9) return Errors.Of(ErrorCode.Corrupted, "short configuration descriptor");
        int total = BinaryPrimitives.ReadUInt16LittleEndian(head.Value.AsSpan(2));
        if (total < 9 || total > 4096) return Errors.Of(ErrorCode.Corrupted, $"configuration of {total} bytes");
        var config = await dev.ControlAsync(0x80, 6, UsbDescriptors.Configuration << 8, 0, default, total, ct).ConfigureAwait(false);
        if (!config.IsOk) return config.Error;
        var msc = UsbDescriptors.FindMassStorage(config.Value);
        if (!msc.TryGet(out var iface)) return msc.Error;
        var configured = await dev.ConfigureAsync(iface.ConfigurationValue, iface.BulkIn, iface.BulkOut, ct).ConfigureAwait(false);
        if (!configured.IsOk) return configured.Error;

        var bot = new BulkOnlyTransport(dev, iface);
        var inquiry = new byte[36];
        var inq = await bot.ExecuteAsync(ScsiCommands.InquiryCdb(), inquiry, default, ct).ConfigureAwait(false);
        if (!inq.IsOk) return inq.Error;
        if (!inq.Value.Passed) return Errors.Of(ErrorCode.IoError, "INQUIRY failed");
        if ((inquiry[0] & 0x1F) != 0) return Errors.Of(ErrorCode.NotSupported, $"SCSI peripheral type {inquiry[0] & 0x1F} is not a direct-access block device");
        string vendor = System.Text.Encoding.ASCII.GetString(inquiry, 8, 8).Trim();
        string product = System.Text.Encoding.ASCII.GetString(inquiry, 16, 16).Trim();

        // A fresh device reports UNIT ATTENTION (power on / reset) once or twice before it is ready.
        Result ready = Result.Fail(ErrorCode.Busy, "medium not ready");
        for (int i = 0; i < 5 && !ready.IsOk; i++)
        {
            var tur = await bot.ExecuteAsync(ScsiCommands.TestUnitReadyCdb(), default, default, ct).ConfigureAwait(false);
            if (!tur.IsOk) return tur.Error;
            if (tur.Value.Passed) ready = Result.Ok;
            else
            {
                var sense = await SenseAsync(bot, ct).ConfigureAwait(false);
                if (sense.Key is not (2 or 6)) return Errors.Of(ErrorCode.IoError, $"TEST UNIT READY: sense {sense}");
            }
        }
        if (!ready.IsOk) return ready.Error;
        var cap = new byte[8];
        var rc = await bot.ExecuteAsync(ScsiCommands.ReadCapacityCdb(), cap, default, ct).ConfigureAwait(false);
        if (!rc.IsOk) return rc.Error;
        if (!rc.Value.Passed || rc.Value.Transferred < 8) return Errors.Of(ErrorCode.IoError, "READ CAPACITY failed");
        var capacity = ScsiCommands.ParseCapacity(cap);
        if (!capacity.TryGet(out var c)) return capacity.Error;
        return new UsbMassStorage(bot, vendor, product, c.Blocks, c.BlockSize);
    }

    private static async Task<(byte Key, byte Asc, byte Ascq)> SenseAsync(BulkOnlyTransport bot, CancellationToken ct)
    {
        var sense = new byte[18];
        var r = await bot.ExecuteAsync(ScsiCommands.RequestSenseCdb(), sense, default, ct).ConfigureAwait(false);
        return r.IsOk && r.Value.Passed ? ScsiCommands.ParseSense(sense) : ((byte)0xFF, (byte)0, (byte)0);
    }

    public ValueTask<Result> ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        TransferAsync(lba, buffer, default, write: false, cancellationToken);

    public ValueTask<Result> WriteAsync(long lba, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        TransferAsync(lba, default, data, write: true, cancellationToken);

    private async ValueTask<Result> TransferAsync(long lba, Memory<byte> into, ReadOnlyMemory<byte> from, bool write, CancellationToken ct)
    {
        int length = write ? from.Length : into.Length;
        if (Removed) return Result.Fail(ErrorCode.Closed, $"{Name} was removed");
        // The shared check: lba + sectors computed here overflowed for an lba near long.MaxValue and passed, and READ(10)
        // then took the low 32 bits; an empty transfer was "done" without a command (usb19).
        var range = BlockRange.Validate(lba, length, SectorSize, SectorCount);
        if (!range.IsOk) return range;
        int perCommand = XhciDevice.MaxTransfer / SectorSize;
        for (int done = 0; done < length;)
        {
            int bytes = Math.Min(length - done, perCommand * SectorSize);
            long at = lba + done / SectorSize;
            var cdb = ScsiCommands.ReadWrite10Cdb(write, (uint)at, (ushort)(bytes / SectorSize));
            var r = write
                ? await _bot.ExecuteAsync(cdb, default, from.Slice(done, bytes), ct).ConfigureAwait(false)
                : await _bot.ExecuteAsync(cdb, into.Slice(done, bytes), default, ct).ConfigureAwait(false);
            var failed = await CheckAsync(r, write ? "WRITE(10)" : "READ(10)", bytes, ct).ConfigureAwait(false);
            if (!failed.IsOk) return failed;
            done += bytes;
        }
        return Result.Ok;
    }

    /// <summary>Turns a command's outcome into a result: a failed command's sense data becomes the message; a device
    /// gone from its port makes this and every later call <c>Closed</c>.</summary>
    private async ValueTask<Result> CheckAsync(Result<BotStatus> r, string what, int expected, CancellationToken ct)
    {
        if (!r.IsOk)
        {
            if (!_bot.Device.Attached || r.Code == ErrorCode.Closed)
            {
                Volatile.Write(ref _removed, 1);
                return Result.Fail(ErrorCode.Closed, $"{Name} was removed during {what} ({r.Error.Message})");
            }
            return r.AsResult();
        }
        if (!r.Value.Passed)
        {
            var sense = await SenseAsync(_bot, ct).ConfigureAwait(false);
            return Result.Fail(sense.Key == 7 ? ErrorCode.ReadOnly : ErrorCode.IoError, $"{what} failed: sense key {sense.Key:x} ASC {sense.Asc:x2}/{sense.Ascq:x2}");
        }
        if (r.Value.Residue != 0 || r.Value.Transferred != expected)
            return Result.Fail(ErrorCode.IoError, $"{what} moved {r.Value.Transferred} of {expected} bytes (residue {r.Value.Residue})");
        return Result.Ok;
    }

    public async ValueTask<Result> FlushAsync(CancellationToken cancellationToken = default)
    {
        if (Removed) return Result.Fail(ErrorCode.Closed, $"{Name} was removed");
        var r = await _bot.ExecuteAsync(ScsiCommands.SynchronizeCacheCdb(), default, default, cancellationToken).ConfigureAwait(false);
        if (r.IsOk && !r.Value.Passed)
        {
            // ILLEGAL REQUEST: the device has no cache to synchronise, so every acknowledged write is already on the medium.
            var sense = await SenseAsync(_bot, cancellationToken).ConfigureAwait(false);
            return sense.Key == 5 ? Result.Ok : Result.Fail(ErrorCode.IoError, $"SYNCHRONIZE CACHE failed: sense key {sense.Key:x}");
        }
        return await CheckAsync(r, "SYNCHRONIZE CACHE", 0, cancellationToken).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => _bot.Device.DisposeAsync();
}
