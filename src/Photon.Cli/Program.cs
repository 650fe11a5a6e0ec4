using Photon.Cli;

return await CliApp.RunAsync(args);
