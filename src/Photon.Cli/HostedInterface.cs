using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Net;
using Photon.Kernel.Hal.Host.Net;
using Photon.Kernel.Scheduling;
using Photon.Net;

namespace Photon.Cli;

/// <summary>
/// A Photon interface on a Linux TAP device, as `photon net` and the boot demo bring it up: a 2-queue TAP (its Linux end
/// optionally moved into a network namespace with an address), the NIC driver on the unified queue pairs over it, and a
/// started stack with the interface and an optional default route. Disposing tears all of it down.
/// </summary>
public sealed class HostedInterface : IAsyncDisposable
{
    public required NetworkStack Stack { get; init; }
    public required NetInterface Nic { get; init; }
    public required NicDriver Driver { get; init; }
    /// <summary>The namespace this bring-up created (deleted on dispose); null if none or it already existed.</summary>
    public string? CreatedNs { get; init; }

    /// <summary>Errors from opening the TAP device or creating the namespace come back as they are (typically
    /// AccessDenied/NotSupported without root), so callers can tell "cannot here" from a failure.</summary>
    public static async Task<Result<HostedInterface>> BringUpAsync(string tapName, Ipv4Cidr address, Ipv4Address? gateway,
        string? peerNs, Ipv4Cidr? peerAddress, CapabilityManager caps, IKernelTimers timers)
    {
        var a = address.Address.Value;
        var tap = TapDevice.Open(tapName, [2, 0x50, 0x48, (byte)(a >> 16), (byte)(a >> 8), (byte)a], queues: 2);
        if (!tap.IsOk) return tap.Error;
        string? createdNs = null;
        if (peerNs is { } ns && peerAddress is { } peer)
        {
            if (HostShell.Run($"ip netns list | grep -qw {ns}").Code != 0)
            {
                var add = HostShell.Run($"ip netns add {ns}");
                if (add.Code != 0) { await tap.Value.DisposeAsync(); return Errors.Of(ErrorCode.NotSupported, $"ip netns add failed: {add.Output}"); }
                createdNs = ns;
            }
            var setup = HostShell.Run($"ip link set {tapName} netns {ns} && ip -n {ns} addr add {peer} dev {tapName} && ip -n {ns} link set {tapName} up && ip -n {ns} link set lo up");
            if (setup.Code != 0)
            {
                await tap.Value.DisposeAsync();
                if (createdNs is not null) HostShell.Run($"ip netns del {createdNs}");
                return Errors.Of(ErrorCode.IoError, $"namespace setup failed: {setup.Output}");
            }
        }
        else HostShell.Run($"ip link set {tapName} up");

        Result<HostedInterface> Undo(KernelError e)
        {
            if (createdNs is not null) HostShell.Run($"ip netns del {createdNs}");
            return e;
        }
        var driver = NicDriver.Start(tap.Value, caps);
        if (!driver.IsOk) { await tap.Value.DisposeAsync(); return Undo(driver.Error); }
        var stack = new NetworkStack(timers);
        var nic = stack.AddInterface(driver.Value.Driver, address);
        if (!nic.IsOk) { await driver.Value.Driver.DisposeAsync(); return Undo(nic.Error); }
        if (gateway is { } gw && stack.Routes.AddDefault(gw, nic.Value) is { IsOk: false } r)
        {
            await driver.Value.Driver.DisposeAsync();
            return Undo(r.Error);
        }
        stack.Start();
        return new HostedInterface { Stack = stack, Nic = nic.Value, Driver = driver.Value.Driver, CreatedNs = createdNs };
    }

    public async ValueTask DisposeAsync()
    {
        await Stack.DisposeAsync();
        await Driver.DisposeAsync(); // closes its rings and the TAP device it owns
        if (CreatedNs is not null) HostShell.Run($"ip netns del {CreatedNs}");
    }
}
