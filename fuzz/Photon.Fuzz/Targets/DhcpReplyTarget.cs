using Photon.Kernel;
using Photon.Net.Dhcp;

namespace Photon.Fuzz.Targets;

/// <summary>A DHCP reply as the client receives it for transaction 0x1234abcd of 02:00:00:00:00:01: the parser must
/// answer every input with a checked reply or a Corrupted error, never throw, and never hand on more DNS servers than it
/// keeps or a mask it did not check.</summary>
public sealed class DhcpReplyTarget : IFuzzTarget
{
    private static readonly byte[] Mac = [2, 0, 0, 0, 0, 1];

    public string Name => "dhcp";

    public void Run(byte[] input)
    {
        var r = DhcpMessage.ParseReply(input, 0x1234abcd, Mac);
        if (!r.IsOk && r.Code != ErrorCode.Corrupted) throw new FuzzFinding($"untyped reply {r.Error}");
        if (!r.IsOk) return;
        if (r.Value.DnsServers.Count > DhcpMessage.MaxDnsServers) throw new FuzzFinding("more DNS servers than the client keeps");
        if (r.Value.Type != DhcpMessageType.Nak && r.Value.PrefixLength is < 1 or > 30) throw new FuzzFinding($"prefix /{r.Value.PrefixLength} passed");
        if (r.Value.RenewTime > r.Value.RebindTime || r.Value.RebindTime > r.Value.LeaseTime) throw new FuzzFinding("T1 <= T2 <= lease does not hold");
    }
}
