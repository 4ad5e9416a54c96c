namespace VmReplay.Engine.Boot;

/// <summary>A guest image cannot be booted; the message names the file and what is wrong with it.</summary>
public sealed class GuestImageException(string message) : Exception(message);
