using System.Buffers;
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
/// Writes device state as <see cref="DeviceStateJsonContext"/> does, byte for byte (a test holds
/// it to the serializer), member by member with a <see cref="Utf8JsonWriter"/>. Even the
/// generated serializer built its metadata at its first use (converters for the members' value
/// types, compiled by the JIT: no precompiled image holds them): 15 to 18 ms of the recording's
/// writer thread at its first snapshot, and in a replay, at its first snapshot check, 10 ms the
/// vCPU thread waited for. <see cref="DeviceStateJsonReader"/> reads it back the same way.
/// </summary>
internal static class DeviceStateJsonWriter
{
    /// <summary>A snapshot's device part: the board's devices and the run loop's counters.</summary>
    public static byte[] Write(SnapshotCodec.MachinePart part)
    {
        var buffer = new ArrayBufferWriter<byte>(InitialSize);
        Write(part, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// As <see cref="Write(SnapshotCodec.MachinePart)"/>, appended to <paramref name="into"/>: a
    /// writer of snapshot after snapshot, or a replay comparing them, reuses one buffer (a
    /// growing buffer and its copy left 10 KB behind for each).
    /// </summary>
    public static void Write(SnapshotCodec.MachinePart part, IBufferWriter<byte> into)
    {
        using var w = new Utf8JsonWriter(into, TraceJsonEncoder.WriterOptions);
        w.WriteStartObject();
        w.WritePropertyName("Platform");
        Platform(w, part.Platform);
        w.WritePropertyName("Counters");
        Counters(w, part.Counters);
        w.WriteEndObject();
    }

    /// <summary>The board's devices alone, as <see cref="Write(SnapshotCodec.MachinePart)"/> writes them inside a snapshot.</summary>
    public static byte[] Write(PcPlatformState platform)
    {
        var buffer = new ArrayBufferWriter<byte>(InitialSize);
        Write(platform, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>As <see cref="Write(PcPlatformState)"/>, appended to <paramref name="into"/>.</summary>
    public static void Write(PcPlatformState platform, IBufferWriter<byte> into)
    {
        using var w = new Utf8JsonWriter(into, TraceJsonEncoder.WriterOptions);
        Platform(w, platform);
    }

    private const int InitialSize = 2048;

    private static void Platform(Utf8JsonWriter w, PcPlatformState s)
    {
        w.WriteStartObject();
        w.WritePropertyName("Pic");
        w.WriteStartObject();
        w.WritePropertyName("Master");
        Pic(w, s.Pic.Master);
        w.WritePropertyName("Slave");
        Pic(w, s.Pic.Slave);
        w.WriteEndObject();
        w.WritePropertyName("Com1");
        Uart(w, s.Com1);
        w.WritePropertyName("Pit");
        w.WriteStartObject();
        w.WritePropertyName("Channels");
        if (s.Pit.Channels is null) w.WriteNullValue();
        else
        {
            w.WriteStartArray();
            foreach (var c in s.Pit.Channels) PitChannel(w, c);
            w.WriteEndArray();
        }
        w.WriteEndObject();
        w.WritePropertyName("PortB");
        w.WriteStartObject();
        w.WriteNumber("Control", s.PortB.Control);
        w.WriteBoolean("RefreshToggle", s.PortB.RefreshToggle);
        w.WriteEndObject();
        w.WritePropertyName("Rtc");
        Rtc(w, s.Rtc);
        w.WritePropertyName("Keyboard");
        Keyboard(w, s.Keyboard);
        w.WritePropertyName("DebugExit");
        w.WriteStartObject();
        w.WriteEndObject();
        w.WritePropertyName("Post");
        w.WriteStartObject();
        w.WriteNumber("LastCode", s.Post.LastCode);
        w.WriteEndObject();
        w.WritePropertyName("Pci");
        w.WriteStartObject();
        w.WriteNumber("ConfigAddress", s.Pci.ConfigAddress);
        w.WriteNumber("BridgeCommand", s.Pci.BridgeCommand);
        w.WriteNumber("BridgeLatencyTimer", s.Pci.BridgeLatencyTimer);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void Counters(Utf8JsonWriter w, RunnerCounters c)
    {
        w.WriteStartObject();
        w.WriteNumber("ExitCount", c.ExitCount);
        w.WriteNumber("InterruptsDelivered", c.InterruptsDelivered);
        w.WriteNumber("EmulatedInstructions", c.EmulatedInstructions);
        w.WriteNumber("TscOffset", c.TscOffset);
        Nullable(w, "Instructions", c.Instructions);
        Nullable(w, "IdleNanoseconds", c.IdleNanoseconds);
        w.WriteEndObject();
    }

    private static void Pic(Utf8JsonWriter w, Pic8259State s)
    {
        w.WriteStartObject();
        w.WriteNumber("Irr", s.Irr);
        w.WriteNumber("Isr", s.Isr);
        w.WriteNumber("Imr", s.Imr);
        w.WriteNumber("InputLevels", s.InputLevels);
        w.WriteNumber("InitStep", s.InitStep);
        w.WriteBoolean("Icw4Needed", s.Icw4Needed);
        w.WriteBoolean("Single", s.Single);
        w.WriteNumber("VectorBase", s.VectorBase);
        w.WriteNumber("Icw3", s.Icw3);
        w.WriteBoolean("AutoEoi", s.AutoEoi);
        w.WriteBoolean("SpecialFullyNested", s.SpecialFullyNested);
        w.WriteBoolean("RotateOnAutoEoi", s.RotateOnAutoEoi);
        w.WriteBoolean("ReadIsr", s.ReadIsr);
        w.WriteBoolean("Poll", s.Poll);
        w.WriteBoolean("SpecialMask", s.SpecialMask);
        w.WriteNumber("LowestPriority", s.LowestPriority);
        w.WriteEndObject();
    }

    private static void Uart(Utf8JsonWriter w, Uart16550State s)
    {
        w.WriteStartObject();
        w.WriteNumber("Dll", s.Dll);
        w.WriteNumber("Dlm", s.Dlm);
        w.WriteNumber("Ier", s.Ier);
        w.WriteNumber("Lcr", s.Lcr);
        w.WriteNumber("Mcr", s.Mcr);
        w.WriteNumber("Scr", s.Scr);
        w.WriteNumber("MsrDeltas", s.MsrDeltas);
        w.WriteNumber("ModemInputs", s.ModemInputs);
        w.WriteBoolean("FifoEnabled", s.FifoEnabled);
        w.WriteNumber("TriggerLevel", s.TriggerLevel);
        w.WriteBoolean("Overrun", s.Overrun);
        w.WriteBoolean("ThrEmptyPending", s.ThrEmptyPending);
        Bytes(w, "RxFifo", s.RxFifo);
        w.WriteEndObject();
    }

    private static void PitChannel(Utf8JsonWriter w, PitChannelState s)
    {
        w.WriteStartObject();
        w.WriteNumber("Mode", s.Mode);
        w.WriteNumber("Access", s.Access);
        w.WriteBoolean("Bcd", s.Bcd);
        w.WriteNumber("CountRegister", s.CountRegister);
        w.WriteBoolean("HasCount", s.HasCount);
        w.WriteBoolean("NullCount", s.NullCount);
        w.WriteBoolean("ElementLoaded", s.ElementLoaded);
        w.WriteNumber("ElementReload", s.ElementReload);
        w.WriteBoolean("Gate", s.Gate);
        w.WriteBoolean("Running", s.Running);
        w.WriteNumber("RunStartNs", s.RunStartNs);
        w.WriteNumber("TicksBeforeRun", s.TicksBeforeRun);
        w.WriteNumber("EdgesDelivered", s.EdgesDelivered);
        w.WriteBoolean("ReloadPending", s.ReloadPending);
        w.WriteNumber("SwitchTick", s.SwitchTick);
        Nullable(w, "LatchedCount", s.LatchedCount);
        w.WriteBoolean("LatchedHighNext", s.LatchedHighNext);
        Nullable(w, "LatchedStatus", s.LatchedStatus);
        w.WriteBoolean("ReadHighNext", s.ReadHighNext);
        w.WriteBoolean("WriteHighNext", s.WriteHighNext);
        w.WriteNumber("PendingLow", s.PendingLow);
        w.WriteEndObject();
    }

    private static void Rtc(Utf8JsonWriter w, CmosRtcState s)
    {
        w.WriteStartObject();
        w.WriteNumber("Index", s.Index);
        w.WriteBoolean("NmiDisabled", s.NmiDisabled);
        Bytes(w, "Ram", s.Ram);
        w.WriteNumber("BaseTicks", s.BaseTicks);
        w.WriteNumber("OffsetSeconds", s.OffsetSeconds);
        w.WriteNumber("DayOfWeekOffset", s.DayOfWeekOffset);
        w.WriteNumber("EvaluatedNs", s.EvaluatedNs);
        w.WriteEndObject();
    }

    private static void Keyboard(Utf8JsonWriter w, I8042State s)
    {
        w.WriteStartObject();
        Bytes(w, "Ram", s.Ram);
        w.WriteNumber("OutputBuffer", s.OutputBuffer);
        w.WriteBoolean("OutputFull", s.OutputFull);
        w.WriteBoolean("OutputAux", s.OutputAux);
        Nullable(w, "PendingCommand", s.PendingCommand);
        w.WriteNumber("OutputPort", s.OutputPort);
        w.WriteBoolean("LastWriteWasCommand", s.LastWriteWasCommand);
        w.WriteEndObject();
    }

    // The serializer writes a null member as null, and a byte[] as base64.
    private static void Nullable(Utf8JsonWriter w, string name, long? value)
    {
        if (value is { } v) w.WriteNumber(name, v);
        else w.WriteNull(name);
    }

    private static void Bytes(Utf8JsonWriter w, string name, byte[]? value)
    {
        if (value is null) w.WriteNull(name);
        else w.WriteBase64String(name, value);
    }
}
