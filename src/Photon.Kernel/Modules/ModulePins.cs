using System.Security.Cryptography;

namespace Photon.Kernel.Modules;

/// <summary>
/// The SHA-256 digests of the module images an administrator allows to run. Native modules are trusted kernel code, so
/// which code that is must be decided by whoever configures the kernel, not by whoever can drop a DLL on disk: with pins
/// set, the loader refuses any module — or private dependency of one — whose image is not listed.
/// </summary>
public sealed class ModulePins
{
    private readonly HashSet<string> _digests;

    private ModulePins(HashSet<string> digests) => _digests = digests;

    /// <param name="sha256Hex">Hex digests, 64 characters each, either case.</param>
    public static Result<ModulePins> Of(IEnumerable<string> sha256Hex)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var d in sha256Hex)
        {
            if (d is null || d.Length != 64 || !d.All(Uri.IsHexDigit))
                return Errors.Of(ErrorCode.InvalidArgument, $"'{d}' is not a SHA-256 digest in hex");
            set.Add(d.ToLowerInvariant());
        }
        return new ModulePins(set);
    }

    public int Count => _digests.Count;

    public IReadOnlyCollection<string> Digests => _digests;

    public static string DigestOf(ReadOnlySpan<byte> image) => Convert.ToHexStringLower(SHA256.HashData(image));

    public bool Allows(string digest) => _digests.Contains(digest);
}
