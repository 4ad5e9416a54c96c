using VmReplay.Devices.Bus;
using VmReplay.Engine.Determinism;

namespace VmReplay.Devices.Tests;

/// <summary>An engine clock the test sets; counts its reads.</summary>
internal sealed class FakeClock : IEngineClock
{
    public long Now;
    public int Reads;

    public DateTime WallClockBase { get; } = new(2026, 1, 1);

    public long ReadNanoseconds()
    {
        Reads++;
        return Now;
    }
}

/// <summary>Serial input from a queue; counts every attempt to read.</summary>
internal sealed class FakeInput : ISerialInput
{
    public readonly Queue<byte> Bytes = new();
    public int Calls;

    public FakeInput(params byte[] bytes)
    {
        foreach (var b in bytes) Bytes.Enqueue(b);
    }

    public bool TryRead(out byte value)
    {
        Calls++;
        return Bytes.TryDequeue(out value);
    }
}

/// <summary>An IRQ wire that records its level and rising edges.</summary>
internal sealed class FakeIrq : IIrqLine
{
    public bool Level;
    public int RisingEdges;
    public int Calls;

    public void SetLevel(bool high)
    {
        Calls++;
        if (high && !Level) RisingEdges++;
        Level = high;
    }
}

internal static class BusDeviceExtensions
{
    public static byte In(this IBusDevice d, ulong offset)
    {
        Span<byte> b = stackalloc byte[1];
        d.Read(offset, b);
        return b[0];
    }

    public static void Out(this IBusDevice d, ulong offset, byte value) => d.Write(offset, [value]);

    public static ushort In16(this IBusDevice d, ulong offset)
    {
        Span<byte> b = stackalloc byte[2];
        d.Read(offset, b);
        return BitConverter.ToUInt16(b);
    }

    public static uint In32(this IBusDevice d, ulong offset)
    {
        Span<byte> b = stackalloc byte[4];
        d.Read(offset, b);
        return BitConverter.ToUInt32(b);
    }

    public static void Out16(this IBusDevice d, ulong offset, ushort value) => d.Write(offset, BitConverter.GetBytes(value));

    public static void Out32(this IBusDevice d, ulong offset, uint value) => d.Write(offset, BitConverter.GetBytes(value));
}

internal static class StateJson
{
    /// <summary>Round-trips a state record through JSON: snapshots are plain data.</summary>
    public static T RoundTrip<T>(T state) =>
        System.Text.Json.JsonSerializer.Deserialize<T>(System.Text.Json.JsonSerializer.Serialize(state))!;
}
