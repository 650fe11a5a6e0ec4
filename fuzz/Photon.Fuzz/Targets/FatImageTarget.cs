using Photon.FileSystems.Fat;

namespace Photon.Fuzz.Targets;

/// <summary>A FAT12/16/32 image: mount and every operation (seeds: fuzz/corpus/fat, small mkfs.fat/mtools images).</summary>
public sealed class FatImageTarget : IFuzzTarget
{
    public string Name => "fat";

    public void Run(byte[] input) => FileSystemExercise.Run(new FatFileSystemDriver(), input);
}
