using VmReplay.Engine.Cpu;
using VmReplay.Recorder.Events;

namespace VmReplay.Replayer;

/// <summary>
/// The kind of the first difference between two recordings, and one sentence saying what it
/// means. Decided from the events alone, so it is pure: which events are host timing follows
/// from where the recorder logs them (traces/FORMAT.md, "EVNT payload"). At a service point
/// the recorder logs the service, then the clock reading and the input poll it made; at an
/// exit, the clock readings and polls the device made while handling it, then the exit.
/// </summary>
public sealed record DifferenceCause(DifferenceKind Kind, long Event, string Summary)
{
    private const string SameUpToHere = "the recordings differ in host timing from here; the guest behaved the same up to it";

    public string Label => Kind switch
    {
        DifferenceKind.HostTiming => "host timing",
        DifferenceKind.Input => "input",
        DifferenceKind.GuestBehaviour => "guest behaviour",
        _ => "cut short",
    };

    public override string ToString() => $"{Label} - {Summary}";

    /// <summary>
    /// Classifies the first difference at event <paramref name="first"/>.
    /// </summary>
    /// <param name="serviceSinceLastExit">
    /// The index of a service point both recordings share between their last common exit and the
    /// difference, or null. Which interrupts became pending there follows the clock values, which
    /// the comparison ignores, so a guest that takes a different path right after it most likely
    /// took a timer interrupt on one side only.
    /// </param>
    /// <param name="fromA">A's events from the difference on (a few are enough; empty: A ends there).</param>
    /// <param name="fromB">B's events from the difference on.</param>
    /// <param name="headersDiffer">The trace headers differ (command line, CPU model), the likely reason for a guest difference.</param>
    public static DifferenceCause Classify(long first, long? serviceSinceLastExit, IReadOnlyList<TraceEvent> fromA, IReadOnlyList<TraceEvent> fromB, bool headersDiffer = false)
    {
        if (fromA.Count == 0 || fromB.Count == 0)
        {
            string side = fromA.Count == 0 ? "A" : "B";
            return new(DifferenceKind.CutShort, first,
                $"recording {side} ends at event {first} without an end record while the other goes on (it was cut short); the two are the same up to it");
        }

        TraceEvent x = fromA[0], y = fromB[0];
        if (IsService(x) || IsService(y)) return ServicedAt(first);
        if (x is InputEvent p && y is InputEvent q)
            return Input(first, $"serial input: A {InputValue(p)}, B {InputValue(q)}");

        // A device read the clock or polled input on one side only. Whether the guest made a
        // different access or the device consulted the host differently shows at the next
        // exit or service point on each side.
        bool deviceReadsDiffer = x is ClockEvent or InputEvent || y is ClockEvent or InputEvent;
        if (deviceReadsDiffer)
        {
            var nextA = NextStop(fromA);
            var nextB = NextStop(fromB);
            if (nextA is null || nextB is null || IsService(nextA) || IsService(nextB)) return ServicedAt(first);
            (x, y) = (nextA, nextB);
        }

        switch (x, y)
        {
            // With instruction counts (the software CPU) there is no host timing in between: the
            // same access after a different number of instructions is the guest's own doing.
            case (ExitEvent ea, ExitEvent eb) when ea.SameAccess(eb) && ea.Instructions is { } na && eb.Instructions is { } nb && na != nb:
                return Guest(first, $"event {first}: the same access at RIP {ea.Rip:x}, after {na} instructions in A and {nb} in B", headersDiffer);
            case (ExitEvent ea, ExitEvent eb) when ea.SameAccess(eb):
                if (ea.Data.AsSpan().SequenceEqual(eb.Data))
                    return new(DifferenceKind.HostTiming, first,
                        $"the devices read the host clock or polled input a different number of times before the same guest access (event {first}): {SameUpToHere}");
                if ((ea.Flags & ExitEvent.FlagWrite) == 0) return ReadValue(first, ea, eb);
                return Guest(first, $"event {first}: at the same instruction, RIP {ea.Rip:x}, A wrote {Convert.ToHexString(ea.Data)} and B {Convert.ToHexString(eb.Data)}", headersDiffer);
            case (EndEvent ea, EndEvent eb) when ea.Kind == eb.Kind && ea.ExitStatus == eb.ExitStatus:
                // Every exit matched, yet the final state differs: the guest read something no
                // event records. On this host that is RDTSC (README, "RDTSC").
                string what = ea.RegisterHash != eb.RegisterHash ? "registers" : "memory";
                return Input(first, $"the runs ended alike but their final {what} differs: values the trace does not record, such as RDTSC, reached the guest's state");
            case (_, _) when serviceSinceLastExit is { } k:
                return new(DifferenceKind.HostTiming, first,
                    $"the guest took a different path (event {first}) right after the host serviced timers/input at event {k}, where a timer interrupt came on one side only: {SameUpToHere}");
            case (EndEvent end, _):
                return Guest(first, $"event {first}: A's run ended ({end.Kind}) while B's went on", headersDiffer);
            case (_, EndEvent end):
                return Guest(first, $"event {first}: B's run ended ({end.Kind}) while A's went on", headersDiffer);
            case (ExitEvent ea, ExitEvent eb) when ea.Rip != eb.Rip:
                return Guest(first, $"event {first}: A at RIP {ea.Rip:x}, B at RIP {eb.Rip:x}", headersDiffer);
            default:
                return Guest(first, $"event {first}", headersDiffer);
        }
    }

    private static bool IsService(TraceEvent e) => e is ServiceEvent or ForcedServiceEvent or ScheduledServiceEvent;

    // The first event that is not a device's clock reading or input poll: what the guest did, or a service point.
    private static TraceEvent? NextStop(IReadOnlyList<TraceEvent> events) =>
        events.FirstOrDefault(e => e is not ClockEvent and not InputEvent);

    // The guest read a different value at the same instruction: the device's answer came from
    // the host, either from host time or from host input.
    private static DifferenceCause ReadValue(long first, ExitEvent a, ExitEvent b)
    {
        string values = $"A {Convert.ToHexString(a.Data)}, B {Convert.ToHexString(b.Data)}";
        switch ((ExitReason)a.Reason)
        {
            case ExitReason.Io when HostTimedPort(a.Address) is { } device:
                return new(DifferenceKind.HostTiming, first,
                    $"the guest read a different value from {device} (port {a.Address:x4}, event {first}: {values}): {SameUpToHere}");
            case ExitReason.X86Rdmsr when MsrModel.ClockDerived.Contains((uint)a.Address):
                return new(DifferenceKind.HostTiming, first,
                    $"the guest read a different clock-derived MSR (msr {a.Address:x}, event {first}: {values}): {SameUpToHere}");
            case ExitReason.Io:
                return Input(first, $"port {a.Address:x4} read {values}");
            case ExitReason.Mmio:
                return Input(first, $"MMIO {a.Address:x} read {values}");
            default:
                return Input(first, $"msr {a.Address:x} read {values}");
        }
    }

    // Ports whose value follows host time, directly (the PIT's counters, the CMOS clock) or
    // through when the host serviced timers and input (pending interrupts, serial status).
    private static string? HostTimedPort(ulong port) => port switch
    {
        >= 0x40 and <= 0x43 => "the PIT",
        0x61 => "port 61 (PIT channel 2)",
        0x70 or 0x71 => "the CMOS clock",
        0x20 or 0x21 or 0xA0 or 0xA1 => "the interrupt controller",
        0x3FA => "COM1's interrupt identification",
        0x3FD => "COM1's line status",
        0x3FE => "COM1's modem status",
        _ => null,
    };

    private static string InputValue(InputEvent e) => e.Value < 0 ? "nothing" : $"byte {e.Value:x2}";

    private static DifferenceCause ServicedAt(long first) =>
        new(DifferenceKind.HostTiming, first, $"the host serviced timers/input at a different point (event {first}): {SameUpToHere}");

    private static DifferenceCause Input(long first, string detail) =>
        new(DifferenceKind.Input, first, $"the recordings got different input at event {first} ({detail})");

    private static DifferenceCause Guest(long first, string detail, bool headersDiffer) =>
        new(DifferenceKind.GuestBehaviour, first,
            $"the guest did something different given the same inputs up to here ({detail})"
            + (headersDiffer ? "; the trace headers differ (above), the likely reason" : ""));
}
