using System.Buffers;
using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using K4os.Compression.LZ4;
using VmReplay.Devices.Platform;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Run;
using VmReplay.Recorder.Format;

namespace VmReplay.Recorder.Snapshots;

/// <summary>The SNAP chunk payload (traces/FORMAT.md, "SNAP payload"): a fixed header, the vCPU and device state, page lists, then the pages in LZ4 blocks.</summary>
public static class SnapshotCodec
{
    /// <summary>Pages per LZ4 block: big enough to compress well, small enough to decode a few pages cheaply.</summary>
    public const int PagesPerBlock = 256;
    private const int PageSize = (int)GuestMemory.PageSize;
    private const int HeaderSize = 48;

    /// <summary>
    /// The reflection-based serializer's options that spell device state as a snapshot does: what
    /// the tests hold <see cref="DeviceStateJsonWriter"/> and the readers to. The tool itself uses
    /// neither (its native build has no reflection-based serializer).
    /// </summary>
    public static readonly JsonSerializerOptions DeviceStateJson = new() { IncludeFields = true };

    /// <summary>
    /// Whether two boards' device states are the same: their JSON, as a snapshot holds it,
    /// compared byte for byte, without cutting it into devices as <see cref="DeviceStates"/>
    /// does to name the one that differs.
    /// </summary>
    public static bool SameDeviceStates(PcPlatformState a, PcPlatformState b)
    {
        // Into buffers of this thread's, kept: a replay compares the boards at every snapshot.
        var (left, right) = (t_left ??= new(), t_right ??= new());
        left.ResetWrittenCount();
        right.ResetWrittenCount();
        DeviceStateJsonWriter.Write(a, left);
        DeviceStateJsonWriter.Write(b, right);
        return left.WrittenSpan.SequenceEqual(right.WrittenSpan);
    }

    [ThreadStatic] private static ArrayBufferWriter<byte>? t_left, t_right;

    /// <summary>
    /// Whether a board and run-loop counters, written as a snapshot writes them, are byte for byte
    /// <paramref name="recorded"/> (a <see cref="StoredSnapshot.DeviceState"/>). Different bytes
    /// need not be a different state: a snapshot an older build wrote may spell the same one otherwise.
    /// </summary>
    public static bool SameDeviceState(PcPlatformState platform, RunnerCounters counters, ReadOnlySpan<byte> recorded)
    {
        var live = t_left ??= new();
        live.ResetWrittenCount();
        DeviceStateJsonWriter.Write(new MachinePart(platform, counters), live);
        return live.WrittenSpan.SequenceEqual(recorded);
    }

    /// <summary>A snapshot's device state from its JSON; throws <see cref="JsonException"/> when it does not decode.</summary>
    internal static MachinePart? ReadDeviceState(ReadOnlySpan<byte> json)
    {
        // What the hand-written reader reads has every device (each is an object it reads).
        if (DeviceStateJsonReader.TryRead(json) is { } read) return read;
        MachinePart? part;
        try { part = JsonSerializer.Deserialize(json, SerializerReading.CompleteMachine); }
        catch (JsonException)
        {
            // A snapshot written before a member existed: the member's declared default, as the
            // state's constructor gives it, stands in for it.
            try
            {
                var node = JsonNode.Parse(json) ?? throw new JsonException("the device state is null");
                DeclaredDefaults.Fill(node, SerializerReading.Defaults.Value);
                part = node.Deserialize(SerializerReading.CompleteMachine);
            }
            // A parsed document turns a name or a string into UTF-16 only when asked for it, and
            // says that its UTF-8 is invalid with the first; an object made of it refuses a member
            // given twice with the second (the serializer takes the last).
            catch (Exception e) when (e is InvalidOperationException or ArgumentException)
            {
                throw new JsonException($"the device state is not valid JSON text or gives a member twice: {e.Message}", e);
            }
        }
        if (part?.Platform is { } platform && SerializerReading.PlatformDevices.FirstOrDefault(d => d.GetValue(platform) is null) is { } missing)
            throw new JsonException($"the board lacks its {missing.Name} device");
        return part;
    }

    /// <summary>Each device's name and state as JSON (what a report or a debugger shows of it).</summary>
    public static IEnumerable<(string Name, string Json)> DeviceStates(PcPlatformState state)
    {
        // The board's JSON as a snapshot holds it, cut at each device: the writer snapshots use,
        // with no serializer metadata to build (the generated metadata took 25 ms of CPU).
        using var board = JsonDocument.Parse(DeviceStateJsonWriter.Write(state));
        var devices = new List<(string Name, string Json)>();
        foreach (var device in board.RootElement.EnumerateObject()) devices.Add((device.Name, device.Value.GetRawText()));
        return devices;
    }

    // What the serializer needs to read a snapshot the hand-written reader declines, built the
    // first time one is: as SnapshotCodec's own static fields they were built by every replay's
    // first decode (the generated context's construction and the options' metadata, 5 to 8 ms of
    // CPU in a profile of bench-exits' replay, for snapshots this build wrote, which never use them).
    private static class SerializerReading
    {
        // A snapshot this build wrote is read by DeviceStateJsonReader, which builds no serializer
        // metadata. One it declines is read by the generated reader, which requires every member:
        // it gives a member the JSON lacks default(T), not its declared default (dotnet/runtime#84484:
        // a PIT channel's Gate would read false), so a snapshot written before a member existed is
        // completed with the declared defaults first (DeclaredDefaults; the reflection-based
        // reader, which kept them, does not exist in the native build).
        public static readonly JsonSerializerOptions Complete = new()
        {
            IncludeFields = true,
            TypeInfoResolver = DeviceStateJsonContext.Default.WithAddedModifier(static type =>
            {
                foreach (var member in type.Properties) member.IsRequired = true;
            }),
        };

        public static readonly JsonTypeInfo<MachinePart> CompleteMachine = (JsonTypeInfo<MachinePart>)Complete.GetTypeInfo(typeof(MachinePart));

        // Every member of the device state with its declared default, written as snapshots write
        // it: what a snapshot from before a member existed takes for it.
        public static readonly Lazy<JsonNode> Defaults = new(() => JsonNode.Parse(DeviceStateJsonWriter.Write(new MachinePart(
            new PcPlatformState
            {
                Pic = new(), Com1 = new(), Pit = new() { Channels = [new()] }, PortB = new(), Rtc = new(), Keyboard = new(), DebugExit = new(), Post = new(), Pci = new(),
            },
            new RunnerCounters(0, 0, 0))))!);

        // The devices of the board, for the check that a snapshot the serializer read has each.
        // Found by reflection, not as the platform's serializer metadata, which took 16 ms of CPU
        // to build for nothing but this list.
        public static readonly System.Reflection.PropertyInfo[] PlatformDevices = typeof(PcPlatformState).GetProperties();
    }

    internal sealed record MachinePart(PcPlatformState Platform, RunnerCounters Counters);

    public static byte[] Encode(Snapshot s)
    {
        var payload = new ArrayBufferWriter<byte>(s.PageData.Length / 2 + 4096);
        Encode(s, payload, new ArrayBufferWriter<byte>());
        return payload.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Appends <paramref name="s"/>'s payload to <paramref name="into"/>, with
    /// <paramref name="scratch"/> (emptied first) holding the device state meanwhile: the
    /// recording's writer encodes every snapshot into the same two buffers. A payload built in a
    /// growing stream and copied out left 70 KB behind for each snapshot of bench-exits, whose
    /// eleven set off the recording's one collection (5 to 6 ms with every thread stopped).
    /// </summary>
    public static void Encode(Snapshot s, IBufferWriter<byte> into, ArrayBufferWriter<byte> scratch)
    {
        var h = into.GetSpan(HeaderSize)[..HeaderSize];
        h.Clear();
        h[0] = (byte)s.Kind;
        BinaryPrimitives.WriteInt64LittleEndian(h[8..], s.EventIndex);
        BinaryPrimitives.WriteInt64LittleEndian(h[16..], s.ExitCount);
        BinaryPrimitives.WriteInt64LittleEndian(h[24..], s.EngineNanoseconds);
        BinaryPrimitives.WriteUInt64LittleEndian(h[32..], s.MemoryHash);
        BinaryPrimitives.WriteInt32LittleEndian(h[40..], s.Pages.Length);
        into.Advance(HeaderSize);
        int vcpu = VcpuStateCodec.EncodedSize(s.Machine.Vcpu);
        var blob = into.GetSpan(4 + vcpu);
        BinaryPrimitives.WriteInt32LittleEndian(blob, vcpu);
        VcpuStateCodec.Write(s.Machine.Vcpu, blob[4..]);
        into.Advance(4 + vcpu);
        scratch.ResetWrittenCount();
        DeviceStateJsonWriter.Write(new MachinePart(s.Machine.Platform, s.Machine.Counters), scratch);
        PutBlob(into, scratch.WrittenSpan);
        PutAddresses(into, s.ServicePages);
        PutAddresses(into, s.Pages);
        for (int first = 0; first < s.Pages.Length; first += PagesPerBlock)
        {
            // Compressed straight into the payload: the block's length goes in front of it.
            int count = Math.Min(PagesPerBlock, s.Pages.Length - first);
            var block = into.GetSpan(4 + LZ4Codec.MaximumOutputSize(count * PageSize));
            int length = LZ4Codec.Encode(s.PageData.AsSpan(first * PageSize, count * PageSize), block[4..]);
            BinaryPrimitives.WriteInt32LittleEndian(block, length);
            into.Advance(4 + length);
        }
    }

    /// <summary>Decodes a SNAP payload this version writes, without knowing the machine's RAM size (<see cref="Decode(ReadOnlySpan{byte}, bool, ulong, uint)"/>).</summary>
    public static Snapshot Decode(ReadOnlySpan<byte> payload, bool withPages) => Decode(payload, withPages, TraceHeader.MaxMemorySize, TraceFormat.Version);

    /// <summary>
    /// Decodes a SNAP payload of a machine with <paramref name="memorySize"/> bytes of RAM, from a
    /// trace of format <paramref name="formatVersion"/> (which says how its memory hash is made);
    /// the pages are decompressed only when <paramref name="withPages"/>. Throws
    /// <see cref="FormatException"/> on a malformed payload, before allocating for what it lacks.
    /// </summary>
    public static Snapshot Decode(ReadOnlySpan<byte> payload, bool withPages, ulong memorySize, uint formatVersion)
    {
        var stored = DecodeStored(payload, withPages, memorySize, formatVersion);
        return new Snapshot(stored.Kind, stored.EventIndex, stored.ExitCount, stored.EngineNanoseconds, stored.MemoryHash,
            MachineStateOf(stored), stored.ServicePages, stored.Pages, stored.PageData);
    }

    /// <summary>
    /// The machine state <paramref name="s"/> holds, its device state decoded; throws
    /// <see cref="FormatException"/> when that does not decode.
    /// </summary>
    public static MachineState MachineStateOf(StoredSnapshot s)
    {
        MachinePart machine;
        try { machine = ReadDeviceState(s.DeviceState) ?? throw new FormatException("empty device state"); }
        catch (JsonException e) { throw new FormatException($"device state does not decode: {e.Message.ReplaceLineEndings(" ")}"); }
        if (machine.Platform is null) throw new FormatException("device state lacks its Platform");
        return new MachineState(s.Vcpu, machine.Platform, machine.Counters);
    }

    /// <summary>
    /// As <see cref="Decode(ReadOnlySpan{byte}, bool, ulong, uint)"/>, but for the device state,
    /// which is checked only to be there and is kept as recorded.
    /// </summary>
    public static StoredSnapshot DecodeStored(ReadOnlySpan<byte> payload, bool withPages, ulong memorySize, uint formatVersion)
    {
        if (payload.Length < HeaderSize) throw new FormatException("snapshot shorter than its header");
        var kind = (SnapshotKind)payload[0];
        if (kind is not (SnapshotKind.Full or SnapshotKind.Incremental)) throw new FormatException($"unknown snapshot kind {payload[0]}");
        long eventIndex = BinaryPrimitives.ReadInt64LittleEndian(payload[8..]);
        long exitCount = BinaryPrimitives.ReadInt64LittleEndian(payload[16..]);
        long engineNs = BinaryPrimitives.ReadInt64LittleEndian(payload[24..]);
        ulong memoryHash = BinaryPrimitives.ReadUInt64LittleEndian(payload[32..]);
        int pageCount = BinaryPrimitives.ReadInt32LittleEndian(payload[40..]);
        if (eventIndex < 0 || exitCount < 0) throw new FormatException($"snapshot at event {eventIndex}, exit {exitCount}: neither may be negative");
        // Every page is a distinct page of RAM, and the pages are one array.
        ulong maxPages = Math.Min(memorySize / PageSize, (ulong)Array.MaxLength / PageSize);
        if (pageCount < 0 || (ulong)pageCount > maxPages) throw new FormatException($"snapshot header says {pageCount} pages, outside 0..{maxPages} for {memorySize} bytes of RAM");
        int at = HeaderSize;
        var vcpu = VcpuStateCodec.Decode(GetBlob(payload, ref at, "vCPU state"));
        var deviceState = GetBlob(payload, ref at, "device state").ToArray();
        var servicePages = GetAddresses(payload, ref at, "service pages");
        var pages = GetAddresses(payload, ref at, "pages");
        if (pages.Length != pageCount) throw new FormatException($"snapshot header says {pageCount} pages, its list holds {pages.Length}");
        for (int i = 1; i < pages.Length; i++)
            if (pages[i] <= pages[i - 1]) throw new FormatException($"page {i} ({pages[i]:x}) does not follow page {i - 1} ({pages[i - 1]:x}) in ascending order");
        byte[] data = [];
        if (withPages)
        {
            // Every block is located first: the page data is allocated only for blocks that are there.
            var blocks = new List<(int Start, int Length)>();
            for (int first = 0; first < pages.Length; first += PagesPerBlock)
            {
                int count = Math.Min(PagesPerBlock, pages.Length - first);
                var block = GetBlob(payload, ref at, $"page block {first / PagesPerBlock}");
                // LZ4 turns a byte into at most 255: a shorter block cannot hold its pages.
                if ((long)block.Length * MaxLz4Expansion < (long)count * PageSize)
                    throw new FormatException($"page block {first / PagesPerBlock} is {block.Length} bytes, too short for {count} pages");
                blocks.Add((at - block.Length, block.Length));
            }
            // Every byte is written by the blocks, each checked to decode to its full length.
            data = GC.AllocateUninitializedArray<byte>(pages.Length * PageSize);
            for (int b = 0; b < blocks.Count; b++)
            {
                int first = b * PagesPerBlock;
                int count = Math.Min(PagesPerBlock, pages.Length - first);
                int length = LZ4Codec.Decode(payload.Slice(blocks[b].Start, blocks[b].Length), data.AsSpan(first * PageSize, count * PageSize));
                if (length != count * PageSize) throw new FormatException($"page block {b} decodes to {length} bytes, not {count * PageSize}");
            }
            if (PageSetHash.Of(pages, data, TraceFormat.PageHashOf(formatVersion)) != memoryHash) throw new FormatException("the pages do not match the snapshot's memory hash");
        }
        return new StoredSnapshot(kind, eventIndex, exitCount, engineNs, memoryHash, vcpu, deviceState, servicePages, pages, data);
    }

    private const int MaxLz4Expansion = 256;

    private static void PutBlob(IBufferWriter<byte> w, ReadOnlySpan<byte> blob)
    {
        var into = w.GetSpan(4 + blob.Length);
        BinaryPrimitives.WriteInt32LittleEndian(into, blob.Length);
        blob.CopyTo(into[4..]);
        w.Advance(4 + blob.Length);
    }

    private static ReadOnlySpan<byte> GetBlob(ReadOnlySpan<byte> p, ref int at, string what)
    {
        if (p.Length - at < 4) throw new FormatException($"snapshot ends before its {what}");
        int n = BinaryPrimitives.ReadInt32LittleEndian(p[at..]);
        if (n < 0 || p.Length - at - 4 < n) throw new FormatException($"snapshot ends inside its {what}");
        var blob = p.Slice(at + 4, n);
        at += 4 + n;
        return blob;
    }

    private static void PutAddresses(IBufferWriter<byte> w, ulong[] pages)
    {
        var b = w.GetSpan(4 + 8 * pages.Length);
        BinaryPrimitives.WriteInt32LittleEndian(b, pages.Length);
        for (int i = 0; i < pages.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(b[(4 + 8 * i)..], pages[i]);
        w.Advance(4 + 8 * pages.Length);
    }

    private static ulong[] GetAddresses(ReadOnlySpan<byte> p, ref int at, string what)
    {
        if (p.Length - at < 4) throw new FormatException($"snapshot ends before its {what}");
        int n = BinaryPrimitives.ReadInt32LittleEndian(p[at..]);
        if (n < 0 || (p.Length - at - 4) / 8 < n) throw new FormatException($"snapshot ends inside its {what}");
        var result = new ulong[n];
        for (int i = 0; i < n; i++) result[i] = BinaryPrimitives.ReadUInt64LittleEndian(p[(at + 4 + 8 * i)..]);
        at += 4 + 8 * n;
        return result;
    }
}
