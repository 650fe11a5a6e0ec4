using Photon.Kernel;
using Photon.Kernel.Boot;
using Photon.Kernel.Capabilities;
using Photon.Kernel.FileSystems;

namespace Photon.Cli.Vm;

/// <summary>Whole-file read and write through the kernel's file syscalls, as a tenant process does them.</summary>
public static class VmFiles
{
    public static async Task<Result<byte[]>> ReadAllAsync(PhotonKernel k, Kernel.Processes.Process p, string path)
    {
        var files = k.Sys.Files!;
        var h = await files.OpenAsync(p, path, Rights.Read);
        if (!h.IsOk) return h.Error;
        try
        {
            var data = new MemoryStream();
            var buf = new byte[65536];
            while (true)
            {
                var n = await files.ReadAsync(p, h.Value, data.Length, buf);
                if (!n.IsOk) return n.Error;
                if (n.Value == 0) return data.ToArray();
                data.Write(buf, 0, n.Value);
            }
        }
        finally { files.Close(p, h.Value); }
    }

    public static async Task<Result> WriteAllAsync(PhotonKernel k, Kernel.Processes.Process p, string path, byte[] data)
    {
        var files = k.Sys.Files!;
        var h = await files.OpenAsync(p, path, Rights.Read | Rights.Write, OpenFlags.Create);
        if (!h.IsOk) return h.Error;
        try
        {
            var w = await files.WriteAsync(p, h.Value, 0, data);
            return w.IsOk ? await files.FlushAsync(p, h.Value) : w;
        }
        finally { files.Close(p, h.Value); }
    }
}
