using System.Reflection;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Tests.Architecture;

/// <summary>
/// The one boundary: everything code acting as a process can call takes the calling <see cref="Process"/> and lives
/// in a <c>*.Syscalls</c> namespace, and a process object itself offers nothing but its identity.
/// </summary>
public sealed class SyscallSurfaceTests
{
    private static readonly Assembly[] KernelAssemblies =
    [
        typeof(Process).Assembly,
        typeof(Photon.Sandbox.WasmSandbox).Assembly,
        typeof(Photon.Net.NetworkStack).Assembly,
    ];

    // Public entry points that take a Process but are not syscalls, each with the reason it may.
    private static readonly Dictionary<string, string> Allowed = new()
    {
        ["Photon.Kernel.Services.Supervisor.Start"] = "spawns and destroys incarnations through the owner's own process syscalls",
    };

    private static IEnumerable<MethodInfo> PublicMethods(Assembly a) =>
        a.GetExportedTypes().SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Where(m => !m.IsSpecialName); // property accessors (a record's Process property) hand nothing out

    [Fact]
    public void Every_public_call_taking_a_process_is_a_syscall()
    {
        var offenders = KernelAssemblies.SelectMany(PublicMethods)
            .Where(m => m.GetParameters().Any(p => p.ParameterType == typeof(Process)))
            .Where(m => m.DeclaringType!.Namespace?.EndsWith(".Syscalls", StringComparison.Ordinal) != true)
            .Select(m => $"{m.DeclaringType!.FullName}.{m.Name}")
            .Where(n => !Allowed.ContainsKey(n))
            .Distinct()
            .ToList();
        Assert.True(offenders.Count == 0, "process-facing calls outside Syscalls/: " + string.Join(", ", offenders));
    }

    [Fact]
    public void The_syscall_table_covers_handles_namespaces_memory_processes_channels_files_and_modules()
    {
        var groups = typeof(Photon.Kernel.Syscalls.SyscallTable).GetProperties().Select(p => p.Name).ToHashSet();
        Assert.Superset(new HashSet<string> { "Handles", "Namespaces", "Memory", "Processes", "Channels", "Files", "Modules" }, groups);
        // Every syscall's first parameter is the caller, and none takes a principal or returns a token.
        foreach (var m in typeof(Photon.Kernel.Syscalls.SyscallTable).Assembly.GetExportedTypes()
                     .Where(t => t.Namespace == "Photon.Kernel.Syscalls" && t.Name.EndsWith("Syscalls", StringComparison.Ordinal))
                     .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
                     .Where(m => !m.IsSpecialName))
        {
            var ps = m.GetParameters();
            Assert.True(ps.Length > 0 && ps[0].ParameterType == typeof(Process), $"{m.DeclaringType!.Name}.{m.Name} must take the caller first");
            Assert.DoesNotContain(ps, p => p.ParameterType == typeof(Principal) || p.ParameterType == typeof(CapabilityToken));
            Assert.False(Mentions(m.ReturnType, typeof(CapabilityToken)), $"{m.DeclaringType!.Name}.{m.Name} returns a token");
        }
    }

    [Fact]
    public void A_process_object_exposes_only_its_identity()
    {
        var methods = typeof(Process).GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly)
            .Where(m => !m.IsSpecialName).Select(m => m.Name).ToHashSet();
        Assert.Equal(new HashSet<string> { "ToString" }, methods);
        var properties = typeof(Process).GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly);
        Assert.All(properties, p => Assert.False(p.CanWrite && p.SetMethod!.IsPublic, $"{p.Name} is publicly settable"));
        Assert.DoesNotContain(properties, p => typeof(KernelObject).IsAssignableFrom(p.PropertyType) || p.PropertyType == typeof(CapabilityToken)
                                              || p.PropertyType == typeof(HandleTable));
    }

    private static bool Mentions(Type t, Type target) =>
        t == target || (t.IsGenericType && t.GetGenericArguments().Any(a => Mentions(a, target)));
}
