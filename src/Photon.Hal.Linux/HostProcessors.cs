namespace Photon.Kernel.Hal.Host;

/// <summary>
/// Host backend of <see cref="IProcessorSet"/>: each "CPU" is a dedicated host thread that runs one scheduler loop.
/// It also hands out <see cref="HostProcessorIdle"/> primitives so a scheduler can park idle CPUs.
/// </summary>
public sealed class HostProcessors : IProcessorSet, IProcessorIdleFactory
{
    /// <param name="count">How many CPUs to expose; 0 means the host's processor count.</param>
    public HostProcessors(int count = 0)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), "processor count must not be negative");
        Count = count == 0 ? Environment.ProcessorCount : count;
    }

    public int Count { get; }

    public IProcessorHandle Start(int cpu, string name, Action<CancellationToken> loop)
    {
        ArgumentNullException.ThrowIfNull(loop);
        if ((uint)cpu >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(cpu), $"cpu {cpu} is not in 0..{Count - 1}");
        return new HostProcessor(cpu, name, loop);
    }

    public IProcessorIdle Create() => new HostProcessorIdle();

    private sealed class HostProcessor : IProcessorHandle
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Thread _thread;

        public HostProcessor(int cpu, string name, Action<CancellationToken> loop)
        {
            var token = _stop.Token;
            // Background so a forgotten scheduler never keeps the host process alive.
            _thread = new Thread(() => loop(token)) { IsBackground = true, Name = $"{name} (cpu {cpu})" };
            _thread.Start();
        }

        public void Stop()
        {
            try { _stop.Cancel(); } catch (ObjectDisposedException) { }
            if (Thread.CurrentThread != _thread) _thread.Join();
        }

        public void Dispose()
        {
            Stop();
            _stop.Dispose();
        }
    }
}
