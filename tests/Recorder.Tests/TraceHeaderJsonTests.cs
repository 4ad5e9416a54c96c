using System.Text.Json;
using VmReplay.Engine.KvmBackend;

namespace VmReplay.Recorder.Tests;

/// <summary>
/// The HEAD payload written member by member is the serializer's output byte for byte, so that
/// traces stay the same files, and it reads back as the same header.
/// </summary>
public class TraceHeaderJsonTests
{
    public static TheoryData<string> Headers() => ["soft", "kvm"];

    [Theory]
    [MemberData(nameof(Headers))]
    public void TheWrittenHeaderIsTheSerializersBytes(string which)
    {
        var header = which == "soft" ? Soft() : Kvm();
        byte[] expected = JsonSerializer.SerializeToUtf8Bytes(header, new JsonSerializerOptions { WriteIndented = true });
        byte[] written = header.ToJson();
        Assert.Equal(System.Text.Encoding.UTF8.GetString(expected), System.Text.Encoding.UTF8.GetString(written));
        Assert.Equal(expected, written);
        var read = TraceHeader.FromJson(written);
        Assert.Equal(header with { CpuModel = [] }, read with { CpuModel = [] });
        Assert.Equal(header.CpuModel, read.CpuModel);
    }

    // A software-CPU recording: virtual clock, no initrd, no KVM capabilities.
    private static TraceHeader Soft() => new()
    {
        GuestName = "vmlinux",
        ImageSha256 = new string('a', 64),
        ImageSize = 35741288,
        MemorySize = 64UL << 20,
        VcpuCount = 1,
        Cmdline = "console=ttyS0 earlyprintk=serial,ttyS0 rodata=off nolapic panic=-1",
        WallClockBase = new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc),
        HostKernel = "6.18.44",
        Backend = "soft",
        Clock = "virtual",
        NanosecondsPerInstruction = 10,
        CpuModel = [new CpuidLeaf(0, 0, 7, 0x756E6547, 0x6C65746E, 0x49656E69), new CpuidLeaf(0xD, 1, 0, 0, uint.MaxValue, 0)],
    };

    // A KVM recording: host clock with a fractional wall-clock base, an initrd, capabilities,
    // and strings the serializer escapes.
    private static TraceHeader Kvm() => new()
    {
        GuestName = "bz\"Image\u00e9<&>'+",
        ImageSha256 = new string('b', 64),
        ImageSize = 922624,
        InitrdName = "init\trd.cpio",
        InitrdSha256 = new string('c', 64),
        InitrdSize = 12345,
        MemorySize = 5UL << 30,
        VcpuCount = 2,
        Cmdline = "console=ttyS0 init=/bin/sh \"quoted\" \\ back\\slash \u2603",
        WallClockBase = new DateTime(2026, 12, 3, 2, 41, 7, DateTimeKind.Utc).AddTicks(1234560),
        HostKernel = "6.1.0-28-amd64",
        HostCapabilities = new HostCapabilities(true, true, false, true, true, false, true, true, false, true, 1024),
        CpuModel = [],
    };
}
