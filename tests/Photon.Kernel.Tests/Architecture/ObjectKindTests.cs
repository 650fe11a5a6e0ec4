using System.Reflection;
using System.Runtime.CompilerServices;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Tests.Architecture;

/// <summary>
/// Issue #10 §5: an object's kind comes from its type. Audit records and listings used to take whatever kind a
/// constructor passed, so TCP connections were recorded as IPC channels and IPC listeners as ports.
/// </summary>
public sealed class ObjectKindTests
{
    private static readonly Assembly[] ObjectAssemblies =
    [
        typeof(Process).Assembly,
        typeof(Photon.Sandbox.WasmSandbox).Assembly,
        typeof(Photon.Net.NetworkStack).Assembly,
    ];

    private static IEnumerable<Type> ConcreteObjectTypes() => ObjectAssemblies
        .SelectMany(a => a.GetTypes())
        .Where(t => !t.IsAbstract && typeof(KernelObject).IsAssignableFrom(t));

    // The kind is a constant per type, so an uninitialized instance reports it without running a constructor.
    private static ObjectKind KindOf(Type t) => ((KernelObject)RuntimeHelpers.GetUninitializedObject(t)).Kind;

    [Fact]
    public void No_two_kernel_object_types_share_a_kind()
    {
        var types = ConcreteObjectTypes().ToList();
        Assert.True(types.Count >= 15, $"found only {types.Count} object types: the scan is broken");
        var shared = types.GroupBy(KindOf).Where(g => g.Count() > 1)
            .Select(g => $"{g.Key}: {string.Join(", ", g.Select(t => t.Name))}").ToList();
        Assert.True(shared.Count == 0, "kinds shared by several object types: " + string.Join("; ", shared));
    }

    [Fact]
    public void Every_kind_names_an_object_type_that_exists()
    {
        var used = ConcreteObjectTypes().Select(KindOf).ToHashSet();
        var unused = Enum.GetValues<ObjectKind>().Where(k => !used.Contains(k)).ToList();
        Assert.True(unused.Count == 0, "kinds no object type has: " + string.Join(", ", unused));
    }

    [Theory]
    [InlineData(typeof(Photon.Net.Sockets.ConnectionObject), ObjectKind.TcpConnection)]
    [InlineData(typeof(Photon.Net.Sockets.ListenerObject), ObjectKind.TcpListener)]
    [InlineData(typeof(Photon.Net.Sockets.UdpSocketObject), ObjectKind.UdpSocket)]
    [InlineData(typeof(Photon.Kernel.Ipc.IpcListener), ObjectKind.IpcListener)]
    [InlineData(typeof(Photon.Kernel.Ipc.ChannelEndpoint), ObjectKind.Channel)]
    public void Objects_that_were_mislabelled_report_their_own_kind(Type type, ObjectKind expected) =>
        Assert.Equal(expected, KindOf(type));
}
