namespace VmReplay.Replayer;

/// <summary>
/// What the first difference between two recordings says about them: whether a CI user has to
/// worry (the guest behaved differently) or not (the host's timing or input differed).
/// </summary>
public enum DifferenceKind
{
    /// <summary>
    /// The host serviced timers or input at a different point, or the guest read a value derived
    /// from host time (PIT, CMOS clock, interrupt controller, serial status, TSC MSRs). Two
    /// recordings of the same run differ this way as a rule.
    /// </summary>
    HostTiming,

    /// <summary>The recordings were given different input: a serial byte, or another value that came from the host.</summary>
    Input,

    /// <summary>The guest did something different although everything it was given up to here was equal.</summary>
    GuestBehaviour,

    /// <summary>One recording ends where the other goes on, without an end record: it was cut short.</summary>
    CutShort,
}
