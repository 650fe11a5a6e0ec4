using Photon.Kernel.FileSystems;

namespace Photon.FileSystems.Tests.Vfs;

/// <summary>
/// A module's filesystem reaches the VFS wrapped in <see cref="ModuleHeldFileSystem"/>. An <see cref="IFileSystem"/>
/// member with a default body that the wrapper does not forward silently answers the default instead of the module:
/// ext4's symbolic links were NotSupported through a module mount that way, and a writeback would never reach ext4.
/// </summary>
public sealed class ModuleHeldFileSystemTests
{
    [Fact]
    public void Every_filesystem_member_is_forwarded_to_the_module_including_those_with_a_default_body()
    {
        var map = typeof(ModuleHeldFileSystem).GetInterfaceMap(typeof(IFileSystem));
        var notForwarded = map.TargetMethods.Where(m => m.DeclaringType != typeof(ModuleHeldFileSystem)).Select(m => m.Name).ToList();
        Assert.True(notForwarded.Count == 0, "not forwarded: " + string.Join(", ", notForwarded));
        Assert.Contains(map.InterfaceMethods, m => m.Name == nameof(IFileSystem.ReadLinkAsync));
    }
}
