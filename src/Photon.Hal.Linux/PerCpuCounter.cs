namespace Photon.Kernel.Hal.Host;

/// <summary>
/// A count bumped on hot paths from every core: each CPU adds to its own cache line (no line shared between cores, so
/// counting costs no cross-core traffic), and a read sums the lines. The add is still atomic, since a thread may move
/// to another CPU between picking its line and adding to it.
/// </summary>
internal sealed class PerCpuCounter
{
    // 16 longs (128 bytes) apart: a line each, and no two on a pair of lines the adjacent-line prefetcher fetches together.
    private const int Stride = 16;
    private readonly long[] _slots;
    private readonly int _cpus;

    public PerCpuCounter()
    {
        _cpus = Math.Max(1, Environment.ProcessorCount);
        _slots = new long[(_cpus + 1) * Stride]; // slot i at (i + 1) * Stride: none shares a line with the array's header
    }

    public void Increment() => Interlocked.Increment(ref _slots[((uint)Thread.GetCurrentProcessorId() % (uint)_cpus + 1) * Stride]);

    public long Value
    {
        get
        {
            long sum = 0;
            for (int i = 1; i <= _cpus; i++) sum += Volatile.Read(ref _slots[i * Stride]);
            return sum;
        }
    }
}
