using VmReplay.Devices.Bus;
using VmReplay.Engine.Determinism;

namespace VmReplay.Devices.Rtc;

/// <summary>
/// The MC146818-compatible CMOS RTC at ports 0x70 (index, bit 7 = NMI disable) and 0x71 (data):
/// 128 bytes of CMOS with the time registers computed from a base time plus the engine clock,
/// in BCD or binary and 12- or 24-hour form (register B), the update-in-progress flag derived
/// from the clock (set in the last 244 µs of each second), SET freezing the time so the guest
/// can write it, and the PC memory-size bytes.
/// </summary>
public sealed class CmosRtc : IBusDevice, IStatefulDevice<CmosRtcState>
{
    // Register indices: MC146818A datasheet; memory-size bytes: IBM PC/AT BIOS conventions.
    private const int Seconds = 0x00, Minutes = 0x02, Hours = 0x04, DayOfWeek = 0x06, Day = 0x07, Month = 0x08, Year = 0x09;
    private const int RegA = 0x0A, RegB = 0x0B, RegC = 0x0C, RegD = 0x0D, Century = 0x32;
    private const byte BSet = 0x80, BBinary = 0x04, B24Hour = 0x02;
    private const long UpdateWindowNs = 244_000;

    private readonly IEngineClock _clock;
    private readonly DateTime _base;
    private readonly byte[] _ram = new byte[128];
    private byte _index;
    private bool _nmiDisabled;
    private long _offsetSeconds;
    private DateTime _frozen;

    /// <param name="clock">Engine clock; time advances only with it.</param>
    /// <param name="baseTime">Wall-clock time at engine time 0 (decided once by the VMM and recorded).</param>
    /// <param name="memorySize">Guest RAM in bytes, for the memory-size bytes.</param>
    public CmosRtc(IEngineClock clock, DateTime baseTime, ulong memorySize)
    {
        _clock = clock;
        _base = DateTime.SpecifyKind(baseTime, DateTimeKind.Unspecified);
        _ram[RegA] = 0x26;              // 32.768 kHz time base, 1024 Hz rate
        _ram[RegB] = B24Hour;           // BCD, 24-hour
        _ram[RegD] = 0x80;              // valid RAM and time
        SetMemorySize(memorySize);
    }

    private void SetMemorySize(ulong bytes)
    {
        const ulong MiB = 1 << 20;
        ulong baseKib = 640;
        ulong belowHole = Math.Min(bytes, 0xC000_0000UL);
        ulong extKib = belowHole > MiB ? Math.Min((belowHole - MiB) / 1024, 0xFFFF) : 0;
        ulong above16 = belowHole > 16 * MiB ? Math.Min((belowHole - 16 * MiB) / (64 * 1024), 0xFFFF) : 0;
        ulong above4G = bytes > belowHole ? (bytes - belowHole) / (64 * 1024) : 0;
        _ram[0x15] = (byte)baseKib; _ram[0x16] = (byte)(baseKib >> 8);
        _ram[0x17] = _ram[0x30] = (byte)extKib; _ram[0x18] = _ram[0x31] = (byte)(extKib >> 8);
        _ram[0x34] = (byte)above16; _ram[0x35] = (byte)(above16 >> 8);
        _ram[0x5B] = (byte)above4G; _ram[0x5C] = (byte)(above4G >> 8); _ram[0x5D] = (byte)(above4G >> 16);
    }

    public void Read(ulong offset, Span<byte> data)
    {
        data.Fill(0);
        data[0] = offset == 0 ? (byte)0xFF : ReadRegister(_index);
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        byte v = data[0];
        if (offset == 0)
        {
            _nmiDisabled = (v & 0x80) != 0;
            _index = (byte)(v & 0x7F);
            return;
        }
        WriteRegister(_index, v);
    }

    private DateTime Now(long ns) => _base.AddSeconds(_offsetSeconds).AddTicks(ns / 100);

    private DateTime CurrentTime() => (_ram[RegB] & BSet) != 0 ? _frozen : Now(_clock.ReadNanoseconds());

    private byte ReadRegister(int reg)
    {
        switch (reg)
        {
            case Seconds: return Encode(CurrentTime().Second);
            case Minutes: return Encode(CurrentTime().Minute);
            case Hours: return EncodeHour(CurrentTime().Hour);
            case DayOfWeek: return Encode((int)CurrentTime().DayOfWeek + 1);
            case Day: return Encode(CurrentTime().Day);
            case Month: return Encode(CurrentTime().Month);
            case Year: return Encode(CurrentTime().Year % 100);
            case Century: return Encode(CurrentTime().Year / 100);
            case RegA:
                long ns = _clock.ReadNanoseconds();
                bool uip = (_ram[RegB] & BSet) == 0 && 1_000_000_000 - (Now(ns).Ticks % 10_000_000) * 100 <= UpdateWindowNs;
                return (byte)((_ram[RegA] & 0x7F) | (uip ? 0x80 : 0));
            case RegC:
                byte c = _ram[RegC];
                _ram[RegC] = 0; // reading C acknowledges all flags
                return c;
            default:
                return _ram[reg];
        }
    }

    private void WriteRegister(int reg, byte v)
    {
        switch (reg)
        {
            case Seconds or Minutes or Hours or DayOfWeek or Day or Month or Year or Century:
                SetTimeField(reg, v);
                return;
            case RegB:
                bool wasSet = (_ram[RegB] & BSet) != 0;
                bool set = (v & BSet) != 0;
                if (set && !wasSet) _frozen = Now(_clock.ReadNanoseconds());
                _ram[RegB] = v;
                if (!set && wasSet) CommitFrozenTime();
                return;
            case RegC or RegD:
                return; // read-only
            default:
                _ram[reg] = v;
                return;
        }
    }

    private void SetTimeField(int reg, byte v)
    {
        // Writes while SET is clear would race the update cycle on hardware; apply them the same way.
        var t = CurrentTime();
        int value = reg == Hours ? DecodeHour(v) : Decode(v);
        try
        {
            t = reg switch
            {
                Seconds => new DateTime(t.Year, t.Month, t.Day, t.Hour, t.Minute, Math.Min(value, 59)),
                Minutes => new DateTime(t.Year, t.Month, t.Day, t.Hour, Math.Min(value, 59), t.Second),
                Hours => new DateTime(t.Year, t.Month, t.Day, Math.Min(value, 23), t.Minute, t.Second),
                Day => new DateTime(t.Year, t.Month, Math.Clamp(value, 1, DateTime.DaysInMonth(t.Year, t.Month)), t.Hour, t.Minute, t.Second),
                Month => new DateTime(t.Year, Math.Clamp(value, 1, 12), Math.Min(t.Day, DateTime.DaysInMonth(t.Year, Math.Clamp(value, 1, 12))), t.Hour, t.Minute, t.Second),
                Year => new DateTime(t.Year / 100 * 100 + value % 100, t.Month, Math.Min(t.Day, 28), t.Hour, t.Minute, t.Second),
                Century => new DateTime(Math.Clamp(value, 1, 99) * 100 + t.Year % 100, t.Month, Math.Min(t.Day, 28), t.Hour, t.Minute, t.Second),
                _ => t,
            };
        }
        catch (ArgumentOutOfRangeException)
        {
            return; // a nonsensical value leaves the time alone
        }
        if ((_ram[RegB] & BSet) != 0) _frozen = t;
        else
        {
            _frozen = t;
            CommitFrozenTime();
        }
    }

    private void CommitFrozenTime()
    {
        long ns = _clock.ReadNanoseconds();
        var running = _base.AddTicks(ns / 100);
        _offsetSeconds = (long)Math.Round((_frozen - running).TotalSeconds);
    }

    private bool Binary => (_ram[RegB] & BBinary) != 0;

    private byte Encode(int v) => Binary ? (byte)v : (byte)((v / 10) << 4 | v % 10);

    private int Decode(byte v) => Binary ? v : (v >> 4) * 10 + (v & 0xF);

    private byte EncodeHour(int hour)
    {
        if ((_ram[RegB] & B24Hour) != 0) return Encode(hour);
        int h12 = hour % 12 == 0 ? 12 : hour % 12;
        return (byte)(Encode(h12) | (hour >= 12 ? 0x80 : 0));
    }

    private int DecodeHour(byte v)
    {
        if ((_ram[RegB] & B24Hour) != 0) return Decode(v);
        int h = Decode((byte)(v & 0x7F)) % 12;
        return (v & 0x80) != 0 ? h + 12 : h;
    }

    public CmosRtcState SaveState() => new()
    {
        Index = _index, NmiDisabled = _nmiDisabled, Ram = (byte[])_ram.Clone(), OffsetSeconds = _offsetSeconds, FrozenTime = _frozen,
    };

    public void RestoreState(CmosRtcState s)
    {
        _index = s.Index;
        _nmiDisabled = s.NmiDisabled;
        s.Ram.CopyTo(_ram, 0);
        _offsetSeconds = s.OffsetSeconds;
        _frozen = s.FrozenTime;
    }
}
