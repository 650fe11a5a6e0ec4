using Photon.Kernel.Boot;
using Photon.Kernel.Hal.Host;

namespace Photon.Kernel.Tests.Boot;

/// <summary>Boot configuration for tests: the Linux host platform, filled in so tests only state what they vary.</summary>
internal static class TestKernel
{
    /// <summary>A fresh config on a fresh host platform (a platform serves one kernel). At least two CPUs, so tests
    /// asking for two workers also run on a one-core machine.</summary>
    public static KernelConfig Config => new() { Platform = Platform };

    /// <summary>A fresh host platform (a platform serves one kernel).</summary>
    public static Photon.Kernel.Hal.Platform Platform => LinuxPlatform.Create(processors: Math.Max(2, Environment.ProcessorCount));
}
