using System.Buffers.Binary;
using Photon.Kernel.Hal.Pci;

namespace Photon.Kernel.Tests.Support.Pci;

/// <summary>A register window whose loads and stores go to a device model (offset, width in bytes, value).</summary>
public sealed class FakeMmio(long length, Func<long, int, ulong> read, Action<long, int, ulong> write) : IMmioRegion
{
    public long Length => length;
    public bool Unmapped { get; set; }

    private void Check(long offset, int size)
    {
        if (Unmapped) throw new KernelException(ErrorCode.Closed, "BAR unmapped");
        if (offset < 0 || offset + size > length) throw new ArgumentOutOfRangeException(nameof(offset), $"MMIO offset 0x{offset:x}");
    }

    public uint Read32(long offset) { Check(offset, 4); return (uint)read(offset, 4); }
    public ulong Read64(long offset) { Check(offset, 8); return read(offset, 8); }
    public void Write32(long offset, uint value) { Check(offset, 4); write(offset, 4, value); }
    public void Write64(long offset, ulong value) { Check(offset, 8); write(offset, 8, value); }
    public ushort Read16(long offset) { Check(offset, 2); return (ushort)read(offset, 2); }
    public void Write16(long offset, ushort value) { Check(offset, 2); write(offset, 2, value); }
    public byte Read8(long offset) { Check(offset, 1); return (byte)read(offset, 1); }
    public void Write8(long offset, byte value) { Check(offset, 1); write(offset, 1, value); }
}

/// <summary>One MSI-X vector of a model: <see cref="Fire"/> is the device's message write. With <c>line</c>, the vector
/// has its own thread as VFIO's eventfd line does (<c>fake-msix-N</c>): a handler given to
/// <see cref="TryHandleOnLine"/> runs there once per signal (merged signals may run it once).</summary>
public sealed class FakeInterrupt(int vector, bool line = false) : IDeviceInterrupt
{
    private readonly SemaphoreSlim _fired = new(0, int.MaxValue);
    private readonly SemaphoreSlim _lineSignals = new(0, int.MaxValue);
    private volatile Action? _handler;
    private volatile bool _disposed;
    public int Vector => vector;
    public long Fired, LineRuns;

    /// <summary>The name of the line's thread.</summary>
    public string LineName => $"fake-msix-{vector}";

    public bool TryHandleOnLine(Action handler)
    {
        if (!line || _handler is not null) return false;
        _handler = handler;
        new Thread(RunLine) { IsBackground = true, Name = LineName }.Start();
        return true;
    }

    private void RunLine()
    {
        while (!_disposed)
        {
            if (!_lineSignals.Wait(100)) continue;
            while (_lineSignals.Wait(0)) { } // merged, as an eventfd's count
            Interlocked.Increment(ref LineRuns);
            _handler?.Invoke();
        }
    }

    public void Fire()
    {
        Interlocked.Increment(ref Fired);
        try
        {
            if (_handler is not null) _lineSignals.Release();
            else _fired.Release();
        }
        catch (ObjectDisposedException) { }
    }

    public async ValueTask<long> WaitAsync(CancellationToken cancellationToken)
    {
        await _fired.WaitAsync(cancellationToken).ConfigureAwait(false);
        long n = 1;
        while (_fired.Wait(0)) n++;
        return n;
    }

    public void Dispose() => _disposed = true;
}

/// <summary>
/// An <see cref="IPciFunction"/> backed by managed memory, for driver tests against in-process device models: a
/// 4 KiB config space the model fills (capabilities included), BARs served by the model, DMA through
/// <see cref="FakeDmaSpace"/>, and <see cref="MsixVectors"/> MSI-X vectors (0: the platform can only poll).
/// </summary>
public sealed class FakePciFunction(PciFunctionInfo info) : IPciFunction
{
    public byte[] Config { get; } = new byte[4096];
    public FakeMmio?[] Bars { get; } = new FakeMmio?[6];
    public FakeDmaSpace Dma { get; } = new();
    public int MsixVectors { get; set; } = 8;
    /// <summary>Each vector enabled from now on has its own line thread (<see cref="FakeInterrupt"/>).</summary>
    public bool InterruptLines { get; set; }
    public List<FakeInterrupt> Interrupts { get; } = new();
    public bool Disposed { get; private set; }
    public PciFunctionInfo Info => info;

    public FakeInterrupt? Interrupt(int vector) => vector >= 0 && vector < Interrupts.Count ? Interrupts[vector] : null;

    public uint ReadConfig32(int offset) => BinaryPrimitives.ReadUInt32LittleEndian(Config.AsSpan(offset));
    public ushort ReadConfig16(int offset) => BinaryPrimitives.ReadUInt16LittleEndian(Config.AsSpan(offset));
    public byte ReadConfig8(int offset) => Config[offset];
    public void WriteConfig32(int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Config.AsSpan(offset), value);
    public void WriteConfig16(int offset, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(Config.AsSpan(offset), value);

    public Result<IMmioRegion> MapBar(int index)
    {
        if (Disposed) return Errors.Of(ErrorCode.Closed, "function closed");
        if (index is < 0 or > 5 || Bars[index] is not { } bar) return Errors.Of(ErrorCode.NotFound, $"no BAR{index}");
        return bar;
    }

    public Result<IDmaBuffer> AllocateDma(int bytes)
    {
        if (Disposed) return Errors.Of(ErrorCode.Closed, "function closed");
        if (bytes <= 0 || bytes > 64 << 20) return Errors.Of(ErrorCode.OutOfRange, $"{bytes} bytes");
        return Dma.Allocate(bytes);
    }

    public Result<IReadOnlyList<IDeviceInterrupt>> EnableMsix(int vectors)
    {
        if (MsixVectors == 0) return Errors.Of(ErrorCode.NotSupported, "polling only");
        if (vectors < 1 || vectors > MsixVectors) return Errors.Of(ErrorCode.OutOfRange, $"{vectors} of {MsixVectors} vectors");
        Interrupts.Clear();
        for (int i = 0; i < vectors; i++) Interrupts.Add(new FakeInterrupt(i, InterruptLines));
        return Interrupts.Cast<IDeviceInterrupt>().ToList();
    }

    public Result Reset() => Result.Ok;

    public void Dispose()
    {
        Disposed = true;
        foreach (var b in Bars) if (b is not null) b.Unmapped = true;
    }

    /// <summary>Writes a capability list into config space: each entry is (id, body bytes after id/next).</summary>
    public void SetCapabilities(params (byte Id, byte[] Body)[] caps)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(Config.AsSpan(0x06), 1 << 4);
        int at = 0x40;
        Config[0x34] = (byte)at;
        for (int i = 0; i < caps.Length; i++)
        {
            int next = i + 1 < caps.Length ? at + ((2 + caps[i].Body.Length + 3) & ~3) : 0;
            Config[at] = caps[i].Id;
            Config[at + 1] = (byte)next;
            caps[i].Body.CopyTo(Config, at + 2);
            at = next;
        }
    }
}

/// <summary>A PCI bus of fake functions (device models), for the PCI device sources.</summary>
public sealed class FakePciBus(params FakePciFunction[] functions) : IPciBus
{
    private readonly HashSet<PciAddress> _open = new();

    public IReadOnlyList<PciFunctionInfo> Enumerate() => functions.Select(f => f.Info).ToList();

    public Result<IPciFunction> Open(PciAddress address)
    {
        var f = functions.FirstOrDefault(x => x.Info.Address == address);
        if (f is null) return Errors.Of(ErrorCode.NotFound, $"no function {address}");
        if (!_open.Add(address)) return Errors.Of(ErrorCode.Busy, $"{address} is already open");
        return f;
    }
}
