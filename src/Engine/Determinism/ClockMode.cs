namespace VmReplay.Engine.Determinism;

/// <summary>Where engine time comes from.</summary>
public enum ClockMode
{
    /// <summary>The host's monotonic clock: every reading is an input a recording logs.</summary>
    Host,
    /// <summary>The retired-instruction count (<see cref="InstructionClock"/>): the same in every run; needs a backend that counts instructions.</summary>
    Virtual,
}
