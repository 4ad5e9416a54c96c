namespace VmReplay.Engine.Boot;

/// <summary>
/// What a loader placed in the guest: the format, the entry point, the physical range the image
/// occupies (for a bzImage, up to the end of the memory it decompresses into) and the initrd, if any.
/// </summary>
public sealed record LoadedImage(BootImageFormat Format, ulong Entry, ulong LowestAddress, ulong HighestAddress, ulong InitrdAddress = 0, ulong InitrdSize = 0);
