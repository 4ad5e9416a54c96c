namespace VmReplay.Engine.Run;

/// <summary>The run loop's counts at a point of a run: exits handled, interrupts delivered, instructions the VMM emulated.</summary>
public readonly record struct RunnerCounters(long ExitCount, long InterruptsDelivered, long EmulatedInstructions);
