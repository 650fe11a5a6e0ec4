using Photon.Kernel.Scheduling;

namespace Photon.Net.Dhcp;

/// <summary>
/// RFC 5227 §2.1 address conflict detection for a DHCP client (RFC 2131 §4.4.1 asks the client to check an address
/// before using it): <see cref="DhcpClientOptions.Probes"/> ARP probes for the candidate, <see cref="DhcpClientOptions.ProbeInterval"/>
/// apart, then <see cref="DhcpClientOptions.ProbeWait"/> more listening; any ARP packet from another host that uses the
/// candidate as its sender address, or probes for it too, is a conflict. The waits are shorter than RFC 5227's (probes
/// 1–2 s apart, 2 s after the last) because a kernel's boot waits on it; both are options.
/// </summary>
internal static class AddressConflictProbe
{
    /// <summary>True when another host answered or probed for <paramref name="candidate"/>.</summary>
    public static async Task<bool> ConflictsAsync(NetworkStack stack, NetInterface nic, Ipv4Address candidate, DhcpClientOptions options, IKernelTimers timers, CancellationToken ct)
    {
        if (options.Probes == 0) return false;
        var conflict = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (stack.Gate) nic.WatchForConflict(candidate, () => conflict.TrySetResult());
        try
        {
            for (int i = 0; i < options.Probes && !conflict.Task.IsCompleted; i++)
            {
                lock (stack.Gate) nic.SendArpProbe(candidate);
                var wait = i == options.Probes - 1 ? options.ProbeWait : options.ProbeInterval;
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
                await Task.WhenAny(conflict.Task, timers.Delay(wait, stop.Token)).ConfigureAwait(false);
                stop.Cancel();
                ct.ThrowIfCancellationRequested();
            }
            return conflict.Task.IsCompleted;
        }
        finally
        {
            lock (stack.Gate) nic.StopConflictWatch();
        }
    }
}
