using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace Photon.Kernel.Tests.Architecture;

/// <summary>
/// What a compiled assembly says about itself, read with System.Reflection.Metadata (nothing is loaded or run): the
/// assemblies it references, the types and members it uses from them, its P/Invoke methods, and whether it was compiled
/// with unsafe code allowed.
/// </summary>
internal sealed class AssemblyMetadata
{
    private AssemblyMetadata(string name) => Name = name;

    public string Name { get; }
    public IReadOnlyList<string> References { get; private init; } = [];

    /// <summary>Full names ("System.IO.File", nested as "Outer+Inner") of every type referenced from another assembly.</summary>
    public IReadOnlySet<string> TypeReferences { get; private init; } = new HashSet<string>();

    /// <summary>"Type::Member" of every method and field referenced from another assembly.</summary>
    public IReadOnlySet<string> MemberReferences { get; private init; } = new HashSet<string>();

    /// <summary>"Type::Method" of every method implemented by P/Invoke (DllImport, and the stubs LibraryImport generates).</summary>
    public IReadOnlyList<string> PInvokes { get; private init; } = [];

    /// <summary>
    /// Roslyn marks every module compiled with /unsafe (AllowUnsafeBlocks) with [module: UnverifiableCode], whether or
    /// not unsafe code was written, so this is the compiler's own record of the switch.
    /// </summary>
    public bool CompiledWithUnsafe { get; private init; }

    public static AssemblyMetadata Read(BuiltAssembly assembly)
    {
        using var pe = new PEReader(File.OpenRead(assembly.Path));
        var md = pe.GetMetadataReader();
        var types = md.TypeReferences.Select(h => TypeName(md, h)).ToHashSet();
        var members = new HashSet<string>();
        foreach (var h in md.MemberReferences)
        {
            var member = md.GetMemberReference(h);
            if (member.Parent.Kind == HandleKind.TypeReference)
                members.Add($"{TypeName(md, (TypeReferenceHandle)member.Parent)}::{md.GetString(member.Name)}");
        }
        var pinvokes = new List<string>();
        foreach (var th in md.TypeDefinitions)
        {
            var type = md.GetTypeDefinition(th);
            foreach (var mh in type.GetMethods())
            {
                var method = md.GetMethodDefinition(mh);
                if ((method.Attributes & MethodAttributes.PinvokeImpl) != 0)
                    pinvokes.Add($"{md.GetString(type.Namespace)}.{md.GetString(type.Name)}::{md.GetString(method.Name)}");
            }
        }
        bool unverifiable = md.GetModuleDefinition().GetCustomAttributes()
            .Any(a => AttributeTypeName(md, md.GetCustomAttribute(a)) == "System.Security.UnverifiableCodeAttribute");
        return new AssemblyMetadata(assembly.AssemblyName)
        {
            References = md.AssemblyReferences.Select(h => md.GetString(md.GetAssemblyReference(h).Name)).ToList(),
            TypeReferences = types,
            MemberReferences = members,
            PInvokes = pinvokes,
            CompiledWithUnsafe = unverifiable,
        };
    }

    private static string TypeName(MetadataReader md, TypeReferenceHandle handle)
    {
        var t = md.GetTypeReference(handle);
        var name = md.GetString(t.Name);
        if (t.ResolutionScope.Kind == HandleKind.TypeReference)
            return TypeName(md, (TypeReferenceHandle)t.ResolutionScope) + "+" + name;
        var ns = md.GetString(t.Namespace);
        return ns.Length == 0 ? name : ns + "." + name;
    }

    private static string? AttributeTypeName(MetadataReader md, CustomAttribute attribute) => attribute.Constructor.Kind switch
    {
        HandleKind.MemberReference when md.GetMemberReference((MemberReferenceHandle)attribute.Constructor).Parent is
            { Kind: HandleKind.TypeReference } parent => TypeName(md, (TypeReferenceHandle)parent),
        _ => null, // an attribute defined in the module itself: never the framework's UnverifiableCodeAttribute
    };
}
