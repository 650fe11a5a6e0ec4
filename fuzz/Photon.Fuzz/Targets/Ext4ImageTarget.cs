using Photon.FileSystems.Ext4;

namespace Photon.Fuzz.Targets;

/// <summary>An ext2/3/4 image, journal included: mount (which replays a journal that needs recovery) and every
/// operation. Seeds: fuzz/corpus/ext4 (small mke2fs images; one with a debugfs-written dirty journal).</summary>
public sealed class Ext4ImageTarget : IFuzzTarget
{
    public string Name => "ext4";

    public void Run(byte[] input) => FileSystemExercise.Run(new Ext4FileSystemDriver(), input);
}
