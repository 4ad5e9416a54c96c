using VmReplay.Devices.Bus;
using VmReplay.Engine.Determinism;
using VmReplay.Engine.Memory;

namespace VmReplay.Devices.Rtc;

/// <summary>
/// The MC146818A-compatible real-time clock and 128 bytes of CMOS RAM of the PC/AT, registered
/// over two ports (0x70-0x71): offset 0 the write-only index (bit 7 disables NMI), offset 1 the
/// data of the indexed byte. The time is a base time plus engine-clock time, presented in BCD or
/// binary and 12- or 24-hour form (register B); SET stops the clock so the guest can set it;
/// register A's UIP, register C's flags and the optional IRQ 8 follow the clock.
/// </summary>
/// <remarks>
/// <para>The update cycle is taken as instantaneous at each second boundary, with UIP set during
/// the 244 µs before it (MC146818A "Update Cycle": UIP rises t_BUC = 244 µs before the update).</para>
/// <para>Register C's periodic (PF), alarm (AF) and update-ended (UF) flags are set as the chip
/// sets them, whether or not their interrupts are enabled, and are worked out from the clock when
/// C is read or the device is advanced. IRQ 8 (IRQF) is raised through <see cref="ITimedDevice"/>
/// and stays high until C is read, as the chip's IRQ output does. Periodic ticks fall at multiples
/// of the period in engine time. The divider-chain control bits (register A bits 4-6) and daylight
/// saving (register B bit 0) are stored but have no effect.</para>
/// <para>The memory-size bytes follow the PC/AT BIOS and QEMU conventions for the RAM layout of
/// <see cref="GuestMemory.CreatePcLayout"/>.</para>
/// </remarks>
public sealed class CmosRtc : IBusDevice, ITimedDevice, IStatefulDevice<CmosRtcState>
{
    // MC146818A datasheet, "Address Map": time, alarm and control registers.
    private const int Seconds = 0x00, SecondsAlarm = 0x01, Minutes = 0x02, MinutesAlarm = 0x03, Hours = 0x04, HoursAlarm = 0x05;
    private const int DayOfWeek = 0x06, DayOfMonth = 0x07, Month = 0x08, Year = 0x09;
    private const int RegA = 0x0A, RegB = 0x0B, RegC = 0x0C, RegD = 0x0D;

    // The century byte is an IBM PC/AT convention (and ACPI FADT CENTURY), not part of the MC146818A.
    private const int Century = 0x32;

    // Register A: UIP and the rate select RS3-RS0. Register B: SET, PIE, AIE, UIE, SQWE, DM, 24/12, DSE.
    private const byte AUip = 0x80, ARateMask = 0x0F;
    private const byte BSet = 0x80, BPie = 0x40, BAie = 0x20, BUie = 0x10, BBinary = 0x04, B24Hour = 0x02;

    // Register C: IRQF, PF, AF, UF. Register D: VRT (valid RAM and time).
    private const byte CIrqf = 0x80, CPf = 0x40, CAf = 0x20, CUf = 0x10;
    private const byte DValid = 0x80;

    // Hours register in 12-hour mode: bit 7 is PM. Alarm bytes 0xC0-0xFF match any value.
    private const byte HourPm = 0x80, AlarmDontCare = 0xC0;

    // IBM PC/AT CMOS map: base memory (KiB), extended memory above 1 MiB (KiB, also at 0x30),
    // the checksum of 0x10-0x2D (big endian at 0x2E); QEMU/SeaBIOS: memory above 16 MiB and above
    // 4 GiB in 64 KiB units.
    private const int BaseMemoryLow = 0x15, ExtendedLow = 0x17, ExtendedLow2 = 0x30, Above16MLow = 0x34, Above4GLow = 0x5B;
    private const int ChecksumStart = 0x10, ChecksumEnd = 0x2D, ChecksumHigh = 0x2E;

    private const long UpdateWindowTicks = 2_440; // 244 µs in 100 ns DateTime ticks
    private const long TicksPerSecond = TimeSpan.TicksPerSecond;
    private const int NmiDisable = 0x80;

    private static readonly int[] TimeRegisters = [Seconds, Minutes, Hours, DayOfWeek, DayOfMonth, Month, Year, Century];

    private readonly IEngineClock _clock;
    private readonly IIrqLine? _irq;
    private readonly byte[] _ram = new byte[128];
    private long _baseTicks;
    private byte _index;
    private bool _nmiDisabled, _irqLevel;
    private long _offsetSeconds;
    private int _dayOfWeekOffset;
    private long _evaluatedNs;

    /// <param name="clock">The only time source.</param>
    /// <param name="baseTime">Wall-clock time at engine time 0, decided once by the VMM (and recorded); its Kind is ignored.</param>
    /// <param name="memorySize">Guest RAM in bytes, for the memory-size bytes.</param>
    /// <param name="irq">IRQ 8, or null to leave the interrupt unwired (the flags in register C still work).</param>
    public CmosRtc(IEngineClock clock, DateTime baseTime, ulong memorySize, IIrqLine? irq = null)
    {
        _clock = clock;
        _irq = irq;
        _baseTicks = baseTime.Ticks;
        _ram[RegA] = 0x26;    // 32.768 kHz time base, 1024 Hz periodic rate (the PC default)
        _ram[RegB] = B24Hour; // BCD, 24-hour, no interrupts
        _ram[RegD] = DValid;
        WriteMemorySize(memorySize);
    }

    /// <summary>NMI disabled by bit 7 of the last index write. Nothing here raises NMI; kept for the guest's view.</summary>
    public bool NmiDisabled => _nmiDisabled;

    private void WriteMemorySize(ulong bytes)
    {
        const ulong KiB = 1024, MiB = 1024 * KiB, Unit64K = 64 * KiB;
        ulong belowHole = Math.Min(bytes, GuestMemory.MmioHoleStart);
        ulong extendedKib = belowHole > MiB ? Math.Min((belowHole - MiB) / KiB, 0xFFFF) : 0;
        ulong above16M = belowHole > 16 * MiB ? Math.Min((belowHole - 16 * MiB) / Unit64K, 0xFFFF) : 0;
        ulong above4G = Math.Min((bytes - belowHole) / Unit64K, 0xFF_FFFF);
        WriteLittleEndian(BaseMemoryLow, 640, 2);
        WriteLittleEndian(ExtendedLow, extendedKib, 2);
        WriteLittleEndian(ExtendedLow2, extendedKib, 2);
        WriteLittleEndian(Above16MLow, above16M, 2);
        WriteLittleEndian(Above4GLow, above4G, 3);
        int sum = 0;
        for (int i = ChecksumStart; i <= ChecksumEnd; i++) sum += _ram[i];
        _ram[ChecksumHigh] = (byte)(sum >> 8);
        _ram[ChecksumHigh + 1] = (byte)sum;
    }

    private void WriteLittleEndian(int at, ulong value, int bytes)
    {
        for (int i = 0; i < bytes; i++) _ram[at + i] = (byte)(value >> (8 * i));
    }

    public void Read(ulong offset, Span<byte> data)
    {
        data.Clear();
        data[0] = (offset & 1) == 0 ? (byte)0xFF : ReadRegister(_index); // the index port is write-only
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        byte v = data[0];
        if ((offset & 1) == 0)
        {
            _nmiDisabled = (v & NmiDisable) != 0;
            _index = (byte)(v & ~NmiDisable);
            return;
        }
        WriteRegister(_index, v);
    }

    private bool SetMode => (_ram[RegB] & BSet) != 0;

    private bool Binary => (_ram[RegB] & BBinary) != 0;

    private byte ReadRegister(int reg)
    {
        switch (reg)
        {
            case Seconds or Minutes or Hours or DayOfWeek or DayOfMonth or Month or Year or Century:
                // With SET the registers hold what the guest wrote; otherwise they show the running time.
                return SetMode ? _ram[reg] : EncodeTimeRegister(reg, _clock.ReadNanoseconds());
            case RegA:
                bool uip = !SetMode && RtcTicks(_clock.ReadNanoseconds()) % TicksPerSecond >= TicksPerSecond - UpdateWindowTicks;
                return (byte)(_ram[RegA] & ~AUip | (uip ? AUip : 0));
            case RegC:
                Evaluate(_clock.ReadNanoseconds());
                byte c = (byte)(_ram[RegC] | (Irqf ? CIrqf : 0));
                _ram[RegC] = 0; // reading C clears every flag and IRQF
                UpdateIrq();
                return c;
            default:
                return _ram[reg];
        }
    }

    private void WriteRegister(int reg, byte v)
    {
        switch (reg)
        {
            case Seconds or Minutes or Hours or DayOfWeek or DayOfMonth or Month or Year or Century:
                if (SetMode)
                {
                    _ram[reg] = v;
                    return;
                }
                // A write while the clock runs takes effect at once (on the chip it could race an update).
                long now = _clock.ReadNanoseconds();
                Evaluate(now);
                SnapshotTime(now);
                _ram[reg] = v;
                CommitTime(now);
                return;
            case RegA:
                Evaluate(_clock.ReadNanoseconds()); // periodic ticks so far count at the old rate
                _ram[RegA] = (byte)(v & ~AUip);     // UIP is read-only
                UpdateIrq();
                return;
            case RegB:
                WriteRegisterB(v);
                return;
            case RegC or RegD:
                return; // read-only
            default:
                _ram[reg] = v;
                return;
        }
    }

    private void WriteRegisterB(byte v)
    {
        long now = _clock.ReadNanoseconds();
        Evaluate(now);
        bool wasSet = SetMode, set = (v & BSet) != 0;
        // The registers keep their encoding as of SET; a mode change made with it applies on commit.
        if (set && !wasSet) SnapshotTime(now);
        _ram[RegB] = set ? (byte)(v & ~BUie) : v; // SET clears UIE (MC146818A register B, bit 4)
        if (wasSet && !set) CommitTime(now);
        UpdateIrq();
    }

    // RTC time in DateTime ticks (100 ns).
    private long RtcTicks(long ns) => _baseTicks + _offsetSeconds * TicksPerSecond + ns / 100;

    private long RtcSecond(long ns) => Math.DivRem(RtcTicks(ns), TicksPerSecond).Quotient;

    private static DateTime ToDateTime(long ticks) => new(Math.Clamp(ticks, 0, DateTime.MaxValue.Ticks));

    private byte EncodeTimeRegister(int reg, long ns)
    {
        var t = ToDateTime(RtcTicks(ns));
        return reg switch
        {
            Seconds => Encode(t.Second),
            Minutes => Encode(t.Minute),
            Hours => EncodeHour(t.Hour),
            DayOfWeek => Encode(((int)t.DayOfWeek + _dayOfWeekOffset) % 7 + 1), // 1 = Sunday
            DayOfMonth => Encode(t.Day),
            Month => Encode(t.Month),
            Year => Encode(t.Year % 100),
            _ => Encode(t.Year / 100),
        };
    }

    private void SnapshotTime(long ns)
    {
        foreach (int reg in TimeRegisters) _ram[reg] = EncodeTimeRegister(reg, ns);
    }

    // Starts the clock from the time in the registers: whole seconds are set, the phase of the
    // second (the divider chain) runs on, so the next update comes less than a second later.
    private void CommitTime(long ns)
    {
        int year = Math.Clamp(Math.Clamp(Decode(_ram[Century]), 0, 99) * 100 + Math.Clamp(Decode(_ram[Year]), 0, 99), 1, 9999);
        int month = Math.Clamp(Decode(_ram[Month]), 1, 12);
        int day = Math.Clamp(Decode(_ram[DayOfMonth]), 1, DateTime.DaysInMonth(year, month));
        var written = new DateTime(year, month, day, Math.Clamp(DecodeHour(_ram[Hours]), 0, 23),
            Math.Clamp(Decode(_ram[Minutes]), 0, 59), Math.Clamp(Decode(_ram[Seconds]), 0, 59));
        long runningSecond = Math.DivRem(_baseTicks + ns / 100, TicksPerSecond).Quotient;
        _offsetSeconds = written.Ticks / TicksPerSecond - runningSecond;
        // The day of week is a free-running counter on the chip, set independently of the date.
        int dayOfWeek = Math.Clamp(Decode(_ram[DayOfWeek]), 1, 7) - 1;
        _dayOfWeekOffset = ((dayOfWeek - (int)written.DayOfWeek) % 7 + 7) % 7;
        // Jumping the clock is not an update: no UF or AF for the seconds skipped.
        _evaluatedNs = Math.Max(_evaluatedNs, ns);
    }

    private byte Encode(int v) => Binary ? (byte)v : (byte)((v / 10) << 4 | v % 10);

    private int Decode(byte v) => Binary ? v : (v >> 4) * 10 + (v & 0xF);

    private byte EncodeHour(int hour)
    {
        if ((_ram[RegB] & B24Hour) != 0) return Encode(hour);
        int h12 = hour % 12 == 0 ? 12 : hour % 12;
        return (byte)(Encode(h12) | (hour >= 12 ? HourPm : 0));
    }

    private int DecodeHour(byte v)
    {
        if ((_ram[RegB] & B24Hour) != 0) return Decode(v);
        int h = Decode((byte)(v & ~HourPm)) % 12;
        return (v & HourPm) != 0 ? h + 12 : h;
    }

    private bool Irqf
    {
        get
        {
            byte b = _ram[RegB], c = _ram[RegC];
            return (c & CPf) != 0 && (b & BPie) != 0 || (c & CAf) != 0 && (b & BAie) != 0 || (c & CUf) != 0 && (b & BUie) != 0;
        }
    }

    // Periodic interrupt rate for RS3-RS0 with the 32.768 kHz time base (MC146818A Table 5);
    // 0 is none, 1 and 2 repeat rates 8 and 9.
    private static long PeriodicHz(int rate) => rate switch
    {
        0 => 0,
        1 => 256,
        2 => 128,
        _ => 32_768 >> (rate - 1),
    };

    private static long PeriodicIndex(long ns, long hz) => (long)((Int128)ns * hz / 1_000_000_000);

    /// <summary>Sets the flags of register C for everything that happened up to <paramref name="now"/>.</summary>
    private void Evaluate(long now)
    {
        if (now <= _evaluatedNs) return;
        long hz = PeriodicHz(_ram[RegA] & ARateMask);
        if (hz != 0 && PeriodicIndex(now, hz) > PeriodicIndex(_evaluatedNs, hz)) _ram[RegC] |= CPf;
        if (!SetMode)
        {
            // SET inhibits updates, and with them UF and AF.
            long from = RtcSecond(_evaluatedNs), to = RtcSecond(now);
            if (to > from)
            {
                _ram[RegC] |= CUf;
                if (NextAlarmSecond(from) is { } alarm && alarm <= to) _ram[RegC] |= CAf;
            }
        }
        _evaluatedNs = now;
    }

    /// <summary>The first RTC second after <paramref name="after"/> whose update matches the alarm, or null if none ever does.</summary>
    private long? NextAlarmSecond(long after)
    {
        bool[] hours = new bool[24], minutes = new bool[60], seconds = new bool[60];
        for (int i = 0; i < 60; i++)
        {
            if (i < 24) hours[i] = AlarmMatches(_ram[HoursAlarm], EncodeHour(i));
            minutes[i] = AlarmMatches(_ram[MinutesAlarm], Encode(i));
            seconds[i] = AlarmMatches(_ram[SecondsAlarm], Encode(i));
        }
        if (!hours.Contains(true) || !minutes.Contains(true) || !seconds.Contains(true)) return null;
        var start = ToDateTime((after + 1) * TicksPerSecond);
        long dayStart = start.Date.Ticks / TicksPerSecond;
        // The alarm repeats daily, so a match comes within today's rest or tomorrow.
        for (int d = 0; d < 2; d++, dayStart += 86_400)
        {
            for (int h = d == 0 ? start.Hour : 0; h < 24; h++)
            {
                if (!hours[h]) continue;
                bool sameHour = d == 0 && h == start.Hour;
                for (int m = sameHour ? start.Minute : 0; m < 60; m++)
                {
                    if (!minutes[m]) continue;
                    int s = Array.IndexOf(seconds, true, sameHour && m == start.Minute ? start.Second : 0);
                    if (s >= 0) return dayStart + h * 3600 + m * 60 + s;
                }
            }
        }
        return null;
    }

    private static bool AlarmMatches(byte alarm, byte value) => alarm >= AlarmDontCare || alarm == value;

    private void UpdateIrq()
    {
        bool level = Irqf;
        if (level == _irqLevel) return;
        _irqLevel = level;
        _irq?.SetLevel(level);
    }

    /// <summary>
    /// When an enabled periodic, alarm or update-ended event will next raise IRQ 8; null if the
    /// interrupt is not wired, none is enabled, or IRQ 8 is already raised (until register C is read).
    /// </summary>
    public long? NextDeadlineNanoseconds
    {
        get
        {
            if (_irq is null || Irqf) return null;
            byte b = _ram[RegB];
            long? next = null;
            long hz = PeriodicHz(_ram[RegA] & ARateMask);
            if ((b & BPie) != 0 && hz != 0)
            {
                long index = PeriodicIndex(_evaluatedNs, hz) + 1;
                next = (long)(((Int128)index * 1_000_000_000 + hz - 1) / hz);
            }
            if ((b & BSet) == 0 && (b & (BUie | BAie)) != 0)
            {
                long second = RtcSecond(_evaluatedNs);
                long? target = (b & BUie) != 0 ? second + 1 : NextAlarmSecond(second);
                if (target is { } t)
                {
                    // The first engine time at which the RTC reaches second t.
                    long ns = Math.Max(_evaluatedNs + 1, 100 * (t * TicksPerSecond - _baseTicks - _offsetSeconds * TicksPerSecond));
                    next = next is null ? ns : Math.Min(next.Value, ns);
                }
            }
            return next;
        }
    }

    /// <summary>Sets the register C flags due by <paramref name="nowNanoseconds"/> and raises IRQ 8 if one is enabled.</summary>
    public void AdvanceTo(long nowNanoseconds)
    {
        Evaluate(nowNanoseconds);
        UpdateIrq();
    }

    public CmosRtcState SaveState() => new()
    {
        Index = _index, NmiDisabled = _nmiDisabled, Ram = (byte[])_ram.Clone(), BaseTicks = _baseTicks,
        OffsetSeconds = _offsetSeconds, DayOfWeekOffset = _dayOfWeekOffset, EvaluatedNs = _evaluatedNs,
    };

    public void RestoreState(CmosRtcState s)
    {
        if (s.Ram.Length != _ram.Length || s.Index >= _ram.Length || s.DayOfWeekOffset is < 0 or > 6)
            throw new ArgumentException("not a CMOS/RTC state", nameof(s));
        _index = s.Index;
        _nmiDisabled = s.NmiDisabled;
        s.Ram.CopyTo(_ram, 0);
        _baseTicks = s.BaseTicks;
        _offsetSeconds = s.OffsetSeconds;
        _dayOfWeekOffset = s.DayOfWeekOffset;
        _evaluatedNs = s.EvaluatedNs;
        _irqLevel = Irqf;
        _irq?.SetLevel(_irqLevel);
    }
}
