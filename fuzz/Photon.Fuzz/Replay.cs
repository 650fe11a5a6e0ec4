namespace Photon.Fuzz;

/// <summary>Runs saved inputs (a seed corpus, AFL's queue or its crashes) without AFL: the CI smoke and triage.</summary>
public static class Replay
{
    public static int Run(IFuzzTarget target, string path)
    {
        var files = Directory.Exists(path) ? Directory.GetFiles(path, "*", SearchOption.AllDirectories).Order().ToArray() : [path];
        int crashed = 0;
        foreach (var file in files)
        {
            try { target.Run(File.ReadAllBytes(file)); }
            catch (Exception e)
            {
                crashed++;
                Console.Error.WriteLine($"{target.Name}: {file}: {e}");
            }
        }
        Console.WriteLine($"{target.Name}: replayed {files.Length} inputs, {crashed} crashed");
        return crashed == 0 ? 0 : 1;
    }
}
