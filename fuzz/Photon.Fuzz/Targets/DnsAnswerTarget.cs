using Photon.Kernel;
using Photon.Net.Dns;

namespace Photon.Fuzz.Targets;

/// <summary>A DNS response as the stub resolver receives it for "www.example.org A" with ID 0x1234: the parser must
/// answer every input with addresses or a typed error (Corrupted, NotFound, Unreachable), never throw.</summary>
public sealed class DnsAnswerTarget : IFuzzTarget
{
    public string Name => "dns";

    public void Run(byte[] input)
    {
        var r = DnsMessage.ParseAnswer(input, 0x1234, "www.example.org", DnsType.A);
        if (!r.IsOk && r.Code is not (ErrorCode.Corrupted or ErrorCode.NotFound or ErrorCode.Unreachable))
            throw new FuzzFinding($"untyped answer {r.Error}");
        if (r.IsOk && r.Value.Addresses.Any(a => a.Length != 4)) throw new FuzzFinding("an A answer with an address not 4 bytes long");
    }
}
