using System.Security.Cryptography;
using Photon.Kernel;
using Photon.Kernel.FileSystems;

namespace Photon.Cli.Commands;

/// <summary>
/// The destination of `photon fs cp` inside an image: the data goes to a temporary file in the target's directory and
/// is renamed over the target only once every byte is written. A failed copy deletes the temporary file, so neither a
/// partial file nor a 0-byte file is left, the clusters/blocks it took are free again, and an existing target keeps its
/// old contents (unlinking the target on failure could not give that back).
/// ext4's rename replaces an existing target in one step (as rename(2)); FAT's rename refuses an existing name, so there
/// the old file is first renamed aside, the new one takes its name, and only then the old one is deleted — at every
/// step one complete file holds the name or can be put back.
/// </summary>
public sealed class StagedImageFile
{
    private readonly IFileSystem _fs;
    private IFileNode? _node;

    /// <summary>Where the bytes go until <see cref="CommitAsync"/>.</summary>
    public string TemporaryPath { get; }
    public string TargetPath { get; }
    public IFileNode Node => _node ?? throw new InvalidOperationException("the staged file was already committed or removed");

    private readonly bool _replacing;

    private StagedImageFile(IFileSystem fs, string temporaryPath, string targetPath, bool replacing, IFileNode node) =>
        (_fs, TemporaryPath, TargetPath, _replacing, _node) = (fs, temporaryPath, targetPath, replacing, node);

    /// <summary>What a failed copy tells the user about the target.</summary>
    private string TargetOutcome => _replacing ? $"{TargetPath} keeps its old contents" : $"no file was left at {TargetPath}";

    /// <summary>A leftover from a crash is recognisable by this prefix (and the .part/.old suffix).</summary>
    public const string Prefix = ".photon-cp-";

    /// <summary>Creates and opens an empty temporary file next to <paramref name="targetPath"/> (an existing file when <paramref name="replacing"/>).</summary>
    public static async Task<Result<StagedImageFile>> CreateAsync(IFileSystem fs, string targetPath, bool replacing)
    {
        string dir = ParentOf(targetPath);
        for (int attempt = 0; ; attempt++)
        {
            string temp = Sibling(dir, ".part");
            var created = await fs.CreateFileAsync(temp);
            if (created.Code == ErrorCode.AlreadyExists && attempt < 3) continue;
            if (!created.IsOk) return created.Error;
            var opened = await fs.OpenAsync(temp);
            if (opened.IsOk) return new StagedImageFile(fs, temp, targetPath, replacing, opened.Value);
            await fs.DeleteAsync(temp);
            return opened.Error;
        }
    }

    /// <summary>Puts the finished file in place of the target. On failure the temporary file is removed (see <see cref="AbortAsync"/>).</summary>
    public async Task<Result> CommitAsync()
    {
        Close();
        var renamed = await _fs.RenameAsync(TemporaryPath, TargetPath);
        if (renamed.Code == ErrorCode.AlreadyExists) renamed = await ReplaceExistingAsync();
        if (renamed.IsOk) return renamed;
        var failed = renamed.Error;
        var removed = await _fs.DeleteAsync(TemporaryPath);
        return Result.Fail(failed.Code, removed.IsOk
            ? $"{failed.Message}; the copy was removed and {TargetOutcome}"
            : $"{failed.Message}; the copy is left at {TemporaryPath} (removing it failed: {removed.Error})");
    }

    /// <summary>For a filesystem whose rename refuses an existing target (FAT): old aside, new in, old deleted.</summary>
    private async Task<Result> ReplaceExistingAsync()
    {
        string aside = Sibling(ParentOf(TargetPath), ".old");
        var moved = await _fs.RenameAsync(TargetPath, aside);
        if (!moved.IsOk) return moved;
        var renamed = await _fs.RenameAsync(TemporaryPath, TargetPath);
        if (!renamed.IsOk)
        {
            var restored = await _fs.RenameAsync(aside, TargetPath);
            return restored.IsOk ? renamed
                : Result.Fail(renamed.Code, $"{renamed.Error.Message}; the old file is at {aside} (putting it back failed: {restored.Error})");
        }
        var deleted = await _fs.DeleteAsync(aside);
        return deleted.IsOk ? Result.Ok
            : Result.Fail(deleted.Code, $"copied, but the old file could not be removed from {aside}: {deleted.Error.Message}");
    }

    /// <summary>Removes the temporary file after a failed copy and says so in the error it returns.</summary>
    public async Task<Result> AbortAsync(KernelError failure)
    {
        Close();
        var removed = await _fs.DeleteAsync(TemporaryPath);
        return Result.Fail(failure.Code, removed.IsOk
            ? $"{failure.Message}; the partial copy was removed and {TargetOutcome}"
            : $"{failure.Message}; the partial copy is left at {TemporaryPath} (removing it failed: {removed.Error})");
    }

    private void Close()
    {
        _node?.Release();
        _node = null;
    }

    private static string ParentOf(string path) => path.LastIndexOf('/') is var i and > 0 ? path[..i] : "/";

    // Short (the FAT root directory has a fixed number of slots) and random, so two copies into one directory do not collide.
    private static string Sibling(string dir, string suffix) =>
        (dir == "/" ? "/" : dir + "/") + Prefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)) + suffix;
}
