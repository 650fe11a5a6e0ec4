global using Photon.Kernel;
