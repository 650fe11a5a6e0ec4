using Photon.Kernel;
using Photon.Kernel.Capabilities;

namespace Photon.Cli.Shell;

/// <summary>Rights as the shell reads them: names joined by '|' or ',' ("read|enumerate"), "all", or "ro"/"rw".</summary>
public static class ShellRights
{
    public static Result<Rights> Parse(string text)
    {
        switch (text)
        {
            case "ro": return Rights.Read | Rights.Enumerate;
            case "rw": return Rights.Read | Rights.Enumerate | Rights.Write | Rights.Create | Rights.Delete;
            case "all": return Rights.All;
        }
        var rights = Rights.None;
        foreach (var part in text.Split('|', ','))
        {
            if (!Enum.TryParse<Rights>(part, ignoreCase: true, out var r) || !Enum.IsDefined(r) || int.TryParse(part, out _))
                return Errors.Of(ErrorCode.InvalidArgument, $"unknown right '{part}' (rights: {string.Join(", ", Enum.GetNames<Rights>())}, or ro, rw, all)");
            rights |= r;
        }
        return rights;
    }
}
