using System.Text.Json;
using VmReplay.Engine.Backend;

namespace VmReplay.Recorder.Tests;

/// <summary>
/// The HEAD payload written member by member is the serializer's output byte for byte, so that
/// traces stay the same files, and it reads back as the same header.
/// </summary>
public class TraceHeaderJsonTests
{
    public static TheoryData<string> Headers() => ["soft", "kvm", "limited", "seen"];

    [Theory]
    [MemberData(nameof(Headers))]
    public void TheWrittenHeaderIsTheSerializersBytes(string which)
    {
        var header = which switch
        {
            "soft" => Soft(),
            "limited" => Soft() with { MaxInstructions = 30_000_000 },
            "seen" => Kvm() with { CpuidSeen = [new CpuidLeaf(1, 0, 0x830F10, 0x800, 0xFED83203, 0x178BFBFF), new CpuidLeaf(0xD, 0, 7, 0x340, 0x340, 0)], MsrExits = TraceHeader.AllMsrsExit },
            _ => Kvm(),
        };
        byte[] expected = JsonSerializer.SerializeToUtf8Bytes(header, new JsonSerializerOptions { WriteIndented = true });
        byte[] written = header.ToJson();
        Assert.Equal(System.Text.Encoding.UTF8.GetString(expected), System.Text.Encoding.UTF8.GetString(written));
        Assert.Equal(expected, written);
        var read = TraceHeader.FromJson(written);
        Assert.Equal(header with { CpuModel = [], CpuidSeen = null }, read with { CpuModel = [], CpuidSeen = null });
        Assert.Equal(header.CpuModel, read.CpuModel);
        Assert.Equal(header.CpuidSeen, read.CpuidSeen);
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

    // Headers as older recorders wrote them and as a damaged or hostile trace may hold them.
    public static TheoryData<string> Payloads()
    {
        string soft = System.Text.Encoding.UTF8.GetString(Soft().ToJson());
        string kvm = System.Text.Encoding.UTF8.GetString(Kvm().ToJson());
        return
        [
            soft,
            kvm,
            // Version 1 and 2: no Backend, Clock or NanosecondsPerInstruction.
            kvm.Replace("\"Backend\": \"kvm\",", "").Replace("\"Clock\": \"host\",", ""),
            soft.Replace("\"Recorder\": \"vmreplay\"", "\"Recorder\": \"vmreplay\", \"Unknown\": [1, {\"a\": null}]"),
            soft.Replace("\"GuestName\": \"vmlinux\"", "\"GuestName\": null"),
            soft.Replace("\"Backend\": \"soft\"", "\"Backend\": null"),
            soft.Replace("\"GuestName\": \"vmlinux\",", "\"GuestName\": \"first\", \"GuestName\": \"second\","),
            soft.Replace("\"guestname\"", "\"x\"").Replace("\"GuestName\"", "\"guestname\""),
            soft.Replace("\"ImageSize\": 35741288", "\"ImageSize\": \"35741288\""),
            soft.Replace("\"NanosecondsPerInstruction\": 10,", "\"NanosecondsPerInstruction\": 10, \"MaxInstructions\": 5,"),
            soft.Replace("\"NanosecondsPerInstruction\": 10,", "\"NanosecondsPerInstruction\": 10, \"MaxInstructions\": \"5\","),
            soft.Replace("\"ImageSize\": 35741288", "\"ImageSize\": 3.5"),
            soft.Replace("\"MemorySize\": 67108864", "\"MemorySize\": -1"),
            soft.Replace("\"VcpuCount\": 1", "\"VcpuCount\": 4294967296"),
            soft.Replace("\"VcpuCount\": 1", "\"VcpuCount\": null"),
            soft.Replace("\"WallClockBase\": \"2000-01-01T00:00:00Z\"", "\"WallClockBase\": \"yesterday\""),
            soft.Replace("\"HostCapabilities\": null", "\"HostCapabilities\": {\"Xsave\": true, \"MaxVcpus\": 7}"),
            soft.Replace("\"HostCapabilities\": null", "\"HostCapabilities\": {\"Xsave\": 1}"),
            soft.Replace("\"HostCapabilities\": null", "\"HostCapabilities\": []"),
            soft.Replace("\"NanosecondsPerInstruction\": 10", "\"NanosecondsPerInstruction\": null"),
            soft.Replace("\"Function\": 13", "\"Function\": -13"),
            soft.Replace("\"CpuModel\": [", "\"CpuModel\": [null, {\"Eax\": 5}, "),
            soft.Replace("\"CpuModel\": [", "\"CpuModel\": [7, "),
            soft.Replace("\"Recorder\":", "\"CpuidSeen\": [{\"Function\": 7, \"Ebx\": 4294967295}], \"Recorder\":"),
            soft.Replace("\"Recorder\":", "\"CpuidSeen\": null, \"Recorder\":"),
            soft.Replace("\"Recorder\":", "\"MsrExits\": \"all\", \"Recorder\":"),
            soft.Replace("\"Recorder\":", "\"MsrExits\": 1, \"Recorder\":"),
            soft.Replace("\"Recorder\":", "\"CpuidSeen\": {}, \"Recorder\":"),
            soft.Replace("\"Recorder\":", "\"CpuidSeen\": [null], \"Recorder\":"),
            soft.Replace("\"Recorder\":", "\"CpuidSeen\": [{\"Eax\": -1}], \"Recorder\":"),
            soft[..soft.IndexOf("\"CpuModel\"")] + "\"CpuModel\": null, \"Recorder\": \"x\"}",
            soft[..soft.IndexOf("\"Cmdline\"")] + "\"Recorder\": \"x\"}",
            soft[..^3],
            soft + ",",
            "null",
            "[]",
            "{}",
            "",
        ];
    }

    /// <summary>A string that is not UTF-8 (found by the trace fuzzer) is refused as the serializer refuses it.</summary>
    [Fact]
    public void AStringThatIsNotUtf8IsRefusedAsJson()
    {
        byte[] json = Soft().ToJson();
        int at = System.Text.Encoding.UTF8.GetString(json).IndexOf("vmlinux", StringComparison.Ordinal);
        json[at] = 0xC3; // a lead byte without its continuation
        Assert.ThrowsAny<JsonException>(() => JsonSerializer.Deserialize<TraceHeader>(json));
        Assert.ThrowsAny<JsonException>(() => TraceHeaderJson.Read(json));
    }

    /// <summary>The hand-written reader reads what the serializer reads, and refuses what it refuses.</summary>
    [Theory]
    [MemberData(nameof(Payloads))]
    public void TheReaderReadsAsTheSerializerDoes(string payload)
    {
        byte[] json = System.Text.Encoding.UTF8.GetBytes(payload);
        TraceHeader? expected = null;
        Exception? refused = null;
        try { expected = JsonSerializer.Deserialize<TraceHeader>(json) ?? throw new JsonException("the header is null"); }
        catch (JsonException e) { refused = e; }
        if (refused is not null)
        {
            Assert.ThrowsAny<JsonException>(() => TraceHeaderJson.Read(json));
            return;
        }
        var read = TraceHeaderJson.Read(json);
        Assert.Equal(expected! with { CpuModel = [], CpuidSeen = null }, read with { CpuModel = [], CpuidSeen = null });
        Assert.Equal(expected!.CpuModel, read.CpuModel);
        Assert.Equal(expected.CpuidSeen, read.CpuidSeen);
    }

    [Fact]
    public void TheWarmUpReadsAWholeHeader() => Assert.True(TraceHeader.WarmUp());

    /// <summary>The leaves a KVM guest saw otherwise than its model are checked as the model's are, and MsrExits has one value.</summary>
    [Fact]
    public void ANullOrOversizedCpuidSeenIsRefusedNamingIt()
    {
        Assert.Null(Kvm().Problem());
        Assert.Equal("CpuidSeen leaf 1 is null", (Kvm() with { CpuidSeen = [new CpuidLeaf(1, 0, 0, 0, 0, 0), null!] }).Problem());
        var many = Enumerable.Range(0, TraceHeader.MaxCpuidLeaves + 1).Select(i => new CpuidLeaf((uint)i, 0, 0, 0, 0, 0)).ToArray();
        Assert.Equal($"CpuidSeen has {many.Length} leaves, more than {TraceHeader.MaxCpuidLeaves}", (Kvm() with { CpuidSeen = many }).Problem());
        Assert.Null((Kvm() with { MsrExits = "all" }).Problem());
        Assert.Equal("MsrExits 'most' is not all", (Kvm() with { MsrExits = "most" }).Problem());
    }
}
