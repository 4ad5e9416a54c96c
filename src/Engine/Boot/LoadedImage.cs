namespace VmReplay.Engine.Boot;

/// <summary>What a loader placed in the guest: the format, the entry point and the physical range the image occupies.</summary>
public sealed record LoadedImage(BootImageFormat Format, ulong Entry, ulong LowestAddress, ulong HighestAddress);
