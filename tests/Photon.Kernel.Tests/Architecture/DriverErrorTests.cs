namespace Photon.Kernel.Tests.Architecture;

/// <summary>
/// Inside a filesystem driver an error travels as the kernel's typed <c>Result</c>/<c>KernelError</c> from the block
/// device call to the VFS, never as an exception: a driver assembly that builds, throws or catches a
/// <c>KernelException</c> (or turns an error into one, or runs code through <c>Errors.Catch</c>) references that type or
/// member, which this reads from the compiled assembly. Exceptions stay for programming bugs (invariants).
/// </summary>
public class DriverErrorTests
{
    /// <summary>The filesystem drivers the kernel ships.</summary>
    private static readonly string[] Drivers = ["Photon.FileSystems.Fat", "Photon.FileSystems.Ext4"];

    private static readonly string[] TranslationMembers =
    [
        "Photon.Kernel.KernelError::ToException", "Photon.Kernel.Result::Unwrap",
        "Photon.Kernel.Errors::Catch", "Photon.Kernel.Errors::CatchAsync",
    ];

    [Fact]
    public void Filesystem_drivers_never_turn_errors_into_exceptions()
    {
        foreach (var driver in Drivers)
        {
            var md = AssemblyMetadata.Read(SolutionAssemblies.Named(driver));
            Assert.Contains("Photon.Kernel.Result", md.TypeReferences); // the scan sees the kernel's types at all
            Assert.DoesNotContain("Photon.Kernel.KernelException", md.TypeReferences);
            var uses = md.MemberReferences.Where(TranslationMembers.Contains).ToList();
            Assert.True(uses.Count == 0, $"{driver} converts errors to exceptions: {string.Join(", ", uses)}");
        }
    }
}
