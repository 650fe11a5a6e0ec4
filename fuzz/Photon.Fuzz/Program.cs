using Photon.Fuzz;
using Photon.Fuzz.Targets;
using SharpFuzz;

// Photon.Fuzz TARGET                  under afl-fuzz (persistent mode: one process runs many inputs)
// Photon.Fuzz TARGET --replay PATH    runs every file under PATH once; exit 1 if any input crashes
// Photon.Fuzz audit --make-seeds DIR   writes real audit logs as seeds (the other seeds come from fuzz/make-corpus.sh)
IFuzzTarget[] targets = [new FatImageTarget(), new Ext4ImageTarget(), new FrameTarget(), new HttpRequestTarget(), new AuditLogTarget(), new JournalTarget(), new WasmHostCallTarget(), new DnsAnswerTarget(), new DhcpReplyTarget(), new Ipv6PacketTarget(), new HostOffloadFrameTarget()];
if (args.Length == 0 || targets.FirstOrDefault(t => t.Name == args[0]) is not { } target)
{
    Console.Error.WriteLine($"usage: Photon.Fuzz TARGET [--replay PATH]; targets: {string.Join(", ", targets.Select(t => t.Name))}");
    return 2;
}
if (args.Length == 3 && args[1] == "--replay") return Replay.Run(target, args[2]);
if (args.Length == 3 && args[1] == "--make-seeds" && target is AuditLogTarget) { AuditLogTarget.MakeSeeds(args[2]); return 0; }
Fuzzer.Run(stream =>
{
    using var copy = new MemoryStream();
    stream.CopyTo(copy);
    target.Run(copy.ToArray());
});
return 0;
