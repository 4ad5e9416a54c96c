using VmReplay.Engine.KvmBackend;
using VmReplay.Engine.Backend;
using VmReplay.Devices.Platform;
using VmReplay.Engine.Determinism;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Run;
using VmReplay.Engine.Vm;
using VmReplay.Recorder.Format;
using VmReplay.Recorder.Snapshots;

namespace VmReplay.Recorder.Tests;

public sealed class SnapshotCodecTests
{
    private sealed class FixedClock : IEngineClock
    {
        public long ReadNanoseconds() => 123_456;
        public DateTime WallClockBase => new(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc);
    }

    private sealed class NoInput : ISerialInput
    {
        public bool TryRead(out byte value) { value = 0; return false; }
    }

    private static Snapshot Sample(int pages)
    {
        var platform = new PcPlatform(new FixedClock(), new NoInput(), _ => { }, 64 << 20);
        platform.PortWrite(0x43, [0x34]); // PIT channel 0, mode 2
        platform.PortWrite(0x40, [0x9C]);
        platform.PortWrite(0x40, [0x2E]);
        platform.PortWrite(0x21, [0xFE]);
        var vcpu = new VcpuState();
        vcpu.Regs.Rax = 0x1122_3344_5566_7788;
        vcpu.Regs.Rip = 0x10_0000;
        vcpu.Sregs.Cr0 = 0x11;
        vcpu.Msrs[0x174] = 8;
        vcpu.Msrs[0xC0000082] = 0xFFFF_8000_0000_1000;
        var gpas = Enumerable.Range(0, pages).Select(i => (ulong)i * 4096 * 3).ToArray();
        var data = new byte[pages * 4096];
        for (int i = 0; i < data.Length; i += 97) data[i] = (byte)(i / 97);
        return new Snapshot(SnapshotKind.Incremental, 4242, 17, 99_000_000, PageSetHash.Of(gpas, data, TraceFormat.PageHashOf(TraceFormat.Version)),
            new MachineState(vcpu, platform.SaveState(), new RunnerCounters(17, 3, 2)), [0x1000, 0x5000], gpas, data);
    }

    [Fact]
    public void ASnapshotRoundTripsWithItsPagesAndState()
    {
        var s = Sample(600); // more than two LZ4 blocks
        var payload = SnapshotCodec.Encode(s);
        Assert.True(payload.Length < s.PageData.Length / 2, "pages are compressed");
        var back = SnapshotCodec.Decode(payload, withPages: true);
        Assert.Equal(s.Kind, back.Kind);
        Assert.Equal(s.EventIndex, back.EventIndex);
        Assert.Equal(s.ExitCount, back.ExitCount);
        Assert.Equal(s.EngineNanoseconds, back.EngineNanoseconds);
        Assert.Equal(s.MemoryHash, back.MemoryHash);
        Assert.Equal(s.Pages, back.Pages);
        Assert.Equal(s.ServicePages, back.ServicePages);
        Assert.Equal(s.PageData, back.PageData);
        Assert.Equal(s.Machine.Counters, back.Machine.Counters);
        Assert.Equal(VcpuStateCodec.Encode(s.Machine.Vcpu), VcpuStateCodec.Encode(back.Machine.Vcpu));
        Assert.Equal(0xFFFF_8000_0000_1000, back.Machine.Vcpu.Msrs[0xC0000082]);

        // The device state restores into a fresh board and saves back identically.
        var platform = new PcPlatform(new FixedClock(), new NoInput(), _ => { }, 64 << 20);
        platform.RestoreState(back.Machine.Platform);
        var json = System.Text.Json.JsonSerializer.Serialize(platform.SaveState(), new System.Text.Json.JsonSerializerOptions { IncludeFields = true });
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(s.Machine.Platform, new System.Text.Json.JsonSerializerOptions { IncludeFields = true }), json);
    }

    [Fact]
    public void ASnapshotWithoutPagesTakesNoBlockBufferAndOnesAfterItStillRoundTrip()
    {
        // A recording's incremental snapshots of an idle guest hold no page: each allocated a
        // block buffer of 1 MB, on the large-object heap, and every few of them set off a full
        // collection that paused the vCPU thread.
        var empty = Sample(0);
        SnapshotCodec.Encode(empty);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var payload = SnapshotCodec.Encode(empty);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 256 << 10, $"no block buffer for no pages ({allocated} bytes allocated)");
        Assert.Empty(SnapshotCodec.Decode(payload, withPages: true).PageData);
        // The buffer a snapshot with pages borrows comes back for the next, whatever their sizes.
        foreach (int pages in new[] { 600, 3, 257, 0, 600 })
        {
            var s = Sample(pages);
            Assert.Equal(s.PageData, SnapshotCodec.Decode(SnapshotCodec.Encode(s), withPages: true).PageData);
        }
    }

    [Fact]
    public void WithoutPagesOnlyTheHeaderAndStateAreDecoded()
    {
        var back = SnapshotCodec.Decode(SnapshotCodec.Encode(Sample(10)), withPages: false);
        Assert.Equal(10, back.Pages.Length);
        Assert.Empty(back.PageData);
    }

    [Fact]
    public void AStoredSnapshotKeepsItsDeviceStateAsRecordedAndDecodesItOnDemand()
    {
        var s = Sample(10);
        var payload = SnapshotCodec.Encode(s);
        var stored = SnapshotCodec.DecodeStored(payload, withPages: true, 64 << 20, TraceFormat.Version);
        var full = SnapshotCodec.Decode(payload, withPages: true);
        Assert.Equal((full.Kind, full.EventIndex, full.ExitCount, full.EngineNanoseconds, full.MemoryHash), (stored.Kind, stored.EventIndex, stored.ExitCount, stored.EngineNanoseconds, stored.MemoryHash));
        Assert.Equal(full.Pages, stored.Pages);
        Assert.Equal(full.PageData, stored.PageData);
        Assert.Equal(VcpuStateCodec.Encode(full.Machine.Vcpu), VcpuStateCodec.Encode(stored.Vcpu));
        // The recorded bytes are the board and counters as the writer writes them, and decode to them.
        Assert.True(SnapshotCodec.SameDeviceState(s.Machine.Platform, s.Machine.Counters, stored.DeviceState));
        var decoded = SnapshotCodec.MachineStateOf(stored);
        Assert.True(SnapshotCodec.SameDeviceStates(s.Machine.Platform, decoded.Platform));
        Assert.Equal(s.Machine.Counters, decoded.Counters);
        // Any device or counter otherwise is another state.
        var pic = s.Machine.Platform.Pic;
        Assert.False(SnapshotCodec.SameDeviceState(s.Machine.Platform with { Pic = pic with { Master = pic.Master with { Imr = 0xFF } } }, s.Machine.Counters, stored.DeviceState));
        Assert.False(SnapshotCodec.SameDeviceState(s.Machine.Platform, s.Machine.Counters with { ExitCount = 18 }, stored.DeviceState));
        Assert.False(SnapshotCodec.SameDeviceState(s.Machine.Platform, s.Machine.Counters with { Instructions = 5 }, stored.DeviceState));
    }

    [Fact]
    public void ADeviceStateThatDoesNotDecodeIsFoundWhenItIsDecoded()
    {
        // A stored snapshot checks its device state only to be there; decoding it names what is wrong.
        var payload = SnapshotCodec.Encode(Sample(3));
        int vcpu = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(payload.AsSpan(48));
        payload[48 + 4 + vcpu + 4] = (byte)'[';
        var stored = SnapshotCodec.DecodeStored(payload, withPages: true, 64 << 20, TraceFormat.Version);
        Assert.Contains("device state does not decode", Assert.Throws<FormatException>(() => SnapshotCodec.MachineStateOf(stored)).Message);
        Assert.Contains("device state does not decode", Assert.Throws<FormatException>(() => SnapshotCodec.Decode(payload, true)).Message);
    }

    [Fact]
    public void MalformedPayloadsAreFormatErrorsNamingWhatIsWrong()
    {
        var payload = SnapshotCodec.Encode(Sample(300));
        Assert.Contains("shorter than its header", Assert.Throws<FormatException>(() => SnapshotCodec.Decode(payload.AsSpan(0, 20), true)).Message);
        var badKind = (byte[])payload.Clone();
        badKind[0] = 9;
        Assert.Contains("unknown snapshot kind 9", Assert.Throws<FormatException>(() => SnapshotCodec.Decode(badKind, true)).Message);
        Assert.Contains("ends inside", Assert.Throws<FormatException>(() => SnapshotCodec.Decode(payload.AsSpan(0, payload.Length - 10), true)).Message);
        var badPage = (byte[])payload.Clone();
        badPage[^5] ^= 0x55; // inside the last LZ4 block
        Assert.ThrowsAny<Exception>(() => SnapshotCodec.Decode(badPage, true));
    }

    [Fact]
    public void AVcpuStateOfAnotherLayoutIsRefused()
    {
        var bytes = VcpuStateCodec.Encode(new VcpuState());
        bytes[0] ^= 0x04; // the kvm_regs size
        Assert.Contains("kvm_regs", Assert.Throws<FormatException>(() => VcpuStateCodec.Decode(bytes)).Message);
    }

    [Theory]
    [InlineData("50ms", 50_000_000L, null)]
    [InlineData("1s", 1_000_000_000L, null)]
    [InlineData("250us", 250_000L, null)]
    [InlineData("5000", null, 5000L)]
    [InlineData("off", null, null)]
    public void SnapshotIntervalsParse(string text, long? ns, long? exits)
    {
        var p = SnapshotPolicy.Parse(text);
        Assert.Equal(ns, p.Nanoseconds);
        Assert.Equal(exits, p.Exits);
    }

    [Theory]
    [InlineData("fast")]
    [InlineData("-5")]
    [InlineData("ms")]
    [InlineData("1.5")]
    public void BadSnapshotIntervalsAreRefused(string text) =>
        Assert.Contains("not a snapshot interval", Assert.Throws<FormatException>(() => SnapshotPolicy.Parse(text)).Message);

    [Fact]
    public void SnapshotsEncodedOneAfterAnotherIntoTheSameBuffersAreEachEncodedAsAlone()
    {
        // The recording's writer reuses its buffers from snapshot to snapshot: a bigger snapshot
        // first, then a smaller one, must leave nothing of the first in the second.
        var payload = new System.Buffers.ArrayBufferWriter<byte>();
        var scratch = new System.Buffers.ArrayBufferWriter<byte>();
        foreach (var s in new[] { Sample(600), Sample(3), Sample(0), Sample(300) })
        {
            payload.ResetWrittenCount();
            SnapshotCodec.Encode(s, payload, scratch);
            Assert.Equal(SnapshotCodec.Encode(s), payload.WrittenSpan.ToArray());
        }
    }

    [Fact]
    public void AVcpuStateIsTheSizeItSaysAndComparesByItsEncoding()
    {
        var a = Sample(0).Machine.Vcpu;
        var b = SnapshotCodec.Decode(SnapshotCodec.Encode(Sample(0)), withPages: false).Machine.Vcpu;
        Assert.Equal(VcpuStateCodec.Encode(a).Length, VcpuStateCodec.EncodedSize(a));
        Assert.True(VcpuStateCodec.SameEncoding(a, b));
        b.Msrs[0x174] = 9;
        Assert.False(VcpuStateCodec.SameEncoding(a, b));
        b.Msrs[0x174] = 8;
        b.Msrs[0x175] = 0;
        Assert.False(VcpuStateCodec.SameEncoding(a, b));
        b.Msrs.Remove(0x175);
        b.Regs.Rip++;
        Assert.False(VcpuStateCodec.SameEncoding(a, b));
    }
}
