using VmReplay.Engine.Backend;

namespace VmReplay.Recorder.Tests;

/// <summary>A valid trace header for an image (and initrd) written by a test, as a reader accepts it.</summary>
internal static class TestHeaders
{
    public static TraceHeader For(byte[] image, byte[]? initrd = null) => new()
    {
        GuestName = "kernel", ImageSha256 = EmbeddedFile.Sha256(image), ImageSize = image.Length,
        InitrdName = initrd is null ? null : "initrd.cpio",
        InitrdSha256 = initrd is null ? null : EmbeddedFile.Sha256(initrd),
        InitrdSize = initrd?.Length,
        MemorySize = 64 << 20, VcpuCount = 1, Cmdline = "console=ttyS0",
        WallClockBase = DateTime.UnixEpoch, HostKernel = "test", CpuModel = [],
        HostCapabilities = new HostCapabilities(default, default, default, default, default, default, default, default, default, default, 1),
    };
}
