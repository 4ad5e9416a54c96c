using System.Text.Json;
using VmReplay.Devices.Interrupts;
using VmReplay.Devices.Legacy;
using VmReplay.Devices.Pci;
using VmReplay.Devices.Platform;
using VmReplay.Devices.Rtc;
using VmReplay.Devices.Serial;
using VmReplay.Devices.Timer;
using VmReplay.Engine.Run;
using VmReplay.Recorder.Snapshots;

namespace VmReplay.Recorder.Format;

/// <summary>
/// Reads a snapshot's device state from a <see cref="JsonDocument"/>, member by member, as the
/// serializer reads what this build writes (<see cref="DeviceStateJsonWriter"/>); a test holds
/// it to the serializer. Building the serializer's reading metadata took a replay 25 ms of CPU
/// before its first instruction (generic code over the members' value types that no
/// precompiled image holds), on a core the machine's construction needed. Anything else (a
/// member missing, one it does not know, a value of another type) is left to the serializer,
/// which reads older snapshots with their members' declared defaults.
/// </summary>
internal static class DeviceStateJsonReader
{
    /// <summary>The device state, or null where the serializer must read it.</summary>
    public static SnapshotCodec.MachinePart? TryRead(ReadOnlySpan<byte> json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json.ToArray());
            var o = new Obj(doc.RootElement, 2);
            var part = new SnapshotCodec.MachinePart(Platform(o.Get("Platform")), Counters(o.Get("Counters")));
            o.End();
            return part;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or KeyNotFoundException or Incomplete) { return null; }
    }

    private static PcPlatformState Platform(JsonElement e)
    {
        var o = new Obj(e, 9);
        var s = new PcPlatformState
        {
            Pic = DualPic(o.Get("Pic")), Com1 = Uart(o.Get("Com1")), Pit = Pit(o.Get("Pit")), PortB = PortB(o.Get("PortB")),
            Rtc = Rtc(o.Get("Rtc")), Keyboard = Keyboard(o.Get("Keyboard")), DebugExit = DebugExit(o.Get("DebugExit")),
            Post = Post(o.Get("Post")), Pci = Pci(o.Get("Pci")),
        };
        o.End();
        return s;
    }

    private static RunnerCounters Counters(JsonElement e)
    {
        var o = new Obj(e, 6);
        var c = new RunnerCounters(o.Get("ExitCount").GetInt64(), o.Get("InterruptsDelivered").GetInt64(), o.Get("EmulatedInstructions").GetInt64(),
            o.Get("TscOffset").GetInt64(), Nullable(o.Get("Instructions"), static v => v.GetInt64()), Nullable(o.Get("IdleNanoseconds"), static v => v.GetInt64()));
        o.End();
        return c;
    }

    private static DualPic8259State DualPic(JsonElement e)
    {
        var o = new Obj(e, 2);
        var s = new DualPic8259State { Master = Pic(o.Get("Master")), Slave = Pic(o.Get("Slave")) };
        o.End();
        return s;
    }

    private static Pic8259State Pic(JsonElement e)
    {
        var o = new Obj(e, 16);
        var s = new Pic8259State
        {
            Irr = o.Get("Irr").GetByte(), Isr = o.Get("Isr").GetByte(), Imr = o.Get("Imr").GetByte(), InputLevels = o.Get("InputLevels").GetByte(),
            InitStep = o.Get("InitStep").GetInt32(), Icw4Needed = o.Get("Icw4Needed").GetBoolean(), Single = o.Get("Single").GetBoolean(),
            VectorBase = o.Get("VectorBase").GetByte(), Icw3 = o.Get("Icw3").GetByte(), AutoEoi = o.Get("AutoEoi").GetBoolean(),
            SpecialFullyNested = o.Get("SpecialFullyNested").GetBoolean(), RotateOnAutoEoi = o.Get("RotateOnAutoEoi").GetBoolean(),
            ReadIsr = o.Get("ReadIsr").GetBoolean(), Poll = o.Get("Poll").GetBoolean(), SpecialMask = o.Get("SpecialMask").GetBoolean(),
            LowestPriority = o.Get("LowestPriority").GetInt32(),
        };
        o.End();
        return s;
    }

    private static Uart16550State Uart(JsonElement e)
    {
        var o = new Obj(e, 13);
        var s = new Uart16550State
        {
            Dll = o.Get("Dll").GetByte(), Dlm = o.Get("Dlm").GetByte(), Ier = o.Get("Ier").GetByte(), Lcr = o.Get("Lcr").GetByte(),
            Mcr = o.Get("Mcr").GetByte(), Scr = o.Get("Scr").GetByte(), MsrDeltas = o.Get("MsrDeltas").GetByte(), ModemInputs = o.Get("ModemInputs").GetByte(),
            FifoEnabled = o.Get("FifoEnabled").GetBoolean(), TriggerLevel = o.Get("TriggerLevel").GetInt32(), Overrun = o.Get("Overrun").GetBoolean(),
            ThrEmptyPending = o.Get("ThrEmptyPending").GetBoolean(), RxFifo = Bytes(o.Get("RxFifo")),
        };
        o.End();
        return s;
    }

    private static Pit8254State Pit(JsonElement e)
    {
        var o = new Obj(e, 1);
        var channels = o.Get("Channels");
        if (channels.ValueKind != JsonValueKind.Array) throw new Incomplete();
        // A loop, not LINQ: its iterator over JsonElement was compiled by the JIT at every replay's start.
        var read = new PitChannelState[channels.GetArrayLength()];
        int n = 0;
        foreach (var channel in channels.EnumerateArray()) read[n++] = PitChannel(channel);
        var s = new Pit8254State { Channels = read };
        o.End();
        return s;
    }

    private static PitChannelState PitChannel(JsonElement e)
    {
        var o = new Obj(e, 21);
        var s = new PitChannelState
        {
            Mode = o.Get("Mode").GetInt32(), Access = o.Get("Access").GetInt32(), Bcd = o.Get("Bcd").GetBoolean(),
            CountRegister = o.Get("CountRegister").GetInt32(), HasCount = o.Get("HasCount").GetBoolean(), NullCount = o.Get("NullCount").GetBoolean(),
            ElementLoaded = o.Get("ElementLoaded").GetBoolean(), ElementReload = o.Get("ElementReload").GetInt32(), Gate = o.Get("Gate").GetBoolean(),
            Running = o.Get("Running").GetBoolean(), RunStartNs = o.Get("RunStartNs").GetInt64(), TicksBeforeRun = o.Get("TicksBeforeRun").GetInt64(),
            EdgesDelivered = o.Get("EdgesDelivered").GetInt64(), ReloadPending = o.Get("ReloadPending").GetBoolean(), SwitchTick = o.Get("SwitchTick").GetInt64(),
            LatchedCount = Nullable(o.Get("LatchedCount"), static v => v.GetInt32()),
            LatchedHighNext = o.Get("LatchedHighNext").GetBoolean(),
            LatchedStatus = Nullable(o.Get("LatchedStatus"), static v => v.GetByte()),
            ReadHighNext = o.Get("ReadHighNext").GetBoolean(), WriteHighNext = o.Get("WriteHighNext").GetBoolean(), PendingLow = o.Get("PendingLow").GetByte(),
        };
        o.End();
        return s;
    }

    private static SystemControlPortBState PortB(JsonElement e)
    {
        var o = new Obj(e, 2);
        var s = new SystemControlPortBState { Control = o.Get("Control").GetByte(), RefreshToggle = o.Get("RefreshToggle").GetBoolean() };
        o.End();
        return s;
    }

    private static CmosRtcState Rtc(JsonElement e)
    {
        var o = new Obj(e, 7);
        var s = new CmosRtcState
        {
            Index = o.Get("Index").GetByte(), NmiDisabled = o.Get("NmiDisabled").GetBoolean(), Ram = Bytes(o.Get("Ram")), BaseTicks = o.Get("BaseTicks").GetInt64(),
            OffsetSeconds = o.Get("OffsetSeconds").GetInt64(), DayOfWeekOffset = o.Get("DayOfWeekOffset").GetInt32(), EvaluatedNs = o.Get("EvaluatedNs").GetInt64(),
        };
        o.End();
        return s;
    }

    private static I8042State Keyboard(JsonElement e)
    {
        var o = new Obj(e, 7);
        var s = new I8042State
        {
            Ram = Bytes(o.Get("Ram")), OutputBuffer = o.Get("OutputBuffer").GetByte(), OutputFull = o.Get("OutputFull").GetBoolean(),
            OutputAux = o.Get("OutputAux").GetBoolean(),
            PendingCommand = Nullable(o.Get("PendingCommand"), static v => v.GetByte()),
            OutputPort = o.Get("OutputPort").GetByte(), LastWriteWasCommand = o.Get("LastWriteWasCommand").GetBoolean(),
        };
        o.End();
        return s;
    }

    private static DebugExitPortState DebugExit(JsonElement e)
    {
        new Obj(e, 0).End();
        return new DebugExitPortState();
    }

    private static PostCodePortState Post(JsonElement e)
    {
        var o = new Obj(e, 1);
        var s = new PostCodePortState { LastCode = o.Get("LastCode").GetByte() };
        o.End();
        return s;
    }

    private static PciHostBridgeState Pci(JsonElement e)
    {
        var o = new Obj(e, 3);
        var s = new PciHostBridgeState
        {
            ConfigAddress = o.Get("ConfigAddress").GetUInt32(), BridgeCommand = o.Get("BridgeCommand").GetUInt16(),
            BridgeLatencyTimer = o.Get("BridgeLatencyTimer").GetByte(),
        };
        o.End();
        return s;
    }

    // A nullable member, which the serializer writes as null or as its value.
    private static T? Nullable<T>(JsonElement e, Func<JsonElement, T> value) where T : struct => e.ValueKind == JsonValueKind.Null ? null : value(e);

    // The serializer writes a byte[] as base64, and null as null.
    private static byte[] Bytes(JsonElement e) => e.ValueKind == JsonValueKind.String ? e.GetBytesFromBase64() : throw new Incomplete();

    // An object whose members are read by name; End checks that it held exactly those, once each.
    private readonly struct Obj
    {
        private readonly JsonElement _e;
        private readonly int _members;

        public Obj(JsonElement e, int members)
        {
            if (e.ValueKind != JsonValueKind.Object) throw new Incomplete();
            _e = e;
            _members = members;
        }

        public JsonElement Get(string name) => _e.TryGetProperty(name, out var v) ? v : throw new Incomplete();

        public void End()
        {
            int n = 0;
            foreach (var _ in _e.EnumerateObject()) n++;
            if (n != _members) throw new Incomplete();
        }
    }

    // What this build's writer would not have written: the serializer decides what it means.
    private sealed class Incomplete : Exception;
}
