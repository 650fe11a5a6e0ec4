namespace Photon.TestModule.Helper;

public static class StatusText
{
    public static string For(string module) => $"{module} module running";
}
