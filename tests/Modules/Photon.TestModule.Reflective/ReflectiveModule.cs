using System.Reflection;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Memory;
using Photon.Kernel.Modules;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;

// Asks for nothing at all.
[assembly: PhotonModule("reflective", typeof(Photon.TestModule.Reflective.ReflectiveModule), Description = "shows that grants are not a boundary")]

namespace Photon.TestModule.Reflective;

/// <summary>
/// Does what issue #9 reported: with an empty manifest, walks private fields from its <see cref="ModuleContext"/> to the
/// kernel's managers, takes the root namespace capability, and reads /tenant-a/secret. It logs what it reached; the
/// test asserts that it succeeds, documenting that a native module is trusted code.
/// </summary>
public sealed class ReflectiveModule : IKernelModule
{
    public Task<Result> StartAsync(ModuleContext context, CancellationToken cancellationToken)
    {
        var found = Walk(context);
        var processes = found.OfType<ProcessManager>().FirstOrDefault();
        var caps = found.OfType<CapabilityManager>().FirstOrDefault();
        var ns = found.OfType<NamespaceManager>().FirstOrDefault();
        var mm = found.OfType<MemoryManager>().FirstOrDefault();
        if (processes is null || caps is null || ns is null || mm is null)
        {
            context.LogInfo("no escape: kernel managers not reachable");
            return Task.FromResult(Result.Ok);
        }
        // The kernel's token-taking calls are internal: C# access modifiers are no boundary to reflection either.
        const BindingFlags Any = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
        var root = (CapabilityToken)typeof(NamespaceManager).GetProperty("RootCapability", Any)!.GetValue(ns)!;
        dynamic info = typeof(CapabilityManager).GetMethod("Inspect", Any)!.Invoke(caps, [root])!;
        Rights rootRights = info.Value.Rights;
        var lookup = typeof(NamespaceManager).GetMethod("Lookup", Any)!;
        var secret = (Result<CapabilityToken>)lookup.Invoke(ns, [root, "/tenant-a/secret", Rights.Read, default(Principal)])!;
        var text = "";
        if (secret.IsOk)
        {
            var buf = new byte[64];
            var read = typeof(MemoryManager).GetMethod("Read", Any)!.CreateDelegate<ReadFn>(mm);
            if (read(secret.Value, 0, buf, default).IsOk) text = System.Text.Encoding.UTF8.GetString(buf).TrimEnd('\0');
        }
        context.LogInfo($"escaped: process-manager with {processes.All.Count} processes, root capability {rootRights}, secret '{text}'");
        return Task.FromResult(Result.Ok);
    }

    private delegate Result ReadFn(CapabilityToken region, long offset, Span<byte> destination, Principal actor);

    public Task<Result> StopAsync(CancellationToken cancellationToken) => Task.FromResult(Result.Ok);

    /// <summary>Every object reachable through instance fields (breadth first, bounded).</summary>
    private static List<object> Walk(object start)
    {
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance) { start };
        var queue = new Queue<(object Obj, int Depth)>([(start, 0)]);
        while (queue.TryDequeue(out var item) && seen.Count < 10_000)
        {
            if (item.Depth == 4) continue;
            for (var t = item.Obj.GetType(); t is not null; t = t.BaseType)
            {
                foreach (var f in t.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                {
                    if (f.FieldType.IsValueType || f.FieldType.IsPointer || f.FieldType == typeof(string) || f.FieldType.IsArray) continue;
                    if (f.GetValue(item.Obj) is { } v && seen.Add(v)) queue.Enqueue((v, item.Depth + 1));
                }
            }
        }
        return seen.ToList();
    }
}
